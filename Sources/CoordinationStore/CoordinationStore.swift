/// A key with its value and revisions, as etcd returns it.
public struct KeyValue: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    /// Number of writes since the key was created (1 after the first put).
    public var version: Int64
    /// The lease the key is attached to, if any.
    public var lease: LeaseID?

    public init(
        key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: LeaseID? = nil
    ) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// An etcd lease identifier.
public struct LeaseID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// A granted lease.
public struct Lease: Hashable, Sendable {
    public var id: LeaseID
    /// Time to live granted by the server, in whole seconds as etcd counts them.
    public var ttlSeconds: Int64
    public init(id: LeaseID, ttlSeconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
    }
}

/// A condition of a transaction, on one key (a missing key has revisions and version 0, empty value).
public struct Compare: Hashable, Sendable {
    public enum Target: Hashable, Sendable {
        case createRevision(Int64)
        case modRevision(Int64)
        case version(Int64)
        case value([UInt8])
    }

    public enum Result: Hashable, Sendable {
        case equal, notEqual, greater, less
    }

    public var key: String
    public var target: Target
    public var result: Result

    public init(key: String, _ target: Target, _ result: Result = .equal) {
        self.key = key
        self.target = target
        self.result = result
    }

    /// The key does not exist.
    public static func absent(_ key: String) -> Compare { Compare(key: key, .createRevision(0)) }
}

/// One operation of a transaction branch.
public enum StoreOperation: Hashable, Sendable {
    case put(key: String, value: [UInt8], lease: LeaseID? = nil)
    case delete(key: String)
    case deletePrefix(String)
    case get(key: String)
}

/// A transaction: if every compare holds, run `success`, else `failure`; atomically, one revision.
public struct Transaction: Hashable, Sendable {
    public var compare: [Compare]
    public var success: [StoreOperation]
    public var failure: [StoreOperation]

    public init(compare: [Compare], success: [StoreOperation], failure: [StoreOperation] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

/// What a transaction did.
public struct TransactionResult: Hashable, Sendable {
    public var succeeded: Bool
    /// The store's revision after the transaction.
    public var revision: Int64
    /// Results of the `get` operations of the branch that ran, in order.
    public var gets: [KeyValue?]

    public init(succeeded: Bool, revision: Int64, gets: [KeyValue?] = []) {
        self.succeeded = succeeded
        self.revision = revision
        self.gets = gets
    }
}

/// Keys under a prefix at one revision.
public struct RangeResult: Hashable, Sendable {
    public var keyValues: [KeyValue]
    public var revision: Int64
    public init(keyValues: [KeyValue], revision: Int64) {
        self.keyValues = keyValues
        self.revision = revision
    }
}

/// One change seen by a watch.
public struct WatchEvent: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case put, delete }
    public var kind: Kind
    /// For a delete: the key with `modRevision` = the delete's revision and an empty value.
    public var keyValue: KeyValue

    public init(kind: Kind, keyValue: KeyValue) {
        self.kind = kind
        self.keyValue = keyValue
    }
}

/// Ends a watch on purpose: the store would serve it better elsewhere (its client is back on a
/// node's own member). Nothing is lost; open the watch again at once from where it stood.
public struct WatchRelocated: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "watch relocated: \(reason)" }
}

/// Errors of the coordination store.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// No endpoint answered, or the cluster has no quorum.
        case unavailable
        /// The call did not finish within its timeout; it may or may not have been applied.
        case timeout
        /// The requested revision is older than the compaction point: re-read everything.
        case compacted(compactRevision: Int64)
        /// The lease does not exist (expired or revoked).
        case leaseNotFound
        /// The request was refused as malformed.
        case invalidArgument
        /// Authentication failed or permission denied.
        case unauthorized
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// The coordination store Vigil runs on: etcd v3 semantics.
///
/// Implementations MUST give each transaction one new revision, keep revisions strictly increasing,
/// deliver watch events in revision order without gaps, and throw `compacted` rather than skip history.
public protocol CoordinationStore: Sendable {
    /// Keys starting with `prefix` (all of them), with the store revision.
    func range(prefix: String) async throws(StoreError) -> RangeResult
    /// Keys starting with `prefix` but with none of the `excluded` prefixes, sorted by key, all
    /// read at one revision (one etcd transaction of several ranges): a view of the cluster
    /// without its event log costs no more to read when the log is full.
    func range(prefix: String, excluding excluded: [String]) async throws(StoreError) -> RangeResult
    /// The first `limit` keys under `prefix` in key order (no values), and how many there are in
    /// all: what trimming a log needs, without reading the log (etcd: `limit`, `keys_only`, `count`).
    func firstKeys(prefix: String, limit: Int) async throws(StoreError) -> (keys: [String], total: Int)
    /// Runs a transaction.
    func transaction(_ transaction: Transaction) async throws(StoreError) -> TransactionResult
    /// Runs independent transactions in one call, their results in order: each one's compares
    /// choose only its own branch. etcd applies them in one request and one revision (nested
    /// transactions), so the keys they write must all differ; a store may also apply them one after
    /// another. A call that fails leaves unknown which of them were applied, as for one transaction.
    func transactions(_ batch: [Transaction]) async throws(StoreError) -> [TransactionResult]
    /// Grants a lease of at least `ttlSeconds` seconds.
    func grantLease(ttlSeconds: Int64) async throws(StoreError) -> Lease
    /// Renews a lease; returns its new time to live. Throws `leaseNotFound` if it is gone.
    func keepAlive(_ lease: LeaseID) async throws(StoreError) -> Int64
    /// Remaining time to live in seconds; throws `leaseNotFound` if it is gone.
    func timeToLive(_ lease: LeaseID) async throws(StoreError) -> Int64
    /// Revokes a lease and deletes its keys.
    func revokeLease(_ lease: LeaseID) async throws(StoreError)
    /// Compacts history up to `revision`.
    func compact(revision: Int64) async throws(StoreError)
    /// Changes under `prefix` from `revision` on, batched per revision.
    ///
    /// The stream throws `compacted` if `revision` is already compacted, or another error when the
    /// connection is lost; callers resume from the last revision seen + 1.
    func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<[WatchEvent], any Error>
}

extension CoordinationStore {
    /// One after another: for stores where a call costs nothing (in memory).
    public func transactions(_ batch: [Transaction]) async throws(StoreError) -> [TransactionResult] {
        var results: [TransactionResult] = []
        for transaction in batch { results.append(try await self.transaction(transaction)) }
        return results
    }

    /// A whole read, cut: for stores where a read costs nothing (in memory).
    public func firstKeys(prefix: String, limit: Int) async throws(StoreError) -> (keys: [String], total: Int) {
        let all = try await range(prefix: prefix).keyValues
        return (all.prefix(max(0, limit)).map(\.key), all.count)
    }

    /// Writes `value` at `key` unconditionally; returns the new revision.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: LeaseID? = nil) async throws(StoreError) -> Int64 {
        try await transaction(Transaction(compare: [], success: [.put(key: key, value: value, lease: lease)])).revision
    }

    /// Reads one key.
    public func get(_ key: String) async throws(StoreError) -> KeyValue? {
        try await transaction(Transaction(compare: [], success: [.get(key: key)])).gets.first ?? nil
    }

    /// Deletes one key; returns the new revision.
    @discardableResult
    public func delete(_ key: String) async throws(StoreError) -> Int64 {
        try await transaction(Transaction(compare: [], success: [.delete(key: key)])).revision
    }
}

extension CoordinationStore {
    /// The key ranges of `prefix` minus `excluded`: [start, end) pairs in key order (ends as
    /// exclusive upper bounds, the last one the prefix's own end).
    public static func rangesExcluding(prefix: String, excluded: [String]) -> [(start: String, end: String)] {
        let end = prefixEnd(prefix)
        var ranges: [(start: String, end: String)] = []
        var start = prefix
        for cut in excluded.filter({ $0.hasPrefix(prefix) && $0 != prefix }).sorted() {
            if cut > start { ranges.append((start, cut)) }
            start = max(start, prefixEnd(cut))
        }
        if start < end { ranges.append((start, end)) }
        return ranges
    }

    /// The first key after every key starting with `prefix` (its last byte raised by one).
    public static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }
}
