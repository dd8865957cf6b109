import Foundation

/// The named timing profiles of ARCHITECTURE.md §4.
public enum TimingProfile: String, Codable, Hashable, Sendable, CaseIterable {
    /// Tolerance 2 s, heartbeat 400 ms, etcd 50/250 ms (docs/design/0006).
    case `default`
    /// Dedicated LAN: tolerance 800 ms, heartbeat 150 ms, etcd 30/150 ms (docs/design/0006).
    case fast
    /// Virtual machines (NCS's default tolerance): tolerance 8 s, heartbeat 1 s, etcd 100/1000 ms (etcd's defaults).
    case vm
    /// Dedicated, lightly loaded network and hosts: tolerance 300 ms, heartbeat 75 ms, etcd 15/75 ms,
    /// a 75 ms margin and a 20 ms duplicate-address probe (docs/design/0019, 0023).
    case lan
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
        case .lan:
            (tolerance, heartbeat, etcdHeartbeat, etcdElection) =
                (.milliseconds(300), .milliseconds(75), .milliseconds(15), .milliseconds(75))
        }
    }

    /// Time kept between the self-fence deadline and the earliest eviction:
    /// max(20 % of the tolerance, 250 ms — 75 ms in the `lan` profile —, watchdog timeout + 100 ms).
    public var margin: Span {
        var value = max(tolerance.percent(20), profile == .lan ? .milliseconds(75) : .milliseconds(250))
        if let watchdogTimeout { value = max(value, watchdogTimeout + .milliseconds(100)) }
        return value
    }

    /// How long after the send time of its last acknowledged heartbeat a node stops its resources.
    public var selfFenceAfter: Span { tolerance - margin }

    /// How long a load keeps probing an address that still answers elsewhere before it gives up
    /// (`VIGIL_TAKEOVER_WAIT`): a previous holder that was slow to fence — frozen, or a slow
    /// unload — lets go within its deadline plus the watchdog timeout; waiting twice the tolerance
    /// beyond that, and at least 10 s, turns such a conflict into a short wait instead of Comatose.
    public var takeoverWait: Span { max(.seconds(10), tolerance * 2 + (watchdogTimeout ?? .zero)) }

    /// How long a load's duplicate-address probe waits for an answer (`VIGIL_DAD_TIMEOUT`): a
    /// holder on the LAN answers in well under a millisecond; `lan` waits 20 ms, the others 50 ms.
    public var duplicateProbe: Span { profile == .lan ? .milliseconds(20) : .milliseconds(50) }

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
                reason:
                    "must be at most a quarter of the tolerance (\(tolerance)), so an etcd leader change does not evict nodes"
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

/// Who hears about cluster events, as NCS's notification settings: e-mail through an SMTP relay
/// (at most 8 addresses) and webhooks, for critical events only or for every event.
public struct NotificationSettings: Hashable, Sendable, Codable {
    public enum Level: String, Codable, Hashable, Sendable, CaseIterable {
        case off, critical, verbose
    }

    public var level: Level
    public var emailAddresses: [String]
    /// `host:port` of the SMTP relay (no authentication: a local relay such as Postfix).
    public var smtpRelay: String?
    public var sender: String
    /// `http://` or `https://` URLs that receive each event as a JSON POST.
    public var webhooks: [String]

    public init(
        level: Level = .off, emailAddresses: [String] = [], smtpRelay: String? = nil,
        sender: String = "vigil@localhost",
        webhooks: [String] = []
    ) {
        self.level = level
        self.emailAddresses = emailAddresses
        self.smtpRelay = smtpRelay
        self.sender = sender
        self.webhooks = webhooks
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case level, emailAddresses, smtpRelay, sender, webhooks }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        level = try container.decodeIfPresent(Level.self, forKey: .level) ?? .off
        emailAddresses = try container.decodeIfPresent([String].self, forKey: .emailAddresses) ?? []
        smtpRelay = try container.decodeIfPresent(String.self, forKey: .smtpRelay)
        sender = try container.decodeIfPresent(String.self, forKey: .sender) ?? "vigil@localhost"
        webhooks = try container.decodeIfPresent([String].self, forKey: .webhooks) ?? []
    }

    /// Host and port of a relay: `host:port`, `192.0.2.1:25` or `[2001:db8::1]:25`.
    public static func relayAddress(_ relay: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if relay.hasPrefix("["), let close = relay.firstIndex(of: "]") {
            host = relay[relay.index(after: relay.startIndex)..<close]
            let rest = relay[relay.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            let parts = relay.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            host = parts[0]
            portText = parts[1]
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    public func validate() throws(ValidationError) {
        guard emailAddresses.count <= 8 else {
            throw ValidationError(
                field: "notification.emailAddresses", value: "\(emailAddresses.count) addresses",
                reason: "at most 8 (as NCS)")
        }
        for (index, address) in emailAddresses.enumerated() where !Self.isMailAddress(address) {
            throw ValidationError(
                field: "notification.emailAddresses[\(index)]", value: address,
                reason: "not an e-mail address (user@host)")
        }
        guard Self.isMailAddress(sender) else {
            throw ValidationError(
                field: "notification.sender", value: sender, reason: "not an e-mail address (user@host)")
        }
        if let relay = smtpRelay {
            guard Self.relayAddress(relay) != nil else {
                throw ValidationError(
                    field: "notification.smtpRelay", value: relay,
                    reason: "expected host:port or [IPv6 address]:port, e.g. 127.0.0.1:25 or [::1]:25")
            }
        }
        if level != .off, !emailAddresses.isEmpty, smtpRelay == nil {
            throw ValidationError(
                .missingField, field: "notification.smtpRelay", value: "",
                reason: "e-mail addresses need an SMTP relay (host:port)")
        }
        for (index, url) in webhooks.enumerated() {
            let valid =
                (url.hasPrefix("http://") || url.hasPrefix("https://")) && url.count <= 2048 && !url.contains(" ")
                && url.split(separator: "/", omittingEmptySubsequences: true).count >= 2
            guard valid else {
                throw ValidationError(
                    field: "notification.webhooks[\(index)]", value: url, reason: "expected an http:// or https:// URL")
            }
        }
    }

    static func isMailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty && text.count <= 254
            && !text.contains(where: { $0 == " " || $0 == "<" || $0 == ">" || $0 == "\r" || $0 == "\n" || $0 == "," })
    }
}

extension NotificationSettings {
    /// A webhook URL without what may be a secret: user information, path and query (webhook
    /// services put their tokens there). `https://hooks.example:8443/…`.
    public static func redacted(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host
        else { return "(redacted)" }
        return "\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")/…"
    }

    /// These settings as an observer may see them: webhook URLs redacted.
    public var redacted: NotificationSettings {
        var copy = self
        copy.webhooks = webhooks.map(Self.redacted)
        return copy
    }
}

/// Settings shared by the whole cluster, kept at `/vigil/<cluster>/config`.
public struct ClusterSettings: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    public var timing: TimingSettings
    public var quorum: QuorumSettings
    public var maintenance: MaintenanceSettings
    public var notification: NotificationSettings

    public init(
        timing: TimingSettings = TimingSettings(), quorum: QuorumSettings = QuorumSettings(),
        maintenance: MaintenanceSettings = MaintenanceSettings(),
        notification: NotificationSettings = NotificationSettings()
    ) {
        self.schema = 1
        self.timing = timing
        self.quorum = quorum
        self.maintenance = maintenance
        self.notification = notification
    }

    public func validate() throws(ValidationError) {
        guard schema == 1 else {
            throw ValidationError(
                .unsupportedSchema, field: "schema", value: "\(schema)", reason: "this Vigil reads schema 1")
        }
        try timing.validate()
        guard (1...32).contains(quorum.nodeCount) else {
            throw ValidationError(
                field: "quorum.nodeCount", value: "\(quorum.nodeCount)", reason: "must be 1 to 32 (cluster size)")
        }
        guard quorum.timeout <= .minutes(60) else {
            throw ValidationError(field: "quorum.timeout", value: "\(quorum.timeout)", reason: "must be at most 60m")
        }
        try notification.validate()
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case schema, timing, quorum, maintenance, notification }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decodeIfPresent(Int.self, forKey: .schema) ?? 1
        timing = try container.decodeIfPresent(TimingSettings.self, forKey: .timing) ?? TimingSettings()
        quorum = try container.decodeIfPresent(QuorumSettings.self, forKey: .quorum) ?? QuorumSettings()
        maintenance =
            try container.decodeIfPresent(MaintenanceSettings.self, forKey: .maintenance) ?? MaintenanceSettings()
        notification =
            try container.decodeIfPresent(NotificationSettings.self, forKey: .notification) ?? NotificationSettings()
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
