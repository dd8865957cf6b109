/// The named timing profiles of ARCHITECTURE.md §4.
public enum TimingProfile: String, Codable, Hashable, Sendable, CaseIterable {
    /// Tolerance 2 s, heartbeat 400 ms, etcd 50/250 ms (docs/design/0006).
    case `default`
    /// Dedicated LAN: tolerance 800 ms, heartbeat 150 ms, etcd 30/150 ms (docs/design/0006).
    case fast
    /// Virtual machines (NCS's default tolerance): tolerance 8 s, heartbeat 1 s, etcd 100/1000 ms (etcd's defaults).
    case vm
}

/// Failure detection and fencing timings. Validated once; see ``validate()`` for the rules.
public struct TimingSettings: Hashable, Sendable, Codable, Validatable {
    public var profile: TimingProfile
    /// How long the master waits, after it first saw a member's latest heartbeat, before evicting it.
    public var tolerance: Span
    /// Interval between a node's heartbeats (fenced rewrites of its member key).
    public var heartbeat: Span
    /// etcd's own heartbeat interval for the managed member.
    public var etcdHeartbeat: Span
    /// etcd's election timeout for the managed member: at most a quarter of the tolerance.
    public var etcdElection: Span
    /// Hardware watchdog timeout (whole seconds), or nil when no watchdog is used.
    public var watchdogTimeout: Span?

    /// The settings of a named profile.
    public init(profile: TimingProfile = .default) {
        self.profile = profile
        self.watchdogTimeout = nil
        switch profile {
        case .default:
            (tolerance, heartbeat, etcdHeartbeat, etcdElection) =
                (.seconds(2), .milliseconds(400), .milliseconds(50), .milliseconds(250))
        case .fast:
            (tolerance, heartbeat, etcdHeartbeat, etcdElection) =
                (.milliseconds(800), .milliseconds(150), .milliseconds(30), .milliseconds(150))
        case .vm:
            (tolerance, heartbeat, etcdHeartbeat, etcdElection) =
                (.seconds(8), .seconds(1), .milliseconds(100), .seconds(1))
        }
    }

    /// Time kept between the self-fence deadline and the earliest eviction:
    /// max(20 % of the tolerance, 250 ms, watchdog timeout + 100 ms).
    public var margin: Span {
        var value = max(tolerance.percent(20), .milliseconds(250))
        if let watchdogTimeout { value = max(value, watchdogTimeout + .milliseconds(100)) }
        return value
    }

    /// How long after the send time of its last acknowledged heartbeat a node stops its resources.
    public var selfFenceAfter: Span { tolerance - margin }

    public func validate() throws(ValidationError) {
        guard tolerance >= .milliseconds(300), tolerance <= .minutes(5) else {
            throw ValidationError(field: "timing.tolerance", value: "\(tolerance)", reason: "must be 300ms to 5m")
        }
        guard heartbeat >= .milliseconds(20) else {
            throw ValidationError(field: "timing.heartbeat", value: "\(heartbeat)", reason: "must be at least 20ms")
        }
        if let watchdogTimeout {
            guard watchdogTimeout.milliseconds % 1000 == 0, watchdogTimeout >= .seconds(1) else {
                throw ValidationError(
                    field: "timing.watchdogTimeout", value: "\(watchdogTimeout)",
                    reason: "Linux watchdogs count whole seconds: use 1s or more in whole seconds")
            }
        }
        guard heartbeat * 2 <= selfFenceAfter else {
            throw ValidationError(
                field: "timing.heartbeat", value: "\(heartbeat)",
                reason:
                    "two heartbeats must fit before the self-fence deadline (tolerance \(tolerance) - margin \(margin) = \(selfFenceAfter)); raise the tolerance or shorten the heartbeat"
            )
        }
        guard etcdHeartbeat * 5 <= etcdElection else {
            throw ValidationError(
                field: "timing.etcdElection", value: "\(etcdElection)",
                reason: "etcd refuses an election timeout below 5 × its heartbeat (\(etcdHeartbeat))")
        }
        guard etcdElection * 4 <= tolerance else {
            throw ValidationError(
                field: "timing.etcdElection", value: "\(etcdElection)",
                reason: "must be at most a quarter of the tolerance (\(tolerance)), so an etcd leader change does not evict nodes"
            )
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case profile, tolerance, heartbeat, etcdHeartbeat, etcdElection, watchdogTimeout
    }

    /// Missing fields take the profile's values; unknown fields are refused.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(profile: try container.decodeIfPresent(TimingProfile.self, forKey: .profile) ?? .default)
        tolerance = try container.decodeIfPresent(Span.self, forKey: .tolerance) ?? tolerance
        heartbeat = try container.decodeIfPresent(Span.self, forKey: .heartbeat) ?? heartbeat
        etcdHeartbeat = try container.decodeIfPresent(Span.self, forKey: .etcdHeartbeat) ?? etcdHeartbeat
        etcdElection = try container.decodeIfPresent(Span.self, forKey: .etcdElection) ?? etcdElection
        watchdogTimeout = try container.decodeIfPresent(Span.self, forKey: .watchdogTimeout)
    }
}

/// Cluster start-up quorum: how many nodes to wait for, and for how long, before loading resources.
public struct QuorumSettings: Hashable, Sendable, Codable {
    public var nodeCount: Int
    public var timeout: Span

    public init(nodeCount: Int = 1, timeout: Span = .seconds(60)) {
        self.nodeCount = nodeCount
        self.timeout = timeout
    }
}

/// Cluster-wide maintenance: the master freezes placement (no eviction, failover, failback or start).
public struct MaintenanceSettings: Hashable, Sendable, Codable {
    public var enabled: Bool
    /// Wall-clock milliseconds since 1970 after which maintenance ends by itself, if set.
    public var untilWallMilliseconds: Int64?

    public init(enabled: Bool = false, untilWallMilliseconds: Int64? = nil) {
        self.enabled = enabled
        self.untilWallMilliseconds = untilWallMilliseconds
    }

    /// Whether maintenance is in force at wall time `wallMilliseconds`.
    public func isActive(atWall wallMilliseconds: Int64) -> Bool {
        guard enabled else { return false }
        if let until = untilWallMilliseconds { return wallMilliseconds < until }
        return true
    }
}

/// Settings shared by the whole cluster, kept at `/vigil/<cluster>/config`.
public struct ClusterSettings: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    public var timing: TimingSettings
    public var quorum: QuorumSettings
    public var maintenance: MaintenanceSettings

    public init(
        timing: TimingSettings = TimingSettings(), quorum: QuorumSettings = QuorumSettings(),
        maintenance: MaintenanceSettings = MaintenanceSettings()
    ) {
        self.schema = 1
        self.timing = timing
        self.quorum = quorum
        self.maintenance = maintenance
    }

    public func validate() throws(ValidationError) {
        guard schema == 1 else {
            throw ValidationError(.unsupportedSchema, field: "schema", value: "\(schema)", reason: "this Vigil reads schema 1")
        }
        try timing.validate()
        guard (1...32).contains(quorum.nodeCount) else {
            throw ValidationError(
                field: "quorum.nodeCount", value: "\(quorum.nodeCount)", reason: "must be 1 to 32 (cluster size)")
        }
        guard quorum.timeout <= .minutes(60) else {
            throw ValidationError(field: "quorum.timeout", value: "\(quorum.timeout)", reason: "must be at most 60m")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case schema, timing, quorum, maintenance }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decodeIfPresent(Int.self, forKey: .schema) ?? 1
        timing = try container.decodeIfPresent(TimingSettings.self, forKey: .timing) ?? TimingSettings()
        quorum = try container.decodeIfPresent(QuorumSettings.self, forKey: .quorum) ?? QuorumSettings()
        maintenance =
            try container.decodeIfPresent(MaintenanceSettings.self, forKey: .maintenance) ?? MaintenanceSettings()
    }
}

/// A node's definition, kept at `/vigil/<cluster>/nodes/<node>`.
public struct NodeDefinition: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    public var name: NodeName
    /// Position in the cluster's node list: the default preferred-nodes order.
    public var index: Int
    /// The node's own address(es) on the cluster subnet, as text (`198.18.0.11/24`).
    public var addresses: [String]
    /// etcd peer URL of the node's managed member (`http://198.18.0.11:2380`), if it runs one.
    public var etcdPeerURL: String?
    /// etcd client URL of the node's managed member (`http://198.18.0.11:2379`), if it runs one.
    public var etcdClientURL: String?

    public init(
        name: NodeName, index: Int, addresses: [String] = [], etcdPeerURL: String? = nil, etcdClientURL: String? = nil
    ) {
        self.schema = 1
        self.name = name
        self.index = index
        self.addresses = addresses
        self.etcdPeerURL = etcdPeerURL
        self.etcdClientURL = etcdClientURL
    }

    public func validate() throws(ValidationError) {
        guard index >= 0 else {
            throw ValidationError(field: "index", value: "\(index)", reason: "must be 0 or more")
        }
    }
}
