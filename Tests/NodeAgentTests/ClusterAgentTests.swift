import ClusterBrain
import ClusterModel
import ClusterTestKit
import CoordinationStore
import Foundation
import InMemoryStore
import Logging
import NodeAgent
import Testing

/// The real `ClusterAgent` (brain driver, fence thread, script runner, address manager, local
/// record) on the in-memory store, with a fake `ip` over a file and scripts that write to it.
@Suite("Cluster agent on the in-memory store")
struct ClusterAgentTests {
    let root: String

    init() throws {
        root = try makeTestRoot("vigil-agent")
    }

    func makeAgent(_ memory: InMemoryStore, ip: String, thread: FenceKeeper.Thread, in directory: String? = nil) throws
        -> ClusterAgent
    {
        let root = directory ?? self.root
        let configuration = try AgentConfiguration.parse(
            yaml: """
                node: n1
                cluster: c
                profile: default
                stateDirectory: \(root)/state
                logDirectory: \(root)/log
                api: { socket: "\(root)/vigil.sock", listen: "" }
                store: { managed: false, endpoints: ["http://127.0.0.1:9"] }
                """)
        let logger = Logger(label: "test")
        let scripts = ScriptRunner(
            settings: ScriptRunner.Settings(
                node: "n1", cluster: "c", scriptDirectory: root + "/scripts", logDirectory: root + "/log",
                functionLibrary: "/usr/lib/vigil/vigilfuncs"),
            logger: logger)
        return ClusterAgent(
            configuration: configuration, store: memory.client("n1"), scripts: scripts,
            addresses: AddressManager(ipCommand: ip, logger: logger), fenceThread: thread,
            fenceStore: memory.client("n1"), logger: logger)
    }

    func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test(
        "an assigned resource is loaded and recorded; cut off from the store, its address goes at the deadline before its slow unload starts",
        .timeLimit(.minutes(3)))
    func deadlineWithSlowUnload() async throws {
        let ip = try fakeIP(in: root, addresses: [])
        let memory = InMemoryStore { Int64(Date().timeIntervalSince1970 * 1000) }
        let unloadDone = root + "/unload-done"
        let unloadSaw = root + "/unload-saw"
        let spec = ResourceSpec(
            name: "vip", template: "Generic_IP_Service",
            load: ScriptSpec(body: "echo 'eth0 198.18.0.100/24' >> \(ip.state)\nexit 0", timeout: .seconds(30)),
            unload: ScriptSpec(
                body: "cp \(ip.state) \(unloadSaw)\nsleep 3\ntouch \(unloadDone)\nexit 0", timeout: .seconds(30)),
            variables: ["RESOURCE_IP": "198.18.0.100"])
        let layout = KeyLayout(cluster: "c")
        _ = try await memory.client("admin").put(layout.resource("vip"), ModelCodec.encode(spec))
        let thread = FenceKeeper.Thread()
        defer { thread.shutdown() }
        let agent = try makeAgent(memory, ip: ip.command, thread: thread)
        let running = Task { try await agent.run() }

        #expect(try await eventually { contents(ip.state).contains("198.18.0.100") }, "never loaded")
        // The local record names the resource as loaded before its script could add the address.
        let record = try #require(try HeldRecordFile(stateDirectory: root + "/state").read())
        #expect(record.resources.map(\.name) == ["vip"])
        // …and the instance that owns the member key, which a restarted agent may adopt.
        let member = try #require(try await memory.client("admin").get(layout.member("n1")))
        #expect(try ModelCodec.decode(MemberRecord.self, from: member.value).instance == record.instance)
        #expect(DeadlineFile(stateDirectory: root + "/state").read() != nil)

        memory.partition("n1")
        #expect(try await eventually { !contents(ip.state).contains("198.18.0.100") }, "the address stayed")
        #expect(try await eventually { FileManager.default.fileExists(atPath: unloadDone) }, "no forced unload")
        // Addresses first, then the unload script (ARCHITECTURE.md §4.2): it started without them.
        #expect(FileManager.default.fileExists(atPath: unloadSaw))
        #expect(!contents(unloadSaw).contains("198.18.0.100"), "the forced unload started while the address was up")
        #expect(
            try await eventually {
                (try? HeldRecordFile(stateDirectory: root + "/state").read())??.resources.isEmpty == true
            })

        running.cancel()
        _ = try? await running.value
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Takes `vip` offline with an unload that exits 0 but leaves the address (an
    /// `ignore_error del_secondary_ipaddress` whose `ip` failed); returns the state it ends in.
    func offlineWithLeftAddress(stuck: Bool) async throws -> (state: LocalState?, address: Bool) {
        let root = self.root + (stuck ? "/stuck" : "/removed")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let ip = try fakeIP(in: root, addresses: [])
        if stuck { _ = FileManager.default.createFile(atPath: ip.state + ".stuck", contents: nil) }
        let memory = InMemoryStore { Int64(Date().timeIntervalSince1970 * 1000) }
        let spec = ResourceSpec(
            name: "vip", template: "Generic_IP_Service",
            load: ScriptSpec(body: "echo 'eth0 198.18.0.100/24' >> \(ip.state)\nexit 0", timeout: .seconds(30)),
            unload: ScriptSpec(body: "exit 0", timeout: .seconds(30)), variables: ["RESOURCE_IP": "198.18.0.100"])
        let layout = KeyLayout(cluster: "c")
        let admin = memory.client("admin")
        _ = try await admin.put(layout.resource("vip"), ModelCodec.encode(spec))
        let thread = FenceKeeper.Thread()
        defer { thread.shutdown() }
        let agent = try makeAgent(memory, ip: ip.command, thread: thread, in: root)
        let running = Task { try await agent.run() }
        func state() async -> LocalState? {
            guard let entry = try? await admin.get(layout.status("vip", node: "n1")) else { return nil }
            return (try? ModelCodec.decode(ResourceStatus.self, from: entry.value))?.state
        }
        var loaded = false
        for _ in 0..<3000 where !loaded {
            loaded = await state() == .running
            if !loaded { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(loaded, "never Running")
        let command = AdminCommand(id: "c1", resource: "vip", verb: .offline, user: "admin")
        _ = try await admin.put(layout.command("c1"), ModelCodec.encode(command))
        var ended: LocalState?
        for _ in 0..<3000 where ended == nil {
            if let now = await state(), now == .offline || now == .comatose { ended = now }
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        _ = try? await running.value
        return (ended, contents(ip.state).contains("198.18.0.100"))
    }

    @Test(
        "an unload that exits 0 but leaves its address: the agent removes it, or the unload failed (Comatose)",
        .timeLimit(.minutes(3)))
    func unloadLeavesAddress() async throws {
        let removed = try await offlineWithLeftAddress(stuck: false)
        #expect(removed.state == .offline && !removed.address, "\(removed)")
        let stuck = try await offlineWithLeftAddress(stuck: true)
        #expect(stuck.state == .comatose && stuck.address, "\(stuck)")
        try? FileManager.default.removeItem(atPath: root)
    }
}
