import ClusterClient
import ClusterModel
import CoordinationStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NodeAgent

/// What the API (and through it the CLI and the console) can read and change, on the store.
///
/// Every change is one store transaction guarded by a compare, so a request is applied whole or
/// not at all; every change is recorded in the event log with the user who made it.
public struct ClusterControl: Sendable {
    public let store: any CoordinationStore
    public let layout: KeyLayout
    /// The node this API runs on (script output files are local to it).
    public let node: NodeName
    /// Where this node's script runner writes `<resource>.<action>.out`.
    public let logDirectory: String?

    /// Admin actions go to the cluster event log, numbered apart from the agent's own events.
    let eventLog: EventLog
    /// The last view read for unauthenticated callers (load balancers' `/here`).
    let sharedView = SharedView()
    /// The view this node's agent follows, when it runs here.
    let mirror: ViewMirror?

    public init(
        store: any CoordinationStore, layout: KeyLayout, node: NodeName, logDirectory: String?,
        mirror: ViewMirror? = nil
    ) {
        self.store = store
        self.layout = layout
        self.node = node
        self.logDirectory = logDirectory
        self.mirror = mirror
        self.eventLog = EventLog(
            store: store, layout: layout, node: node, firstSequence: 50_000_000, logger: Logger(label: "vigil.api"))
    }

    // MARK: Reading

    public func view() async throws -> ClusterView {
        layout.view(of: try await store.range(prefix: layout.prefix, excluding: layout.notInView))
    }

    /// A view at most `maxAge` old, shared by every caller: however many load balancers ask
    /// (unauthenticated), the store sees at most one read per `maxAge` from this node.
    public func recentView(maxAge: Duration = .milliseconds(250)) async throws -> ClusterView {
        try await sharedView.value(maxAge: maxAge) { try await self.view() }
    }

    /// The view as fresh as a store read, from the agent's watch when it has caught up with the
    /// store's current revision (one key read), else read whole.
    public func currentView() async throws -> ClusterView {
        if let mirror {
            let revision = try await store.range(prefix: layout.master).revision
            if let view = await mirror.view(atLeast: revision, within: .seconds(1)) { return view }
        }
        return try await view()
    }

    public func status() async throws -> ClusterStatus {
        var status = ClusterStatus(view: try await currentView(), cluster: layout.cluster)
        status.thisNode = node.rawValue
        return status
    }

    /// A definition with its state and its store revision (what an edit must name in `If-Match`).
    public func resource(_ name: String) async throws -> ResourceDetail {
        let resource = try ResourceName(validating: name, field: "name")
        let snapshot = try await store.range(prefix: layout.prefix, excluding: layout.notInView)
        let view = layout.view(of: snapshot)
        guard let spec = view.resources[resource] else { throw APIError.notFound("name", name, "resource") }
        let revision = snapshot.keyValues.first { $0.key == layout.resource(resource) }?.modRevision
        return ResourceDetail(definition: spec, state: ResourceState(view: view, name: resource), revision: revision)
    }

    // MARK: Resource commands (carried out by the master)

    /// Queues an admin command for the master; returns at once with the command's id.
    /// - Parameter idempotencyKey: the client's key for this request (`Idempotency-Key`): a retry
    ///   with the same key — after a failover, to any node — returns the first receipt instead of
    ///   queuing the command again (the key is kept 24 h, per user).
    public func command(_ name: String, _ verb: AdminCommand.Verb, user: String, idempotencyKey: String? = nil)
        async throws -> CommandReceipt
    {
        let resource = try ResourceName(validating: name, field: "name")
        let view = try await view()
        guard view.resources[resource] != nil else { throw APIError.notFound("name", name, "resource") }
        if case .online(let node?) = verb, view.nodes[node] == nil {
            throw APIError.notFound("node", node.rawValue, "node in this cluster")
        }
        if case .migrate(.node(let node)) = verb, view.nodes[node] == nil {
            throw APIError.notFound("node", node.rawValue, "node in this cluster")
        }
        let id = "\(Self.wallMilliseconds())-\(UInt32.random(in: 0...UInt32.max))"
        let command = AdminCommand(id: id, resource: resource, verb: verb, user: user)
        let key = layout.command(id)
        let receipt = CommandReceipt(
            id: id, resource: resource.rawValue, verb: verb.description,
            generationBefore: view.assignments[resource]?.value.generation ?? 0)
        guard let idempotencyKey else {
            _ = try await store.transaction(
                Transaction(compare: [.absent(key)], success: [.put(key: key, value: ModelCodec.encode(command))]))
            return receipt
        }
        try Self.checkIdempotencyKey(idempotencyKey)
        // The command and the key's record in one transaction: either both or neither.
        let record = layout.prefix + "idempotency/" + Authenticator.hash(token: user + "\n" + idempotencyKey)
        let lease = try await store.grantLease(ttlSeconds: 86400)
        let result = try await store.transaction(
            Transaction(
                compare: [.absent(key), .absent(record)],
                success: [
                    .put(key: key, value: ModelCodec.encode(command)),
                    .put(key: record, value: ModelCodec.encode(receipt), lease: lease.id),
                ]))
        if result.succeeded { return receipt }
        // A retry: the first request's record and lease stand; this one's lease holds nothing.
        try? await store.revokeLease(lease.id)
        guard let first = try await store.get(record),
            let earlier = try? JSONDecoder().decode(CommandReceipt.self, from: Data(first.value))
        else {
            throw APIError(.conflict, field: "Idempotency-Key", value: idempotencyKey, reason: "try again")
        }
        guard earlier.resource == receipt.resource, earlier.verb == receipt.verb else {
            throw APIError(
                .conflict, field: "Idempotency-Key", value: idempotencyKey,
                reason: "already used for \(earlier.verb) \(earlier.resource)")
        }
        return earlier
    }

    static func checkIdempotencyKey(_ key: String) throws {
        guard (8...64).contains(key.count),
            key.unicodeScalars.allSatisfy({
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_")
            })
        else {
            throw APIError(
                .badRequest, field: "Idempotency-Key", value: String(key.prefix(80)),
                reason: "8 to 64 letters, digits, '-' or '_' (a UUID)")
        }
    }

    // MARK: Resource definitions

    public func createResource(_ request: CreateResourceRequest, user: String) async throws -> ResourceSpec {
        let spec = try request.makeSpec()
        let key = layout.resource(spec.name)
        let result = try await store.transaction(
            Transaction(compare: [.absent(key)], success: [.put(key: key, value: ModelCodec.encode(spec))]))
        guard result.succeeded else {
            throw APIError(
                .conflict, field: "name", value: spec.name.rawValue, reason: "a resource of that name exists")
        }
        await record(
            user: user, resource: spec.name,
            "\(user) created resource \(spec.name) from \(spec.template ?? "no template")")
        return spec
    }

    /// Creates (or with `replace`, replaces) many definitions in one transaction: every one valid
    /// and none existing unless replacing, or nothing is written. Bounded: at most
    /// `ImportRequest.maximumResources` definitions, each read once, one transaction.
    public func importResources(_ request: ImportRequest, user: String) async throws -> ImportResult {
        guard (1...ImportRequest.maximumResources).contains(request.resources.count) else {
            throw APIError(
                .badRequest, field: "resources", value: "\(request.resources.count) definitions",
                reason: "1 to \(ImportRequest.maximumResources) per import")
        }
        var seen = Set<ResourceName>()
        for (index, spec) in request.resources.enumerated() {
            do { try spec.validate() } catch {
                throw APIError(
                    ValidationError(
                        error.code, field: "resources[\(index)].\(error.field)", value: error.value,
                        reason: error.reason))
            }
            guard seen.insert(spec.name).inserted else {
                throw APIError(
                    .conflict, field: "resources[\(index)].name", value: spec.name.rawValue,
                    reason: "the import names this resource twice")
            }
        }
        var compare: [Compare] = []
        var success: [StoreOperation] = []
        var created: [String] = []
        var replaced: [String] = []
        // Every definition in one read (not one per imported name).
        let stored = try await store.range(prefix: layout.resourcesPrefix).keyValues
        let existing = Dictionary(stored.map { ($0.key, $0.modRevision) }, uniquingKeysWith: { first, _ in first })
        for (index, spec) in request.resources.enumerated() {
            let key = layout.resource(spec.name)
            if let modRevision = existing[key] {
                guard request.replace else {
                    throw APIError(
                        .conflict, field: "resources[\(index)].name", value: spec.name.rawValue,
                        reason: "a resource of that name exists: nothing was imported (replace it with --replace)")
                }
                compare.append(Compare(key: key, .modRevision(modRevision)))
                replaced.append(spec.name.rawValue)
            } else {
                compare.append(.absent(key))
                created.append(spec.name.rawValue)
            }
            success.append(.put(key: key, value: ModelCodec.encode(spec)))
        }
        let result = try await store.transaction(Transaction(compare: compare, success: success))
        guard result.succeeded else {
            throw APIError(
                .conflict, field: "resources", value: "\(request.resources.count) definitions",
                reason: "some of these resources were created or changed meanwhile: nothing was imported; try again")
        }
        for spec in request.resources {
            let verb = replaced.contains(spec.name.rawValue) ? "replaced the definition of" : "imported"
            await record(user: user, resource: spec.name, "\(user) \(verb) \(spec.name) (vigil import)")
        }
        return ImportResult(created: created, replaced: replaced)
    }

    /// Replaces a definition; takes effect at the resource's next load (as NCS: scripts are read at load).
    /// - Parameter expectedRevision: the revision the editor started from (`If-Match`): if the
    ///   definition changed since, nothing is written (412) and the caller shows the current one.
    /// - Returns: the definition as stored and its new revision.
    public func replaceResource(_ name: String, body: [UInt8], user: String, expectedRevision: Int64? = nil)
        async throws -> (ResourceSpec, Int64)
    {
        let resource = try ResourceName(validating: name, field: "name")
        let spec = try ModelCodec.decode(ResourceSpec.self, from: body)
        guard spec.name == resource else {
            throw APIError(
                .badRequest, field: "name", value: spec.name.rawValue,
                reason: "the body names another resource than the path (\(name))")
        }
        let key = layout.resource(resource)
        guard let current = try await store.get(key) else { throw APIError.notFound("name", name, "resource") }
        if let expectedRevision, expectedRevision != current.modRevision {
            throw APIError(
                .preconditionFailed, field: "If-Match", value: "\(expectedRevision)",
                reason:
                    "\(resource) was changed by someone else meanwhile (it is at revision \(current.modRevision) now): nothing was saved; read the current definition"
            )
        }
        let result = try await store.transaction(
            Transaction(
                compare: [Compare(key: key, .modRevision(current.modRevision))],
                success: [.put(key: key, value: ModelCodec.encode(spec))]))
        guard result.succeeded else {
            throw APIError(
                .conflict, field: "name", value: name, reason: "the resource changed meanwhile; read it again")
        }
        await record(user: user, resource: resource, "\(user) changed the definition of \(resource)")
        return (spec, result.revision)
    }

    /// Deletes a definition that is offline (as NCS: a resource must be offline to be deleted).
    public func deleteResource(_ name: String, user: String) async throws {
        let resource = try ResourceName(validating: name, field: "name")
        let view = try await view()
        guard view.resources[resource] != nil else { throw APIError.notFound("name", name, "resource") }
        try requireOffline(resource, in: view, name)
        var operations: [StoreOperation] = [
            .delete(key: layout.resource(resource)), .delete(key: layout.assignment(resource)),
            .delete(key: layout.monitoring(resource)),
        ]
        operations += (view.statuses[resource] ?? [:]).keys.map { .delete(key: layout.status(resource, node: $0)) }
        let compare = [
            Compare(key: layout.assignment(resource), .modRevision(view.assignments[resource]?.modRevision ?? 0))
        ]
        let result = try await store.transaction(Transaction(compare: compare, success: operations))
        guard result.succeeded else {
            throw APIError(.conflict, field: "name", value: name, reason: "the resource changed meanwhile; try again")
        }
        await record(user: user, resource: resource, "\(user) deleted resource \(resource)")
    }

    /// Refuses unless `resource` is offline everywhere (delete and rename need it, as NCS).
    private func requireOffline(_ resource: ResourceName, in view: ClusterView, _ name: String) throws {
        let state = ResourceState(view: view, name: resource)
        let running = view.statuses[resource]?.values.contains { $0.value.state != .offline } ?? false
        let offline: Bool
        switch state.state {
        case .offline, .unassigned, .quorumWait, .alert: offline = true
        case .loading, .running, .migrating, .unloading, .comatose: offline = false
        }
        guard offline, !running else {
            throw APIError(
                .conflict, field: "name", value: name,
                reason: "\(resource) is \(state.state): take it offline first (vigil offline \(resource))")
        }
    }

    /// NCS's `cluster rename OLD NEW`, offline resources only: the definition, its assignment (so
    /// it stays offline) and its monitoring flag move to the new name in one transaction.
    public func renameResource(_ name: String, to newName: String, user: String) async throws -> ResourceSpec {
        let resource = try ResourceName(validating: name, field: "name")
        let target = try ResourceName(validating: newName, field: "to")
        let view = try await view()
        // The definition with its revision: an edit made meanwhile fails the transaction below
        // instead of being lost under the new name.
        guard view.resources[resource] != nil, let stored = try await store.get(layout.resource(resource)) else {
            throw APIError.notFound("name", name, "resource")
        }
        var spec = try ModelCodec.decode(ResourceSpec.self, from: stored.value)
        guard target != resource else {
            throw APIError(.badRequest, field: "to", value: newName, reason: "the resource already has that name")
        }
        try requireOffline(resource, in: view, name)
        guard view.resources[target] == nil else {
            throw APIError(.conflict, field: "to", value: newName, reason: "a resource of that name exists")
        }
        spec.name = target
        var operations: [StoreOperation] = [
            .put(key: layout.resource(target), value: ModelCodec.encode(spec)),
            .delete(key: layout.resource(resource)), .delete(key: layout.assignment(resource)),
            .delete(key: layout.monitoring(resource)),
        ]
        operations += (view.statuses[resource] ?? [:]).keys.map { .delete(key: layout.status(resource, node: $0)) }
        if var assignment = view.assignments[resource]?.value {
            assignment.reason = "renamed from \(resource)"
            operations.append(.put(key: layout.assignment(target), value: ModelCodec.encode(assignment)))
        }
        var compare = [
            Compare(key: layout.resource(resource), .modRevision(stored.modRevision)),
            Compare(key: layout.assignment(resource), .modRevision(view.assignments[resource]?.modRevision ?? 0)),
            .absent(layout.resource(target)), .absent(layout.assignment(target)),
        ]
        if let suspended = try await store.get(layout.monitoring(resource)) {
            operations.append(.put(key: layout.monitoring(target), value: suspended.value))
            compare.append(Compare(key: layout.monitoring(resource), .modRevision(suspended.modRevision)))
        } else {
            compare.append(.absent(layout.monitoring(resource)))
        }
        let result = try await store.transaction(Transaction(compare: compare, success: operations))
        guard result.succeeded else {
            throw APIError(.conflict, field: "name", value: name, reason: "the resource changed meanwhile; try again")
        }
        await record(user: user, resource: target, "\(user) renamed resource \(resource) to \(target)")
        return spec
    }

    /// A resource's definition, read alone (not the whole view).
    private func definition(_ name: String) async throws -> ResourceSpec {
        let resource = try ResourceName(validating: name, field: "name")
        guard let entry = try await store.get(layout.resource(resource)) else {
            throw APIError.notFound("name", name, "resource")
        }
        return try ModelCodec.decode(ResourceSpec.self, from: entry.value)
    }

    private static func monitorStatus(_ spec: ResourceSpec, _ suspension: MonitorSuspension?) -> MonitorStatus {
        MonitorStatus(
            resource: spec.name.rawValue, hasMonitor: spec.monitor != nil,
            interval: spec.monitor.map { "\($0.interval)" }, suspended: suspension != nil, by: suspension?.by,
            since: suspension?.since)
    }

    /// NCS's `cluster monitor RES status`.
    public func monitorStatus(_ name: String) async throws -> MonitorStatus {
        let spec = try await definition(name)
        let suspension = try await store.get(layout.monitoring(spec.name)).flatMap {
            try? ModelCodec.decode(MonitorSuspension.self, from: $0.value)
        }
        return Self.monitorStatus(spec, suspension)
    }

    /// NCS's `cluster monitor RES start|stop`: resumes or suspends the resource's monitor script.
    public func setMonitoring(_ name: String, suspended: Bool, user: String) async throws -> MonitorStatus {
        let spec = try await definition(name)
        let resource = spec.name
        guard spec.monitor != nil else {
            throw APIError(
                .conflict, field: "name", value: name,
                reason: "\(resource) has no monitor script (add one with vigil resource edit)")
        }
        let suspension = suspended ? MonitorSuspension(by: user, since: Self.wallMilliseconds()) : nil
        if let suspension {
            _ = try await store.put(layout.monitoring(resource), ModelCodec.encode(suspension))
        } else {
            _ = try await store.delete(layout.monitoring(resource))
        }
        await record(
            user: user, resource: resource,
            suspended ? "\(user) suspended monitoring of \(resource)" : "\(user) resumed monitoring of \(resource)")
        return Self.monitorStatus(spec, suspension)
    }

    // MARK: Membership (NCS `cluster leave`, `cluster join`, `cluster down`)

    /// Takes `name` out of the cluster: its agent hands its resources over and stays out, also
    /// across restarts, until `join`.
    public func leave(_ name: String, user: String) async throws {
        let node = try definedNode(name, in: try await view())
        let standby = StandbyRecord(by: user, since: Self.wallMilliseconds())
        _ = try await store.put(layout.standby(node), ModelCodec.encode(standby))
        await record(user: user, resource: nil, "\(user) told \(node) to leave the cluster")
    }

    public func join(_ name: String, user: String) async throws {
        let node = try definedNode(name, in: try await view())
        _ = try await store.delete(layout.standby(node))
        await record(user: user, resource: nil, "\(user) told \(node) to join the cluster")
    }

    /// Every node leaves (in one write); each comes back with `join`.
    public func down(user: String) async throws {
        try await everyNodeLeaves(StandbyRecord(by: user, since: Self.wallMilliseconds()))
        await self.record(user: user, resource: nil, "\(user) took the cluster down (every node leaves)")
    }

    /// `record` as every defined node's standby key, in one transaction (`down`, `restart`).
    private func everyNodeLeaves(_ record: StandbyRecord) async throws {
        let value = ModelCodec.encode(record)
        _ = try await store.transaction(
            Transaction(
                compare: [],
                success: try await view().nodes.keys.sorted().map { .put(key: layout.standby($0), value: value) }))
    }

    /// NCS's `cluster restart [SECONDS]`: every node leaves (in one write) and comes back by itself
    /// `seconds` after it is out (at least 60, as NCS).
    public func restart(seconds: Int, user: String) async throws {
        guard (60...86_400).contains(seconds) else {
            throw APIError(
                .badRequest, field: "seconds", value: "\(seconds)", reason: "60 to 86400 (NCS waits at least 60 s)")
        }
        try await everyNodeLeaves(
            StandbyRecord(by: user, since: Self.wallMilliseconds(), rejoinAfter: .seconds(Int64(seconds))))
        await self.record(
            user: user, resource: nil, "\(user) restarted the cluster: every node leaves and rejoins after \(seconds) s"
        )
    }

    private func definedNode(_ name: String, in view: ClusterView) throws -> NodeName {
        let node = try NodeName(validating: name, field: "node")
        guard view.nodes[node] != nil else { throw APIError.notFound("node", name, "node in this cluster") }
        return node
    }

    // MARK: Cluster settings

    public func settings() async throws -> Versioned<ClusterSettings> {
        guard let kv = try await store.get(layout.config) else {
            return Versioned(ClusterSettings(), createRevision: 0, modRevision: 0)
        }
        return Versioned(
            try ModelCodec.decode(ClusterSettings.self, from: kv.value), createRevision: kv.createRevision,
            modRevision: kv.modRevision)
    }

    /// Applies `change` to the current settings in one compare-and-swap (retried on a concurrent change).
    @discardableResult
    public func updateSettings(
        user: String, what: String, _ change: @Sendable (inout ClusterSettings) throws -> Void
    ) async throws -> ClusterSettings {
        for _ in 0..<5 {
            let current = try await settings()
            var settings = current.value
            try change(&settings)
            do { try settings.validate() } catch { throw APIError(error) }
            let compare = Compare(key: layout.config, .modRevision(current.modRevision))
            let result = try await store.transaction(
                Transaction(compare: [compare], success: [.put(key: layout.config, value: ModelCodec.encode(settings))])
            )
            if result.succeeded {
                await record(user: user, resource: nil, "\(user) set \(what)")
                return settings
            }
        }
        throw APIError(.conflict, field: "settings", reason: "the settings kept changing meanwhile; try again")
    }

    /// `vigil set PARAM VALUE`: NCS's parameter names (case-insensitive) on the cluster settings.
    public func set(_ parameter: String, _ value: String, user: String) async throws -> ClusterSettings {
        let name = parameter.lowercased()
        // The event log is read by observers and mailed: webhook URLs go there redacted.
        let shown =
            name == "webhooks"
            ? value.split(whereSeparator: { $0 == " " || $0 == "," }).map { NotificationSettings.redacted(String($0)) }
                .joined(separator: " ") : value
        return try await updateSettings(user: user, what: "\(name) to \(shown)") { settings in
            switch name {
            case "quorum":
                guard let count = Int(value) else {
                    throw APIError(.badRequest, field: "quorum", value: value, reason: "a node count, 1 to 32")
                }
                settings.quorum.nodeCount = count
            case "quorumwait":
                settings.quorum.timeout = try Span(parsing: value, field: "quorumwait")
            case "enableemail", "notification":
                guard let level = NotificationSettings.Level(rawValue: value.lowercased()) else {
                    throw APIError(.badRequest, field: name, value: value, reason: "off, critical or verbose")
                }
                settings.notification.level = level
            case "emailaddresses":
                settings.notification.emailAddresses = value.split(whereSeparator: { $0 == " " || $0 == "," }).map(
                    String.init)
            case "smtprelay":
                settings.notification.smtpRelay = value.isEmpty ? nil : value
            case "emailsender":
                settings.notification.sender = value
            case "webhooks":
                settings.notification.webhooks = value.split(whereSeparator: { $0 == " " || $0 == "," }).map(
                    String.init)
            case "tolerance":
                // Safe live: each node applies a raised tolerance only after the master can see it
                // in a committed heartbeat (docs/design/0011-live-tolerance.md).
                settings.timing.tolerance = try Span(parsing: value, field: "tolerance")
            case "heartbeat", "masterwatchdog", "slavewatchdog", "profile":
                throw APIError(
                    .badRequest, field: "parameter", value: parameter,
                    reason:
                        "the heartbeat and etcd timings come from the timing profile in vigil.yaml and change with a restart of every node (as NCS needs a cluster restart); the tolerance can be set live"
                )
            default:
                throw APIError(
                    .badRequest, field: "parameter", value: parameter,
                    reason: "known: \(Self.settableParameters.joined(separator: ", "))")
            }
        }
    }

    public static let settableParameters = [
        "tolerance", "quorum", "quorumwait", "enableemail", "emailaddresses", "smtprelay", "emailsender", "webhooks",
    ]

    /// Maintenance on (optionally until a wall time) or off, cluster-wide.
    public func maintenance(on: Bool, untilWallMilliseconds: Int64?, user: String) async throws -> ClusterSettings {
        if let until = untilWallMilliseconds, until <= Self.wallMilliseconds() {
            throw APIError(.badRequest, field: "until", value: "\(until)", reason: "must be in the future")
        }
        let what =
            on
            ? "maintenance on" + (untilWallMilliseconds.map { " until \(Self.isoTime($0))" } ?? "") : "maintenance off"
        return try await updateSettings(user: user, what: what) { settings in
            settings.maintenance = MaintenanceSettings(
                enabled: on, untilWallMilliseconds: on ? untilWallMilliseconds : nil)
        }
    }

    // MARK: Events and script output

    /// Events oldest first; `after` is a cursor (an event key) from an earlier page.
    public func events(after: String?, limit: Int) async throws -> EventPage {
        let range = try await store.range(prefix: layout.eventsPrefix)
        var entries = range.keyValues
        if let after {
            guard after.hasPrefix(layout.eventsPrefix) else {
                throw APIError(.badRequest, field: "after", value: after, reason: "a cursor from an earlier page")
            }
            entries = entries.filter { $0.key > after }
            entries = Array(entries.prefix(limit))
        } else {
            entries = Array(entries.suffix(limit))
        }
        let events = entries.compactMap { kv in
            (try? ModelCodec.decode(StoredEvent.self, from: kv.value)).map { EventEntry(cursor: kv.key, stored: $0) }
        }
        return EventPage(events: events, next: entries.last?.key ?? after, revision: range.revision)
    }

    /// The last output of each script action of `name` that ran on this node.
    public func scriptOutput(_ name: String) async throws -> [ScriptOutput] {
        let resource = try ResourceName(validating: name, field: "name")
        let view = try await view()
        guard view.resources[resource] != nil else { throw APIError.notFound("name", name, "resource") }
        guard let logDirectory else { return [] }
        return ScriptAction.allCases.compactMap { action in
            let path = "\(logDirectory)/\(resource).\(action.rawValue).out"
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
            let tail = data.suffix(64 * 1024)
            return ScriptOutput(
                node: node.rawValue, action: action.rawValue, output: String(decoding: tail, as: UTF8.self),
                modified: modified.map { Int64($0.timeIntervalSince1970 * 1000) }, truncated: data.count > tail.count)
        }
    }

    // MARK: Helpers

    /// Records an admin action in the cluster event log (never fails the request).
    public func record(user: String, resource: ResourceName?, _ message: String) async {
        await eventLog.append(ClusterEvent(kind: .admin, node: node, resource: resource, message: message))
    }

    public static func wallMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func isoTime(_ milliseconds: Int64) -> String {
        rfc3339(seconds: wholeSeconds(milliseconds).seconds)
    }
}

extension ClusterControl {
    /// `vigil stats`: heartbeat counters per member, events by kind, resources by state.
    public func stats() async throws -> ClusterStats {
        // One read: the view and the event log from the same snapshot.
        let snapshot = try await store.range(prefix: layout.prefix)
        let view = layout.view(of: snapshot)
        let events = snapshot.keyValues.filter { $0.key.hasPrefix(layout.eventsPrefix) }.compactMap {
            try? ModelCodec.decode(StoredEvent.self, from: $0.value)
        }
        var byKind: [String: Int] = [:]
        for event in events { byKind[event.event.kind.rawValue, default: 0] += 1 }
        var byState: [String: Int] = [:]
        for name in view.resources.keys {
            byState[ResourceState(view: view, name: name).state.description, default: 0] += 1
        }
        let baseline = snapshot.keyValues.first { $0.key == layout.statsBaseline }.flatMap {
            try? ModelCodec.decode(StatsBaseline.self, from: $0.value)
        }
        // Evictions per node in the retained event log (since the clear, if any).
        var evictions: [String: Int] = [:]
        for stored in events where stored.time >= (baseline?.since ?? 0) {
            // The master's "evicting n2: no heartbeat for …".
            guard stored.event.message.hasPrefix("evicting ") else { continue }
            let node = stored.event.message.dropFirst("evicting ".count).prefix { $0 != " " && $0 != ":" }
            evictions[String(node), default: 0] += 1
        }
        let members = view.members.values.sorted { $0.value.node < $1.value.node }.map { member in
            let node = member.value.node.rawValue
            // A counter that restarted (a new join) below the baseline counts from zero.
            let base = baseline?.heartbeats[node].flatMap { $0 <= member.value.heartbeat ? $0 : nil } ?? 0
            return ClusterStats.Member(
                node: node, heartbeat: member.value.heartbeat, lastHeartbeatRevision: member.modRevision,
                heartbeatsSinceClear: member.value.heartbeat - base, lastHeartbeatTime: member.value.wallMilliseconds,
                evictions: evictions[node, default: 0])
        }
        return ClusterStats(
            epoch: view.epoch, revision: view.revision, members: members, events: events.count, eventsByKind: byKind,
            resourcesByState: byState, clearedAt: baseline?.since)
    }

    /// NCS's `cluster stats clear`: the counters `stats` shows start again from zero.
    public func clearStats(user: String) async throws -> ClusterStats {
        let view = try await view()
        var heartbeats: [String: UInt64] = [:]
        for member in view.members.values { heartbeats[member.value.node.rawValue] = member.value.heartbeat }
        _ = try await store.put(
            layout.statsBaseline,
            ModelCodec.encode(StatsBaseline(since: Self.wallMilliseconds(), heartbeats: heartbeats, by: user)))
        await record(user: user, resource: nil, "\(user) cleared the statistics")
        return try await stats()
    }
}

/// One read shared by concurrent callers and reused while fresh (single flight).
final class SharedView: Sendable {
    private let current = NIOLockedValueBox<(started: ContinuousClock.Instant, read: Task<ClusterView, any Error>)?>(
        nil)

    func value(maxAge: Duration, read: @escaping @Sendable () async throws -> ClusterView) async throws -> ClusterView {
        let task = current.withLockedValue { current -> Task<ClusterView, any Error> in
            if let current, ContinuousClock.now - current.started < maxAge { return current.read }
            let task = Task { try await read() }
            current = (ContinuousClock.now, task)
            return task
        }
        return try await task.value
    }
}
