/// AUTO or MANUAL, for the start and failover policies.
public enum StartMode: String, Codable, Hashable, Sendable, CaseIterable {
    case auto = "AUTO"
    case manual = "MANUAL"
}

/// AUTO (back to the first preferred node only), MANUAL (raise an alert) or DISABLE (never move back).
public enum FailbackMode: String, Codable, Hashable, Sendable, CaseIterable {
    case auto = "AUTO"
    case manual = "MANUAL"
    case disable = "DISABLE"
}

/// Where a resource runs: on one node at a time, or on every eligible node (Active/Active).
public enum ResourceMode: String, Codable, Hashable, Sendable, CaseIterable {
    case exclusive
    case everywhere
}

/// What happens when monitor failures exceed the allowed local restarts.
public enum MonitorAction: String, Codable, Hashable, Sendable, CaseIterable {
    case comatose
    case migrate
    case reboot
}

/// One script: bash text plus its timeout.
public struct ScriptSpec: Hashable, Sendable, Codable {
    public var body: String
    public var timeout: Span

    public init(body: String, timeout: Span) {
        self.body = body
        self.timeout = timeout
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case body, timeout }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        body = try container.decode(String.self, forKey: .body)
        timeout = try container.decodeIfPresent(Span.self, forKey: .timeout) ?? Self.unsetTimeout
    }

    /// Marks a timeout the document left out (the owner fills in its default); an explicit `0s`
    /// stays zero and is refused by validation.
    static let unsetTimeout = Span(milliseconds: -1)
}

/// NCS resource policies, with NCS's defaults: start AUTO, failover AUTO, failback DISABLE.
public struct ResourcePolicies: Hashable, Sendable, Codable {
    public var startMode: StartMode
    public var failoverMode: StartMode
    public var failbackMode: FailbackMode
    /// The resource always runs on the current master.
    public var followsMaster: Bool
    /// Load without waiting for the cluster's start-up quorum.
    public var ignoreQuorum: Bool

    public init(
        startMode: StartMode = .auto, failoverMode: StartMode = .auto, failbackMode: FailbackMode = .disable,
        followsMaster: Bool = false, ignoreQuorum: Bool = false
    ) {
        self.startMode = startMode
        self.failoverMode = failoverMode
        self.failbackMode = failbackMode
        self.followsMaster = followsMaster
        self.ignoreQuorum = ignoreQuorum
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case startMode, failoverMode, failbackMode, followsMaster, ignoreQuorum
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        startMode = try container.decodeIfPresent(StartMode.self, forKey: .startMode) ?? startMode
        failoverMode = try container.decodeIfPresent(StartMode.self, forKey: .failoverMode) ?? failoverMode
        failbackMode = try container.decodeIfPresent(FailbackMode.self, forKey: .failbackMode) ?? failbackMode
        followsMaster = try container.decodeIfPresent(Bool.self, forKey: .followsMaster) ?? followsMaster
        ignoreQuorum = try container.decodeIfPresent(Bool.self, forKey: .ignoreQuorum) ?? ignoreQuorum
    }
}

/// Resource monitoring: the monitor script every `interval`; up to `maxLocalFailures` failures
/// within `window` are handled by unload + load on the same node, the next one fires `action`.
public struct MonitorSpec: Hashable, Sendable, Codable {
    public var script: ScriptSpec
    public var interval: Span
    public var maxLocalFailures: Int
    public var window: Span
    public var action: MonitorAction

    public init(
        script: ScriptSpec, interval: Span = .seconds(60), maxLocalFailures: Int = 0, window: Span = .minutes(10),
        action: MonitorAction = .comatose
    ) {
        self.script = script
        self.interval = interval
        self.maxLocalFailures = maxLocalFailures
        self.window = window
        self.action = action
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case script, interval, maxLocalFailures, window, action }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var script = try container.decode(ScriptSpec.self, forKey: .script)
        if script.timeout == ScriptSpec.unsetTimeout { script.timeout = ResourceSpec.defaultMonitorTimeout }
        self.init(script: script)
        interval = try container.decodeIfPresent(Span.self, forKey: .interval) ?? interval
        maxLocalFailures = try container.decodeIfPresent(Int.self, forKey: .maxLocalFailures) ?? maxLocalFailures
        window = try container.decodeIfPresent(Span.self, forKey: .window) ?? window
        action = try container.decodeIfPresent(MonitorAction.self, forKey: .action) ?? action
    }
}

/// A resource definition, kept at `/vigil/<cluster>/resources/<name>`.
public struct ResourceSpec: Hashable, Sendable, Codable, Validatable {
    public static let defaultLoadTimeout = Span.seconds(60)
    public static let defaultUnloadTimeout = Span.seconds(60)
    public static let defaultMonitorTimeout = Span.seconds(10)

    public var schema: Int
    public var name: ResourceName
    /// The template this resource was made from, for display (`Generic_IP_Service`).
    public var template: String?
    public var mode: ResourceMode
    public var load: ScriptSpec
    public var unload: ScriptSpec
    public var monitor: MonitorSpec?
    /// Variables exported to every script (`RESOURCE_IP`, …).
    public var variables: [String: String]
    public var policies: ResourcePolicies
    /// Ordered preferred nodes; empty means every node, in cluster order.
    public var preferredNodes: [NodeName]
    /// Higher loads first when several resources land on one node.
    public var priority: Int
    /// Resources sharing a group never run on the same node (NCS's resource mutual exclusion).
    public var exclusionGroups: [String]

    public init(
        name: ResourceName, template: String? = nil, mode: ResourceMode = .exclusive,
        load: ScriptSpec = ScriptSpec(body: "exit 0", timeout: ResourceSpec.defaultLoadTimeout),
        unload: ScriptSpec = ScriptSpec(body: "exit 0", timeout: ResourceSpec.defaultUnloadTimeout),
        monitor: MonitorSpec? = nil, variables: [String: String] = [:], policies: ResourcePolicies = ResourcePolicies(),
        preferredNodes: [NodeName] = [], priority: Int = 0, exclusionGroups: [String] = []
    ) {
        self.schema = 1
        self.name = name
        self.template = template
        self.mode = mode
        self.load = load
        self.unload = unload
        self.monitor = monitor
        self.variables = variables
        self.policies = policies
        self.preferredNodes = preferredNodes
        self.priority = priority
        self.exclusionGroups = exclusionGroups
    }

    /// The virtual IP this resource moves (its `RESOURCE_IP` without a prefix length, IPv6 in
    /// canonical form as `ip addr` prints it), if any: what a self-fence removes.
    public var virtualAddress: String? { variables["RESOURCE_IP"].flatMap(VirtualAddress.canonical) }

    public func validate() throws(ValidationError) {
        guard schema == 1 else {
            throw ValidationError(
                .unsupportedSchema, field: "schema", value: "\(schema)", reason: "this Vigil reads schema 1")
        }
        for (field, script) in [("load", load), ("unload", unload)] {
            try Self.validate(script, field: field)
        }
        if let monitor {
            try Self.validate(monitor.script, field: "monitor.script")
            guard monitor.interval >= .seconds(1), monitor.interval <= .minutes(60) else {
                throw ValidationError(
                    field: "monitor.interval", value: "\(monitor.interval)", reason: "must be 1s to 60m")
            }
            guard (0...100).contains(monitor.maxLocalFailures) else {
                throw ValidationError(
                    field: "monitor.maxLocalFailures", value: "\(monitor.maxLocalFailures)", reason: "must be 0 to 100")
            }
            guard monitor.window >= monitor.interval else {
                throw ValidationError(
                    field: "monitor.window", value: "\(monitor.window)",
                    reason: "must be at least the monitor interval (\(monitor.interval))")
            }
        }
        for name in variables.keys.sorted() {
            let valid =
                name.first.map { $0 == "_" || $0.isLetter } == true
                && name.unicodeScalars.allSatisfy { $0.isASCIILetterOrDigit || $0 == "_" }
            guard valid, !name.hasPrefix("VIGIL_") else {
                throw ValidationError(
                    field: "variables", value: name,
                    reason: "a variable name is letters, digits and '_', not starting with a digit or 'VIGIL_'")
            }
        }
        if let ip = variables["RESOURCE_IP"] { _ = try VirtualAddress(parsing: ip) }
        var seen = Set<NodeName>()
        for (index, node) in preferredNodes.enumerated() where !seen.insert(node).inserted {
            throw ValidationError(
                .conflict, field: "preferredNodes[\(index)]", value: node.rawValue, reason: "listed twice")
        }
        for (index, group) in exclusionGroups.enumerated() {
            guard (try? ResourceName(validating: group)) != nil else {
                throw ValidationError(
                    field: "exclusionGroups[\(index)]", value: group,
                    reason: "a group name has 1 to 63 characters: letters, digits or '_'")
            }
        }
        guard (-1000...1000).contains(priority) else {
            throw ValidationError(field: "priority", value: "\(priority)", reason: "must be -1000 to 1000")
        }
        if mode == .everywhere {
            guard !policies.followsMaster, exclusionGroups.isEmpty else {
                throw ValidationError(
                    .conflict, field: "mode", value: mode.rawValue,
                    reason: "an 'everywhere' resource cannot follow the master or join exclusion groups")
            }
        }
    }

    private static func validate(_ script: ScriptSpec, field: String) throws(ValidationError) {
        guard script.timeout >= .seconds(1), script.timeout <= .minutes(60) else {
            throw ValidationError(field: field + ".timeout", value: "\(script.timeout)", reason: "must be 1s to 60m")
        }
        guard script.body.utf8.count <= 256 * 1024 else {
            throw ValidationError(
                field: field + ".body", value: "\(script.body.utf8.count) bytes", reason: "must be at most 256 KiB")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schema, name, template, mode, load, unload, monitor, variables, policies, preferredNodes, priority,
            exclusionGroups
    }

    /// Missing fields take NCS's defaults; unknown fields are refused.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(ResourceName.self, forKey: .name))
        schema = try container.decodeIfPresent(Int.self, forKey: .schema) ?? 1
        template = try container.decodeIfPresent(String.self, forKey: .template)
        mode = try container.decodeIfPresent(ResourceMode.self, forKey: .mode) ?? .exclusive
        load = try container.decodeIfPresent(ScriptSpec.self, forKey: .load) ?? load
        if load.timeout == ScriptSpec.unsetTimeout { load.timeout = Self.defaultLoadTimeout }
        unload = try container.decodeIfPresent(ScriptSpec.self, forKey: .unload) ?? unload
        if unload.timeout == ScriptSpec.unsetTimeout { unload.timeout = Self.defaultUnloadTimeout }
        monitor = try container.decodeIfPresent(MonitorSpec.self, forKey: .monitor)
        variables = try container.decodeIfPresent([String: String].self, forKey: .variables) ?? [:]
        policies = try container.decodeIfPresent(ResourcePolicies.self, forKey: .policies) ?? ResourcePolicies()
        preferredNodes = try container.decodeIfPresent([NodeName].self, forKey: .preferredNodes) ?? []
        priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        exclusionGroups = try container.decodeIfPresent([String].self, forKey: .exclusionGroups) ?? []
    }
}
