/// A value read from the store with its revisions.
public struct Versioned<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var createRevision: Revision
    public var modRevision: Revision

    public init(_ value: Value, createRevision: Revision, modRevision: Revision) {
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
    }
}

/// One raw key of the store, as a driver hands it over.
public struct StoredEntry: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Revision
    public var modRevision: Revision

    public init(key: String, value: [UInt8], createRevision: Revision, modRevision: Revision) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
    }
}

/// Everything the brain knows about the cluster: the decoded store at one revision.
public struct ClusterView: Hashable, Sendable {
    public var revision: Revision
    public var settings: ClusterSettings
    public var nodes: [NodeName: NodeDefinition] {
        didSet { orderedNodes = Self.order(nodes) }
    }
    public var members: [NodeName: Versioned<MemberRecord>]
    public var master: Versioned<MasterRecord>?
    public var resources: [ResourceName: ResourceSpec]
    public var assignments: [ResourceName: Versioned<Assignment>]
    public var statuses: [ResourceName: [NodeName: Versioned<ResourceStatus>]]
    public var epoch: UInt64
    public var commands: [String: AdminCommand]
    /// Nodes an administrator took out of the cluster (`vigil leave`, `vigil down`) until `vigil join`.
    public var standby: Set<NodeName>
    /// Resources whose monitoring an administrator suspended (`vigil monitor RES stop`) until
    /// `vigil monitor RES start`: their monitor scripts do not run.
    public var suspendedMonitors: Set<ResourceName>
    /// Keys that could not be decoded, with the reason: shown, never acted upon.
    public var problems: [String]
    /// The revision of the latest change that was not a heartbeat (a member rewriting its own key
    /// under the same join, the master rewriting its record unchanged): views that differ only in
    /// heartbeats have the same content revision, and ask nothing new of placement or scripts.
    public var contentRevision: Revision

    public init(revision: Revision = 0, settings: ClusterSettings = ClusterSettings()) {
        self.revision = revision
        self.contentRevision = revision
        self.settings = settings
        self.nodes = [:]
        self.members = [:]
        self.master = nil
        self.resources = [:]
        self.assignments = [:]
        self.statuses = [:]
        self.epoch = 0
        self.commands = [:]
        self.standby = []
        self.suspendedMonitors = []
        self.problems = []
    }

    /// Defined nodes in cluster order (the default preferred order). Kept as `nodes` changes: the
    /// master looks at it for every resource it places, at every change.
    public private(set) var orderedNodes: [NodeName] = []

    private static func order(_ nodes: [NodeName: NodeDefinition]) -> [NodeName] {
        nodes.values.sorted { ($0.index, $0.name) < ($1.index, $1.name) }.map(\.name)
    }

    /// The status `node` reported for `resource`, if any.
    public func status(of resource: ResourceName, on node: NodeName) -> Versioned<ResourceStatus>? {
        statuses[resource]?[node]
    }
}

/// The one place that knows the store's key layout (ARCHITECTURE.md §3).
public struct KeyLayout: Hashable, Sendable {
    public let cluster: String
    /// `/vigil/<cluster>/`: every key of the cluster starts with it.
    public let prefix: String

    public init(cluster: String) {
        self.cluster = cluster
        self.prefix = "/vigil/\(cluster)/"
    }

    public var config: String { prefix + "config" }
    public var master: String { prefix + "master" }
    public var epoch: String { prefix + "epoch" }
    public func node(_ node: NodeName) -> String { prefix + "nodes/\(node)" }
    public func member(_ node: NodeName) -> String { prefix + "members/\(node)" }
    public func resource(_ resource: ResourceName) -> String { resourcesPrefix + resource.rawValue }
    public var resourcesPrefix: String { prefix + "resources/" }
    public func assignment(_ resource: ResourceName) -> String { prefix + "assignments/\(resource)" }
    public func status(_ resource: ResourceName, node: NodeName) -> String { prefix + "status/\(resource)/\(node)" }
    public func command(_ id: String) -> String { prefix + "commands/\(id)" }
    public func standby(_ node: NodeName) -> String { prefix + "standby/\(node)" }
    public func monitoring(_ resource: ResourceName) -> String { prefix + "monitoring/\(resource)" }
    /// The counters `vigil stats clear` took as zero.
    public var statsBaseline: String { prefix + "stats" }
    /// An event's key: sortable by wall time, unique per node and sequence.
    public func event(wallMilliseconds: Int64, node: NodeName, sequence: UInt64) -> String {
        prefix + "events/" + String(wallMilliseconds).leftPadded(to: 13) + "-" + node.rawValue + "-"
            + String(sequence).leftPadded(to: 8)
    }
    public var eventsPrefix: String { prefix + "events/" }
    /// What a view does not need: the event log (up to thousands of entries), sessions, users,
    /// idempotency records. Reading the view without them costs the same however full they are.
    public var notInView: [String] { [eventsPrefix, prefix + "idempotency/", prefix + "sessions/", prefix + "users/"] }

    /// The epoch's stored form.
    public struct EpochRecord: Hashable, Sendable, Codable, Validatable {
        public var epoch: UInt64
        public init(epoch: UInt64) { self.epoch = epoch }
        public func validate() throws(ValidationError) {}
    }

    /// Decodes every entry under ``prefix`` into a view; undecodable keys go to `problems`.
    public func view(from entries: some Sequence<StoredEntry>, revision: Revision) -> ClusterView {
        var view = ClusterView(revision: revision)
        for entry in entries { put(entry, into: &view) }
        return view
    }

    /// Applies one changed key to `view` (decoding only that key).
    public func put(_ entry: StoredEntry, into view: inout ClusterView) {
        guard entry.key.hasPrefix(prefix) else { return }
        let path = entry.key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        // What a heartbeat would rewrite, as it was (one record, not a copy of every member).
        let member = path.first == "members" && path.count == 2 ? try? NodeName(validating: String(path[1])) : nil
        let before = (master: view.master?.value, member: member.flatMap { view.members[$0] })
        do {
            try apply(entry, path: path.map(String.init), to: &view)
        } catch {
            view.problems.append("\(entry.key): \(error)")
        }
        let heartbeat: Bool
        switch (path.first, member) {
        case ("master", _):
            // The master's record rewritten unchanged.
            heartbeat = path.count == 1 && before.master != nil && before.master == view.master?.value
        case (_, let member?):
            // A member's record under the same join with nothing but its heartbeat counter changed.
            if var old = before.member, let new = view.members[member], old.createRevision == new.createRevision {
                old.value.heartbeat = new.value.heartbeat
                old.value.wallMilliseconds = new.value.wallMilliseconds
                heartbeat = old.value == new.value
            } else {
                heartbeat = false
            }
        default:
            heartbeat = false
        }
        if !heartbeat { view.contentRevision = max(view.contentRevision, entry.modRevision) }
    }

    /// Applies the deletion of one key, at `revision`, to `view`.
    public func delete(_ key: String, at revision: Revision, from view: inout ClusterView) {
        guard key.hasPrefix(prefix) else { return }
        view.contentRevision = max(view.contentRevision, revision)
        let path = key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch (path.first, path.count) {
        case ("config", 1): view.settings = ClusterSettings()
        case ("master", 1): view.master = nil
        case ("epoch", 1): view.epoch = 0
        case ("nodes", 2): view.nodes = view.nodes.filter { $0.key.rawValue != path[1] }
        case ("members", 2): view.members = view.members.filter { $0.key.rawValue != path[1] }
        case ("resources", 2): view.resources = view.resources.filter { $0.key.rawValue != path[1] }
        case ("assignments", 2): view.assignments = view.assignments.filter { $0.key.rawValue != path[1] }
        case ("status", 3):
            if let resource = try? ResourceName(validating: path[1]), let node = try? NodeName(validating: path[2]) {
                view.statuses[resource]?[node] = nil
                if view.statuses[resource]?.isEmpty == true { view.statuses[resource] = nil }
            }
        case ("commands", 2): view.commands[path[1]] = nil
        case ("standby", 2):
            if let node = try? NodeName(validating: path[1]) { view.standby.remove(node) }
        case ("monitoring", 2):
            if let resource = try? ResourceName(validating: path[1]) { view.suspendedMonitors.remove(resource) }
        default: break
        }
    }

    private func apply(_ entry: StoredEntry, path: [String], to view: inout ClusterView) throws {
        func versioned<T>(_ value: T) -> Versioned<T> {
            Versioned(value, createRevision: entry.createRevision, modRevision: entry.modRevision)
        }
        switch (path.first, path.count) {
        case ("config", 1):
            view.settings = try ModelCodec.decode(ClusterSettings.self, from: entry.value)
        case ("master", 1):
            view.master = versioned(try ModelCodec.decode(MasterRecord.self, from: entry.value))
        case ("epoch", 1):
            view.epoch = try ModelCodec.decode(EpochRecord.self, from: entry.value).epoch
        case ("nodes", 2):
            let node = try ModelCodec.decode(NodeDefinition.self, from: entry.value)
            view.nodes[node.name] = node
        case ("members", 2):
            let member = try ModelCodec.decode(MemberRecord.self, from: entry.value)
            view.members[member.node] = versioned(member)
        case ("resources", 2):
            let spec = try ModelCodec.decode(ResourceSpec.self, from: entry.value)
            view.resources[spec.name] = spec
        case ("assignments", 2):
            let resource = try ResourceName(validating: path[1])
            view.assignments[resource] = versioned(try ModelCodec.decode(Assignment.self, from: entry.value))
        case ("status", 3):
            let resource = try ResourceName(validating: path[1])
            let status = try ModelCodec.decode(ResourceStatus.self, from: entry.value)
            view.statuses[resource, default: [:]][status.node] = versioned(status)
        case ("commands", 2):
            let command = try ModelCodec.decode(AdminCommand.self, from: entry.value)
            view.commands[command.id] = command
        case ("standby", 2):
            _ = try ModelCodec.decode(StandbyRecord.self, from: entry.value)
            view.standby.insert(try NodeName(validating: path[1], field: "key"))
        case ("monitoring", 2):
            _ = try ModelCodec.decode(MonitorSuspension.self, from: entry.value)
            view.suspendedMonitors.insert(try ResourceName(validating: path[1], field: "key"))
        case ("events", 2), ("sessions", 2), ("users", 2), ("idempotency", 2), ("stats", 1):
            break
        default:
            throw ValidationError(field: "key", value: entry.key, reason: "not a key of the Vigil layout")
        }
    }
}

/// `/vigil/<cluster>/standby/<node>`: the node was told to leave and stays out until told to join.
public struct StandbyRecord: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    public var by: String
    /// Wall-clock milliseconds.
    public var since: Int64
    /// `vigil restart SECONDS`: the node comes back by itself this long after it has left
    /// (measured on its own clock, from when it is out). Nil: out until `vigil join`.
    public var rejoinAfter: Span?

    public init(by: String, since: Int64, rejoinAfter: Span? = nil) {
        self.schema = 1
        self.by = by
        self.since = since
        self.rejoinAfter = rejoinAfter
    }

    public func validate() throws(ValidationError) {}
}

/// `/vigil/<cluster>/monitoring/<resource>`: its monitoring is suspended (`vigil monitor RES stop`).
public struct MonitorSuspension: Hashable, Sendable, Codable, Validatable {
    public var by: String
    /// Wall-clock milliseconds.
    public var since: Int64

    public init(by: String, since: Int64) {
        self.by = by
        self.since = since
    }

    public func validate() throws(ValidationError) {}
}

/// `/vigil/<cluster>/stats`: what `vigil stats clear` counts from — each member's heartbeat
/// counter and the wall time of the clear.
public struct StatsBaseline: Hashable, Sendable, Codable, Validatable {
    public var since: Int64
    public var heartbeats: [String: UInt64]
    public var by: String

    public init(since: Int64, heartbeats: [String: UInt64], by: String) {
        self.since = since
        self.heartbeats = heartbeats
        self.by = by
    }

    public func validate() throws(ValidationError) {}
}

extension MasterRecord: Validatable { public func validate() throws(ValidationError) {} }
extension MemberRecord: Validatable { public func validate() throws(ValidationError) {} }
extension Assignment: Validatable { public func validate() throws(ValidationError) {} }
extension ResourceStatus: Validatable { public func validate() throws(ValidationError) {} }
extension AdminCommand: Validatable { public func validate() throws(ValidationError) {} }

extension String {
    /// The string padded on the left with `pad` to `width` characters (keys, tables).
    public func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

extension ClusterView {
    /// A resource's state as NCS names it: the master's placement, or for a placed resource its
    /// holder's own status (Loading until the holder reports on this generation); an
    /// `everywhere` resource is Running once any node runs it. What `vigil status` and the
    /// metrics show.
    public func stateName(of name: ResourceName) -> ResourceStateName {
        guard let assignment = assignments[name]?.value else { return .offline }
        let current = (statuses[name]?.values.map(\.value) ?? []).filter { $0.generation == assignment.generation }
        if assignment.placement == .everywhere {
            return current.contains { $0.state == .running } ? .running : .loading
        }
        guard case .node(let holder) = assignment.placement else { return assignment.placement.stateName }
        return current.first { $0.node == holder }.map { ResourceStateName($0.state) } ?? .loading
    }
}
