import Foundation
import HummingbirdBcrypt
import Metrics
import NIOConcurrencyHelpers
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Bounds what logins may cost a node (ARCHITECTURE.md §4.11, docs/design/0012):
/// - bcrypt runs on one low-priority thread of its own, never on the agent's thread pool, with at
///   most ``PasswordHasher/queueLimit`` checks waiting (beyond that: 503 with `Retry-After`);
/// - one source address may have at most ``LoginThrottle/inFlightPerSource`` checks under way (429
///   beyond), so a flood from one address cannot fill the queue ahead of everyone else;
/// - failed logins are counted per source address and per user name; past a few, each further
///   attempt from that address (or for that user) is refused for a growing time (429 with
///   `Retry-After`) before any hashing, and the first refusal of a burst is written to the event log.
public final class LoginGuard: Sendable {
    public let hasher: PasswordHasher
    public let throttle: LoginThrottle

    public init(hasher: PasswordHasher = PasswordHasher(), throttle: LoginThrottle = LoginThrottle()) {
        self.hasher = hasher
        self.throttle = throttle
    }
}

/// bcrypt on a dedicated thread (never the agent's thread pool), with a bounded queue.
public final class PasswordHasher: Sendable {
    public let queueLimit: Int
    private let pool: NIOThreadPool
    private let pending = Atomic<Int>(0)
    private let refused = Counter(label: "vigil_password_checks_refused_total")
    private let checks = Counter(label: "vigil_password_checks_total")

    public init(threads: Int = 1, queueLimit: Int = 8) {
        self.queueLimit = queueLimit
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    deinit {
        try? pool.syncShutdownGracefully()
    }

    /// Runs `work` on the hashing thread; 503 at once when `queueLimit` checks are already waiting.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        let waiting = pending.wrappingAdd(1, ordering: .relaxed).newValue
        defer { pending.wrappingSubtract(1, ordering: .relaxed) }
        guard waiting <= queueLimit + 1 else {
            refused.increment()
            throw APIError(
                .serviceUnavailable, field: "Authorization", reason: "too many password checks at once; retry",
                retryAfter: 1)
        }
        return try await pool.runIfActive(work)
    }

    /// Checks running or waiting now.
    var pendingCount: Int { pending.load(ordering: .relaxed) }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        checks.increment()
        return try await run { Bcrypt.verify(password, hash: hash) }
    }

    public func hash(_ password: String, cost: UInt8) async throws -> String {
        try await run { Bcrypt.hash(password, cost: cost) }
    }
}

/// Failed logins per source address and per user name, with growing refusal times.
public final class LoginThrottle: Sendable {
    public struct Policy: Sendable {
        /// Failures allowed before refusals start.
        public var freeFailures: Int
        /// The first refusal lasts this long; each further failure doubles it, up to `longest`.
        public var firstDelay: Duration
        public var longest: Duration
        /// Failures are forgotten after this long without one.
        public var forgetAfter: Duration

        public init(
            freeFailures: Int, firstDelay: Duration = .seconds(1), longest: Duration = .seconds(60),
            forgetAfter: Duration = .seconds(600)
        ) {
            self.freeFailures = freeFailures
            self.firstDelay = firstDelay
            self.longest = longest
            self.forgetAfter = forgetAfter
        }

        /// A source address gets 5 free failures; a user name 20, so that a flood against a real
        /// user's name from elsewhere delays, but hardly ever locks out, that user.
        public static let source = Policy(freeFailures: 5)
        public static let user = Policy(freeFailures: 20)
    }

    struct Entry {
        var failures = 0
        var lastFailure: ContinuousClock.Instant
        var refusedUntil: ContinuousClock.Instant?
        /// When this key's current burst was reported to the event log.
        var reportedAt: ContinuousClock.Instant?
    }

    /// A burst just began: report it once.
    public struct Burst: Sendable, Equatable {
        public var key: String
        public var failures: Int
    }

    let sourcePolicy: Policy
    let userPolicy: Policy
    /// Password checks one source address may have under way at once.
    public let inFlightPerSource: Int
    private let inFlight = NIOLockedValueBox<[String: Int]>([:])
    /// At most this many keys are tracked; the oldest are dropped first.
    let capacity: Int
    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    private let failures = Counter(label: "vigil_login_failures_total")
    private let throttled = Counter(label: "vigil_login_throttled_total")

    public init(source: Policy = .source, user: Policy = .user, capacity: Int = 10_000, inFlightPerSource: Int = 2) {
        self.sourcePolicy = source
        self.userPolicy = user
        self.capacity = capacity
        self.inFlightPerSource = inFlightPerSource
    }

    /// Runs `check` (a password check) as one of `source`'s checks under way; 429 if it has too many.
    public func limited<T>(source: String, _ check: () async throws -> T) async throws -> T {
        let admitted = inFlight.withLockedValue { counts -> Bool in
            guard counts[source, default: 0] < inFlightPerSource else { return false }
            counts[source, default: 0] += 1
            return true
        }
        guard admitted else {
            throttled.increment()
            throw APIError(
                .tooManyRequests, field: "Authorization",
                reason: "too many logins under way from \(source); retry in 1 s", retryAfter: 1)
        }
        defer {
            inFlight.withLockedValue { counts in
                counts[source, default: 1] -= 1
                if counts[source] == 0 { counts[source] = nil }
            }
        }
        return try await check()
    }

    static func keys(source: String, user: String?) -> [String] {
        ["source " + source] + (user.map { ["user " + $0] } ?? [])
    }

    /// 429 with `Retry-After` if the source or the user is being refused now.
    public func check(source: String, user: String?, now: ContinuousClock.Instant = .now) throws {
        let wait = entries.withLockedValue { entries -> Duration? in
            Self.keys(source: source, user: user).compactMap { key in
                entries[key]?.refusedUntil.flatMap { $0 > now ? $0 - now : nil }
            }.max()
        }
        guard let wait else { return }
        throttled.increment()
        let (whole, fraction) = wait.components
        let seconds = max(1, Int(whole) + (fraction > 0 ? 1 : 0))
        throw APIError(
            .tooManyRequests, field: "Authorization", value: user ?? "",
            reason:
                "too many failed logins from \(source)\(user.map { " or for user \($0)" } ?? ""); retry in \(seconds) s",
            retryAfter: seconds)
    }

    /// Counts a failure; returns the bursts that began with it (first refusal of a key).
    @discardableResult
    public func failed(source: String, user: String?, now: ContinuousClock.Instant = .now) -> [Burst] {
        failures.increment()
        return entries.withLockedValue { entries -> [Burst] in
            if entries.count >= capacity { Self.prune(&entries, now: now, keep: capacity / 2) }
            var bursts: [Burst] = []
            for key in Self.keys(source: source, user: user) {
                let policy = key.hasPrefix("source ") ? sourcePolicy : userPolicy
                var entry = entries[key] ?? Entry(lastFailure: now)
                if now - entry.lastFailure > policy.forgetAfter { entry = Entry(lastFailure: now) }
                entry.failures += 1
                entry.lastFailure = now
                let over = entry.failures - policy.freeFailures
                if over > 0 {
                    let factor = Int64(1) << Int64(min(over - 1, 16))
                    entry.refusedUntil = now + min(policy.firstDelay * factor, policy.longest)
                    if entry.reportedAt.map({ now - $0 > policy.forgetAfter }) ?? true {
                        entry.reportedAt = now
                        bursts.append(Burst(key: key, failures: entry.failures))
                    }
                }
                entries[key] = entry
            }
            return bursts
        }
    }

    /// A correct login from `source`: that address's failures are forgotten (the user's stay counted).
    public func succeeded(source: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: "source " + source) }
    }

    var trackedKeys: Int { entries.withLockedValue { $0.count } }

    /// Drops entries not refusing anything, oldest first, until at most `keep` remain.
    static func prune(_ entries: inout [String: Entry], now: ContinuousClock.Instant, keep: Int) {
        let idle = entries.filter { ($0.value.refusedUntil ?? now) <= now }.sorted {
            $0.value.lastFailure < $1.value.lastFailure
        }
        for (key, _) in idle.prefix(max(0, entries.count - keep)) { entries[key] = nil }
        if entries.count > keep {
            let oldest = entries.sorted { $0.value.lastFailure < $1.value.lastFailure }
            for (key, _) in oldest.prefix(entries.count - keep) { entries[key] = nil }
        }
    }
}
