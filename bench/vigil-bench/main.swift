import ClusterModel
import ClusterTestKit
import CoordinationStore
import EtcdStore
import Foundation

// Measures Vigil's etcd client against a real 3-member etcd on loopback: put latency, lease
// keep-alive round trip, and the write outage the client sees when the etcd leader is killed,
// with the managed etcd timings of each profile. Not a test: it prints figures for docs/design.
//
//   swift run -c release vigil-bench etcd [--runs 5]

func percentile(_ values: [Duration], _ p: Double) -> Duration {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

func ms(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return String(format: "%.2f ms", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
}

func withCluster<T>(_ timing: TimingSettings, _ body: (EtcdTestCluster, EtcdStore) async throws -> T) async throws -> T
{
    let cluster = try EtcdTestCluster(
        size: 3, heartbeatMilliseconds: Int(timing.etcdHeartbeat.milliseconds),
        electionMilliseconds: Int(timing.etcdElection.milliseconds))
    // As the agent configures it: calls bounded by the self-fence time, attempts by etcd's election.
    let configuration = EtcdConfiguration(
        endpoints: cluster.endpoints, requestTimeout: timing.selfFenceAfter.duration,
        attemptTimeout: timing.etcdElection.duration / 2)
    let client = EtcdStore.makeHTTPClient(for: configuration)
    defer { cluster.stop() }
    try await cluster.start()
    let result = try await body(cluster, EtcdStore(configuration: configuration, client: client))
    try await client.shutdown()
    return result
}

let arguments = CommandLine.arguments
let runs = arguments.firstIndex(of: "--runs").flatMap { Int(arguments[$0 + 1]) } ?? 5
if arguments.count > 1, arguments[1] == "brain" {
    benchBrainPass(runs: arguments.firstIndex(of: "--runs") == nil ? 200 : runs)
    exit(0)
}
let clock = ContinuousClock()
let value = Array(repeating: UInt8(ascii: "x"), count: 100)

print(
    "Vigil etcd client, etcd \(EtcdTestCluster.etcdPath ?? "?"), 3 members on loopback, \(ProcessInfo.processInfo.activeProcessorCount) cores"
)
try await withCluster(TimingSettings(profile: .default)) { _, store in
    for _ in 0..<50 { try await store.put("/bench/warm", value) }
    var puts: [Duration] = []
    for index in 0..<1000 {
        puts.append(try await clock.measure { try await store.put("/bench/put/\(index % 10)", value) })
    }
    print(
        "put (100 B, sequential, 1000): p50 \(ms(percentile(puts, 0.5)))  p99 \(ms(percentile(puts, 0.99)))  max \(ms(puts.max()!))"
    )
    let lease = try await store.grantLease(ttlSeconds: 10)
    var keepAlives: [Duration] = []
    for _ in 0..<500 {
        keepAlives.append(try await clock.measure { _ = try await store.keepAlive(lease.id) })
    }
    print(
        "lease keep-alive (500): p50 \(ms(percentile(keepAlives, 0.5)))  p99 \(ms(percentile(keepAlives, 0.99)))  max \(ms(keepAlives.max()!))"
    )
    var txns: [Duration] = []
    let key = "/bench/member"
    let created = try await store.put(key, value)
    for _ in 0..<500 {
        txns.append(
            try await clock.measure {
                _ = try await store.transaction(
                    Transaction(
                        compare: [Compare(key: key, .createRevision(created))], success: [.put(key: key, value: value)])
                )
            })
    }
    print("fenced heartbeat txn (500): p50 \(ms(percentile(txns, 0.5)))  p99 \(ms(percentile(txns, 0.99)))")
}

for profile in TimingProfile.allCases {
    let timing = TimingSettings(profile: profile)
    var outages: [Duration] = []
    for _ in 0..<runs {
        let outage = try await withCluster(timing) { cluster, store in
            for _ in 0..<20 { try await store.put("/bench/failover", value) }
            let victim = try await cluster.leaderIndex()
            var lastSuccess = clock.now
            var killed = false
            var firstAfter: ContinuousClock.Instant?
            let deadline = clock.now + .seconds(30)
            while firstAfter == nil, clock.now < deadline {
                if !killed, clock.now - lastSuccess > .zero {
                    cluster.kill(victim)
                    killed = true
                }
                do {
                    try await store.put("/bench/failover", value)
                    if killed { firstAfter = clock.now } else { lastSuccess = clock.now }
                } catch {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            guard let firstAfter else {
                throw EtcdTestCluster.Failure(description: "no write succeeded after the kill")
            }
            return firstAfter - lastSuccess
        }
        outages.append(outage)
    }
    let sorted = outages.sorted()
    print(
        "leader kill, profile \(profile.rawValue) (etcd \(timing.etcdHeartbeat)/\(timing.etcdElection), tolerance \(timing.tolerance)), \(runs) runs: min \(ms(sorted.first!))  median \(ms(sorted[sorted.count / 2]))  max \(ms(sorted.last!))"
    )
}
