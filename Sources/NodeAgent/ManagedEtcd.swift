import ClusterModel

/// The local etcd member a node runs for a new cluster (`store.managed: true`): its command line,
/// derived from the cluster's node list and timing profile.
///
/// - Static bootstrap from the node definitions (name, peer and client URLs).
/// - etcd's heartbeat and election timeouts from the timing profile, so an etcd leader change is
///   over well within the tolerance (election ≤ tolerance / 4, checked by ``validate()``).
/// - Automatic compaction by revision: heartbeats advance the revision steadily (32 nodes at the
///   `default` profile: 80 revisions a second), so the last `compactionRetention` revisions are kept.
public struct ManagedEtcd: Hashable, Sendable {
    public var node: NodeName
    public var cluster: String
    public var nodes: [NodeDefinition]
    public var dataDirectory: String
    public var timing: TimingSettings
    /// Revisions kept by automatic compaction.
    public var compactionRetention: Int
    /// `existing` when the data directory already holds a member (restart), `new` for a first start.
    public var existingMember: Bool
    public var logLevel: String
    /// The cluster PKI's files: etcd then serves clients and peers over TLS only, and accepts only
    /// certificates the cluster CA signed (docs/design/0015).
    public var tls: TLSFiles?
    /// Plain `http://` URLs this member also listens on while an open cluster moves to TLS
    /// (docs/design/0015: the upgrade); nil once it has.
    public var openPeerURL: String?
    public var openClientURL: String?

    /// PEM files: the CA that signs every node, and this node's certificate and key.
    public struct TLSFiles: Hashable, Sendable {
        public var ca: String
        public var certificate: String
        public var key: String

        public init(ca: String, certificate: String, key: String) {
            self.ca = ca
            self.certificate = certificate
            self.key = key
        }
    }

    public init(
        node: NodeName, cluster: String, nodes: [NodeDefinition], dataDirectory: String, timing: TimingSettings,
        compactionRetention: Int = 10_000, existingMember: Bool = false, logLevel: String = "warn",
        tls: TLSFiles? = nil
    ) {
        self.node = node
        self.cluster = cluster
        self.nodes = nodes
        self.dataDirectory = dataDirectory
        self.timing = timing
        self.compactionRetention = compactionRetention
        self.existingMember = existingMember
        self.logLevel = logLevel
        self.tls = tls
    }

    /// Checks everything the command line needs; errors name the field and value.
    public func validate() throws(ValidationError) {
        try timing.validate()
        guard let own = nodes.first(where: { $0.name == node }) else {
            throw ValidationError(field: "node", value: node.rawValue, reason: "not in the cluster's node list")
        }
        guard own.etcdClientURL != nil else {
            throw ValidationError(
                .missingField, field: "nodes.\(node).etcdClientURL", value: "",
                reason: "a managed etcd member needs a client URL")
        }
        for definition in nodes {
            guard let peer = definition.etcdPeerURL, peer.hasPrefix("http://") || peer.hasPrefix("https://") else {
                throw ValidationError(
                    field: "nodes.\(definition.name).etcdPeerURL", value: definition.etcdPeerURL ?? "",
                    reason: "every node of a managed cluster needs an http(s):// peer URL")
            }
        }
        guard compactionRetention >= 1000 else {
            throw ValidationError(
                field: "compactionRetention", value: "\(compactionRetention)",
                reason: "keep at least 1000 revisions so watches can resume")
        }
    }

    /// The etcd command line (without the program name).
    public var arguments: [String] {
        let own = nodes.first { $0.name == node }
        let client = ([own?.etcdClientURL ?? "http://127.0.0.1:2379"] + [openClientURL].compactMap { $0 })
            .joined(separator: ",")
        let peer = own?.etcdPeerURL ?? "http://127.0.0.1:2380"
        let listenPeer = ([peer] + [openPeerURL].compactMap { $0 }).joined(separator: ",")
        let initialCluster = nodes.sorted { $0.index < $1.index }.compactMap { definition in
            definition.etcdPeerURL.map { "\(definition.name)=\($0)" }
        }.joined(separator: ",")
        return [
            "--name", node.rawValue,
            "--data-dir", dataDirectory,
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", listenPeer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", initialCluster,
            "--initial-cluster-token", "vigil-\(cluster)",
            "--initial-cluster-state", existingMember ? "existing" : "new",
            "--heartbeat-interval", String(timing.etcdHeartbeat.milliseconds),
            "--election-timeout", String(timing.etcdElection.milliseconds),
            "--auto-compaction-mode", "revision",
            "--auto-compaction-retention", String(compactionRetention),
            "--logger", "zap",
            "--log-level", logLevel,
        ] + tlsArguments
    }

    /// Client and peer TLS with certificate authentication against the cluster CA: a host without
    /// a certificate the CA signed can neither read nor write, nor join as a peer.
    var tlsArguments: [String] {
        guard let tls else { return [] }
        return [
            "--cert-file", tls.certificate, "--key-file", tls.key, "--trusted-ca-file", tls.ca, "--client-cert-auth",
            "--peer-cert-file", tls.certificate, "--peer-key-file", tls.key, "--peer-trusted-ca-file", tls.ca,
            "--peer-client-cert-auth",
        ]
    }

    /// Client URLs of every member, for the agent's store client.
    public var clientURLs: [String] { nodes.sorted { $0.index < $1.index }.compactMap(\.etcdClientURL) }
}
