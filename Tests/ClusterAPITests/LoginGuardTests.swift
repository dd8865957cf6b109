import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import Testing

@testable import ClusterAPI

@Suite("Login guard: bounded password checks and throttled failures")
struct LoginGuardTests {
    @Test("five free failures per source, then 429 with a growing Retry-After; other sources and users unaffected")
    func throttleBySource() throws {
        let throttle = LoginThrottle()
        let start = ContinuousClock.now
        for attempt in 0..<5 {
            try throttle.check(source: "198.18.0.50", user: "someone", now: start)
            #expect(throttle.failed(source: "198.18.0.50", user: "someone", now: start).isEmpty, "attempt \(attempt)")
        }
        try throttle.check(source: "198.18.0.50", user: "someone", now: start)
        // The sixth failure starts a burst (reported once) and a one-second refusal.
        #expect(
            throttle.failed(source: "198.18.0.50", user: "someone", now: start) == [
                .init(key: "source 198.18.0.50", failures: 6)
            ])
        #expect(throws: APIError.self) { try throttle.check(source: "198.18.0.50", user: "admin", now: start) }
        do {
            try throttle.check(source: "198.18.0.50", user: nil, now: start)
            Issue.record("not refused")
        } catch let error as APIError {
            #expect(error.status == .tooManyRequests)
            #expect(error.retryAfter == 1)
        }
        try throttle.check(source: "198.18.0.11", user: "admin", now: start)
        // Past the refusal, the next failure doubles it and is not reported again.
        let later = start + .milliseconds(1100)
        try throttle.check(source: "198.18.0.50", user: nil, now: later)
        #expect(throttle.failed(source: "198.18.0.50", user: "someone", now: later).isEmpty)
        do {
            try throttle.check(source: "198.18.0.50", user: nil, now: later)
            Issue.record("not refused")
        } catch let error as APIError {
            #expect(error.retryAfter == 2)
        }
        // A correct login from the address clears it.
        throttle.succeeded(source: "198.18.0.50")
        try throttle.check(source: "198.18.0.50", user: nil, now: later)
    }

    @Test("a user name is refused after twenty failures from any number of sources")
    func throttleByUser() throws {
        let throttle = LoginThrottle()
        let now = ContinuousClock.now
        for index in 0..<20 { throttle.failed(source: "198.18.1.\(index)", user: "admin", now: now) }
        try throttle.check(source: "198.18.2.1", user: "admin", now: now)
        throttle.failed(source: "198.18.1.99", user: "admin", now: now)
        #expect(throws: APIError.self) { try throttle.check(source: "198.18.2.1", user: "admin", now: now) }
        try throttle.check(source: "198.18.2.1", user: "other", now: now)
    }

    @Test("the table of failures stays bounded")
    func bounded() {
        let throttle = LoginThrottle(capacity: 100)
        let now = ContinuousClock.now
        for index in 0..<1000 { throttle.failed(source: "198.18.\(index / 250).\(index % 250)", user: nil, now: now) }
        #expect(throttle.trackedKeys <= 100)
    }

    @Test("password checks beyond the queue limit get 503 at once, with Retry-After", .timeLimit(.minutes(2)))
    func queueLimit() async throws {
        let hasher = PasswordHasher(threads: 1, queueLimit: 2)
        let running = NIOLockedValueBox(false)
        let release = NIOLockedValueBox(false)
        // However the test goes, the thread is let go after 60 s at the latest: a check that is
        // queued behind it instead of refused (the fault this test looks for) cannot hang the run.
        let guardTask = Task {
            try? await Task.sleep(for: .seconds(60))
            release.withLockedValue { $0 = true }
        }
        defer {
            guardTask.cancel()
            release.withLockedValue { $0 = true }
        }
        let occupied = Task {
            try await hasher.run {
                running.withLockedValue { $0 = true }
                while !release.withLockedValue({ $0 }) { usleep(1000) }
            }
        }
        // The thread is busy first (else a waiting check could run before it), then two more wait:
        // the fourth check is refused.
        try #require(try await eventually { running.withLockedValue { $0 } })
        let waiting = (0..<2).map { _ in Task { try await hasher.run { 1 } } }
        try #require(try await eventually { hasher.pendingCount == 3 })
        await #expect(throws: APIError.self) { try await hasher.verify("x", hash: Authenticator.dummyHash) }
        do {
            _ = try await hasher.run { 0 }
            Issue.record("a check beyond the queue limit ran")
        } catch let error as APIError {
            #expect(error.status == .serviceUnavailable)
            #expect(error.retryAfter == 1)
        }
        release.withLockedValue { $0 = true }
        try await occupied.value
        for task in waiting { #expect(try await task.value == 1) }
        #expect(try await hasher.verify("x", hash: Authenticator.dummyHash) == false)
    }

    @Test("over HTTP: wrong passwords end in 429 before any hashing; the event log has the burst once")
    func overHTTP() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            var statuses: [Int] = []
            for _ in 0..<8 {
                try await client.execute(
                    uri: "/v1/cluster", method: .get, headers: [.authorization: basic("someone", "wrong-password")]
                ) {
                    statuses.append($0.status.code)
                    if $0.status == .tooManyRequests { #expect($0.headers[.retryAfter] != nil) }
                }
            }
            #expect(statuses == [401, 401, 401, 401, 401, 401, 429, 429])
        }
        let bursts = try await fixture.events().filter { $0.event.message.hasPrefix("failed logins:") }
        #expect(bursts.count == 1)
    }
}
