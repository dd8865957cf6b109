import ClusterTestKit
import CoordinationStore
import InMemoryStore
import NIOConcurrencyHelpers
import Testing

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let milliseconds = NIOLockedValueBox<Int64>(0)
    var now: Int64 { milliseconds.withLockedValue { $0 } }
    func advance(_ delta: Int64) { milliseconds.withLockedValue { $0 += delta } }
}

@Suite("Store conformance: in-memory store")
struct InMemoryConformanceTests {
    @Test(
        "the in-memory store passes the conformance check", .timeLimit(.minutes(1)), arguments: StoreConformance.checks)
    func conformance(check: String) async throws {
        let clock = TestClock()
        let store = InMemoryStore(now: { clock.now })
        let suite = StoreConformance(store: store.client("test"), prefix: "/conformance/\(check)/") { milliseconds in
            clock.advance(milliseconds)
            store.advance()
        }
        try await suite.run(check)
    }
}

@Suite("In-memory store faults")
struct InMemoryFaultTests {
    @Test("a partitioned client fails with unavailable while the others go on", .timeLimit(.minutes(1)))
    func partition() async throws {
        let store = InMemoryStore(now: { 0 })
        let (a, b) = (store.client("a"), store.client("b"))
        store.partition("a")
        await #expect(throws: StoreError(.unavailable, "client a is partitioned from the store")) {
            try await a.put("/k", [1])
        }
        try await b.put("/k", [2])
        store.heal("a")
        #expect(try await a.get("/k")?.value == [2])
    }

    @Test("a partition ends the client's watches with an error", .timeLimit(.minutes(1)))
    func partitionEndsWatch() async throws {
        let store = InMemoryStore(now: { 0 })
        let stream = store.client("a").watch(prefix: "/", fromRevision: 0)
        store.partition("a")
        await #expect(throws: StoreError.self) {
            for try await _ in stream {}
        }
    }

    @Test("injected commit failures fail transactions without applying them", .timeLimit(.minutes(1)))
    func failCommits() async throws {
        let store = InMemoryStore(now: { 0 })
        let client = store.client("a")
        store.failNextCommits(1)
        await #expect(throws: StoreError.self) { try await client.put("/k", [1]) }
        #expect(try await client.get("/k") == nil)
        try await client.put("/k", [1])
        #expect(try await client.get("/k")?.value == [1])
    }

    @Test("dropped watches can resume from the last revision without loss", .timeLimit(.minutes(1)))
    func dropAndResume() async throws {
        let store = InMemoryStore(now: { 0 })
        let client = store.client("a")
        let start = try await client.put("/w/k", [0])
        let stream = client.watch(prefix: "/w/", fromRevision: start)
        var last: Int64 = 0
        for try await batch in stream {
            last = batch.last!.keyValue.modRevision
            break
        }
        store.dropWatches()
        try await client.put("/w/k", [1])
        var resumed: [UInt8] = []
        for try await batch in client.watch(prefix: "/w/", fromRevision: last + 1) {
            resumed += batch.flatMap(\.keyValue.value)
            break
        }
        #expect(resumed == [1])
    }

    @Test("a short lease is rounded up to the store's minimum TTL, as etcd does")
    func minimumTTL() async throws {
        let store = InMemoryStore(minimumLeaseTTLSeconds: 2, now: { 0 })
        #expect(try await store.client("a").grantLease(ttlSeconds: 1).ttlSeconds == 2)
    }
}

@Suite("Resuming watches")
struct ResumingWatchTests {
    @Test("a watch whose connection died silently is reopened where it was: nothing lost, nothing twice")
    func silentConnection() async throws {
        let store = InMemoryStore(now: { 0 })
        let client = store.client("n1")
        let writer = store.client("writer")
        let start = try await writer.put("/e/0", [0]) + 1
        let received = AsyncStreamBox()
        let plain = AsyncStreamBox()
        let resuming = Task {
            for try await batch in client.resumingWatch(
                prefix: "/e/", fromRevision: start, restartAfter: .milliseconds(200))
            {
                for event in batch { await received.add(event.keyValue.key) }
            }
        }
        let once = Task {
            for try await batch in client.watch(prefix: "/e/", fromRevision: start) {
                for event in batch { await plain.add(event.keyValue.key) }
            }
        }
        defer {
            resuming.cancel()
            once.cancel()
        }
        _ = try await writer.put("/e/1", [1])
        try await received.wait(for: ["/e/1"])
        try await plain.wait(for: ["/e/1"])
        store.silenceWatches()
        _ = try await writer.put("/e/2", [2])
        _ = try await writer.put("/e/3", [3])
        try await received.wait(for: ["/e/1", "/e/2", "/e/3"])
        // The fault is real: the plain watch (the old code) hears nothing more.
        try await Task.sleep(for: .milliseconds(300))
        #expect(await plain.keys == ["/e/1"])
    }
}

/// Keys received by a watch, in order; waits (with a hang guard) for an exact list.
actor AsyncStreamBox {
    private(set) var keys: [String] = []
    func add(_ key: String) { keys.append(key) }

    func wait(for expected: [String]) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while keys.count < expected.count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(keys == expected)
    }
}
