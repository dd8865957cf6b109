import AsyncHTTPClient
import ClusterTestKit
import CoordinationStore
import EtcdStore
import Foundation
import Testing

/// Starts a real etcd cluster, runs `body` with a client on all its endpoints, and stops the
/// cluster whatever happens.
func withEtcd<T>(
    size: Int = 3, heartbeat: Int = 100, election: Int = 1000, timeout: Duration = .seconds(3),
    _ body: (EtcdTestCluster, EtcdStore) async throws -> T
) async throws -> T {
    let cluster = try EtcdTestCluster(size: size, heartbeatMilliseconds: heartbeat, electionMilliseconds: election)
    let configuration = EtcdConfiguration(endpoints: cluster.endpoints, requestTimeout: timeout)
    let client = EtcdStore.makeHTTPClient(for: configuration)
    let store = EtcdStore(configuration: configuration, client: client)
    do {
        try await cluster.start()
        let result = try await body(cluster, store)
        try? await client.shutdown()
        cluster.stop()
        return result
    } catch {
        try? await client.shutdown()
        cluster.stop()
        throw error
    }
}

@Suite("Store conformance: real 3-member etcd", .serialized)
struct EtcdConformanceTests {
    @Test("etcd passes every conformance check the in-memory store passes", .timeLimit(.minutes(2)))
    func conformance() async throws {
        try await withEtcd { _, store in
            for check in StoreConformance.checks {
                let suite = StoreConformance(store: store, prefix: "/conformance/\(check)/") { milliseconds in
                    try? await Task.sleep(for: .milliseconds(milliseconds))
                }
                do {
                    try await suite.run(check)
                } catch {
                    Issue.record("\(check): \(error)")
                }
            }
        }
    }

    @Test("a client with one dead endpoint first in its list still works", .timeLimit(.minutes(1)))
    func deadEndpointFirst() async throws {
        try await withEtcd(size: 1) { cluster, _ in
            let dead = "http://127.0.0.1:\(try EtcdTestCluster.freePort())"
            let configuration = EtcdConfiguration(endpoints: [dead] + cluster.endpoints, requestTimeout: .seconds(3))
            let client = EtcdStore.makeHTTPClient(for: configuration)
            let store = EtcdStore(configuration: configuration, client: client)
            var value: [UInt8]?
            var failure: (any Error)?
            do {
                try await store.put("/k", Array("v".utf8))
                value = try await store.get("/k")?.value
            } catch {
                failure = error
            }
            try await client.shutdown()
            #expect(failure == nil, "\(String(describing: failure))")
            #expect(value == Array("v".utf8))
        }
    }

    /// A busy machine: every answer takes longer than one attempt's limit. The call must still get
    /// through before its own deadline (before, three attempts of 100 ms each timed out and the
    /// call failed after 300 ms; a node's heartbeats failed that way and it self-fenced).
    @Test("a call outlasts a member that answers later than one attempt's limit", .timeLimit(.minutes(1)))
    func slowMember() async throws {
        try await withEtcd(size: 1) { cluster, _ in
            let configuration = EtcdConfiguration(
                endpoints: cluster.endpoints, requestTimeout: .seconds(30), attemptTimeout: .milliseconds(100))
            let client = EtcdStore.makeHTTPClient(for: configuration)
            let store = EtcdStore(configuration: configuration, client: client)
            var failure: (any Error)?
            var value: [UInt8]?
            do {
                try await store.put("/warm", Array("w".utf8))
                cluster.pause(0)
                async let put = store.put("/k", Array("v".utf8))
                // Silent longer than the old three attempts of 100 ms; the call's deadline is 30 s.
                try await Task.sleep(for: .seconds(1))
                cluster.resume(0)
                _ = try await put
                value = try await store.get("/k")?.value
            } catch {
                cluster.resume(0)
                failure = error
            }
            try await client.shutdown()
            #expect(failure == nil, "\(String(describing: failure))")
            #expect(value == Array("v".utf8))
        }
    }

    @Test("a lost lease answers leaseNotFound, a wrong request invalidArgument", .timeLimit(.minutes(1)))
    func errors() async throws {
        try await withEtcd(size: 1) { _, store in
            await #expect { try await store.keepAlive(LeaseID(424242)) } throws: {
                ($0 as? StoreError)?.code == .leaseNotFound
            }
            await #expect { try await store.revokeLease(LeaseID(424242)) } throws: {
                ($0 as? StoreError)?.code == .leaseNotFound
            }
        }
    }
}
