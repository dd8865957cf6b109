/// A revision of the coordination store (etcd's 64-bit revision).
public typealias Revision = Int64

/// Which manual policy an alert waits on.
public enum AlertKind: String, Codable, Hashable, Sendable, CaseIterable {
    case start, failover, failback
}

/// A resource's state in the cluster, as NCS names it (`vigil status`, the API's `state`, metrics):
/// one enum end to end, written as its name (`Running`, `Alert(failover)`).
public enum ResourceStateName: Hashable, Sendable, Codable, CustomStringConvertible {
    case offline, quorumWait, unassigned, loading, running, migrating, unloading, comatose
    case alert(AlertKind)

    public var description: String {
        switch self {
        case .offline: "Offline"
        case .quorumWait: "QuorumWait"
        case .unassigned: "Unassigned"
        case .loading: "Loading"
        case .running: "Running"
        case .migrating: "Migrating"
        case .unloading: "Unloading"
        case .comatose: "Comatose"
        case .alert(let kind): "Alert(\(kind.rawValue))"
        }
    }

    public static let allCases: [ResourceStateName] =
        [.offline, .quorumWait, .unassigned, .loading, .running, .migrating, .unloading, .comatose]
        + AlertKind.allCases.map(Self.alert)

    public init?(_ name: String) {
        guard let state = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = state
    }

    /// A node's own status of the resource, as the cluster shows it.
    public init(_ local: LocalState) {
        switch local {
        case .offline: self = .offline
        case .loading: self = .loading
        case .running: self = .running
        case .unloading: self = .unloading
        case .comatose: self = .comatose
        }
    }

    /// A state a command can end in: no script running, nothing moving.
    public var settled: Bool {
        switch self {
        case .running, .offline, .comatose, .unassigned, .alert: true
        case .quorumWait, .loading, .migrating, .unloading: false
        }
    }

    /// The `state` label of the `vigil_resources` gauge (every alert kind counts as `Alert`).
    public var metricLabel: String {
        if case .alert = self { return "Alert" }
        return description
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let state = Self(name) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown state '\(name)'"))
        }
        self = state
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The master's decision for one resource: where it runs, or why it runs nowhere.
public enum Placement: Hashable, Sendable, CustomStringConvertible {
    /// Not running anywhere; an admin must online it.
    case offline
    /// Waiting for the cluster's start-up quorum.
    case quorumWait
    /// None of its preferred nodes is a member.
    case unassigned
    /// Exclusive: loading or running on this node.
    case node(NodeName)
    /// Being unloaded on `from`; loads on `to` (or the best node) once `from` reports a clean Offline.
    case migrating(from: NodeName, to: NodeName?)
    /// Being unloaded on this node at an admin's request; then offline.
    case stopping(NodeName)
    /// Load, unload or monitor failed on this node; the admin must offline it.
    case comatose(NodeName)
    /// A MANUAL policy waits for `cluster alert`; `on` still runs it (failback), `proposed` is the target.
    case alert(AlertKind, on: NodeName?, proposed: NodeName?)
    /// `everywhere` resource: online on every eligible node.
    case everywhere

    /// The node that may hold the resource (exclusive), if any.
    public var holder: NodeName? {
        switch self {
        case .node(let node), .stopping(let node), .comatose(let node): node
        case .migrating(let from, _): from
        case .alert(_, let on, _): on
        case .offline, .quorumWait, .unassigned, .everywhere: nil
        }
    }

    /// The state NCS shows for this placement (a placed resource's own status refines it).
    public var stateName: ResourceStateName {
        switch self {
        case .offline: .offline
        case .quorumWait: .quorumWait
        case .unassigned: .unassigned
        case .node: .running
        case .migrating: .migrating
        case .stopping: .unloading
        case .comatose: .comatose
        case .alert(let kind, _, _): .alert(kind)
        case .everywhere: .running
        }
    }

    public var description: String {
        switch self {
        case .offline: "offline"
        case .quorumWait: "quorum-wait"
        case .unassigned: "unassigned"
        case .node(let node): "node(\(node))"
        case .migrating(let from, let to): "migrating(\(from)->\(to.map(\.rawValue) ?? "best"))"
        case .stopping(let node): "stopping(\(node))"
        case .comatose(let node): "comatose(\(node))"
        case .alert(let kind, let on, let proposed):
            "alert(\(kind.rawValue), on: \(on.map(\.rawValue) ?? "-"), proposed: \(proposed.map(\.rawValue) ?? "-"))"
        case .everywhere: "everywhere"
        }
    }
}

extension Placement: Codable {
    enum CodingKeys: String, CodingKey { case state, node, target, alert }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let state = try container.decode(String.self, forKey: .state)
        let node = try container.decodeIfPresent(NodeName.self, forKey: .node)
        let target = try container.decodeIfPresent(NodeName.self, forKey: .target)
        func required() throws -> NodeName {
            guard let node else {
                throw ValidationError(
                    .missingField, field: "placement.node", value: "", reason: "needed for '\(state)'")
            }
            return node
        }
        switch state {
        case "offline": self = .offline
        case "quorumWait": self = .quorumWait
        case "unassigned": self = .unassigned
        case "node": self = .node(try required())
        case "migrating": self = .migrating(from: try required(), to: target)
        case "stopping": self = .stopping(try required())
        case "comatose": self = .comatose(try required())
        case "alert": self = .alert(try container.decode(AlertKind.self, forKey: .alert), on: node, proposed: target)
        case "everywhere": self = .everywhere
        default:
            throw ValidationError(field: "placement.state", value: state, reason: "unknown placement")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .offline: try container.encode("offline", forKey: .state)
        case .quorumWait: try container.encode("quorumWait", forKey: .state)
        case .unassigned: try container.encode("unassigned", forKey: .state)
        case .everywhere: try container.encode("everywhere", forKey: .state)
        case .node(let node):
            try container.encode("node", forKey: .state)
            try container.encode(node, forKey: .node)
        case .migrating(let from, let to):
            try container.encode("migrating", forKey: .state)
            try container.encode(from, forKey: .node)
            try container.encodeIfPresent(to, forKey: .target)
        case .stopping(let node):
            try container.encode("stopping", forKey: .state)
            try container.encode(node, forKey: .node)
        case .comatose(let node):
            try container.encode("comatose", forKey: .state)
            try container.encode(node, forKey: .node)
        case .alert(let kind, let on, let proposed):
            try container.encode("alert", forKey: .state)
            try container.encode(kind, forKey: .alert)
            try container.encodeIfPresent(on, forKey: .node)
            try container.encodeIfPresent(proposed, forKey: .target)
        }
    }
}

/// The master's assignment of one resource, kept at `/vigil/<cluster>/assignments/<res>`.
///
/// Every write bumps `generation`: the fencing token handed to scripts and compared by status writes.
public struct Assignment: Hashable, Sendable, Codable {
    public var schema: Int
    public var generation: UInt64
    public var placement: Placement
    /// The join revision (member key create revision) of the holder when it was placed there:
    /// a holder that has since been evicted and joined again no longer owns it.
    public var memberRevision: Revision?
    /// Why the master decided this, for the event log and `vigil status`.
    public var reason: String
    /// Set after a monitor-driven move: such a resource never fails back automatically.
    public var noFailback: Bool
    /// The master moved it (or proposed to) because its holder failed or was evicted.
    public var failover: Bool

    public init(
        generation: UInt64, placement: Placement, memberRevision: Revision? = nil, reason: String,
        noFailback: Bool = false, failover: Bool = false
    ) {
        self.schema = 1
        self.generation = generation
        self.placement = placement
        self.memberRevision = memberRevision
        self.reason = reason
        self.noFailback = noFailback
        self.failover = failover
    }

    enum CodingKeys: String, CodingKey {
        case schema, generation, placement, memberRevision, reason, noFailback, failover
    }

    /// Assignments written before `failover` existed read as false.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            generation: try container.decode(UInt64.self, forKey: .generation),
            placement: try container.decode(Placement.self, forKey: .placement),
            memberRevision: try container.decodeIfPresent(Revision.self, forKey: .memberRevision),
            reason: try container.decode(String.self, forKey: .reason),
            noFailback: try container.decodeIfPresent(Bool.self, forKey: .noFailback) ?? false,
            failover: try container.decodeIfPresent(Bool.self, forKey: .failover) ?? false)
        schema = try container.decode(Int.self, forKey: .schema)
    }
}

/// A resource's state on one node.
public enum LocalState: String, Codable, Hashable, Sendable, CaseIterable {
    case offline = "Offline"
    case loading = "Loading"
    case running = "Running"
    case unloading = "Unloading"
    case comatose = "Comatose"
}

/// A script kind.
public enum ScriptAction: String, Codable, Hashable, Sendable, CaseIterable {
    case load, unload, monitor
}

/// How a script ended.
public enum ScriptOutcome: Hashable, Sendable, Codable, CustomStringConvertible {
    case success
    case failure(exitCode: Int32)
    case timedOut
    /// Killed by Vigil (self-fence or shutdown), not a verdict on the script.
    case killed
    /// An unload exited 0 but its resource's virtual address is still up, and removing it failed
    /// too (an `ignore_error del_secondary_ipaddress` whose `ip` failed): a failed unload.
    case addressStayed

    public var succeeded: Bool { self == .success }

    public var description: String {
        switch self {
        case .success: "exit 0"
        case .failure(let code): "exit \(code)"
        case .timedOut: "timed out"
        case .killed: "killed"
        case .addressStayed: "exit 0 but its address is still up"
        }
    }
}

/// Why a node released a resource and asks the master to place it elsewhere.
public enum MoveAwayReason: String, Codable, Hashable, Sendable {
    /// Monitor action `migrate`: the next preferred node, and no automatic failback.
    case monitor
    /// The node's agent is stopping.
    case shutdown
}

/// What the owning node reports for a resource, kept at `/vigil/<cluster>/status/<res>/<node>`.
public struct ResourceStatus: Hashable, Sendable, Codable {
    public var schema: Int
    public var node: NodeName
    public var generation: UInt64
    public var state: LocalState
    /// How many times the resource has been loaded (NCS's "lives").
    public var incarnation: Int
    /// Wall-clock milliseconds since 1970 at which it last became Running.
    public var upSince: Int64?
    /// The last script that ended, and how.
    public var lastAction: ScriptAction?
    public var lastOutcome: ScriptOutcome?
    /// Set with Offline when the node asks the master to place it elsewhere (monitor migrate, shutdown).
    public var moveAway: MoveAwayReason?
    /// With Offline after a clean unload: the resource's virtual address, which the unloading node
    /// checked was gone from its interfaces (docs/design/0018).
    public var addressGone: String?

    public init(
        node: NodeName, generation: UInt64, state: LocalState, incarnation: Int, upSince: Int64? = nil,
        lastAction: ScriptAction? = nil, lastOutcome: ScriptOutcome? = nil, moveAway: MoveAwayReason? = nil,
        addressGone: String? = nil
    ) {
        self.schema = 1
        self.node = node
        self.generation = generation
        self.state = state
        self.incarnation = incarnation
        self.upSince = upSince
        self.lastAction = lastAction
        self.lastOutcome = lastOutcome
        self.moveAway = moveAway
        self.addressGone = addressGone
    }
}

/// A node's "I am alive" record, kept at `/vigil/<cluster>/members/<node>`.
public struct MemberRecord: Hashable, Sendable, Codable {
    public var node: NodeName
    public var heartbeat: UInt64
    public var version: String
    /// The tolerance the master must allow this node before evicting it: at least the one its
    /// self-fence deadline uses (a raised tolerance is applied only once a heartbeat carrying it
    /// committed; see docs/design/0011-live-tolerance.md).
    public var tolerance: Span?
    /// The agent process that owns this key (random per start): a second agent with the same node
    /// name (a cloned machine) finds another instance here and is refused.
    public var instance: String?
    /// Wall-clock milliseconds when this heartbeat was sent (`vigil stats`: last heartbeat time).
    /// Shown only; no decision reads it (clocks of different nodes need not agree).
    public var wallMilliseconds: Int64?
    /// True once the agent is stopping (handing its resources over, then leaving): the master
    /// gives it nothing new. Absent otherwise.
    public var stopping: Bool?

    public init(
        node: NodeName, heartbeat: UInt64, version: String, tolerance: Span? = nil, instance: String? = nil,
        wallMilliseconds: Int64? = nil, stopping: Bool? = nil
    ) {
        self.node = node
        self.heartbeat = heartbeat
        self.version = version
        self.tolerance = tolerance
        self.instance = instance
        self.wallMilliseconds = wallMilliseconds
        self.stopping = stopping
    }
}

/// The master's record, kept at `/vigil/<cluster>/master`. Its bytes stay the same for a whole term,
/// so master writes can compare its value.
///
/// A master that stops gracefully marks its record `resigned` instead of deleting it, so terms keep
/// growing and the others campaign at once.
public struct MasterRecord: Hashable, Sendable, Codable {
    public var node: NodeName
    public var term: UInt64
    public var resigned: Bool

    public init(node: NodeName, term: UInt64, resigned: Bool = false) {
        self.node = node
        self.term = term
        self.resigned = resigned
    }
}

/// An admin request for the master, kept at `/vigil/<cluster>/commands/<id>` until the master handles it.
public struct AdminCommand: Hashable, Sendable, Codable {
    public enum Verb: Hashable, Sendable, Codable {
        case online(node: NodeName?)
        case offline
        case migrate(MigrateTarget)
        case alert(answer: Bool)
    }

    public enum MigrateTarget: Hashable, Sendable, Codable {
        case node(NodeName)
        case most
        case next
    }

    public var id: String
    public var resource: ResourceName
    public var verb: Verb
    /// Who asked, for the event log.
    public var user: String

    public init(id: String, resource: ResourceName, verb: Verb, user: String = "admin") {
        self.id = id
        self.resource = resource
        self.verb = verb
        self.user = user
    }
}

extension AdminCommand.Verb: CustomStringConvertible {
    /// The verb as an administrator types it (`cluster online RES n2`, `cluster migrate RES --next`).
    public var description: String {
        switch self {
        case .online(let node): node.map { "online \($0)" } ?? "online"
        case .offline: "offline"
        case .migrate(.node(let node)): "migrate \(node)"
        case .migrate(.most): "migrate --most"
        case .migrate(.next): "migrate --next"
        case .alert(let answer): "alert \(answer ? "yes" : "no")"
        }
    }
}

/// One entry of the event log as stored at `/vigil/<cluster>/events/<time>-<node>-<seq>`.
public struct StoredEvent: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    /// Wall-clock milliseconds since 1970 on the node that wrote it.
    public var time: Int64
    public var event: ClusterEvent
    /// For script results: the last lines the script printed.
    public var output: [String]?

    public init(time: Int64, event: ClusterEvent, output: [String]? = nil) {
        self.schema = 1
        self.time = time
        self.event = event
        self.output = output
    }

    public func validate() throws(ValidationError) {}
}

/// An entry of the cluster event log: who or what did what, and why.
public struct ClusterEvent: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        case membership, election, assignment, script, fence, admin, alert
    }

    /// How urgent it is, set where the event is decided (the brain): notifications, logs and the
    /// CLI read this, never the message.
    public enum Severity: String, Codable, Hashable, Sendable, CaseIterable {
        case info, warning, critical
    }

    public var kind: Kind
    public var node: NodeName
    public var resource: ResourceName?
    public var message: String
    public var severity: Severity
    /// The script an event of kind `script` is about.
    public var action: ScriptAction?

    /// - Parameter severity: by default critical for fencing and alerts, info for the rest.
    public init(
        kind: Kind, node: NodeName, resource: ResourceName? = nil, message: String, severity: Severity? = nil,
        action: ScriptAction? = nil
    ) {
        self.kind = kind
        self.node = node
        self.resource = resource
        self.message = message
        self.severity = severity ?? (kind == .fence || kind == .alert ? .critical : .info)
        self.action = action
    }

    enum CodingKeys: String, CodingKey {
        case kind, node, resource, message, severity, action
    }

    /// Events written before severities existed read as their kind's default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            kind: try container.decode(Kind.self, forKey: .kind),
            node: try container.decode(NodeName.self, forKey: .node),
            resource: try container.decodeIfPresent(ResourceName.self, forKey: .resource),
            message: try container.decode(String.self, forKey: .message),
            severity: try container.decodeIfPresent(Severity.self, forKey: .severity),
            action: try container.decodeIfPresent(ScriptAction.self, forKey: .action))
    }

    public var description: String {
        "[\(kind.rawValue)] \(node)\(resource.map { " \($0):" } ?? ":") \(message)"
    }
}
