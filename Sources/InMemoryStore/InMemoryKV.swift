import CoordinationStore

/// The deterministic heart of the in-memory store: etcd's data model as a value type.
///
/// Behaves as etcd 3.4 does where Vigil relies on it: the revision starts at 1 and grows by one
/// per transaction that changes a key; a key's version counts its puts since creation; a delete of
/// a missing key changes nothing; watch history is kept until compacted; a lease's keys are deleted
/// in one revision when it expires. Time is passed in, never read.
public struct InMemoryKV: Sendable {
    struct LeaseState: Sendable {
        var ttlSeconds: Int64
        var expiresAtMilliseconds: Int64
        var keys: Set<String>
    }

    public private(set) var revision: Int64 = 1
    public private(set) var compactRevision: Int64 = 0
    private var keys: [String: KeyValue] = [:]
    /// Events per revision, oldest first, after the compaction point.
    private var history: [(revision: Int64, events: [WatchEvent])] = []
    private var leases: [LeaseID: LeaseState] = [:]
    private var nextLeaseID: Int64 = 0x1000

    /// Smallest lease TTL granted, in seconds (etcd: ceil(1.5 × election timeout)).
    public var minimumLeaseTTLSeconds: Int64

    public init(minimumLeaseTTLSeconds: Int64 = 1) {
        self.minimumLeaseTTLSeconds = minimumLeaseTTLSeconds
    }

    /// Every key starting with `prefix`, sorted by key.
    public func range(prefix: String) -> RangeResult {
        let matching = keys.values.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
        return RangeResult(keyValues: matching, revision: revision)
    }

    /// One key, if present.
    public func get(_ key: String) -> KeyValue? { keys[key] }

    /// Runs a transaction atomically.
    public mutating func apply(_ transaction: Transaction) throws(StoreError) -> TransactionResult {
        let succeeded = transaction.compare.allSatisfy(holds)
        let operations = succeeded ? transaction.success : transaction.failure
        for case .put(_, _, let lease?) in operations where leases[lease] == nil {
            throw StoreError(.leaseNotFound, "lease \(lease) not found")
        }
        var events: [WatchEvent] = []
        var gets: [KeyValue?] = []
        let next = revision + 1
        for operation in operations {
            switch operation {
            case .get(let key):
                gets.append(keys[key])
            case .put(let key, let value, let lease):
                let old = keys[key]
                if let oldLease = old?.lease { leases[oldLease]?.keys.remove(key) }
                let kv = KeyValue(
                    key: key, value: value, createRevision: old?.createRevision ?? next, modRevision: next,
                    version: (old?.version ?? 0) + 1, lease: lease)
                keys[key] = kv
                if let lease { leases[lease]?.keys.insert(key) }
                events.append(WatchEvent(kind: .put, keyValue: kv))
            case .delete(let key):
                if let event = remove(key, at: next) { events.append(event) }
            case .deletePrefix(let prefix):
                for key in keys.keys.filter({ $0.hasPrefix(prefix) }).sorted() {
                    if let event = remove(key, at: next) { events.append(event) }
                }
            }
        }
        if !events.isEmpty {
            revision = next
            history.append((next, events))
        }
        return TransactionResult(succeeded: succeeded, revision: revision, gets: gets)
    }

    private mutating func remove(_ key: String, at revision: Int64) -> WatchEvent? {
        guard let old = keys.removeValue(forKey: key) else { return nil }
        if let lease = old.lease { leases[lease]?.keys.remove(key) }
        let tombstone = KeyValue(key: key, value: [], createRevision: 0, modRevision: revision, version: 0)
        return WatchEvent(kind: .delete, keyValue: tombstone)
    }

    private func holds(_ compare: Compare) -> Bool {
        let kv = keys[compare.key]
        func order(_ lhs: Int64, _ rhs: Int64) -> Bool {
            switch compare.result {
            case .equal: lhs == rhs
            case .notEqual: lhs != rhs
            case .greater: lhs > rhs
            case .less: lhs < rhs
            }
        }
        switch compare.target {
        case .createRevision(let value): return order(kv?.createRevision ?? 0, value)
        case .modRevision(let value): return order(kv?.modRevision ?? 0, value)
        case .version(let value): return order(kv?.version ?? 0, value)
        case .value(let value):
            // etcd: a value compare on a missing key is false whatever the result asked.
            guard let kv else { return false }
            switch compare.result {
            case .equal: return kv.value == value
            case .notEqual: return kv.value != value
            case .greater: return kv.value.lexicographicallyPrecedes(value) == false && kv.value != value
            case .less: return kv.value.lexicographicallyPrecedes(value)
            }
        }
    }

    /// The changes under `prefix` from `fromRevision` on, one batch per revision.
    public func events(prefix: String, fromRevision: Int64) throws(StoreError) -> [(
        revision: Int64, events: [WatchEvent]
    )] {
        if fromRevision > 0, fromRevision <= compactRevision {
            throw StoreError(
                .compacted(compactRevision: compactRevision),
                "required revision \(fromRevision) has been compacted (at \(compactRevision))")
        }
        return history.compactMap { entry in
            guard entry.revision >= fromRevision else { return nil }
            let matching = entry.events.filter { $0.keyValue.key.hasPrefix(prefix) }
            return matching.isEmpty ? nil : (entry.revision, matching)
        }
    }

    /// Drops history up to and including `revision`.
    public mutating func compact(revision target: Int64) throws(StoreError) {
        guard target <= revision else {
            throw StoreError(.invalidArgument, "cannot compact to \(target): the store is at revision \(revision)")
        }
        guard target > compactRevision else {
            throw StoreError(
                .compacted(compactRevision: compactRevision), "revision \(target) is already compacted")
        }
        compactRevision = target
        history.removeAll { $0.revision <= target }
    }

    /// Grants a lease that expires `ttlSeconds` after `now` unless kept alive.
    public mutating func grantLease(ttlSeconds: Int64, nowMilliseconds now: Int64) throws(StoreError) -> Lease {
        guard ttlSeconds > 0 else {
            throw StoreError(.invalidArgument, "lease TTL must be positive, got \(ttlSeconds)")
        }
        let ttl = max(ttlSeconds, minimumLeaseTTLSeconds)
        nextLeaseID += 1
        let id = LeaseID(nextLeaseID)
        leases[id] = LeaseState(ttlSeconds: ttl, expiresAtMilliseconds: now + ttl * 1000, keys: [])
        return Lease(id: id, ttlSeconds: ttl)
    }

    /// Renews a lease for its full TTL.
    public mutating func keepAlive(_ id: LeaseID, nowMilliseconds now: Int64) throws(StoreError) -> Int64 {
        guard var lease = leases[id] else { throw StoreError(.leaseNotFound, "lease \(id) not found") }
        lease.expiresAtMilliseconds = now + lease.ttlSeconds * 1000
        leases[id] = lease
        return lease.ttlSeconds
    }

    /// Seconds left, rounded up as etcd reports them.
    public func timeToLive(_ id: LeaseID, nowMilliseconds now: Int64) throws(StoreError) -> Int64 {
        guard let lease = leases[id] else { throw StoreError(.leaseNotFound, "lease \(id) not found") }
        return max(0, (lease.expiresAtMilliseconds - now + 999) / 1000)
    }

    /// Revokes a lease, deleting its keys in one revision.
    public mutating func revokeLease(_ id: LeaseID) throws(StoreError) {
        guard let lease = leases.removeValue(forKey: id) else {
            throw StoreError(.leaseNotFound, "lease \(id) not found")
        }
        _ = try apply(Transaction(compare: [], success: lease.keys.sorted().map { .delete(key: $0) }))
    }

    /// Expires every lease whose time has come; returns how many.
    @discardableResult
    public mutating func expireLeases(nowMilliseconds now: Int64) -> Int {
        let expired = leases.filter { $0.value.expiresAtMilliseconds <= now }.keys.sorted { $0.rawValue < $1.rawValue }
        for id in expired { try? revokeLease(id) }
        return expired.count
    }
}
