import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// A real etcd cluster on loopback for tests: temporary data dirs, free ports, members killed and
/// restarted on demand, everything stopped by ``stop()``.
///
/// Member PIDs are also written to `<root>/pids` so `scripts/run-tests` can stop leftovers if a
/// test process dies without calling ``stop()``. Set `VIGIL_TEST_TMP` to choose where roots go.
public final class EtcdTestCluster: @unchecked Sendable {
    public struct Member: Sendable {
        public let name: String
        public let clientPort: Int
        public let peerPort: Int
        public var scheme = "http"
        public var clientURL: String { "\(scheme)://127.0.0.1:\(clientPort)" }
        public var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public let members: [Member]
    public let root: URL
    public let heartbeatMilliseconds: Int
    public let electionMilliseconds: Int
    /// Server TLS for client connections (with client certificates required), if set.
    public let tls: TLSFiles?

    /// PEM files for a TLS-enabled cluster.
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var key: String
        public var certificateAuthority: String
        public init(certificate: String, key: String, certificateAuthority: String) {
            self.certificate = certificate
            self.key = key
            self.certificateAuthority = certificateAuthority
        }
    }
    private let lock = NSLock()
    private var processes: [Int: Process] = [:]
    private var started: Set<Int> = []

    public static var etcdPath: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Prepares (does not start) `size` members with the given raft timings.
    public init(size: Int = 3, heartbeatMilliseconds: Int = 100, electionMilliseconds: Int = 1000, tls: TLSFiles? = nil)
        throws
    {
        self.tls = tls
        guard Self.etcdPath != nil else {
            throw Failure(description: "etcd is not installed: apt-get install etcd-server (Debian's etcd 3.4)")
        }
        let base =
            ProcessInfo.processInfo.environment["VIGIL_TEST_TMP"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory
        root = base.appendingPathComponent("vigil-etcd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var ports = Set<Int>()
        while ports.count < size * 2 { ports.insert(try Self.freePort()) }
        let list = Array(ports)
        members = (0..<size).map {
            Member(
                name: "m\($0 + 1)", clientPort: list[2 * $0], peerPort: list[2 * $0 + 1],
                scheme: tls == nil ? "http" : "https")
        }
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.electionMilliseconds = electionMilliseconds
    }

    public var endpoints: [String] { members.map(\.clientURL) }

    /// Starts every member and waits until the cluster answers (at most `limit`); a TLS cluster is
    /// not polled (its health endpoint needs a client certificate): the caller waits with its client.
    public func start(limit: Duration = .seconds(20)) async throws {
        for index in members.indices { try launch(index, existing: false) }
        if tls == nil { try await waitHealthy(limit: limit) }
    }

    /// The etcd command line of member `index`.
    public func arguments(_ index: Int, existing: Bool) -> [String] {
        let member = members[index]
        let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        return [
            "--name", member.name, "--data-dir", root.appendingPathComponent(member.name).path,
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", cluster, "--initial-cluster-token", root.lastPathComponent,
            "--initial-cluster-state", existing ? "existing" : "new",
            "--heartbeat-interval", String(heartbeatMilliseconds), "--election-timeout", String(electionMilliseconds),
            "--logger", "zap", "--log-outputs", root.appendingPathComponent("\(member.name).log").path,
            "--log-level", "warn",
        ]
            + (tls.map {
                [
                    "--cert-file", $0.certificate, "--key-file", $0.key, "--client-cert-auth", "--trusted-ca-file",
                    $0.certificateAuthority,
                ]
            } ?? [])
    }

    private func launch(_ index: Int, existing: Bool) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.etcdPath!)
        process.arguments = arguments(index, existing: existing)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.withLock {
            processes[index] = process
            started.insert(index)
        }
        let line = "\(process.processIdentifier)\n"
        let pids = root.appendingPathComponent("pids")
        if let handle = try? FileHandle(forWritingTo: pids) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.close()
        } else {
            try? Data(line.utf8).write(to: pids)
        }
    }

    /// SIGKILLs member `index` (as a crash would).
    public func kill(_ index: Int) {
        guard let process = lock.withLock({ processes.removeValue(forKey: index) }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops member `index` with SIGSTOP: it holds its connections and answers nothing until
    /// ``resume(_:)`` (a member on a machine too busy to answer in time).
    public func pause(_ index: Int) {
        guard let process = lock.withLock({ processes[index] }) else { return }
        Glibc.kill(process.processIdentifier, SIGSTOP)
    }

    /// Lets a paused member run again.
    public func resume(_ index: Int) {
        guard let process = lock.withLock({ processes[index] }) else { return }
        Glibc.kill(process.processIdentifier, SIGCONT)
    }

    /// Starts member `index` again with its data (rejoins the cluster).
    public func restart(_ index: Int) throws {
        guard lock.withLock({ processes[index] == nil }) else { return }
        try launch(index, existing: true)
    }

    /// Whether member `index` runs.
    public func isRunning(_ index: Int) -> Bool { lock.withLock { processes[index]?.isRunning ?? false } }

    /// Stops every member and deletes the data. Safe to call twice.
    public func stop() {
        let all = lock.withLock {
            defer { processes.removeAll() }
            return Array(processes.values)
        }
        for process in all {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: root)
    }

    deinit { stop() }

    /// Polls `/health` of every running member until all say healthy.
    public func waitHealthy(limit: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            var healthy = true
            for index in members.indices where isRunning(index) {
                if await !Self.healthy(members[index].clientURL) { healthy = false }
            }
            if healthy { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "etcd cluster not healthy within \(limit); logs in \(root.path)")
    }

    /// The index of the member that leads now, asking each running member (for at most `limit`).
    public func leaderIndex(limit: Duration = .seconds(10)) async throws -> Int {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            for (index, member) in members.enumerated() where isRunning(index) {
                guard let url = URL(string: member.clientURL + "/v3/maintenance/status") else { continue }
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                request.httpBody = Data("{}".utf8)
                request.timeoutInterval = 1
                guard let (data, _) = try? await URLSession.shared.data(for: request),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let header = object["header"] as? [String: Any], let member = header["member_id"] as? String,
                    member == object["leader"] as? String
                else { continue }
                return index
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "no etcd leader within \(limit)")
    }

    /// `GET /health` answers `{"health":"true"}` when the member has a leader.
    public static func healthy(_ url: String) async -> Bool {
        guard let endpoint = URL(string: url + "/health") else { return false }
        var request = URLRequest(url: endpoint)
        request.timeoutInterval = 1
        guard let (data, _) = try? await URLSession.shared.data(for: request) else { return false }
        return String(decoding: data, as: UTF8.self).contains("\"true\"")
    }

    /// A loopback port nobody listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
