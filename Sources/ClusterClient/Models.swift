import ClusterModel
import Foundation

// The API's JSON shapes. The server (ClusterAPI) encodes them, the CLI decodes them: one
// definition for both, in a target that links neither Hummingbird nor the agent.
//
// Times are given twice: wall-clock milliseconds since 1970 (`time`, `upSince`…) for programs,
// and the same instant in RFC 3339 (`timeRFC3339`…, UTC with milliseconds) for people and tools.

/// `2026-12-03T02:13:53.123Z`.
///
/// A format style, not an `ISO8601DateFormatter`: making a formatter costs ~0.15 ms (ICU), and a
/// status of 500 resources made one per resource (docs/benchmarks.md). The milliseconds are the
/// integer's, not read back from a `Double`.
public func rfc3339(milliseconds: Int64) -> String {
    let (seconds, rest) = wholeSeconds(milliseconds)
    return rfc3339(seconds: seconds).dropLast() + "." + threeDigits(rest) + "Z"
}

/// `2026-12-03T02:13:53Z`.
public func rfc3339(seconds: Int64) -> String {
    Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
}

/// The whole seconds of a wall-clock time in milliseconds and the milliseconds past them (0–999).
public func wholeSeconds(_ milliseconds: Int64) -> (seconds: Int64, milliseconds: Int64) {
    let (seconds, rest) = milliseconds.quotientAndRemainder(dividingBy: 1000)
    return rest < 0 ? (seconds - 1, rest + 1000) : (seconds, rest)
}

/// `7` → `007`.
public func threeDigits(_ value: Int64) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
}

/// `GET /v1/cluster`: the cluster as `vigil status` and `vigil view` show it.
public struct ClusterStatus: Codable, Sendable, Hashable {
    public var name: String
    /// The node whose agent answered.
    public var thisNode: String?
    public var epoch: UInt64
    public var revision: Int64
    public var master: String?
    public var masterTerm: UInt64?
    public var maintenance: MaintenanceSettings
    /// When maintenance ends by itself (`maintenance.untilWallMilliseconds`) in RFC 3339.
    public var maintenanceUntilRFC3339: String?
    /// The hardware watchdog's timeout in milliseconds; nil: no frozen-agent protection
    /// (ARCHITECTURE.md §4.8, docs/design/0004 — and resources that are more than an address need it).
    public var watchdogTimeoutMilliseconds: Int64?
    public var members: [String]
    /// Members needed before resources start (NCS's quorum trigger: `cluster set quorum`).
    public var quorum: Int?
    public var nodes: [NodeState]
    public var resources: [ResourceState]
    /// Store keys that could not be decoded (shown so that an administrator sees them).
    public var problems: [String]

    public init(view: ClusterView, cluster: String) {
        name = cluster
        epoch = view.epoch
        revision = view.revision
        let master = view.master.flatMap { $0.value.resigned ? nil : $0.value }
        self.master = master?.node.rawValue
        masterTerm = master?.term
        maintenance = view.settings.maintenance
        maintenanceUntilRFC3339 = maintenance.untilWallMilliseconds.map { rfc3339(milliseconds: $0) }
        watchdogTimeoutMilliseconds = view.settings.timing.watchdogTimeout?.milliseconds
        members = view.members.keys.sorted().map(\.rawValue)
        quorum = view.settings.quorum.nodeCount
        let resources = view.resources.keys.sorted().map { ResourceState(view: view, name: $0) }
        self.resources = resources
        var names = Set(view.nodes.keys)
        names.formUnion(view.members.keys)
        nodes = names.sorted { (view.nodes[$0]?.index ?? Int.max, $0) < (view.nodes[$1]?.index ?? Int.max, $1) }.map {
            name in
            let member = view.members[name]?.value
            return NodeState(
                name: name.rawValue, member: member != nil, standby: view.standby.contains(name),
                master: master?.node == name,
                heartbeat: member?.heartbeat, version: member?.version, addresses: view.nodes[name]?.addresses ?? [],
                resources: resources.filter { $0.nodes.contains(name.rawValue) }.map(\.name))
        }
        problems = view.problems
    }
}

public struct NodeState: Codable, Sendable, Hashable {
    public var name: String
    public var member: Bool
    /// Told to stay out of the cluster (vigil leave/down) until vigil join.
    public var standby: Bool
    public var master: Bool
    public var heartbeat: UInt64?
    public var version: String?
    public var addresses: [String]
    public var resources: [String]
}

/// A resource's state as NCS names it (Running, Offline, Comatose, Alert(failover) …), where, since when.
public struct ResourceState: Codable, Sendable, Hashable {
    public var name: String
    public var state: ResourceStateName
    /// The node(s) holding it (several for an `everywhere` resource).
    public var nodes: [String]
    public var generation: UInt64
    /// NCS's "lives": how many times the resource was loaded.
    public var incarnation: Int
    /// Wall-clock milliseconds since the resource runs where it runs.
    public var upSince: Int64?
    /// `upSince` in RFC 3339.
    public var upSinceRFC3339: String?
    /// Why the master placed it so.
    public var reason: String?
    public var template: String?
    public var lastResult: String?
    /// Admin commands not yet carried out by the master.
    public var pendingCommands: [String]

    /// Whether the state is one a command can end in (no script running, nothing moving).
    public var settled: Bool { state.settled }

    public init(view: ClusterView, name: ResourceName) {
        self.name = name.rawValue
        state = view.stateName(of: name)
        template = view.resources[name]?.template
        pendingCommands = view.commands.values.filter { $0.resource == name }.map(\.id).sorted()
        let statuses = view.statuses[name]?.values.map(\.value) ?? []
        incarnation = statuses.map(\.incarnation).max() ?? 0
        guard let assignment = view.assignments[name]?.value else {
            nodes = []
            generation = 0
            return
        }
        generation = assignment.generation
        reason = assignment.reason
        let current = statuses.filter { $0.generation == assignment.generation }
        if assignment.placement == .everywhere {
            let running = current.filter { $0.state == .running }
            nodes = running.map(\.node.rawValue).sorted()
            upSince = running.compactMap(\.upSince).min()
            upSinceRFC3339 = upSince.map { rfc3339(milliseconds: $0) }
            lastResult = current.compactMap { $0.lastOutcome?.description }.first
            return
        }
        nodes = assignment.placement.holder.map { [$0.rawValue] } ?? []
        guard let holder = assignment.placement.holder else { return }
        let status = current.first { $0.node == holder }
        upSince = status?.upSince
        upSinceRFC3339 = upSince.map { rfc3339(milliseconds: $0) }
        if let action = status?.lastAction, let outcome = status?.lastOutcome {
            lastResult = "\(action.rawValue): \(outcome)"
        }
    }
}

/// `POST /v1/resources/{name}/online|offline|migrate|alert`: the command is queued for the master.
public struct CommandReceipt: Codable, Sendable, Hashable {
    public var id: String
    public var resource: String
    public var verb: String
    /// The assignment generation before the command: an unchanged generation after the command was
    /// handled means the master refused it (the event log says why).
    public var generationBefore: UInt64

    public init(id: String, resource: String, verb: String, generationBefore: UInt64) {
        self.id = id
        self.resource = resource
        self.verb = verb
        self.generationBefore = generationBefore
    }
}

/// `POST /v1/resources`: a resource made from a template, as `vigil resource create` sends it.
public struct CreateResourceRequest: Codable, Sendable, Hashable {
    public var name: String
    public var template: String
    public var variables: [String: String]
    public var preferredNodes: [String]?
    public var loadScript: String?
    public var unloadScript: String?
    public var monitorScript: String?
    public var loadTimeout: String?
    public var unloadTimeout: String?
    public var startMode: StartMode?
    public var failoverMode: StartMode?
    public var failbackMode: FailbackMode?
    public var priority: Int?

    public init(name: String, template: String, variables: [String: String] = [:]) {
        self.name = name
        self.template = template
        self.variables = variables
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, template, variables, preferredNodes, loadScript, unloadScript, monitorScript, loadTimeout,
            unloadTimeout
        case startMode, failoverMode, failbackMode, priority
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        template = try container.decodeIfPresent(String.self, forKey: .template) ?? "Generic_IP_Service"
        variables = try container.decodeIfPresent([String: String].self, forKey: .variables) ?? [:]
        preferredNodes = try container.decodeIfPresent([String].self, forKey: .preferredNodes)
        loadScript = try container.decodeIfPresent(String.self, forKey: .loadScript)
        unloadScript = try container.decodeIfPresent(String.self, forKey: .unloadScript)
        monitorScript = try container.decodeIfPresent(String.self, forKey: .monitorScript)
        loadTimeout = try container.decodeIfPresent(String.self, forKey: .loadTimeout)
        unloadTimeout = try container.decodeIfPresent(String.self, forKey: .unloadTimeout)
        startMode = try container.decodeIfPresent(StartMode.self, forKey: .startMode)
        failoverMode = try container.decodeIfPresent(StartMode.self, forKey: .failoverMode)
        failbackMode = try container.decodeIfPresent(FailbackMode.self, forKey: .failbackMode)
        priority = try container.decodeIfPresent(Int.self, forKey: .priority)
    }

    /// The validated definition (every error names the field and the value).
    public func makeSpec() throws(ValidationError) -> ResourceSpec {
        guard let template = ResourceTemplate.named(template) else {
            throw ValidationError(
                field: "template", value: template,
                reason: "known: \(ResourceTemplate.builtIn.map(\.name).joined(separator: ", "))")
        }
        var spec = try template.instantiate(
            name: try ResourceName(validating: name, field: "name"), variables: variables)
        if let preferredNodes {
            var nodes: [NodeName] = []
            for (index, node) in preferredNodes.enumerated() {
                nodes.append(try NodeName(validating: node, field: "preferredNodes[\(index)]"))
            }
            spec.preferredNodes = nodes
        }
        if let loadScript { spec.load.body = loadScript }
        if let unloadScript { spec.unload.body = unloadScript }
        if let monitorScript {
            if spec.monitor == nil {
                spec.monitor = MonitorSpec(
                    script: ScriptSpec(body: monitorScript, timeout: ResourceSpec.defaultMonitorTimeout))
            } else {
                spec.monitor?.script.body = monitorScript
            }
        }
        if let loadTimeout { spec.load.timeout = try Span(parsing: loadTimeout, field: "loadTimeout") }
        if let unloadTimeout { spec.unload.timeout = try Span(parsing: unloadTimeout, field: "unloadTimeout") }
        if let startMode { spec.policies.startMode = startMode }
        if let failoverMode { spec.policies.failoverMode = failoverMode }
        if let failbackMode { spec.policies.failbackMode = failbackMode }
        if let priority { spec.priority = priority }
        try spec.validate()
        return spec
    }
}

public struct EventEntry: Codable, Sendable, Hashable {
    public var cursor: String
    public var time: Int64
    /// `time` in RFC 3339.
    public var timeRFC3339: String?
    public var kind: String
    public var node: String
    public var resource: String?
    public var message: String
    /// `info`, `warning` or `critical`, as the brain decided.
    public var severity: String
    /// For script events: `load`, `unload` or `monitor`.
    public var action: String?
    public var output: [String]?

    public init(cursor: String, stored: StoredEvent) {
        self.cursor = cursor
        time = stored.time
        timeRFC3339 = rfc3339(milliseconds: stored.time)
        kind = stored.event.kind.rawValue
        node = stored.event.node.rawValue
        resource = stored.event.resource?.rawValue
        message = stored.event.message
        severity = stored.event.severity.rawValue
        action = stored.event.action?.rawValue
        output = stored.output
    }
}

/// `GET /v1/events`: oldest first; pass `next` as `after` for the following page.
public struct EventPage: Codable, Sendable, Hashable {
    public var events: [EventEntry]
    public var next: String?
    public var revision: Int64

    public init(events: [EventEntry], next: String?, revision: Int64) {
        self.events = events
        self.next = next
        self.revision = revision
    }
}

public struct ScriptOutput: Codable, Sendable, Hashable {
    public var node: String
    public var action: String
    public var output: String
    public var modified: Int64?
    /// `modified` in RFC 3339.
    public var modifiedRFC3339: String?
    public var truncated: Bool

    public init(node: String, action: String, output: String, modified: Int64?, truncated: Bool) {
        self.node = node
        self.action = action
        self.output = output
        self.modified = modified
        self.modifiedRFC3339 = modified.map { rfc3339(milliseconds: $0) }
        self.truncated = truncated
    }
}

/// `POST /v1/sessions` answer: the bearer token (shown once; only its hash is stored).
public struct SessionGrant: Codable, Sendable, Hashable {
    public var token: String
    public var user: String
    public var role: Role
    public var expiresInSeconds: Int64

    public init(token: String, user: String, role: Role, expiresInSeconds: Int64) {
        self.token = token
        self.user = user
        self.role = role
        self.expiresInSeconds = expiresInSeconds
    }
}

public struct LoginRequest: Codable, Sendable, Hashable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case user, password }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        user = try container.decode(String.self, forKey: .user)
        password = try container.decode(String.self, forKey: .password)
    }
}

public struct UserRequest: Codable, Sendable, Hashable {
    public var password: String
    public var role: Role

    public init(password: String, role: Role) {
        self.password = password
        self.role = role
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case password, role }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        password = try container.decode(String.self, forKey: .password)
        role = try container.decode(Role.self, forKey: .role)
    }
}

public struct UserSummary: Codable, Sendable, Hashable {
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

public struct SetRequest: Codable, Sendable, Hashable {
    public var parameter: String
    public var value: String
    public init(parameter: String, value: String) {
        self.parameter = parameter
        self.value = value
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case parameter, value }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        parameter = try container.decode(String.self, forKey: .parameter)
        value = try container.decode(String.self, forKey: .value)
    }
}

public struct MaintenanceRequest: Codable, Sendable, Hashable {
    public var enabled: Bool
    /// Wall-clock milliseconds since 1970 when maintenance ends by itself.
    public var until: Int64?
    public init(enabled: Bool, until: Int64? = nil) {
        self.enabled = enabled
        self.until = until
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, until }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decode(Bool.self, forKey: .enabled)
        until = try container.decodeIfPresent(Int64.self, forKey: .until)
    }
}

public struct OnlineRequest: Codable, Sendable, Hashable {
    public var node: String?
    public init(node: String? = nil) { self.node = node }

    enum CodingKeys: String, CodingKey, CaseIterable { case node }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        node = try container.decodeIfPresent(String.self, forKey: .node)
    }
}

public struct MigrateRequest: Codable, Sendable, Hashable {
    /// A node name, or `most` / `next` (NCS's `-most`, `-next`).
    public var to: String
    public init(to: String) { self.to = to }

    enum CodingKeys: String, CodingKey, CaseIterable { case to }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        to = try container.decode(String.self, forKey: .to)
    }
}

public struct AlertRequest: Codable, Sendable, Hashable {
    public var answer: String
    public init(answer: String) { self.answer = answer }

    enum CodingKeys: String, CodingKey, CaseIterable { case answer }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        answer = try container.decode(String.self, forKey: .answer)
    }
}

/// `GET /v1/stats`: what `vigil stats` shows.
public struct ClusterStats: Codable, Sendable, Hashable {
    public struct Member: Codable, Sendable, Hashable {
        public var node: String
        public var heartbeat: UInt64
        /// Store revision of the member's last heartbeat and how many revisions ago that was.
        public var lastHeartbeatRevision: Int64
        /// Heartbeats since `vigil stats clear` (all of them if never cleared).
        public var heartbeatsSinceClear: UInt64
        /// Wall-clock milliseconds of the last heartbeat, as its node's clock said.
        public var lastHeartbeatTime: Int64?
        /// Times the master evicted this node, in the retained event log since the clear.
        public var evictions: Int

        public init(
            node: String, heartbeat: UInt64, lastHeartbeatRevision: Int64, heartbeatsSinceClear: UInt64? = nil,
            lastHeartbeatTime: Int64? = nil, evictions: Int = 0
        ) {
            self.node = node
            self.heartbeat = heartbeat
            self.lastHeartbeatRevision = lastHeartbeatRevision
            self.heartbeatsSinceClear = heartbeatsSinceClear ?? heartbeat
            self.lastHeartbeatTime = lastHeartbeatTime
            self.evictions = evictions
        }
    }
    public var epoch: UInt64
    public var revision: Int64
    public var members: [Member]
    public var events: Int
    public var eventsByKind: [String: Int]
    public var resourcesByState: [String: Int]
    /// When `vigil stats clear` last ran (wall-clock milliseconds), if ever.
    public var clearedAt: Int64?

    public init(
        epoch: UInt64, revision: Int64, members: [Member], events: Int, eventsByKind: [String: Int],
        resourcesByState: [String: Int], clearedAt: Int64? = nil
    ) {
        self.epoch = epoch
        self.revision = revision
        self.members = members
        self.events = events
        self.eventsByKind = eventsByKind
        self.resourcesByState = resourcesByState
        self.clearedAt = clearedAt
    }
}

/// `GET /v1/resources/{name}`.
public struct ResourceDetail: Codable, Sendable {
    public var definition: ResourceSpec
    public var state: ResourceState
    /// The definition's store revision: send it back as `If-Match` with a changed definition, and
    /// an edit made meanwhile by someone else is refused instead of overwritten.
    public var revision: Int64?

    public init(definition: ResourceSpec, state: ResourceState, revision: Int64? = nil) {
        self.definition = definition
        self.state = state
        self.revision = revision
    }
}

/// Every error answer: `{"error": {status, field, value, reason}}`.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var status: Int
        public var field: String
        public var value: String
        public var reason: String

        public init(status: Int, field: String, value: String, reason: String) {
            self.status = status
            self.field = field
            self.value = value
            self.reason = reason
        }
    }

    public var error: Detail

    public init(error: Detail) { self.error = error }
}

/// `POST /v1/resources/import`: definitions made by `vigil import` (NCS, keepalived, Pacemaker),
/// created in one store transaction — all of them or none.
public struct ImportRequest: Codable, Sendable, Hashable {
    /// At most this many per request (etcd allows 128 operations per transaction by default).
    public static let maximumResources = 100

    public var resources: [ResourceSpec]
    /// Replace definitions that exist (otherwise an existing name refuses the whole import).
    public var replace: Bool

    public init(resources: [ResourceSpec], replace: Bool = false) {
        self.resources = resources
        self.replace = replace
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case resources, replace }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        resources = try container.decode([ResourceSpec].self, forKey: .resources)
        replace = try container.decodeIfPresent(Bool.self, forKey: .replace) ?? false
    }
}

public struct ImportResult: Codable, Sendable, Hashable {
    public var created: [String]
    public var replaced: [String]

    public init(created: [String], replaced: [String]) {
        self.created = created
        self.replaced = replaced
    }
}

/// `GET|POST /v1/resources/{name}/monitor` (NCS `cluster monitor RES status|start|stop`).
public struct MonitorStatus: Codable, Sendable, Hashable {
    public var resource: String
    /// Whether the definition has a monitor script at all.
    public var hasMonitor: Bool
    public var interval: String?
    public var suspended: Bool
    public var by: String?
    /// Wall-clock milliseconds of the suspension.
    public var since: Int64?

    public init(
        resource: String, hasMonitor: Bool, interval: String?, suspended: Bool, by: String?, since: Int64?
    ) {
        self.resource = resource
        self.hasMonitor = hasMonitor
        self.interval = interval
        self.suspended = suspended
        self.by = by
        self.since = since
    }
}

/// `POST /v1/resources/{name}/monitor`.
public struct MonitorRequest: Codable, Sendable, Hashable {
    public var action: String

    public init(action: String) { self.action = action }

    enum CodingKeys: String, CodingKey, CaseIterable { case action }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        action = try container.decode(String.self, forKey: .action)
        guard ["start", "stop"].contains(action) else {
            throw ValidationError(field: "action", value: action, reason: "start or stop")
        }
    }
}

/// `POST /v1/resources/{name}/rename`.
public struct RenameRequest: Codable, Sendable, Hashable {
    public var to: String

    public init(to: String) { self.to = to }

    enum CodingKeys: String, CodingKey, CaseIterable { case to }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        to = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .to)
    }
}

/// `POST /v1/cluster/restart` (NCS `cluster restart [SECONDS]`).
public struct RestartRequest: Codable, Sendable, Hashable {
    public var seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    enum CodingKeys: String, CodingKey, CaseIterable { case seconds }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        seconds = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Int.self, forKey: .seconds) ?? 60
    }
}

/// A place in the event stream (`GET /v1/events/stream`): a store revision and the index of an
/// event among the log's events written in it. A writer stores the events it has queued in one
/// transaction, so one revision may hold several (docs/design/0026). As the stream's `id` it is
/// `R` for an event of index 0 and `R:I` after that; a client that sends it back as
/// `Last-Event-ID` resumes with the next event, even one of the same revision.
public struct EventStreamPosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var revision: Int64
    public var index: Int

    public init(revision: Int64, index: Int) {
        self.revision = revision
        self.index = index
    }

    /// `R` or `R:I` (both non-negative); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let revision = Int64(parts[0]), revision >= 0 else { return nil }
        let index = parts.count == 2 ? Int(parts[1]) : 0
        guard let index, index >= 0 else { return nil }
        self.init(revision: revision, index: index)
    }

    public var description: String { index == 0 ? "\(revision)" : "\(revision):\(index)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.revision, lhs.index) < (rhs.revision, rhs.index) }
}

/// Numbers the events of a watch as stream positions: the n-th put of a revision has index n − 1.
public struct EventStreamNumbering: Sendable {
    private var last: EventStreamPosition?

    public init() {}

    /// The position of the next event put, at `revision` (events come in revision order).
    public mutating func next(at revision: Int64) -> EventStreamPosition {
        let index = last.map { $0.revision == revision ? $0.index + 1 : 0 } ?? 0
        let position = EventStreamPosition(revision: revision, index: index)
        last = position
        return position
    }
}
