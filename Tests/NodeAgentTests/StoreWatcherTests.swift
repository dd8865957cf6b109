import ClusterModel
import ClusterTestKit
import CoordinationStore
import InMemoryStore
import Logging
import NIOConcurrencyHelpers
import NodeAgent
import Testing

/// A store that passes every call to `inner`; a test store overrides only what it watches.
protocol ForwardingStore: CoordinationStore {
    var inner: any CoordinationStore { get }
}

extension ForwardingStore {
    func range(prefix: String) async throws(StoreError) -> RangeResult { try await inner.range(prefix: prefix) }
    func firstKeys(prefix: String, limit: Int) async throws(StoreError) -> (keys: [String], total: Int) {
        try await inner.firstKeys(prefix: prefix, limit: limit)
    }
    func range(prefix: String, excluding excluded: [String]) async throws(StoreError) -> RangeResult {
        try await inner.range(prefix: prefix, excluding: excluded)
    }
    func transaction(_ transaction: Transaction) async throws(StoreError) -> TransactionResult {
        try await inner.transaction(transaction)
    }
    func transactions(_ batch: [Transaction]) async throws(StoreError) -> [TransactionResult] {
        try await inner.transactions(batch)
    }
    func grantLease(ttlSeconds: Int64) async throws(StoreError) -> Lease {
        try await inner.grantLease(ttlSeconds: ttlSeconds)
    }
    func keepAlive(_ lease: LeaseID) async throws(StoreError) -> Int64 { try await inner.keepAlive(lease) }
    func timeToLive(_ lease: LeaseID) async throws(StoreError) -> Int64 { try await inner.timeToLive(lease) }
    func revokeLease(_ lease: LeaseID) async throws(StoreError) { try await inner.revokeLease(lease) }
    func compact(revision: Int64) async throws(StoreError) { try await inner.compact(revision: revision) }
    func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<[WatchEvent], any Error> {
        inner.watch(prefix: prefix, fromRevision: revision)
    }
}

/// A store that counts whole reads (of the view, and of any prefix) and watch requests.
struct CountingStore: ForwardingStore {
    let inner: any CoordinationStore
    let counts = NIOLockedValueBox((reads: 0, watches: 0, prefixReads: 0))

    func range(prefix: String) async throws(StoreError) -> RangeResult {
        counts.withLockedValue { $0.prefixReads += 1 }
        return try await inner.range(prefix: prefix)
    }
    func range(prefix: String, excluding excluded: [String]) async throws(StoreError) -> RangeResult {
        counts.withLockedValue { $0.reads += 1 }
        return try await inner.range(prefix: prefix, excluding: excluded)
    }
    func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<[WatchEvent], any Error> {
        counts.withLockedValue { $0.watches += 1 }
        return inner.watch(prefix: prefix, fromRevision: revision)
    }
}

@Suite("Store watcher")
struct StoreWatcherTests {
    let layout = KeyLayout(cluster: "c")

    /// A silent watch is opened again from the last revision applied: nothing is lost, and the whole
    /// prefix is not read again (32 nodes re-reading a megabyte each at once kept a slow store slow).
    /// Only history compacted away makes it read everything.
    @Test(
        "silence resumes the watch from the last revision; only compaction reads everything again",
        .timeLimit(.minutes(1)))
    func resumesAfterSilence() async throws {
        let memory = InMemoryStore(now: { 0 })
        let store = CountingStore(inner: memory.client("n1"))
        let writer = memory.client("w")
        let seen = NIOLockedValueBox<Set<String>>([])
        let watcher = StoreWatcher(
            store: store, layout: layout, idleLimit: .milliseconds(100), logger: Logger(label: "t"))
        let watching = Task {
            await watcher.run { view in seen.withLockedValue { $0 = Set(view.nodes.keys.map(\.rawValue)) } }
        }
        defer { watching.cancel() }
        func define(_ name: String, index: Int) async throws -> Int64 {
            let node = try NodeName(validating: name)
            return try await writer.put(layout.node(node), ModelCodec.encode(NodeDefinition(name: node, index: index)))
        }
        _ = try await define("n1", index: 0)
        #expect(try await eventually { seen.withLockedValue { $0 } == ["n1"] })
        // Silent for many idle limits: the watch is opened again several times.
        #expect(try await eventually { store.counts.withLockedValue { $0.watches } >= 4 })
        _ = try await define("n2", index: 1)
        #expect(try await eventually { seen.withLockedValue { $0 } == ["n1", "n2"] })
        #expect(store.counts.withLockedValue { $0.reads } == 1, "read whole: \(store.counts.withLockedValue { $0 })")
        // Cut off while the cluster moves on and its history is compacted: the resume point is
        // gone, so the view is read whole once, then followed again.
        memory.partition("n1")
        for index in 3...6 { _ = try await define("n\(index)", index: index) }
        try await writer.compact(revision: try await define("n7", index: 7))
        memory.heal("n1")
        #expect(try await eventually { seen.withLockedValue { $0 }.count == 7 })
        #expect(store.counts.withLockedValue { $0.reads } == 2, "read whole: \(store.counts.withLockedValue { $0 })")
    }
}

@Suite("Event log")
struct EventLogTests {
    /// Every writer prunes after each 100 of its events: the oldest beyond the capacity go, and the
    /// log itself is never read for it (only its oldest keys and its length).
    @Test("pruning keeps the newest events and reads only keys")
    func pruning() async throws {
        let memory = InMemoryStore(now: { 0 })
        let store = CountingStore(inner: memory.client("n1"))
        let layout = KeyLayout(cluster: "c")
        let log = EventLog(store: store, layout: layout, node: "n1", capacity: 50, logger: Logger(label: "t"))
        for index in 1...200 {
            await log.append(ClusterEvent(kind: .admin, node: "n1", message: "event \(index)"))
        }
        let kept = try await memory.client("check").range(prefix: layout.eventsPrefix).keyValues.map {
            try ModelCodec.decode(StoredEvent.self, from: $0.value).event.message
        }
        #expect(kept == (151...200).map { "event \($0)" })
        #expect(store.counts.withLockedValue { $0.prefixReads } == 0)
    }

    /// While one write is in the store, the events appended meanwhile wait and go in one
    /// transaction: a master's 100 failover events are not 100 calls (docs/design/0026).
    @Test("events appended while a write is in flight go together in the next transaction")
    func groupCommit() async throws {
        let memory = InMemoryStore(now: { 0 })
        let store = GatedStore(inner: memory.client("n1"))
        let layout = KeyLayout(cluster: "c")
        let log = EventLog(store: store, layout: layout, node: "n1", logger: Logger(label: "t"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await log.append(ClusterEvent(kind: .admin, node: "n1", message: "event 0")) }
            #expect(try await eventually { store.calls.withLockedValue { $0 } == 1 })
            for index in 1...49 {
                group.addTask { await log.append(ClusterEvent(kind: .admin, node: "n1", message: "event \(index)")) }
            }
            #expect(try await eventually { log.waiting == 49 })
            store.open()
            try await group.waitForAll()
        }
        #expect(store.calls.withLockedValue { $0 } == 2)
        let stored = try await memory.client("check").range(prefix: layout.eventsPrefix).keyValues
        #expect(stored.count == 50)
        #expect(Set(stored.map(\.modRevision)).count == 2, "one revision per transaction")
    }
}

/// A store whose first transaction waits until ``open()``; counts its transaction calls.
final class GatedStore: ForwardingStore, Sendable {
    let inner: any CoordinationStore
    /// Transaction calls so far (not named `transactions`: that is the store's batch call).
    let calls = NIOLockedValueBox(0)
    private let gate = AsyncStream<Void>.makeStream()

    init(inner: any CoordinationStore) { self.inner = inner }

    func open() { gate.continuation.finish() }

    func transaction(_ transaction: Transaction) async throws(StoreError) -> TransactionResult {
        let first = calls.withLockedValue {
            $0 += 1
            return $0 == 1
        }
        if first { for await _ in gate.stream {} }
        return try await inner.transaction(transaction)
    }
}
