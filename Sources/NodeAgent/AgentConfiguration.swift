import ClusterModel
import Foundation
import Yams

/// `/etc/vigil/vigil.yaml`: what one node needs to start. Cluster-wide settings live in the store.
///
/// ```yaml
/// node: n1
/// cluster: prod
/// profile: default            # timing profile written to the store when the cluster is new
/// store:
///   managed: true             # run a local etcd member (default); or give `endpoints`
///   dataDirectory: /var/lib/vigil/etcd
///   members:                  # bootstrap list: every node's etcd URLs
///     - { node: n1, peerURL: "http://198.18.0.11:2380", clientURL: "http://198.18.0.11:2379" }
///     - { node: n2, peerURL: "http://198.18.0.12:2380", clientURL: "http://198.18.0.12:2379" }
/// ```
public struct AgentConfiguration: Hashable, Sendable, Decodable, Validatable {
    public struct Member: Hashable, Sendable, Decodable {
        public var node: NodeName
        public var peerURL: String
        public var clientURL: String
        /// The member's old `http://` URLs, still served while an open cluster moves to TLS
        /// (docs/design/0015); removed once every member's peer URL is its https one.
        public var openPeerURL: String?
        public var openClientURL: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case node, peerURL, clientURL, openPeerURL, openClientURL }

        public init(node: NodeName, peerURL: String, clientURL: String) {
            self.node = node
            self.peerURL = peerURL
            self.clientURL = clientURL
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            node = try container.decode(NodeName.self, forKey: .node)
            peerURL = try container.decode(String.self, forKey: .peerURL)
            clientURL = try container.decode(String.self, forKey: .clientURL)
            openPeerURL = try container.decodeIfPresent(String.self, forKey: .openPeerURL)
            openClientURL = try container.decodeIfPresent(String.self, forKey: .openClientURL)
        }
    }

    public struct Store: Hashable, Sendable, Decodable {
        /// Run and supervise a local etcd member (the default for a new cluster).
        public var managed: Bool
        public var dataDirectory: String?
        /// Bootstrap list of the managed cluster's members.
        public var members: [Member]
        /// Client URLs of an existing etcd cluster (when not managed).
        public var endpoints: [String]
        public var username: String?
        /// File holding the etcd password (root-only); the password itself never sits in this file.
        public var passwordFile: String?
        public var etcdBinary: String
        /// PEM files for `https://` endpoints: the CA to trust, and this node's client certificate and key.
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// Run a managed store without TLS (`http://` members): only to keep an old open cluster
        /// running until it is moved to TLS (docs/design/0015). Loudly warned about at every start.
        public var insecure: Bool

        enum CodingKeys: String, CodingKey, CaseIterable {
            case managed, dataDirectory, members, endpoints, username, passwordFile, etcdBinary, caFile, certFile,
                keyFile, insecure
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            managed = try container.decodeIfPresent(Bool.self, forKey: .managed) ?? true
            dataDirectory = try container.decodeIfPresent(String.self, forKey: .dataDirectory)
            members = try container.decodeIfPresent([Member].self, forKey: .members) ?? []
            endpoints = try container.decodeIfPresent([String].self, forKey: .endpoints) ?? []
            username = try container.decodeIfPresent(String.self, forKey: .username)
            passwordFile = try container.decodeIfPresent(String.self, forKey: .passwordFile)
            etcdBinary = try container.decodeIfPresent(String.self, forKey: .etcdBinary) ?? "/usr/bin/etcd"
            caFile = try container.decodeIfPresent(String.self, forKey: .caFile)
            certFile = try container.decodeIfPresent(String.self, forKey: .certFile)
            keyFile = try container.decodeIfPresent(String.self, forKey: .keyFile)
            insecure = try container.decodeIfPresent(Bool.self, forKey: .insecure) ?? false
        }
    }

    /// The REST API: a root-only Unix socket for the local CLI, and HTTPS for everyone else.
    public struct API: Hashable, Sendable, Decodable {
        /// The Unix socket (mode 0600, owned by root): callers on it act as root.
        public var socket: String
        /// `address:port` for HTTPS, or empty for none. Default `0.0.0.0:7410`.
        public var listen: String
        /// PEM certificate and key; when unset, a self-signed pair is made in the state directory.
        public var certFile: String?
        public var keyFile: String?
        /// A file holding a bearer token that may read `/metrics` and nothing else (for Prometheus's
        /// `authorization.credentials_file`): root-only, at least 32 characters.
        public var metricsTokenFile: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case socket, listen, certFile, keyFile, metricsTokenFile }

        public init() {
            socket = "/run/vigil/vigil.sock"
            listen = "0.0.0.0:7410"
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            socket = try container.decodeIfPresent(String.self, forKey: .socket) ?? "/run/vigil/vigil.sock"
            listen = try container.decodeIfPresent(String.self, forKey: .listen) ?? "0.0.0.0:7410"
            certFile = try container.decodeIfPresent(String.self, forKey: .certFile)
            keyFile = try container.decodeIfPresent(String.self, forKey: .keyFile)
            metricsTokenFile = try container.decodeIfPresent(String.self, forKey: .metricsTokenFile)
        }

        /// The scrape token of `metricsTokenFile`, checked: a root-owned file no one else can
        /// read or write, holding one token of 32 to 256 printable characters.
        public func metricsToken() throws(ValidationError) -> String? {
            guard let path = metricsTokenFile else { return nil }
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let data = FileManager.default.contents(atPath: path)
            else {
                throw ValidationError(field: "api.metricsTokenFile", value: path, reason: "cannot read this file")
            }
            let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
            let owner = (attributes[.ownerAccountID] as? Int) ?? -1
            guard mode & 0o077 == 0 || (mode & 0o037 == 0 && owner == 0) else {
                throw ValidationError(
                    field: "api.metricsTokenFile", value: path,
                    reason:
                        "mode \(String(mode, radix: 8)): others may read it; chmod 0600 (or 0640 for a reader group)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard (32...256).contains(token.count), token.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 })
            else {
                throw ValidationError(
                    field: "api.metricsTokenFile", value: path,
                    reason: "must hold one token of 32 to 256 printable characters (e.g. openssl rand -hex 32)")
            }
            return token
        }

        /// Host and port of `listen`, nil when HTTPS is off.
        public func listenAddress() throws(ValidationError) -> (host: String, port: Int)? {
            guard !listen.isEmpty else { return nil }
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                (1...65535).contains(port),
                colon != listen.startIndex
            else {
                throw ValidationError(
                    field: "api.listen", value: listen,
                    reason: "expected address:port, e.g. 0.0.0.0:7410, or \"\" for no HTTPS")
            }
            return (String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }
    }

    public var node: NodeName
    public var cluster: String
    public var profile: TimingProfile
    public var store: Store
    public var api: API
    public var stateDirectory: String
    public var logDirectory: String
    /// Fake or real watchdog device; unset means no watchdog (see docs/design/0004).
    public var watchdogDevice: String?
    public var watchdogTimeout: Span?
    /// `linux` (a watchdog device, timeout set by ioctl; the default) or `file` (tests only).
    public var watchdogKind: WatchdogDevice.Kind
    /// The cluster PKI directory (`vigil pki init`, `vigil pki install`): `ca.pem`, `node.pem`,
    /// `node.key` (docs/design/0015). Required by a managed store; used by the API when it has no
    /// certificate of its own.
    public var pki: String
    /// What monitor action `reboot` runs (NCS resets the node): the program and its arguments.
    /// Default: an immediate reboot without stopping services (`systemctl reboot --force`); the
    /// other nodes see this one's heartbeats stop and take its resources over.
    public var rebootCommand: [String]

    public static let defaultRebootCommand = ["/usr/bin/systemctl", "reboot", "--force"]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case node, cluster, profile, store, api, stateDirectory, logDirectory, watchdogDevice, watchdogTimeout,
            watchdogKind, pki, rebootCommand
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        node = try container.decode(NodeName.self, forKey: .node)
        cluster = try container.decode(String.self, forKey: .cluster)
        profile = try container.decodeIfPresent(TimingProfile.self, forKey: .profile) ?? .default
        store = try container.decode(Store.self, forKey: .store)
        api = try container.decodeIfPresent(API.self, forKey: .api) ?? API()
        stateDirectory = try container.decodeIfPresent(String.self, forKey: .stateDirectory) ?? "/var/lib/vigil"
        logDirectory = try container.decodeIfPresent(String.self, forKey: .logDirectory) ?? "/var/log/vigil"
        watchdogDevice = try container.decodeIfPresent(String.self, forKey: .watchdogDevice)
        watchdogTimeout = try container.decodeIfPresent(Span.self, forKey: .watchdogTimeout)
        watchdogKind = try container.decodeIfPresent(WatchdogDevice.Kind.self, forKey: .watchdogKind) ?? .linux
        pki = try container.decodeIfPresent(String.self, forKey: .pki) ?? "/etc/vigil/pki"
        rebootCommand =
            try container.decodeIfPresent([String].self, forKey: .rebootCommand) ?? Self.defaultRebootCommand
    }

    public func validate() throws(ValidationError) {
        guard (try? ResourceName(validating: cluster.replacingOccurrences(of: "-", with: "_"))) != nil else {
            throw ValidationError(
                field: "cluster", value: cluster, reason: "a cluster name has 1 to 63 letters, digits, '-' or '_'")
        }
        if store.managed {
            guard store.members.contains(where: { $0.node == node }) else {
                throw ValidationError(
                    field: "store.members", value: store.members.map(\.node.rawValue).joined(separator: ","),
                    reason: "a managed store needs this node (\(node)) in its members list")
            }
            for (index, member) in store.members.enumerated() {
                for (name, url) in [("peerURL", member.peerURL), ("clientURL", member.clientURL)] {
                    guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""),
                        parsed.port != nil, parsed.host != nil
                    else {
                        throw ValidationError(
                            field: "store.members[\(index)].\(name)", value: url, reason: "expected https://host:port"
                        )
                    }
                    // The managed store is closed: TLS with the cluster's certificates, or nothing.
                    guard parsed.scheme == "https" || (store.insecure && !storeUsesTLS) else {
                        throw ValidationError(
                            field: "store.members[\(index)].\(name)", value: url,
                            reason:
                                "http:// would open the cluster's store to the network: use https:// (the cluster PKI, vigil pki init)"
                        )
                    }
                }
                for (name, url) in [("openPeerURL", member.openPeerURL), ("openClientURL", member.openClientURL)] {
                    guard let url else { continue }
                    guard let parsed = URL(string: url), parsed.scheme == "http", parsed.port != nil else {
                        throw ValidationError(
                            field: "store.members[\(index)].\(name)", value: url,
                            reason: "the member's old http://host:port URL, kept only while moving to TLS")
                    }
                }
            }
            try managedEtcd.validate()
        } else {
            guard !store.endpoints.isEmpty else {
                throw ValidationError(
                    .missingField, field: "store.endpoints", value: "",
                    reason: "give endpoints, or set store.managed: true")
            }
            for (index, endpoint) in store.endpoints.enumerated() {
                guard let parsed = URL(string: endpoint), ["http", "https"].contains(parsed.scheme ?? "") else {
                    throw ValidationError(
                        field: "store.endpoints[\(index)]", value: endpoint, reason: "expected http(s)://host:port")
                }
            }
        }
        _ = try api.listenAddress()
        guard api.socket.hasPrefix("/"), api.socket.utf8.count < 100 else {
            throw ValidationError(
                field: "api.socket", value: api.socket, reason: "an absolute path shorter than 100 bytes")
        }
        if (api.certFile == nil) != (api.keyFile == nil) {
            throw ValidationError(
                .missingField, field: api.certFile == nil ? "api.certFile" : "api.keyFile", value: "",
                reason: "HTTPS with your own certificate needs both certFile and keyFile")
        }
        if (store.certFile == nil) != (store.keyFile == nil) {
            throw ValidationError(
                .missingField, field: store.certFile == nil ? "store.certFile" : "store.keyFile", value: "",
                reason: "a client certificate needs both certFile and keyFile")
        }
        for (field, path) in [
            ("store.caFile", store.caFile), ("store.certFile", store.certFile), ("store.keyFile", store.keyFile),
            ("store.passwordFile", store.passwordFile), ("api.certFile", api.certFile), ("api.keyFile", api.keyFile),
        ] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError(field: field, value: path, reason: "cannot read this file")
            }
        }
        if watchdogDevice != nil, watchdogTimeout == nil {
            throw ValidationError(
                .missingField, field: "watchdogTimeout", value: "",
                reason: "a watchdog device needs its timeout (whole seconds)")
        }
        if let device = watchdogDevice, !FileManager.default.fileExists(atPath: device) {
            throw ValidationError(
                field: "watchdogDevice", value: device,
                reason: "no such device (it is never created; load the driver, e.g. a hardware watchdog's module)")
        }
        try Self.checkRebootCommand(rebootCommand, isDefault: rebootCommand == Self.defaultRebootCommand)
    }

    /// The reboot command runs as root: an absolute path to a program only root can change. The
    /// default is checked when it is used (a container without systemd may never need it).
    static func checkRebootCommand(_ command: [String], isDefault: Bool) throws(ValidationError) {
        guard let program = command.first, program.hasPrefix("/") else {
            throw ValidationError(
                field: "rebootCommand", value: command.joined(separator: " "),
                reason: "a list whose first item is the program's absolute path")
        }
        guard !isDefault else { return }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: program),
            attributes[.type] as? FileAttributeType == .typeRegular,
            FileManager.default.isExecutableFile(atPath: program)
        else {
            throw ValidationError(field: "rebootCommand", value: program, reason: "not an executable file")
        }
        let owner = (attributes[.ownerAccountID] as? NSNumber)?.intValue ?? -1
        let permissions = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
        guard owner == 0, permissions & 0o022 == 0 else {
            throw ValidationError(
                field: "rebootCommand", value: program,
                reason: "it runs as root: it must belong to root and be writable by nobody else")
        }
    }

    /// Timing for a new cluster: the profile, with the watchdog if configured.
    public var timing: TimingSettings {
        var timing = TimingSettings(profile: profile)
        timing.watchdogTimeout = watchdogDevice == nil ? nil : watchdogTimeout
        return timing
    }

    /// The node list the managed etcd bootstraps from.
    public var nodeDefinitions: [NodeDefinition] {
        store.members.enumerated().map { index, member in
            NodeDefinition(
                name: member.node, index: index, etcdPeerURL: member.peerURL, etcdClientURL: member.clientURL)
        }
    }

    /// The local etcd member, when managed.
    public var managedEtcd: ManagedEtcd {
        var etcd = ManagedEtcd(
            node: node, cluster: cluster, nodes: nodeDefinitions,
            dataDirectory: store.dataDirectory ?? stateDirectory + "/etcd", timing: timing,
            tls: storeUsesTLS
                ? ManagedEtcd.TLSFiles(ca: pki + "/ca.pem", certificate: pki + "/node.pem", key: pki + "/node.key")
                : nil)
        let own = store.members.first { $0.node == node }
        etcd.openPeerURL = own?.openPeerURL
        etcd.openClientURL = own?.openClientURL
        return etcd
    }

    /// Whether the managed store speaks TLS: yes unless it is an old open cluster kept running
    /// with `store.insecure` (every member URL `http://`).
    public var storeUsesTLS: Bool {
        !(store.insecure && store.members.allSatisfy { $0.peerURL.hasPrefix("http://") })
    }

    /// This node's addresses as its store URLs name them (its certificate must name each).
    public var ownAddresses: [String] {
        guard store.managed, let own = store.members.first(where: { $0.node == node }) else { return [] }
        let hosts = [own.peerURL, own.clientURL].compactMap { URL(string: $0)?.host }
        return hosts.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// The store client's TLS files: the configured ones, or for a managed store the cluster PKI's.
    public var storeTLS: (ca: String?, certificate: String?, key: String?) {
        if store.managed {
            return storeUsesTLS ? (pki + "/ca.pem", pki + "/node.pem", pki + "/node.key") : (nil, nil, nil)
        }
        return (store.caFile, store.certFile, store.keyFile)
    }

    /// Client URLs the agent's store client uses, the first one it calls first (and stays on until
    /// it fails): with a managed store this node's own member, so the agents do not all hang on
    /// one member — when it dies, every watch goes silent and every call waits out its attempt
    /// limit (docs/design/0023); with an external store, a start that depends on the node's name,
    /// so many nodes spread over the store's members.
    public var storeEndpoints: [String] {
        guard store.managed else { return Self.rotated(store.endpoints, by: Self.spread(node)) }
        let urls = managedEtcd.clientURLs
        let own = store.members.first { $0.node == node }?.clientURL
        let start = urls.firstIndex { $0 == own } ?? 0
        // While moving to TLS, members not yet restarted answer only on their old URLs.
        return Self.rotated(urls, by: start) + store.members.compactMap(\.openClientURL)
    }

    /// `list` starting at `start` (modulo its length), the ones before it at the end.
    static func rotated(_ list: [String], by start: Int) -> [String] {
        guard !list.isEmpty else { return list }
        let offset = start % list.count
        return Array(list[offset...] + list[..<offset])
    }

    /// A stable number from a node name (FNV-1a), the same in every run and on every machine.
    static func spread(_ node: NodeName) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in node.rawValue.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash % 65_521)
    }

    /// Reads and validates a YAML configuration; every problem names its key.
    public static func load(path: String) throws(ValidationError) -> AgentConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError(
                field: "config", value: path,
                reason: "cannot read the configuration file: \(error.localizedDescription)")
        }
        return try parse(yaml: text)
    }

    /// Parses and validates YAML text.
    public static func parse(yaml: String) throws(ValidationError) -> AgentConfiguration {
        try ModelCodec.decoding(format: "YAML") { try YAMLDecoder().decode(AgentConfiguration.self, from: yaml) }
    }
}
