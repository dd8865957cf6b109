import CoordinationStore
import NIOConcurrencyHelpers

/// An in-memory coordination store shared by several clients, with fault injection.
///
/// Each node of a test gets its own ``Client`` (a `CoordinationStore`), so one client can be
/// partitioned while the others go on. Time comes from the injected `now` closure (milliseconds);
/// leases expire when any call or ``advance()`` observes that time has passed their deadline.
public final class InMemoryStore: Sendable {
    struct Watcher {
        var client: String
        var prefix: String
        var nextRevision: Int64
        var continuation: AsyncThrowingStream<[WatchEvent], any Error>.Continuation
        /// Receives nothing more (a connection that died without an error).
        var silenced = false
    }

    struct State {
        var kv: InMemoryKV
        var partitioned: Set<String> = []
        var failingCommits = 0
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
    }

    private let state: NIOLockedValueBox<State>
    private let now: @Sendable () -> Int64

    /// - Parameters:
    ///   - minimumLeaseTTLSeconds: smallest TTL granted (etcd rounds up to 1.5 × election timeout).
    ///   - now: the current time in milliseconds, from the test's clock.
    public init(minimumLeaseTTLSeconds: Int64 = 1, now: @escaping @Sendable () -> Int64) {
        self.state = NIOLockedValueBox(State(kv: InMemoryKV(minimumLeaseTTLSeconds: minimumLeaseTTLSeconds)))
        self.now = now
    }

    /// A client identified by `name`, for per-client faults.
    public func client(_ name: String) -> Client { Client(store: self, name: name) }

    /// Cuts `client` off: its calls fail with `unavailable` and its watches end with that error.
    public func partition(_ client: String) {
        let ended = state.withLockedValue { state in
            state.partitioned.insert(client)
            let ids = state.watchers.filter { $0.value.client == client }.map(\.key)
            return ids.compactMap { state.watchers.removeValue(forKey: $0)?.continuation }
        }
        for continuation in ended {
            continuation.finish(throwing: StoreError(.unavailable, "partitioned from the store"))
        }
    }

    /// Reconnects `client`.
    public func heal(_ client: String) {
        _ = state.withLockedValue { $0.partitioned.remove(client) }
    }

    /// The next `count` transactions (of any client) fail with `unavailable` without being applied.
    public func failNextCommits(_ count: Int) {
        state.withLockedValue { $0.failingCommits = count }
    }

    /// Ends every open watch with an error, as a lost connection does; clients must resume.
    public func dropWatches() {
        let ended = state.withLockedValue { state in
            defer { state.watchers.removeAll() }
            return state.watchers.values.map(\.continuation)
        }
        for continuation in ended { continuation.finish(throwing: StoreError(.unavailable, "watch dropped")) }
    }

    /// Every open watch stops receiving without an error, as one whose connection died silently
    /// (a partition); watches opened afterwards work.
    public func silenceWatches() {
        state.withLockedValue { state in
            for id in state.watchers.keys { state.watchers[id]?.silenced = true }
        }
    }

    /// Expires leases whose time has come and delivers the resulting events.
    public func advance() {
        let deliveries = state.withLockedValue { state in
            state.kv.expireLeases(nowMilliseconds: now())
            return Self.pendingDeliveries(&state)
        }
        deliver(deliveries)
    }

    /// Direct access to the data, for assertions.
    public func snapshot() -> InMemoryKV { state.withLockedValue { $0.kv } }

    typealias Delivery = (AsyncThrowingStream<[WatchEvent], any Error>.Continuation, [[WatchEvent]])

    private static func pendingDeliveries(_ state: inout State) -> [Delivery] {
        var deliveries: [Delivery] = []
        for (id, watcher) in state.watchers where !watcher.silenced {
            guard let batches = try? state.kv.events(prefix: watcher.prefix, fromRevision: watcher.nextRevision),
                !batches.isEmpty
            else { continue }
            state.watchers[id]?.nextRevision = state.kv.revision + 1
            deliveries.append((watcher.continuation, batches.map(\.events)))
        }
        return deliveries
    }

    private func deliver(_ deliveries: [Delivery]) {
        for (continuation, batches) in deliveries {
            for batch in batches { continuation.yield(batch) }
        }
    }

    fileprivate func perform<T>(
        _ client: String, _ body: (inout InMemoryKV, Int64) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        let result: Result<(T, [Delivery]), StoreError> = state.withLockedValue { state in
            guard !state.partitioned.contains(client) else {
                return .failure(StoreError(.unavailable, "client \(client) is partitioned from the store"))
            }
            let time = now()
            state.kv.expireLeases(nowMilliseconds: time)
            do throws(StoreError) {
                let value = try body(&state.kv, time)
                return .success((value, Self.pendingDeliveries(&state)))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let (value, deliveries)):
            deliver(deliveries)
            return value
        case .failure(let error):
            throw error
        }
    }

    fileprivate func commit(_ client: String, _ transaction: Transaction) throws(StoreError) -> TransactionResult {
        let failing = state.withLockedValue { state in
            guard state.failingCommits > 0 else { return false }
            state.failingCommits -= 1
            return true
        }
        if failing { throw StoreError(.unavailable, "injected commit failure") }
        return try perform(client) { kv, _ throws(StoreError) in try kv.apply(transaction) }
    }

    fileprivate func openWatch(
        _ client: String, prefix: String, fromRevision: Int64
    ) -> AsyncThrowingStream<[WatchEvent], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[WatchEvent], any Error>.makeStream()
        let opened: Result<(Int, [[WatchEvent]]), StoreError> = state.withLockedValue { state in
            guard !state.partitioned.contains(client) else {
                return .failure(StoreError(.unavailable, "client \(client) is partitioned from the store"))
            }
            do throws(StoreError) {
                let start = fromRevision > 0 ? fromRevision : state.kv.revision + 1
                let backlog = try state.kv.events(prefix: prefix, fromRevision: start)
                let id = state.nextWatcher
                state.nextWatcher += 1
                state.watchers[id] = Watcher(
                    client: client, prefix: prefix, nextRevision: max(start, state.kv.revision + 1),
                    continuation: continuation)
                return .success((id, backlog.map(\.events)))
            } catch {
                return .failure(error)
            }
        }
        switch opened {
        case .failure(let error):
            continuation.finish(throwing: error)
        case .success(let (id, backlog)):
            for batch in backlog { continuation.yield(batch) }
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLockedValue { $0.watchers.removeValue(forKey: id) }
            }
        }
        return stream
    }

    /// One node's connection to the shared in-memory store.
    public struct Client: CoordinationStore {
        let store: InMemoryStore
        public let name: String

        public func range(prefix: String) async throws(StoreError) -> RangeResult {
            try store.perform(name) { kv, _ in kv.range(prefix: prefix) }
        }

        public func range(prefix: String, excluding excluded: [String]) async throws(StoreError) -> RangeResult {
            try store.perform(name) { kv, _ throws(StoreError) in
                let all = kv.range(prefix: prefix)
                return RangeResult(
                    keyValues: all.keyValues.filter { entry in !excluded.contains { entry.key.hasPrefix($0) } },
                    revision: all.revision)
            }
        }

        public func transaction(_ transaction: Transaction) async throws(StoreError) -> TransactionResult {
            try store.commit(name, transaction)
        }

        public func grantLease(ttlSeconds: Int64) async throws(StoreError) -> Lease {
            try store.perform(name) { kv, now throws(StoreError) in
                try kv.grantLease(ttlSeconds: ttlSeconds, nowMilliseconds: now)
            }
        }

        public func keepAlive(_ lease: LeaseID) async throws(StoreError) -> Int64 {
            try store.perform(name) { kv, now throws(StoreError) in try kv.keepAlive(lease, nowMilliseconds: now) }
        }

        public func timeToLive(_ lease: LeaseID) async throws(StoreError) -> Int64 {
            try store.perform(name) { kv, now throws(StoreError) in try kv.timeToLive(lease, nowMilliseconds: now) }
        }

        public func revokeLease(_ lease: LeaseID) async throws(StoreError) {
            try store.perform(name) { kv, _ throws(StoreError) in try kv.revokeLease(lease) }
        }

        public func compact(revision: Int64) async throws(StoreError) {
            try store.perform(name) { kv, _ throws(StoreError) in try kv.compact(revision: revision) }
        }

        public func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<[WatchEvent], any Error>
        {
            store.openWatch(name, prefix: prefix, fromRevision: revision)
        }
    }
}
