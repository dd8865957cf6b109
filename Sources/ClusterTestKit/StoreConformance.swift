import CoordinationStore

/// One conformance suite for every `CoordinationStore`: the in-memory store must behave as etcd does
/// in each case here; where they differ, etcd is right.
///
/// Each check uses keys under its own `prefix` and only relative revisions, so it can run against a
/// shared, long-lived etcd.
public struct StoreConformance: Sendable {
    /// A failed conformance check.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let store: any CoordinationStore
    public let prefix: String
    /// Lets at least this many milliseconds pass on the store's clock (sleep for a real store).
    public let advance: @Sendable (Int64) async -> Void

    public init(store: any CoordinationStore, prefix: String, advance: @escaping @Sendable (Int64) async -> Void) {
        self.store = store
        self.prefix = prefix
        self.advance = advance
    }

    /// Every check, by name, for parameterised tests.
    public static let checks: [String] = [
        "revisions", "range", "rangeExcluding", "firstKeys", "createIfAbsent", "compareTargets", "deleteMissing",
        "deletePrefix",
        "leases",
        "leaseExpiry", "batch", "watchOrder", "watchResume", "watchCompacted", "watchDelete",
    ]

    /// Runs the check called `name`.
    public func run(_ name: String) async throws {
        switch name {
        case "revisions": try await revisions()
        case "range": try await range()
        case "rangeExcluding": try await rangeExcluding()
        case "firstKeys": try await firstKeys()
        case "createIfAbsent": try await createIfAbsent()
        case "compareTargets": try await compareTargets()
        case "deleteMissing": try await deleteMissing()
        case "deletePrefix": try await deletePrefix()
        case "leases": try await leases()
        case "leaseExpiry": try await leaseExpiry()
        case "batch": try await batch()
        case "watchOrder": try await watchOrder()
        case "watchResume": try await watchResume()
        case "watchCompacted": try await watchCompacted()
        case "watchDelete": try await watchDelete()
        default: throw Failure(description: "no check named \(name)")
        }
    }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: message()) }
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Each put is one new revision; versions count puts; the create revision stays.
    public func revisions() async throws {
        let key = prefix + "rev"
        let first = try await store.put(key, bytes("a"))
        let second = try await store.put(key, bytes("b"))
        try expect(second == first + 1, "second put revision \(second), expected \(first + 1)")
        let kv = try await store.get(key)
        try expect(
            kv?.createRevision == first, "create revision \(String(describing: kv?.createRevision)), expected \(first)")
        try expect(kv?.modRevision == second, "mod revision \(String(describing: kv?.modRevision)), expected \(second)")
        try expect(kv?.version == 2, "version \(String(describing: kv?.version)), expected 2")
        try expect(kv?.value == bytes("b"), "value not the last put")
    }

    /// A prefix range returns exactly the keys under it, sorted, with the current revision.
    public func range() async throws {
        for name in ["b", "a", "c"] { try await store.put(prefix + "range/" + name, bytes(name)) }
        try await store.put(prefix + "rangeX", bytes("outside"))
        let result = try await store.range(prefix: prefix + "range/")
        try expect(
            result.keyValues.map(\.key) == ["a", "b", "c"].map { prefix + "range/" + $0 },
            "range keys \(result.keyValues.map(\.key))")
        let last = try await store.put(prefix + "range-probe", bytes("x"))
        try expect(result.revision < last, "range revision \(result.revision) not before a later put \(last)")
    }

    /// The oldest keys of a log and its length, without its values.
    public func firstKeys() async throws {
        let base = prefix + "log/"
        for name in ["3", "1", "4", "2", "5"] {
            try await store.put(base + name, bytes(String(repeating: name, count: 100)))
        }
        try await store.put(prefix + "logX", bytes("outside"))
        let first = try await store.firstKeys(prefix: base, limit: 2)
        try expect(first.keys == [base + "1", base + "2"], "first keys \(first.keys)")
        try expect(first.total == 5, "total \(first.total), expected 5")
        let all = try await store.firstKeys(prefix: base, limit: 100)
        try expect(all.keys.count == 5 && all.total == 5, "all: \(all.keys.count) keys, total \(all.total)")
        let none = try await store.firstKeys(prefix: prefix + "nothing/", limit: 10)
        try expect(none.keys.isEmpty && none.total == 0, "empty prefix: \(none)")
    }

    /// A range without some sub-prefixes (the view without its event log): exactly the other keys,
    /// in key order, on both sides of the cut, and the keys right beside a cut's boundaries.
    public func rangeExcluding() async throws {
        let base = prefix + "cut/"
        let names = ["a", "config", "events/1", "events/2", "events0", "eventsX", "idempotency/k", "members/n1", "z"]
        for name in names { try await store.put(base + name, bytes(name)) }
        try await store.put(prefix + "cutX", bytes("outside"))
        let result = try await store.range(prefix: base, excluding: [base + "events/", base + "idempotency/"])
        let expected = ["a", "config", "events0", "eventsX", "members/n1", "z"].map { base + $0 }
        try expect(result.keyValues.map(\.key) == expected, "range keys \(result.keyValues.map(\.key))")
        let whole = try await store.range(prefix: base, excluding: [])
        try expect(whole.keyValues.count == names.count, "excluding nothing: \(whole.keyValues.count) keys")
        try expect(
            result.revision == whole.revision,
            "two reads without writes between: revisions \(result.revision), \(whole.revision)")
        let last = try await store.put(prefix + "cut-probe", bytes("x"))
        try expect(result.revision < last, "range revision \(result.revision) not before a later put \(last)")
    }

    /// create_revision == 0 guards a create; the failure branch reads the existing key.
    public func createIfAbsent() async throws {
        let key = prefix + "member"
        let create = Transaction(
            compare: [.absent(key)], success: [.put(key: key, value: bytes("one"))], failure: [.get(key: key)])
        let first = try await store.transaction(create)
        try expect(first.succeeded, "first create failed")
        let second = try await store.transaction(create)
        try expect(!second.succeeded, "second create succeeded")
        try expect(second.gets.first??.value == bytes("one"), "failure branch did not read the key")
        try expect(second.revision == first.revision, "a failed compare with only reads changed the revision")
    }

    /// Independent transactions in one call: each compare decides its own branch only, the
    /// results come in order, a failure branch's read is answered.
    public func batch() async throws {
        let taken = prefix + "batch/taken"
        _ = try await store.put(taken, bytes("old"))
        let results = try await store.transactions([
            Transaction(
                compare: [.absent(prefix + "batch/a")], success: [.put(key: prefix + "batch/a", value: bytes("a"))]),
            Transaction(
                compare: [.absent(taken)], success: [.put(key: taken, value: bytes("new"))], failure: [.get(key: taken)]
            ),
            Transaction(
                compare: [.absent(prefix + "batch/c")], success: [.put(key: prefix + "batch/c", value: bytes("c"))]),
            Transaction(
                compare: [.absent(prefix + "batch/d")], success: [.put(key: prefix + "batch/d", value: bytes("d"))]),
        ])
        try expect(results.map(\.succeeded) == [true, false, true, true], "results \(results.map(\.succeeded))")
        try expect(results[1].gets.first??.value == bytes("old"), "the failure branch did not read the key")
        let stored = try await store.range(prefix: prefix + "batch/").keyValues
        try expect(
            stored.map { String(decoding: $0.value, as: UTF8.self) } == ["a", "c", "d", "old"],
            "stored \(stored.map(\.key))")
        try expect(try await store.transactions([]).isEmpty, "an empty batch answered something")
    }

    /// Compares on create, mod revision, version and value, equal and not.
    public func compareTargets() async throws {
        let key = prefix + "cmp"
        let revision = try await store.put(key, bytes("v1"))
        let cases: [(Compare, Bool)] = [
            (Compare(key: key, .createRevision(revision)), true),
            (Compare(key: key, .modRevision(revision)), true),
            (Compare(key: key, .modRevision(revision - 1)), false),
            (Compare(key: key, .modRevision(revision), .notEqual), false),
            (Compare(key: key, .modRevision(revision - 1), .greater), true),
            (Compare(key: key, .modRevision(revision + 1), .less), true),
            (Compare(key: key, .version(1)), true),
            (Compare(key: key, .value(bytes("v1"))), true),
            (Compare(key: key, .value(bytes("v2"))), false),
            (Compare(key: prefix + "missing", .value(bytes(""))), false),
            (Compare(key: prefix + "missing", .modRevision(0)), true),
        ]
        for (index, (compare, expected)) in cases.enumerated() {
            let result = try await store.transaction(Transaction(compare: [compare], success: []))
            try expect(result.succeeded == expected, "compare case \(index) (\(compare)) gave \(result.succeeded)")
        }
    }

    /// Deleting a missing key changes nothing, not even the revision.
    public func deleteMissing() async throws {
        let before = try await store.put(prefix + "anchor", bytes("x"))
        let after = try await store.delete(prefix + "never-there")
        try expect(after == before, "deleting a missing key moved the revision from \(before) to \(after)")
    }

    /// A prefix delete removes every key under the prefix in one revision.
    public func deletePrefix() async throws {
        for name in ["a", "b"] { try await store.put(prefix + "del/" + name, bytes(name)) }
        let keep = prefix + "delkeep"
        try await store.put(keep, bytes("k"))
        let before = try await store.range(prefix: prefix).revision
        let result = try await store.transaction(Transaction(compare: [], success: [.deletePrefix(prefix + "del/")]))
        try expect(result.revision == before + 1, "prefix delete took \(result.revision - before) revisions")
        try expect(try await store.range(prefix: prefix + "del/").keyValues.isEmpty, "keys left under the prefix")
        try expect(try await store.get(keep) != nil, "a key outside the prefix was deleted")
    }

    /// Grant, attach, keep alive, time to live, revoke (which deletes the keys), then leaseNotFound.
    public func leases() async throws {
        let lease = try await store.grantLease(ttlSeconds: 5)
        try expect(lease.ttlSeconds >= 5, "granted TTL \(lease.ttlSeconds) below the 5 s asked")
        let key = prefix + "session"
        try await store.put(key, bytes("s"), lease: lease.id)
        try expect(try await store.get(key)?.lease == lease.id, "key not attached to the lease")
        let ttl = try await store.keepAlive(lease.id)
        try expect(ttl >= 5, "keep-alive TTL \(ttl)")
        let remaining = try await store.timeToLive(lease.id)
        try expect(remaining > 0 && remaining <= lease.ttlSeconds, "time to live \(remaining)")
        try await store.revokeLease(lease.id)
        try expect(try await store.get(key) == nil, "revoking did not delete the key")
        do {
            _ = try await store.keepAlive(lease.id)
            throw Failure(description: "keep-alive of a revoked lease succeeded")
        } catch let error as StoreError {
            try expect(error.code == .leaseNotFound, "keep-alive after revoke: \(error)")
        }
        do {
            try await store.put(prefix + "orphan", bytes("x"), lease: lease.id)
            throw Failure(description: "a put with a revoked lease succeeded")
        } catch let error as StoreError {
            try expect(error.code == .leaseNotFound, "put with revoked lease: \(error)")
        }
    }

    /// A lease not kept alive expires (never early) and takes its keys with it.
    public func leaseExpiry() async throws {
        let lease = try await store.grantLease(ttlSeconds: 1)
        let key = prefix + "expiring"
        try await store.put(key, bytes("x"), lease: lease.id)
        await advance(lease.ttlSeconds * 1000 / 2)
        try expect(try await store.get(key) != nil, "the key vanished before half its TTL")
        var gone = false
        for _ in 0..<40 where !gone {
            await advance(250)
            gone = try await store.get(key) == nil
        }
        try expect(gone, "the key outlived its lease by 10 s")
    }

    /// Collects `count` events from a watch; fails if they do not arrive within `limit`.
    func collect(
        _ stream: AsyncThrowingStream<[WatchEvent], any Error>, count: Int, limit: Duration = .seconds(10)
    ) async throws -> [WatchEvent] {
        try await withThrowingTaskGroup(of: [WatchEvent]?.self) { group in
            group.addTask {
                var events: [WatchEvent] = []
                for try await batch in stream {
                    events += batch
                    if events.count >= count { break }
                }
                return events
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let events = try await group.next() ?? nil else {
                throw Failure(description: "fewer than \(count) watch events within \(limit)")
            }
            return events
        }
    }

    /// A watch from a revision replays history, then follows live changes, in revision order.
    public func watchOrder() async throws {
        let start = try await store.put(prefix + "w/a", bytes("1"))
        try await store.put(prefix + "w/b", bytes("2"))
        let stream = store.watch(prefix: prefix + "w/", fromRevision: start)
        try await store.put(prefix + "w/a", bytes("3"))
        try await store.put(prefix + "other", bytes("not watched"))
        let events = try await collect(stream, count: 3)
        try expect(
            events.map { String(decoding: $0.keyValue.value, as: UTF8.self) } == ["1", "2", "3"],
            "watch values \(events.map { String(decoding: $0.keyValue.value, as: UTF8.self) })")
        let revisions = events.map(\.keyValue.modRevision)
        try expect(revisions == revisions.sorted() && Set(revisions).count == 3, "watch revisions \(revisions)")
    }

    /// Resuming from the last seen revision + 1 loses and repeats nothing.
    public func watchResume() async throws {
        let start = try await store.put(prefix + "r/k", bytes("0"))
        let first = try await collect(store.watch(prefix: prefix + "r/", fromRevision: start), count: 1)
        for value in 1...3 { try await store.put(prefix + "r/k", bytes(String(value))) }
        let resumed = try await collect(
            store.watch(prefix: prefix + "r/", fromRevision: first[0].keyValue.modRevision + 1), count: 3)
        try expect(
            resumed.map { String(decoding: $0.keyValue.value, as: UTF8.self) } == ["1", "2", "3"], "resumed values")
    }

    /// A watch from a compacted revision fails with `compacted`.
    public func watchCompacted() async throws {
        let old = try await store.put(prefix + "c/k", bytes("old"))
        let latest = try await store.put(prefix + "c/k", bytes("new"))
        try await store.compact(revision: latest)
        do {
            _ = try await collect(store.watch(prefix: prefix + "c/", fromRevision: old), count: 1)
            throw Failure(description: "a watch from a compacted revision delivered events")
        } catch let error as StoreError {
            guard case .compacted(let at) = error.code else {
                throw Failure(description: "expected compacted, got \(error)")
            }
            try expect(at >= latest, "compact revision \(at), expected at least \(latest)")
        }
    }

    /// Deletes arrive as delete events carrying the key and the delete's revision.
    public func watchDelete() async throws {
        let put = try await store.put(prefix + "d/k", bytes("x"))
        let stream = store.watch(prefix: prefix + "d/", fromRevision: put + 1)
        let deleted = try await store.delete(prefix + "d/k")
        let events = try await collect(stream, count: 1)
        try expect(
            events.first?.kind == .delete, "expected a delete event, got \(String(describing: events.first?.kind))")
        try expect(events.first?.keyValue.key == prefix + "d/k", "delete event key")
        try expect(events.first?.keyValue.modRevision == deleted, "delete event revision")
    }
}
