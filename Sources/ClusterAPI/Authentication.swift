import ClusterClient
import ClusterModel
import CoordinationStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import NIOConcurrencyHelpers

/// Who made a request, and what they may do.
public struct Identity: Sendable, Hashable {
    public var user: String
    public var role: Role
    /// The mod revision of the user's record this identity was proven against (nil: root@local).
    public var userRevision: Int64?

    public init(user: String, role: Role, userRevision: Int64? = nil) {
        self.user = user
        self.role = role
        self.userRevision = userRevision
    }

    /// Root on this node, through the Unix socket only root can open.
    public static let localRoot = Identity(user: "root@local", role: .admin)
}

/// The request context of every API route: Hummingbird's core storage plus the caller's identity.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    /// The caller's IP address ("local" on the Unix socket), for login throttling and the event log.
    public var sourceAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        sourceAddress = source.channel.remoteAddress?.ipAddress ?? "local"
    }

    /// Bodies are small JSON documents (a resource definition with its scripts is at most ~1 MiB).
    public var maxUploadSize: Int { 1024 * 1024 }
}

/// Users, passwords and sessions in the store. Passwords are kept as bcrypt hashes (cost 11, salted);
/// a session is a random token whose SHA-256 is the key of a record on a lease, so it expires by
/// itself and survives the failover of the node that granted it.
///
/// The lease slides: a session unused for `idleSeconds` ends; one in use is renewed (at most once
/// a minute per node, one keep-alive) up to `sessionSeconds` after the login, then ends anyway.
public struct Authenticator: Sendable {
    /// The longest a session lives, however busy.
    public static let sessionSeconds: Int64 = 8 * 3600
    /// A session nobody used for this long ends (the lease's TTL, renewed by use).
    public static let idleSeconds: Int64 = 3600
    /// Uses of one session renew its lease at most this often (per node).
    static let renewalInterval: Duration = .seconds(60)
    public static let bcryptCost: UInt8 = 11

    let store: any CoordinationStore
    let layout: KeyLayout
    /// Where bcrypt runs and how failed logins are throttled.
    public let loginGuard: LoginGuard
    /// Told once per burst of failed logins (the event log).
    let onBurst: @Sendable (String) async -> Void
    /// When this node last renewed each session's lease.
    let renewals = SessionRenewals()

    public init(
        store: any CoordinationStore, layout: KeyLayout, loginGuard: LoginGuard = LoginGuard(),
        onBurst: @escaping @Sendable (String) async -> Void = { _ in }
    ) {
        self.store = store
        self.layout = layout
        self.loginGuard = loginGuard
        self.onBurst = onBurst
    }

    /// The identity an `Authorization` header proves, or nil. Refused sources get 429 before any work.
    public func identify(authorization: String, source: String = "local") async throws -> Identity? {
        if authorization.lowercased().hasPrefix("bearer ") {
            try loginGuard.throttle.check(source: source, user: nil)
            let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard token.count == 64, token.allSatisfy(\.isHexDigit),
                let kv = try await store.get(layout.session(Self.hash(token: token))),
                let session = try? ModelCodec.decode(SessionRecord.self, from: kv.value)
            else {
                await failed(source: source, user: nil)
                return nil
            }
            // Revoked the moment the user is deleted or their role or password changes, and
            // ended `sessionSeconds` after the login however busy.
            guard let user = try await store.get(layout.user(session.user)), user.modRevision == session.userRevision,
                ClusterControl.wallMilliseconds() - session.created < Self.sessionSeconds * 1000
            else {
                _ = try? await store.delete(layout.session(Self.hash(token: token)))
                await failed(source: source, user: nil)
                return nil
            }
            if let lease = kv.lease, renewals.due(lease, every: Self.renewalInterval) {
                // Sliding: a session in use stays; a failed renewal is retried at the next use.
                if (try? await store.keepAlive(lease)) == nil { renewals.forget(lease) }
            }
            return Identity(user: session.user, role: session.role, userRevision: session.userRevision)
        }
        if authorization.lowercased().hasPrefix("basic ") {
            guard
                let data = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else {
                await failed(source: source, user: nil)
                return nil
            }
            return try await verify(
                user: String(text[..<colon]), password: String(text[text.index(after: colon)...]), source: source)
        }
        return nil
    }

    /// The user's identity if the password matches its stored hash (checked on the hashing thread).
    public func verify(user: String, password: String, source: String = "local") async throws -> Identity? {
        let known = (try? UserRecord.validate(name: user, field: "user")) != nil
        try loginGuard.throttle.check(source: source, user: known ? user : nil)
        let found = try await loginGuard.throttle.limited(source: source) {
            () async throws -> (UserRecord, Int64)? in
            guard known, let kv = try await store.get(layout.user(user)),
                let record = try? ModelCodec.decode(UserRecord.self, from: kv.value)
            else {
                // As slow as a real check, so that timing does not tell which users exist.
                _ = try await loginGuard.hasher.verify(password, hash: Self.dummyHash)
                return nil
            }
            return try await loginGuard.hasher.verify(password, hash: record.passwordHash)
                ? (record, kv.modRevision) : nil
        }
        guard let (record, revision) = found else {
            await failed(source: source, user: known ? user : nil)
            return nil
        }
        loginGuard.throttle.succeeded(source: source)
        return Identity(user: record.name, role: record.role, userRevision: revision)
    }

    func failed(source: String, user: String?) async {
        for burst in loginGuard.throttle.failed(source: source, user: user) {
            await onBurst(
                "failed logins: \(burst.failures) from \(burst.key) in a burst; further attempts are refused with 429 for a growing time"
            )
        }
    }

    /// A new session for a verified identity.
    public func login(_ identity: Identity) async throws -> SessionGrant {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        let lease = try await store.grantLease(ttlSeconds: Self.idleSeconds)
        let record = SessionRecord(
            user: identity.user, role: identity.role, created: ClusterControl.wallMilliseconds(),
            userRevision: identity.userRevision)
        _ = try await store.put(layout.session(Self.hash(token: token)), ModelCodec.encode(record), lease: lease.id)
        renewals.renewed(lease.id)
        return SessionGrant(
            token: token, user: identity.user, role: identity.role, expiresInSeconds: Self.idleSeconds)
    }

    /// Ends the session of a bearer token (its record goes; the lease expires with nothing on it).
    public func logout(authorization: String) async throws {
        guard authorization.lowercased().hasPrefix("bearer ") else { return }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        _ = try await store.delete(layout.session(Self.hash(token: token)))
    }

    public func setUser(_ name: String, _ request: UserRequest) async throws {
        do { try UserRecord.validate(name: name, field: "name") } catch { throw APIError(error) }
        try Self.checkPassword(request.password)
        let hash = try await loginGuard.hasher.hash(request.password, cost: Self.bcryptCost)
        let record = UserRecord(name: name, role: request.role, passwordHash: hash)
        _ = try await store.put(layout.user(name), ModelCodec.encode(record))
        // The record's new revision already invalidates the user's sessions; remove them too.
        await removeSessions(of: name)
    }

    /// bcrypt reads at most 72 bytes and stops at a NUL: a longer password, or one with a NUL,
    /// would be silently cut, so it is refused.
    static func checkPassword(_ password: String) throws {
        guard password.count >= 8 else {
            throw APIError(.badRequest, field: "password", value: "(hidden)", reason: "at least 8 characters")
        }
        guard password.utf8.count <= 72 else {
            throw APIError(
                .badRequest, field: "password", value: "(hidden)",
                reason: "at most 72 bytes (bcrypt ignores the rest): \(password.utf8.count) given")
        }
        guard !password.utf8.contains(0) else {
            throw APIError(
                .badRequest, field: "password", value: "(hidden)", reason: "must not contain a NUL character")
        }
    }

    /// Deletes every session of `user` (best effort: they are invalid already).
    func removeSessions(of user: String) async {
        guard let sessions = try? await store.range(prefix: layout.prefix + "sessions/") else { return }
        for entry in sessions.keyValues {
            if (try? ModelCodec.decode(SessionRecord.self, from: entry.value))?.user == user {
                _ = try? await store.delete(entry.key)
            }
        }
    }

    public func deleteUser(_ name: String) async throws {
        do { try UserRecord.validate(name: name, field: "name") } catch { throw APIError(error) }
        guard try await store.get(layout.user(name)) != nil else { throw APIError.notFound("name", name, "user") }
        _ = try await store.delete(layout.user(name))
        await removeSessions(of: name)
    }

    public func users() async throws -> [UserSummary] {
        try await store.range(prefix: layout.usersPrefix).keyValues.compactMap {
            (try? ModelCodec.decode(UserRecord.self, from: $0.value)).map { UserSummary(name: $0.name, role: $0.role) }
        }
    }

    public static func hash(token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// A bcrypt hash of a random password: verifying against it costs the same as a real check.
    static let dummyHash = Bcrypt.hash(UUID().uuidString, cost: bcryptCost)
}

/// Puts the caller's identity on the context; refuses unauthenticated calls (401) and changes by
/// observers (403). `/healthz` is open; on the Unix socket the caller is root.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let authenticator: Authenticator
    let local: Bool
    /// SHA-256 of the scrape token: it reads `/metrics` and nothing else.
    var metricsTokenHash: String? = nil

    /// Health for load balancers: `/healthz` and `/v1/resources/{name}/here`.
    static func isOpen(_ path: String) -> Bool {
        if path == "/healthz" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 5 && parts[1] == "v1" && parts[2] == "resources" && parts[4] == "here"
    }

    func handle(
        _ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        if Self.isOpen(request.uri.path) { return try await next(request, context) }
        if let metricsTokenHash, request.uri.path == "/metrics", request.method == .get,
            let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer "),
            Self.equalInConstantTime(
                Authenticator.hash(token: String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)),
                metricsTokenHash)
        {
            var context = context
            context.identity = Identity(user: "metrics", role: .observer)
            return try await next(request, context)
        }
        // The console's pages check their cookie themselves, through the same authenticator.
        if !local, Console.answers(request.uri.path), request.headers[.authorization] == nil {
            return try await next(request, context)
        }
        // The console's script calls the API with its session cookie; changes also need the
        // page's CSRF token in a header (a cookie alone never changes anything).
        if !local, request.headers[.authorization] == nil, let token = Console.token(request) {
            var context = context
            do {
                context.identity = try await authenticator.identify(
                    authorization: "Bearer \(token)", source: context.sourceAddress)
            } catch {
                throw APIError.wrapping(error, logger: context.logger)
            }
            guard context.identity != nil else { throw APIError.unauthenticated }
            if request.method != .get, request.method != .head,
                request.headers[HTTPField.Name("X-CSRF-Token")!] != Console.csrf(token: token)
            {
                throw APIError(
                    .forbidden, field: "X-CSRF-Token",
                    reason: "a change with the session cookie needs the page's CSRF token")
            }
            return try await authorized(request, context, next: next)
        }
        var context = context
        if let authorization = request.headers[.authorization] {
            do {
                context.identity = try await authenticator.identify(
                    authorization: authorization, source: context.sourceAddress)
            } catch {
                throw APIError.wrapping(error, logger: context.logger)
            }
            guard context.identity != nil else {
                // A login attempt with wrong credentials.
                if request.uri.path == "/v1/sessions", request.method == .post {
                    return try await next(request, context)
                }
                throw APIError.unauthenticated
            }
        } else if local {
            context.identity = .localRoot
        } else if request.uri.path == "/v1/sessions", request.method == .post {
            return try await next(request, context)
        } else {
            throw APIError.unauthenticated
        }
        return try await authorized(request, context, next: next)
    }

    /// Compares two hashes without an early exit (the time tells nothing about where they differ).
    static func equalInConstantTime(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    /// Observers read, admins change (the same rule for bearer tokens, passwords and cookies).
    func authorized(
        _ request: Request, _ context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        let changes = request.method != .get && request.method != .head
        let ownSession = request.uri.path == "/v1/sessions"
        if changes, !ownSession, context.identity?.role != .admin {
            throw APIError(
                .forbidden, field: "user", value: context.identity?.user ?? "",
                reason: "role observer may read, not change")
        }
        return try await next(request, context)
    }
}

/// When this node last renewed each session lease: a busy page costs one keep-alive a minute,
/// not one per request. Bounded: entries older than the interval are dropped past 4,096.
final class SessionRenewals: Sendable {
    private let last = NIOLockedValueBox<[LeaseID: ContinuousClock.Instant]>([:])

    /// Whether `lease` is due for renewal; if so it counts as renewed now.
    func due(_ lease: LeaseID, every interval: Duration) -> Bool {
        let now = ContinuousClock.now
        return last.withLockedValue { last in
            if let previous = last[lease], now - previous < interval { return false }
            if last.count >= 4096 { last = last.filter { now - $0.value < interval } }
            last[lease] = now
            return true
        }
    }

    func renewed(_ lease: LeaseID) { last.withLockedValue { $0[lease] = ContinuousClock.now } }
    func forget(_ lease: LeaseID) { _ = last.withLockedValue { $0.removeValue(forKey: lease) } }
}
