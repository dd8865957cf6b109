import ClusterTestKit
import CoordinationStore
import EtcdStore
import Foundation
import Synchronization
import Testing

/// Puts with retries through a failover; returns the revision.
@discardableResult
func putRetrying(_ store: EtcdStore, _ key: String, _ value: String, limit: Duration = .seconds(15)) async throws
    -> Int64
{
    let deadline = ContinuousClock.now + limit
    while true {
        do {
            return try await store.put(key, Array(value.utf8))
        } catch {
            guard ContinuousClock.now < deadline else { throw error }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

@Suite("etcd failures", .serialized)
struct EtcdFailureTests {
    @Test("killing the leader during a watch loses and repeats no event across the resume", .timeLimit(.minutes(2)))
    func leaderKillDuringWatch() async throws {
        try await withEtcd(heartbeat: 100, election: 500) { cluster, store in
            // A client whose first endpoint is the leader, so the watch's own connection is cut.
            let leader = try await cluster.leaderIndex()
            let ordered =
                [cluster.endpoints[leader]]
                + cluster.endpoints.enumerated().filter { $0.offset != leader }.map(\.element)
            let configuration = EtcdConfiguration(endpoints: ordered, requestTimeout: .seconds(3))
            let client = EtcdStore.makeHTTPClient(for: configuration)
            let watcher = EtcdStore(configuration: configuration, client: client)
            let start = try await putRetrying(store, "/w/seq", "0")
            let total = 60
            async let received: (values: [String], resumes: Int) = {
                var values: [String] = []
                var from = start + 1
                var resumes = 0
                while values.count < total, resumes < 50 {
                    do {
                        for try await batch in watcher.watch(prefix: "/w/", fromRevision: from) {
                            for event in batch {
                                values.append(String(decoding: event.keyValue.value, as: UTF8.self))
                                from = event.keyValue.modRevision + 1
                            }
                            if values.count >= total { break }
                        }
                    } catch {
                        resumes += 1
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
                return (values, resumes)
            }()
            for value in 1...total {
                if value == total / 2 { cluster.kill(leader) }
                try await putRetrying(store, "/w/seq", String(value))
            }
            let result = await received
            try await client.shutdown()
            #expect(result.values == (1...total).map(String.init))
            #expect(result.resumes >= 1, "the watch was never cut: the test proved nothing")
        }
    }

    /// A node's agent calls its own member first. While that member is down its calls and watch go
    /// elsewhere; once it answers again both come back to it (else a crash of the member they
    /// stayed on would stall this node too: every call waiting out its attempt limit, the watch
    /// silent until its idle limit).
    @Test("calls and the watch go back to the first endpoint once it answers again", .timeLimit(.minutes(2)))
    func backHome() async throws {
        try await withEtcd(heartbeat: 100, election: 500) { cluster, store in
            let leader = try await cluster.leaderIndex()
            let home = (leader + 1) % cluster.endpoints.count
            let ordered =
                [cluster.endpoints[home]] + cluster.endpoints.enumerated().filter { $0.offset != home }.map(\.element)
            var configuration = EtcdConfiguration(endpoints: ordered, requestTimeout: .seconds(3))
            configuration.watchHomeAfter = .seconds(1)
            let client = EtcdStore.makeHTTPClient(for: configuration)
            let node = EtcdStore(configuration: configuration, client: client)
            cluster.kill(home)
            let start = try await putRetrying(node, "/h/k", "away")
            #expect(node.currentEndpoint != ordered[0])
            // A watch opened while the home member is down runs elsewhere.
            let relocated = Mutex(false)
            let watching = Task {
                do {
                    for try await _ in node.watch(prefix: "/h/", fromRevision: start) {}
                } catch is WatchRelocated {
                    relocated.withLock { $0 = true }
                } catch {}
            }
            try await Task.sleep(for: .milliseconds(200))
            try cluster.restart(home)
            // Writes go on (the watch sees each); the hang guard is far above the 1 s retry and
            // the 1 s watch limit.
            let deadline = ContinuousClock.now + .seconds(60)
            var value = 0
            while node.currentEndpoint != ordered[0] || !relocated.withLock({ $0 }), ContinuousClock.now < deadline {
                value += 1
                try await putRetrying(node, "/h/k", String(value))
                try await Task.sleep(for: .milliseconds(50))
            }
            watching.cancel()
            #expect(node.currentEndpoint == ordered[0])
            #expect(relocated.withLock { $0 }, "the watch did not move back to the first endpoint")
            try await client.shutdown()
        }
    }

    @Test("lease keep-alives go on through a leader kill and the lease is never lost", .timeLimit(.minutes(2)))
    func leaderKillDuringKeepAlive() async throws {
        try await withEtcd(heartbeat: 100, election: 500) { cluster, store in
            let lease = try await store.grantLease(ttlSeconds: 3)
            try await store.put("/session", Array("s".utf8), lease: lease.id)
            var failures = 0
            for round in 0..<30 {
                if round == 10 { cluster.kill(try await cluster.leaderIndex()) }
                do {
                    _ = try await store.keepAlive(lease.id)
                } catch let error as StoreError where error.code != .leaseNotFound {
                    failures += 1
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await store.get("/session") != nil)
            #expect(failures < 10, "\(failures) keep-alives failed")
        }
    }

    @Test(
        "without quorum calls fail with unavailable or timeout within their timeout, and recover",
        .timeLimit(.minutes(2)))
    func quorumLoss() async throws {
        try await withEtcd(heartbeat: 100, election: 500, timeout: .seconds(2)) { cluster, store in
            try await putRetrying(store, "/q", "before")
            cluster.kill(1)
            cluster.kill(2)
            let began = ContinuousClock.now
            await #expect {
                try await store.put("/q", Array("during".utf8))
            } throws: { error in
                guard let error = error as? StoreError else { return false }
                return error.code == .unavailable || error.code == .timeout
            }
            let elapsed = ContinuousClock.now - began
            #expect(elapsed < .milliseconds(2500), "failed after \(elapsed)")
            try cluster.restart(1)
            try cluster.restart(2)
            try await putRetrying(store, "/q", "after", limit: .seconds(20))
            #expect(try await store.get("/q")?.value == Array("after".utf8))
        }
    }

    @Test(
        "compaction while a watch is down: resuming reports compacted, a re-read gives the current state",
        .timeLimit(.minutes(2)))
    func compactionWhileWatchDown() async throws {
        try await withEtcd(size: 1) { _, store in
            let first = try await store.put("/c/k", Array("1".utf8))
            for value in 2...5 { try await store.put("/c/k", Array(String(value).utf8)) }
            let latest = try await store.put("/c/other", Array("x".utf8))
            try await store.compact(revision: latest)
            await #expect {
                for try await _ in store.watch(prefix: "/c/", fromRevision: first + 1) {}
            } throws: { error in
                guard case .compacted? = (error as? StoreError)?.code else { return false }
                return true
            }
            let reread = try await store.range(prefix: "/c/")
            #expect(reread.keyValues.map { String(decoding: $0.value, as: UTF8.self) } == ["5", "x"])
            #expect(reread.revision >= latest)
        }
    }
}
