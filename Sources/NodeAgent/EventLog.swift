import ClusterModel
import CoordinationStore
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The cluster event log in the store (`/vigil/<cluster>/events/`): every node appends what its
/// brain records (with the last lines of a script's output for script results); the master keeps
/// it bounded by deleting the oldest entries beyond `capacity`.
public final class EventLog: Sendable {
    public let capacity: Int
    private let store: any CoordinationStore
    private let layout: KeyLayout
    private let node: NodeName
    private let logger: Logger
    private let queue: NIOLockedValueBox<Queue>

    /// - Parameter firstSequence: where this writer's sequence numbers start; two writers on one
    ///   node (the agent and its API) use ranges far apart so their keys never meet.
    public init(
        store: any CoordinationStore, layout: KeyLayout, node: NodeName, capacity: Int = 2000,
        firstSequence: UInt64 = 0,
        logger: Logger
    ) {
        self.store = store
        self.layout = layout
        self.node = node
        self.capacity = capacity
        self.logger = logger
        self.queue = NIOLockedValueBox(Queue(sequence: firstSequence))
    }

    /// Appends one event and returns once it is stored (or could not be); a store failure is
    /// logged, never thrown (the local log keeps it).
    ///
    /// Events are written by group commit: while one write is in flight, the events appended
    /// meanwhile wait and go together in the next transaction (up to ``batchLimit`` of them). A
    /// writer so has at most one call in the store at any time, and a master that decides 100
    /// failovers in one step records them in a few transactions, not in 100 calls that the store
    /// serves along with the assignments and the holders' status writes (docs/design/0026). The
    /// events of one transaction share a revision: the event stream numbers them within it.
    public func append(_ event: ClusterEvent, output: [String]? = nil) async {
        let time = Int64(Date().timeIntervalSince1970 * 1000)
        let value = ModelCodec.encode(StoredEvent(time: time, event: event, output: output))
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let turn = queue.withLockedValue { queue -> Turn in
                guard queue.waiting.count < Self.queueLimit else { return .refused }
                queue.sequence += 1
                let key = layout.event(wallMilliseconds: time, node: node, sequence: queue.sequence)
                queue.waiting.append(Queued(key: key, value: value, done: done))
                if queue.writing { return .queued }
                queue.writing = true
                return .write
            }
            switch turn {
            case .write:
                Task { await self.writeQueued() }
            case .queued:
                break
            case .refused:
                logger.debug("event not stored: \(Self.queueLimit) events already wait for the store")
                done.resume()
            }
        }
    }

    /// Events appended and not yet written (nor given up on).
    public var waiting: Int { queue.withLockedValue { $0.waiting.count } }

    /// Writes what waits, a batch per transaction, until nothing does; prunes after every 100
    /// events written, before their writers return.
    private func writeQueued() async {
        while true {
            let batch = queue.withLockedValue { queue -> [Queued] in
                var count = 0
                var bytes = 0
                for item in queue.waiting {
                    guard count < Self.batchLimit, count == 0 || bytes + item.value.count <= Self.batchBytes else {
                        break
                    }
                    count += 1
                    bytes += item.value.count
                }
                if count == 0 { queue.writing = false }
                defer { queue.waiting.removeFirst(count) }
                return Array(queue.waiting.prefix(count))
            }
            guard !batch.isEmpty else { return }
            do {
                _ = try await store.transaction(
                    Transaction(compare: [], success: batch.map { .put(key: $0.key, value: $0.value) }))
            } catch {
                logger.debug(
                    "events not stored", metadata: ["vigil.count": "\(batch.count)", "vigil.error": "\(error)"])
            }
            let (before, after) = queue.withLockedValue { queue in
                defer { queue.written += batch.count }
                return (queue.written, queue.written + batch.count)
            }
            if before / 100 != after / 100 { await prune() }
            for item in batch { item.done.resume() }
        }
    }

    /// Events in one transaction at most: well under etcd's default limit of 128 operations.
    static let batchLimit = 64
    /// Bytes of events in one transaction at most (one event alone may be larger): well under
    /// etcd's default request limit of 1.5 MiB.
    static let batchBytes = 512 * 1024
    /// Events waiting for the store at most: as many as the log keeps (its default capacity). More
    /// are not stored; the local log has them.
    static let queueLimit = 2000

    private enum Turn { case write, queued, refused }

    private struct Queued {
        let key: String
        let value: [UInt8]
        let done: CheckedContinuation<Void, Never>
    }

    private struct Queue {
        var sequence: UInt64
        var waiting: [Queued] = []
        /// Whether a task writes what waits (it stops when nothing does).
        var writing = false
        var written = 0
    }

    /// Deletes the oldest events beyond the capacity, at most ``pruneBatch`` at a time (only one
    /// node needs to; any may). Reads only the oldest keys and the count, never the log itself:
    /// every writer prunes every 100 of its events, and at 32 nodes reading the whole log (~2 MB
    /// with script output) each time kept a busy store busy (docs/design/0023).
    public func prune() async {
        guard let oldest = try? await store.firstKeys(prefix: layout.eventsPrefix, limit: Self.pruneBatch),
            oldest.total > capacity
        else { return }
        let excess = oldest.keys.prefix(oldest.total - capacity).map { StoreOperation.delete(key: $0) }
        _ = try? await store.transaction(Transaction(compare: [], success: Array(excess)))
    }

    /// Events deleted by one prune: as many as a writer appends between two prunes.
    static let pruneBatch = 100

    /// The newest `limit` events, oldest first.
    public static func read(_ store: any CoordinationStore, layout: KeyLayout, limit: Int) async throws -> [StoredEvent]
    {
        let events = try await store.range(prefix: layout.eventsPrefix)
        return events.keyValues.suffix(limit).compactMap { try? ModelCodec.decode(StoredEvent.self, from: $0.value) }
    }
}
