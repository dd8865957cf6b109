import AsyncHTTPClient
import CoordinationStore
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// How to reach an etcd cluster.
public struct EtcdConfiguration: Sendable {
    /// Client URLs of the members, e.g. `http://127.0.0.1:2379`; tried in turn when one fails.
    public var endpoints: [String]
    /// Limit for every call but a watch.
    public var requestTimeout: Duration
    /// Limit for the first attempt on an endpoint; past it the call moves on to the next endpoint.
    /// A write sent to a leader that just died otherwise waits for etcd's own request timeout (seconds);
    /// set it near the etcd election timeout so a call outlives a leader change by little. Each
    /// further attempt of the same call may take twice as long as the one before, and the last one
    /// whatever is left of ``requestTimeout``: on a busy machine where every answer takes longer
    /// than this, a call still gets through (before, every attempt timed out and a node whose store
    /// answered in 200 ms self-fenced for want of heartbeats).
    public var attemptTimeout: Duration
    /// Optional etcd user and password (the password never reaches a log).
    public var username: String?
    public var password: String?
    /// Optional TLS (client certificate, trust roots) for `https://` endpoints.
    public var tls: TLSConfiguration?
    /// How long a watch opened on another endpoint runs before it moves back to the first one,
    /// once calls are answered there again.
    public var watchHomeAfter: Duration = .seconds(10)

    public init(
        endpoints: [String], requestTimeout: Duration = .seconds(2), attemptTimeout: Duration? = nil,
        username: String? = nil, password: String? = nil, tls: TLSConfiguration? = nil
    ) {
        self.endpoints = endpoints
        self.requestTimeout = requestTimeout
        self.attemptTimeout = attemptTimeout ?? max(requestTimeout / 4, .milliseconds(250))
        self.username = username
        self.password = password
        self.tls = tls
    }
}

/// An etcd v3 client speaking the JSON gateway over HTTP/1.1 (ADR docs/design/0006).
///
/// Every call has a deadline; a call that cannot reach a member, or reaches one without a leader,
/// moves on to the next endpoint until the deadline. Errors map onto ``StoreError`` codes.
public final class EtcdStore: CoordinationStore {
    private let configuration: EtcdConfiguration
    private let client: HTTPClient
    private let logger: Logger
    /// Index of the endpoint that answered last, the auth token, and when the first endpoint (the
    /// home one: a node's own member) last failed.
    private let state = NIOLockedValueBox<(endpoint: Int, token: String?, homeFailedAt: ContinuousClock.Instant?)>(
        (0, nil, nil))

    /// How long after a failure of the home endpoint calls stay on the others before trying it again.
    static let homeRetry: Duration = .seconds(1)

    /// The endpoint the next call starts from.
    public var currentEndpoint: String { configuration.endpoints[state.withLockedValue { $0.endpoint }] }

    /// Where a call starts: the home endpoint unless it failed within ``homeRetry``, else the one
    /// that answered last. A node's calls and watch go to its own member, so a crash of another
    /// member costs it nothing (docs/design/0023).
    fileprivate func startIndex() -> Int {
        state.withLockedValue { state in
            if state.endpoint != 0, state.homeFailedAt.map({ ContinuousClock.now - $0 >= Self.homeRetry }) ?? true {
                state.endpoint = 0
            }
            return state.endpoint
        }
    }

    /// Whether calls are back on the home endpoint and it has not failed lately.
    fileprivate var homeAnswers: Bool {
        state.withLockedValue { state in
            state.endpoint == 0 && state.homeFailedAt.map { ContinuousClock.now - $0 >= Self.homeRetry } ?? true
        }
    }

    fileprivate func failed(_ index: Int) {
        state.withLockedValue { state in
            if index == 0 { state.homeFailedAt = .now }
            if state.endpoint == index { state.endpoint = (index + 1) % configuration.endpoints.count }
        }
    }
    private let contact = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    /// When an etcd endpoint last answered a call (any answer: it is reachable), if ever.
    public var lastContact: ContinuousClock.Instant? { contact.withLockedValue { $0 } }

    /// - Parameters:
    ///   - client: an HTTP client the caller owns and shuts down.
    public init(configuration: EtcdConfiguration, client: HTTPClient, logger: Logger = Logger(label: "vigil.etcd")) {
        precondition(!configuration.endpoints.isEmpty, "EtcdConfiguration.endpoints must not be empty")
        self.configuration = configuration
        self.client = client
        self.logger = logger
    }

    /// An HTTP client set up for `configuration` (TLS if given), on NIO's shared event loops or on
    /// `eventLoopGroup` (the fence thread's own). The caller shuts it down.
    public static func makeHTTPClient(for configuration: EtcdConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil)
        -> HTTPClient
    {
        var http = HTTPClient.Configuration()
        http.tlsConfiguration = configuration.tls
        http.connectionPool = .init(idleTimeout: .seconds(60))
        http.timeout = .init(connect: .milliseconds(500), read: nil)
        if let eventLoopGroup {
            return HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: http)
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    // MARK: CoordinationStore

    public func range(prefix: String) async throws(StoreError) -> RangeResult {
        let body: [String: Any] = [
            "key": EtcdWire.encode(prefix), "range_end": EtcdWire.encode(EtcdWire.prefixEnd(prefix)),
        ]
        let response: EtcdWire.RangeResponse = try await call("/v3/kv/range", body)
        return RangeResult(
            keyValues: (response.kvs ?? []).map(\.keyValue), revision: Int64(response.header?.revision ?? "0") ?? 0)
    }

    public func firstKeys(prefix: String, limit: Int) async throws(StoreError) -> (keys: [String], total: Int) {
        let body: [String: Any] = [
            "key": EtcdWire.encode(prefix), "range_end": EtcdWire.encode(EtcdWire.prefixEnd(prefix)),
            "limit": String(max(1, limit)), "keys_only": true,
        ]
        let response: EtcdWire.RangeResponse = try await call("/v3/kv/range", body)
        let keys = (response.kvs ?? []).map(\.keyValue.key)
        return (Array(keys.prefix(max(0, limit))), Int(response.count ?? "0") ?? keys.count)
    }

    public func range(prefix: String, excluding excluded: [String]) async throws(StoreError) -> RangeResult {
        let ranges = Self.rangesExcluding(prefix: prefix, excluded: excluded)
        let body: [String: Any] = [
            "compare": [Any](),
            "success": ranges.map {
                ["request_range": ["key": EtcdWire.encode($0.start), "range_end": EtcdWire.encode($0.end)]]
            },
        ]
        let response: EtcdWire.TxnResponse = try await call("/v3/kv/txn", body)
        let keyValues = (response.responses ?? []).flatMap { $0.response_range?.kvs ?? [] }.map(\.keyValue)
        return RangeResult(keyValues: keyValues, revision: Int64(response.header?.revision ?? "0") ?? 0)
    }

    public func transaction(_ transaction: Transaction) async throws(StoreError) -> TransactionResult {
        let response: EtcdWire.TxnResponse = try await call("/v3/kv/txn", EtcdWire.transaction(transaction))
        return Self.result(of: transaction, response, revision: Int64(response.header?.revision ?? "0") ?? 0)
    }

    /// One request of nested transactions (at most ``batchLimit`` per call, etcd's default
    /// `--max-txn-ops` being 128).
    public func transactions(_ batch: [Transaction]) async throws(StoreError) -> [TransactionResult] {
        guard batch.count > 1 else { return batch.isEmpty ? [] : [try await transaction(batch[0])] }
        precondition(batch.count <= Self.batchLimit, "\(batch.count) transactions in one call")
        let response: EtcdWire.TxnResponse = try await call("/v3/kv/txn", EtcdWire.transactions(batch))
        let revision = Int64(response.header?.revision ?? "0") ?? 0
        let nested = response.responses ?? []
        guard nested.count == batch.count else {
            throw StoreError(.unavailable, "etcd answered \(nested.count) of \(batch.count) nested transactions")
        }
        return zip(batch, nested).map { transaction, op in
            Self.result(of: transaction, op.response_txn ?? EtcdWire.TxnResponse(), revision: revision)
        }
    }

    /// Nested transactions in one call at most.
    public static let batchLimit = 100

    static func result(of transaction: Transaction, _ response: EtcdWire.TxnResponse, revision: Int64)
        -> TransactionResult
    {
        let succeeded = response.succeeded ?? false
        let branch = succeeded ? transaction.success : transaction.failure
        var gets: [KeyValue?] = []
        for (index, operation) in branch.enumerated() {
            guard case .get = operation else { continue }
            let kvs = response.responses.flatMap { index < $0.count ? $0[index].response_range?.kvs : nil }
            gets.append(kvs?.first?.keyValue)
        }
        return TransactionResult(succeeded: succeeded, revision: revision, gets: gets)
    }

    public func grantLease(ttlSeconds: Int64) async throws(StoreError) -> Lease {
        let response: EtcdWire.LeaseGrantResponse = try await call("/v3/lease/grant", ["TTL": String(ttlSeconds)])
        if let error = response.error, !error.isEmpty { throw StoreError(.invalidArgument, error) }
        guard let id = response.ID.flatMap(Int64.init) else {
            throw StoreError(.invalidArgument, "lease grant answered without an ID")
        }
        return Lease(id: LeaseID(id), ttlSeconds: Int64(response.TTL ?? "0") ?? 0)
    }

    public func keepAlive(_ lease: LeaseID) async throws(StoreError) -> Int64 {
        let response: EtcdWire.LeaseKeepAliveResponse = try await call(
            "/v3/lease/keepalive", ["ID": String(lease.rawValue)])
        let ttl = Int64(response.result?.TTL ?? "0") ?? 0
        guard ttl > 0 else { throw StoreError(.leaseNotFound, "lease \(lease) not found") }
        return ttl
    }

    public func timeToLive(_ lease: LeaseID) async throws(StoreError) -> Int64 {
        let response: EtcdWire.LeaseTimeToLiveResponse = try await call(
            "/v3/lease/timetolive", ["ID": String(lease.rawValue)])
        let ttl = Int64(response.TTL ?? "-1") ?? -1
        guard ttl >= 0 else { throw StoreError(.leaseNotFound, "lease \(lease) not found") }
        return ttl
    }

    public func revokeLease(_ lease: LeaseID) async throws(StoreError) {
        _ = try await rawCall("/v3/lease/revoke", ["ID": String(lease.rawValue)])
    }

    public func compact(revision: Int64) async throws(StoreError) {
        _ = try await rawCall("/v3/kv/compaction", ["revision": String(revision), "physical": false])
    }

    public func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<[WatchEvent], any Error> {
        let session = WatchSession(store: self, prefix: prefix, fromRevision: revision)
        return AsyncThrowingStream(unfolding: { try await session.next() })
    }

    // MARK: Calls

    private func call<T: Decodable>(_ path: String, _ body: [String: Any]) async throws(StoreError) -> T {
        let data = try await rawCall(path, body)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw StoreError(.invalidArgument, "cannot decode etcd's answer to \(path): \(error)")
        }
    }

    /// POSTs `body` to `path`, trying each endpoint in turn until the request deadline.
    private func rawCall(_ path: String, _ body: [String: Any]) async throws(StoreError) -> Data {
        let payload: Data
        do {
            payload = try JSONSerialization.data(withJSONObject: body)
        } catch {
            throw StoreError(.invalidArgument, "cannot encode request to \(path): \(error)")
        }
        let deadline = ContinuousClock.now + configuration.requestTimeout
        var lastError = StoreError(.unavailable, "no etcd endpoint answered")
        var reauthenticated = false
        let count = configuration.endpoints.count
        var attempt = 0
        var index = startIndex()
        while attempt < count * 3, ContinuousClock.now < deadline {
            let token = state.withLockedValue { $0.token }
            let endpoint = configuration.endpoints[index % count]
            do {
                if configuration.username != nil, token == nil {
                    try await authenticate(endpoint: endpoint, deadline: deadline)
                }
                let attemptDeadline =
                    attempt == count * 3 - 1
                    ? deadline
                    : min(deadline, ContinuousClock.now + configuration.attemptTimeout * (1 << min(attempt, 6)))
                return try await post(
                    endpoint + path, payload, token: state.withLockedValue { $0.token }, deadline: attemptDeadline)
            } catch let error as StoreError {
                lastError = error
                Counter(label: "vigil_store_errors_total", dimensions: [("kind", error.code.metricLabel)]).increment()
                switch error.code {
                case .unauthorized where configuration.username != nil && !reauthenticated:
                    reauthenticated = true
                    state.withLockedValue { $0.token = nil }
                    continue
                case .unavailable, .timeout:
                    // A cancelled call (the agent stopping, a reader gone) says nothing about the
                    // endpoint: before, it was marked failed and the call went on to every other one.
                    if Task.isCancelled { throw error }
                    logger.debug(
                        "etcd endpoint failed", metadata: ["vigil.endpoint": "\(endpoint)", "vigil.error": "\(error)"])
                    failed(index % count)
                    index = (index + 1) % count
                    attempt += 1
                default:
                    throw error
                }
            } catch {
                throw StoreError(.unavailable, "\(error)")
            }
        }
        if ContinuousClock.now >= deadline, lastError.code != .timeout {
            throw StoreError(.timeout, "no answer within \(configuration.requestTimeout): \(lastError.message)")
        }
        throw lastError
    }

    private func authenticate(endpoint: String, deadline: ContinuousClock.Instant) async throws {
        guard let username = configuration.username else { return }
        let body = try JSONSerialization.data(withJSONObject: [
            "name": username, "password": configuration.password ?? "",
        ])
        let data = try await post(endpoint + "/v3/auth/authenticate", body, token: nil, deadline: deadline)
        let token = try JSONDecoder().decode(EtcdWire.AuthenticateResponse.self, from: data).token
        guard let token else { throw StoreError(.unauthorized, "etcd gave no token for user \(username)") }
        state.withLockedValue { $0.token = token }
    }

    private func request(_ url: String, _ payload: Data, token: String?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: token) }
        request.body = .bytes(ByteBuffer(bytes: payload))
        return request
    }

    private func post(_ url: String, _ payload: Data, token: String?, deadline: ContinuousClock.Instant)
        async throws(StoreError) -> Data
    {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw StoreError(.timeout, "deadline passed before \(url)") }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request(url, payload, token: token), timeout: TimeAmount(remaining))
            bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw StoreError(.timeout, "\(url): \(error)")
        } catch {
            throw StoreError(.unavailable, "\(url): \(error)")
        }
        contact.withLockedValue { $0 = ContinuousClock.now }
        let data = Data(bytes.readableBytesView)
        guard response.status == .ok else { throw Self.error(status: response.status.code, body: data) }
        return data
    }

    /// Maps an error answer onto a ``StoreError`` (gRPC codes as the gateway reports them).
    static func error(status: UInt, body: Data) -> StoreError {
        let parsed = try? JSONDecoder().decode(EtcdWire.ErrorBody.self, from: body)
        let text = parsed?.text ?? String(decoding: body, as: UTF8.self)
        if text.contains("authentication failed") || text.contains("invalid auth token")
            || text.contains("user name is empty")
            || text.contains("permission denied")
        {
            return StoreError(.unauthorized, text)
        }
        switch parsed?.grpcCode {
        case 5?: return StoreError(.leaseNotFound, text)
        case 11?: return StoreError(.compacted(compactRevision: 0), text)
        case 14?, 10?, 13?: return StoreError(.unavailable, text)
        case 4?: return StoreError(.timeout, text)
        case 7?, 16?: return StoreError(.unauthorized, text)
        case 3?:
            return text.contains("compacted")
                ? StoreError(.compacted(compactRevision: 0), text) : StoreError(.invalidArgument, text)
        default:
            if text.contains("no leader") || text.contains("leader changed") || status == 503 {
                return StoreError(.unavailable, text)
            }
            return StoreError(.invalidArgument, "HTTP \(status): \(text)")
        }
    }

    // MARK: Watch

    /// One watch request: its chunked answer read line by line, one batch of events per message.
    /// Used only by the consuming task, one `next()` at a time.
    final class WatchSession: @unchecked Sendable {
        let store: EtcdStore
        let prefix: String
        let fromRevision: Int64
        private var iterator: HTTPClientResponse.Body.AsyncIterator?
        private var pending = Data()
        /// The endpoint the watch runs on, and since when.
        private var opened: (index: Int, at: ContinuousClock.Instant)?

        init(store: EtcdStore, prefix: String, fromRevision: Int64) {
            self.store = store
            self.prefix = prefix
            self.fromRevision = fromRevision
        }

        func next() async throws -> [WatchEvent]? {
            if iterator == nil { try await open() }
            while true {
                if let line = takeLine() {
                    if let events = try decode(line) {
                        try moveHomeIfDue()
                        return events
                    }
                    continue
                }
                guard let chunk = try await iterator?.next() else {
                    throw StoreError(.unavailable, "watch connection closed by etcd")
                }
                pending.append(contentsOf: Data(chunk.readableBytesView))
            }
        }

        /// A watch opened on another member (the home one was starting, or failed) ends once the
        /// store's calls are back home: the watcher opens it again there, from where it stood.
        private func moveHomeIfDue() throws {
            guard let opened, opened.index != 0, ContinuousClock.now - opened.at >= store.configuration.watchHomeAfter,
                store.homeAnswers
            else { return }
            throw WatchRelocated(reason: "the store's calls are back on its first endpoint")
        }

        private func takeLine() -> Data? {
            guard let newline = pending.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let line = pending[pending.startIndex..<newline]
            pending = Data(pending[(newline + 1)...])
            return line.isEmpty ? Data() : Data(line)
        }

        /// Events of one message, or nil for messages without events (created, progress).
        private func decode(_ line: Data) throws -> [WatchEvent]? {
            guard !line.isEmpty else { return nil }
            let message = try JSONDecoder().decode(EtcdWire.WatchMessage.self, from: line)
            if let error = message.error { throw StoreError(.unavailable, "watch: \(error.text)") }
            guard let result = message.result else { return nil }
            if let compacted = result.compact_revision.flatMap(Int64.init), compacted > 0 {
                throw StoreError(
                    .compacted(compactRevision: compacted),
                    "watch from revision \(fromRevision): history compacted up to \(compacted)")
            }
            if result.canceled == true {
                throw StoreError(.unavailable, "watch canceled: \(result.cancel_reason ?? "no reason given")")
            }
            guard let events = result.events, !events.isEmpty else { return nil }
            return events.compactMap { event in
                guard var kv = event.kv?.keyValue else { return nil }
                if event.type == "DELETE" {
                    kv.value = []
                    return WatchEvent(kind: .delete, keyValue: kv)
                }
                return WatchEvent(kind: .put, keyValue: kv)
            }
        }

        private func open() async throws {
            let body: [String: Any] = [
                "create_request": [
                    "key": EtcdWire.encode(prefix), "range_end": EtcdWire.encode(EtcdWire.prefixEnd(prefix)),
                    "start_revision": String(fromRevision),
                ]
            ]
            let payload = try JSONSerialization.data(withJSONObject: body)
            var lastError: any Error = StoreError(.unavailable, "no etcd endpoint answered the watch")
            let count = store.configuration.endpoints.count
            let start = store.startIndex()
            for offset in 0..<count {
                let index = (start + offset) % count
                let endpoint = store.configuration.endpoints[index]
                do {
                    let token = store.state.withLockedValue { $0.token }
                    let request = store.request(endpoint + "/v3/watch", payload, token: token)
                    let response = try await store.client.execute(request, deadline: .distantFuture)
                    guard response.status == .ok else {
                        let body = try await response.body.collect(upTo: 1024 * 1024)
                        throw EtcdStore.error(status: response.status.code, body: Data(body.readableBytesView))
                    }
                    iterator = response.body.makeAsyncIterator()
                    opened = (index, .now)
                    return
                } catch {
                    lastError = error
                    store.failed(index)
                }
            }
            throw lastError
        }
    }
}

extension StoreError.Code {
    /// The `kind` label of `vigil_store_errors_total`.
    var metricLabel: String {
        switch self {
        case .unavailable: "unavailable"
        case .timeout: "timeout"
        case .compacted: "compacted"
        case .leaseNotFound: "lease_not_found"
        case .invalidArgument: "invalid_argument"
        case .unauthorized: "unauthorized"
        }
    }
}
