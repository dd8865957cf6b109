import ClusterModel
import ClusterTestKit
import CoordinationStore
import EtcdStore
import Foundation
import Logging
import NodeAgent
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Managed etcd members", .serialized)
struct ManagedEtcdTests {
    @Test(
        "three supervisors form a cluster, restart a killed member, and stop theirs on shutdown",
        .timeLimit(.minutes(2)))
    func superviseThree() async throws {
        let base =
            ProcessInfo.processInfo.environment["VIGIL_TEST_TMP"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory
        let root = base.appendingPathComponent("vigil-managed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        var nodes: [NodeDefinition] = []
        for index in 0..<3 {
            nodes.append(
                NodeDefinition(
                    name: NodeName(stringLiteral: "n\(index + 1)"), index: index,
                    etcdPeerURL: "http://127.0.0.1:\(try EtcdTestCluster.freePort())",
                    etcdClientURL: "http://127.0.0.1:\(try EtcdTestCluster.freePort())"))
        }
        let supervisors = try nodes.map { node in
            try EtcdSupervisor(
                member: ManagedEtcd(
                    node: node.name, cluster: "test", nodes: nodes,
                    dataDirectory: root.appendingPathComponent(node.name.rawValue).path,
                    timing: TimingSettings(profile: .default)),
                logger: Logger(label: "test"))
        }
        let configuration = EtcdConfiguration(endpoints: supervisors[0].member.clientURLs, requestTimeout: .seconds(2))
        let client = EtcdStore.makeHTTPClient(for: configuration)
        let store = EtcdStore(configuration: configuration, client: client)

        var pids: [Int32] = []
        var failure: (any Error)?
        await withTaskGroup(of: Void.self) { group in
            for supervisor in supervisors {
                group.addTask { try? await supervisor.run() }
            }
            do {
                try await putRetrying(store, "/managed", "up", limit: .seconds(20))
                // Two members make a quorum: the put may succeed before the second supervisor started its etcd.
                let started = ContinuousClock.now
                while supervisors[1].status.processIdentifier == nil, ContinuousClock.now - started < .seconds(20) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let victim = try #require(supervisors[1].status.processIdentifier)
                kill(victim, SIGKILL)
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    let status = supervisors[1].status
                    if status.starts >= 2, status.processIdentifier != nil, status.processIdentifier != victim,
                        await EtcdTestCluster.healthy(nodes[1].etcdClientURL!)
                    {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(supervisors[1].status.starts >= 2, "the killed member was not restarted")
                #expect(await EtcdTestCluster.healthy(nodes[1].etcdClientURL!), "the restarted member did not rejoin")
                try await putRetrying(store, "/managed", "still up")
                pids = supervisors.compactMap(\.status.processIdentifier)
                // Every member (the restarted one too) runs at nice −10 when the tests run as root,
                // all its threads alike (set before etcd started them).
                if geteuid() == 0 {
                    for pid in pids { #expect(Self.niceValues(of: pid) == [-10], "etcd \(pid)") }
                }
            } catch {
                failure = error
            }
            group.cancelAll()
        }
        try await client.shutdown()
        if let failure { throw failure }
        #expect(pids.count == 3)
        for pid in pids {
            #expect(kill(pid, 0) != 0, "etcd \(pid) still runs after its supervisor stopped")
        }
    }

    /// The distinct nice values of a process's threads (field 19 of /proc/<pid>/task/<tid>/stat).
    static func niceValues(of pid: Int32) -> Set<Int> {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return Set(
            tasks.compactMap { tid -> Int? in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 16 ? Int(fields[16]) : nil
            })
    }

    @Test("the command line carries the profile's etcd timings, static bootstrap and compaction")
    func arguments() throws {
        let nodes = [
            NodeDefinition(
                name: "a", index: 0, etcdPeerURL: "http://198.18.0.11:2380", etcdClientURL: "http://198.18.0.11:2379"),
            NodeDefinition(
                name: "b", index: 1, etcdPeerURL: "http://198.18.0.12:2380", etcdClientURL: "http://198.18.0.12:2379"),
        ]
        let member = ManagedEtcd(
            node: "b", cluster: "prod", nodes: nodes, dataDirectory: "/var/lib/vigil/etcd",
            timing: TimingSettings(profile: .fast))
        try member.validate()
        let text = member.arguments.joined(separator: " ")
        #expect(text.contains("--initial-cluster a=http://198.18.0.11:2380,b=http://198.18.0.12:2380"))
        #expect(text.contains("--listen-client-urls http://198.18.0.12:2379"))
        #expect(text.contains("--heartbeat-interval 30 --election-timeout 150"))
        #expect(text.contains("--auto-compaction-mode revision --auto-compaction-retention 10000"))
        #expect(text.contains("--initial-cluster-state new"))
        #expect(member.clientURLs == ["http://198.18.0.11:2379", "http://198.18.0.12:2379"])
    }

    @Test("a node missing from the list, or without a peer URL, is refused with the field named")
    func invalid() {
        let nodes = [NodeDefinition(name: "a", index: 0, etcdPeerURL: nil, etcdClientURL: "http://127.0.0.1:2379")]
        #expect {
            try ManagedEtcd(node: "z", cluster: "c", nodes: nodes, dataDirectory: "/d", timing: TimingSettings())
                .validate()
        } throws: {
            ($0 as? ValidationError)?.field == "node"
        }
        #expect {
            try ManagedEtcd(node: "a", cluster: "c", nodes: nodes, dataDirectory: "/d", timing: TimingSettings())
                .validate()
        } throws: {
            ($0 as? ValidationError)?.field == "nodes.a.etcdPeerURL"
        }
    }
}
