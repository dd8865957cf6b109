import ClusterBrain
import ClusterModel
import CoordinationStore
import Foundation
import InMemoryStore
import Logging
import NIOConcurrencyHelpers
import NodeAgent
import Synchronization
import Testing

/// A new directory under the test run's temp root (`VIGIL_TEST_TMP`, removed by scripts/run-tests).
func makeTestRoot(_ prefix: String) throws -> String {
    let base = ProcessInfo.processInfo.environment["VIGIL_TEST_TMP"] ?? NSTemporaryDirectory()
    let root = base + "/\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    return root
}

/// A fake `ip` (bash) over a file of `DEV CIDR` lines: `-o addr show` prints them, `-force -batch -`
/// applies `address del CIDR dev DEV` lines from stdin; every call is appended to `<file>.calls`.
/// `<file>.fail` holding N makes the next N calls fail; a `<file>.stuck` file makes deletions fail.
func fakeIP(in directory: String, addresses: [(device: String, cidr: String)]) throws -> (
    command: String, state: String
) {
    let state = directory + "/addresses"
    try addresses.map { "\($0.device) \($0.cidr)\n" }.joined().write(toFile: state, atomically: true, encoding: .utf8)
    let command = directory + "/ip"
    let script = """
        #!/bin/bash
        state=\(state)
        echo "$*" >> "$state.calls"
        if [ -s "$state.fail" ] && [ "$(cat "$state.fail")" -gt 0 ]; then
            echo $(( $(cat "$state.fail") - 1 )) > "$state.fail"; exit 1
        fi
        if [ "$*" = "-o addr show" ]; then
            n=1; while read -r dev cidr; do echo "$n: $dev    inet $cidr scope global $dev\\\\       valid_lft forever"; n=$((n+1)); done < "$state"
            exit 0
        fi
        if [ "$*" = "-force -batch -" ]; then
            [ -e "$state.stuck" ] && exit 1
            while read -r _ _ cidr _ dev; do
                grep -v -x -F "$dev $cidr" "$state" > "$state.new"; mv "$state.new" "$state"
            done
            exit 0
        fi
        exit 1
        """
    try writeExecutable(command, script)
    return (command, state)
}

/// Writes an executable script through a close-on-exec descriptor: a process another test spawns
/// meanwhile must not inherit it open for writing, or running the script fails (ETXTBSY).
func writeExecutable(_ path: String, _ text: String) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    defer { close(descriptor) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
        throw POSIXError(.EIO)
    }
}

@Suite("Fence keeper: the fence path on its own thread")
struct FenceKeeperTests {
    let root: String

    init() throws {
        root = try makeTestRoot("vigil-fence")
    }

    func addressManager(_ command: String) -> AddressManager {
        AddressManager(ipCommand: command, logger: Logger(label: "test"))
    }

    @Test("one ip -batch removes every address, whatever their number")
    func batchRemoval() throws {
        let addresses = (1...40).map { (device: "eth0", cidr: "198.18.0.\($0 + 100)/24") } + [("eth1", "198.18.1.5/24")]
        let ip = try fakeIP(in: root, addresses: addresses)
        let remover = AddressManager(ipCommand: ip.command, logger: Logger(label: "test"))
        let left = remover.removeAllNow((1...40).map { "198.18.0.\($0 + 100)" })
        #expect(left.isEmpty)
        #expect(try String(contentsOfFile: ip.state, encoding: .utf8) == "eth1 198.18.1.5/24\n")
        let calls = try String(contentsOfFile: ip.state + ".calls", encoding: .utf8).split(separator: "\n")
        #expect(calls == ["-o addr show", "-force -batch -", "-o addr show"])
        // A listing that fails is tried again; failing throughout, nothing counts as removed.
        let retried = try fakeIP(in: root, addresses: [("eth0", "198.18.0.7/24")])
        try "1".write(toFile: retried.state + ".fail", atomically: true, encoding: .utf8)
        #expect(addressManager(retried.command).removeAllNow(["198.18.0.7"]).isEmpty)
        try "eth0 198.18.0.7/24\n".write(toFile: retried.state, atomically: true, encoding: .utf8)
        try "3".write(toFile: retried.state + ".fail", atomically: true, encoding: .utf8)
        #expect(addressManager(retried.command).removeAllNow(["198.18.0.7"]) == ["198.18.0.7"])
        // An `ip` that cannot be run removes nothing and must not count as success.
        let broken = AddressManager(ipCommand: root + "/missing-ip", logger: Logger(label: "test"))
        #expect(broken.removeAllNow(["198.18.1.5"]) == ["198.18.1.5"])
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("addresses a fence cannot remove are reported and tried again until they go", .timeLimit(.minutes(2)))
    func failedRemoval() async throws {
        let ip = try fakeIP(in: root, addresses: [("eth0", "198.18.0.100/24")])
        // `ip -batch` fails (as when out of descriptors or memory): the address stays.
        let working = try String(contentsOfFile: ip.command, encoding: .utf8)
        try working.replacingOccurrences(of: "if [ \"$*\" = \"-force -batch -\" ]", with: "if false")
            .write(toFile: ip.command, atomically: false, encoding: .utf8)
        let events = NIOLockedValueBox<[Brain.Event]>([])
        let thread = FenceKeeper.Thread()
        defer { thread.shutdown() }
        let keeper = FenceKeeper(
            thread: thread, store: InMemoryStore(now: { 0 }).client("n1"),
            transactions: DirectiveTransactions(layout: KeyLayout(cluster: "c")),
            scripts: nil, addresses: AddressManager(ipCommand: ip.command, logger: Logger(label: "test")),
            watchdog: nil,
            origin: .now, logger: Logger(label: "test"),
            report: { event in events.withLockedValue { $0.append(event) } })
        await keeper.fenceNow([Brain.FenceTarget("vip", address: "198.18.0.100")])
        #expect(events.withLockedValue { $0 } == [.addressesNotRemoved(["198.18.0.100"])])
        // `ip` works again: a retry removes the address.
        try working.write(toFile: ip.command, atomically: false, encoding: .utf8)
        let start = ContinuousClock.now
        while (try? String(contentsOfFile: ip.state, encoding: .utf8)) != "", ContinuousClock.now - start < .seconds(60)
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try String(contentsOfFile: ip.state, encoding: .utf8) == "")
        keeper.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test(
        "a restarted agent fences at the previous agent's deadline, not a span after its own start",
        .timeLimit(.minutes(2)))
    func inheritedDeadline() async throws {
        let ip = try fakeIP(in: root, addresses: [("eth0", "198.18.0.100/24")])
        let events = NIOLockedValueBox<[Brain.Event]>([])
        let thread = FenceKeeper.Thread()
        defer { thread.shutdown() }
        let keeper = FenceKeeper(
            thread: thread, store: InMemoryStore(now: { 0 }).client("n1"),
            transactions: DirectiveTransactions(layout: KeyLayout(cluster: "c")), scripts: nil,
            addresses: AddressManager(ipCommand: ip.command, logger: Logger(label: "test")), watchdog: nil,
            origin: .now,
            logger: Logger(label: "test"), inheritedDeadline: .now + .milliseconds(100),
            report: { event in events.withLockedValue { $0.append(event) } })
        // Its own span is an hour: only the inherited deadline can fence within the test.
        keeper.update(
            FenceKeeper.Plan(
                selfFenceAfter: .seconds(3600), heartbeatInterval: .seconds(1), brainGrace: .seconds(3600),
                targets: [Brain.FenceTarget("vip", address: "198.18.0.100")], watchdogPetInterval: nil),
            isMaster: false)
        let start = ContinuousClock.now
        while !events.withLockedValue({ $0.contains(.deadlineFenced) }), ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(events.withLockedValue { $0.contains(.deadlineFenced) })
        // Removed by the fence, or by one of its retries (every 500 ms) if `ip` failed meanwhile.
        while (try? String(contentsOfFile: ip.state, encoding: .utf8)) != "", ContinuousClock.now - start < .seconds(60)
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try String(contentsOfFile: ip.state, encoding: .utf8) == "")
        keeper.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The brain asks for a heartbeat and, on the master, a renewal of the master record at every
    /// interval. The renewal once counted as "recent" when the heartbeat had just gone out (the fence
    /// thread sends at once): most renewals were dropped, the master record aged past the tolerance
    /// and another node took over from a live master. Now each has its own cadence.
    @Test("a master renews its record as often as it heartbeats", .timeLimit(.minutes(2)))
    func renewalsKeepPace() async throws {
        let ip = try fakeIP(in: root, addresses: [])
        let memory = InMemoryStore(now: { 0 })
        let store = memory.client("n1")
        let layout = KeyLayout(cluster: "c")
        let record = MemberRecord(node: "n1", heartbeat: 1, version: "test", tolerance: .seconds(1))
        let master = MasterRecord(node: "n1", term: 1)
        let joined = try await store.transaction(
            Transaction(
                compare: [.absent(layout.member("n1"))],
                success: [
                    .put(key: layout.member("n1"), value: ModelCodec.encode(record)),
                    .put(key: layout.master, value: ModelCodec.encode(master)),
                ]))
        let thread = FenceKeeper.Thread()
        defer { thread.shutdown() }
        let keeper = FenceKeeper(
            thread: thread, store: store, transactions: DirectiveTransactions(layout: layout), scripts: nil,
            addresses: addressManager(ip.command), watchdog: nil, origin: .now, logger: Logger(label: "test"),
            report: { _ in })
        let running = Task(executorPreference: thread) { await keeper.run() }
        keeper.update(
            FenceKeeper.Plan(
                selfFenceAfter: .seconds(3600), heartbeatInterval: .milliseconds(100), brainGrace: .seconds(3600),
                targets: [], watchdogPetInterval: nil),
            isMaster: true)
        // The brain's rhythm: a heartbeat, then the renewal, every interval.
        for beat in 1...15 {
            var next = record
            next.heartbeat = UInt64(beat)
            keeper.keep(.sendHeartbeat(next, memberRevision: joined.revision, sentAt: Moment(milliseconds: 0)))
            keeper.keep(.renewMaster(master))
            try await Task.sleep(for: .milliseconds(100))
        }
        keeper.stop()
        running.cancel()
        _ = await running.value
        // Writes still in flight land within the hang guard.
        func writes() async throws -> (heartbeats: Int64, renewals: Int64) {
            let heartbeats = try await store.get(layout.member("n1"))?.version ?? 0
            let renewals = try await store.get(layout.master)?.version ?? 0
            return (heartbeats - 1, renewals - 1)
        }
        let start = ContinuousClock.now
        var counted = try await writes()
        while abs(counted.heartbeats - counted.renewals) > 2, ContinuousClock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(20))
            counted = try await writes()
        }
        #expect(counted.heartbeats >= 15)
        #expect(abs(counted.heartbeats - counted.renewals) <= 2, "heartbeats and renewals written: \(counted)")
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Both threads of the cooperative pool are kept busy (the test's own, blocked in a poll, and a
    /// spinning task): nothing that needs the pool can run. The keeper must still heartbeat (no
    /// fence while the store answers) and, once the store is cut off, fence at its deadline.
    @Test("heartbeats and the deadline keep going while the thread pool is saturated", .timeLimit(.minutes(5)))
    func saturatedPool() async throws {
        let ip = try fakeIP(in: root, addresses: [("eth0", "198.18.0.100/24")])
        let clock = ContinuousClock()
        let origin = clock.now
        let memory = InMemoryStore {
            let (seconds, attoseconds) = (clock.now - origin).components
            return seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }
        let store = memory.client("n1")
        let layout = KeyLayout(cluster: "c")
        let record = MemberRecord(node: "n1", heartbeat: 1, version: "test", tolerance: .seconds(1))
        let joined = try await store.transaction(
            Transaction(
                compare: [.absent(layout.member("n1"))],
                success: [.put(key: layout.member("n1"), value: ModelCodec.encode(record))]))
        let events = NIOLockedValueBox<[Brain.Event]>([])
        let thread = FenceKeeper.Thread()
        defer { thread.shutdown() }
        let keeper = FenceKeeper(
            thread: thread, store: store, transactions: DirectiveTransactions(layout: layout), scripts: nil,
            addresses: AddressManager(ipCommand: ip.command, logger: Logger(label: "test")), watchdog: nil,
            origin: origin,
            logger: Logger(label: "test"), report: { event in events.withLockedValue { $0.append(event) } })
        let running = Task(executorPreference: thread) { await keeper.run() }
        let plan = FenceKeeper.Plan(
            selfFenceAfter: .milliseconds(600), heartbeatInterval: .milliseconds(100), brainGrace: .seconds(60),
            targets: [Brain.FenceTarget("vip", address: "198.18.0.100")], watchdogPetInterval: nil)
        keeper.update(plan, isMaster: false)
        keeper.keep(.sendHeartbeat(record, memberRevision: joined.revision, sentAt: Moment(milliseconds: 0)))

        func acknowledgements() -> Int {
            events.withLockedValue { $0.filter { if case .heartbeatAcknowledged = $0 { true } else { false } }.count }
        }
        // The keeper's loop has moved onto its thread once a heartbeat came back.
        let started = clock.now
        while acknowledgements() == 0, clock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let stop = StopFlag()
        let spinners = (0..<4).map { _ in
            Task.detached {
                var x: UInt64 = 1
                while !stop.value.load(ordering: .relaxed) { x = x &* 6_364_136_223_846_793_005 &+ 1 }
                return x
            }
        }
        // Blocking polls: this thread stays busy too, as a flooded agent's would.
        func poll(_ condition: () -> Bool) -> Bool {
            let deadline = clock.now + .seconds(60)
            while !condition(), clock.now < deadline { usleep(20_000) }
            return condition()
        }
        // Three times the self-fence span with the pool saturated: heartbeats flow, no fence.
        let quietUntil = clock.now + .milliseconds(1800)
        #expect(poll { clock.now >= quietUntil })
        let heartbeats = acknowledgements() - 1
        func fences() -> Int { events.withLockedValue { $0.filter { $0 == .deadlineFenced }.count } }
        let fencedEarly = fences()
        // Cut off from the store: the deadline passes and the address goes, pool still saturated.
        memory.partition("n1")
        let fenced = poll { fences() > fencedEarly }
        let removed = (try? String(contentsOfFile: ip.state, encoding: .utf8)) == ""
        stop.value.store(true, ordering: .relaxed)
        for spinner in spinners { _ = await spinner.value }
        keeper.stop()
        running.cancel()
        _ = await running.value

        #expect(heartbeats >= 10, "heartbeats acknowledged while the pool was busy: \(heartbeats)")
        // Reported, not asserted (a measurement): how late the fence ran with the pool saturated.
        print(
            "fence ran \(keeper.lastFenceLateness.map { "\($0)" } ?? "never") after its deadline; \(heartbeats) heartbeats acknowledged in 1.8 s"
        )
        #expect(fencedEarly == 0, "fenced while the store answered")
        #expect(fenced)
        #expect(removed)
        #expect(keeper.isFenced)
        try? FileManager.default.removeItem(atPath: root)
    }
}

final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
