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
    private let sequence = NIOLockedValueBox<UInt64>(0)

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
        self.sequence.withLockedValue { $0 = firstSequence }
    }

    /// Appends one event; a store failure is logged, never thrown (the local log keeps it).
    public func append(_ event: ClusterEvent, output: [String]? = nil) async {
        let time = Int64(Date().timeIntervalSince1970 * 1000)
        let number = sequence.withLockedValue {
            $0 += 1
            return $0
        }
        let key = layout.event(wallMilliseconds: time, node: node, sequence: number)
        do {
            try await store.put(key, ModelCodec.encode(StoredEvent(time: time, event: event, output: output)))
        } catch {
            logger.debug("event not stored", metadata: ["vigil.error": "\(error)"])
        }
        if number % 100 == 0 { await prune() }
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
