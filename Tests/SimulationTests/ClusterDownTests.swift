import ClusterBrain
import ClusterModel
import ClusterTestKit
import Testing

/// `vigil down` then `vigil join` on every node: every agent hands over and leaves at nearly the
/// same time, then all join again. The resource must come back (NCS: as at cluster start), for
/// every interleaving of the stops and the starts.
@Suite("Cluster down and join")
struct ClusterDownTests {
    @Test("after every node left and joined again, the resource runs on one node", arguments: 0..<4)
    func downThenJoin(chunk: Int) {
        for seed in UInt64(chunk * 50)..<UInt64(chunk * 50 + 50) {
            var random = SeededRandom(seed: seed)
            var cluster = ClusterSettings()
            cluster.quorum = QuorumSettings(nodeCount: Int(random.next() % 3) + 1, timeout: .seconds(30))
            let sim = Simulation(
                SimulationSettings(
                    nodes: three, resources: [ipService(preferred: ["n1", "n2", "n3"])], cluster: cluster, seed: seed))
            sim.recordEvents = true
            guard sim.run(until: { $0.runningOn("iManager").count == 1 }, limit: 40_000) else {
                Issue.record("seed \(seed): never started\n\(sim.summary())")
                continue
            }
            sim.run(for: Int64(random.next() % 1000))
            for node in three.shuffled(using: &random) {
                sim.stopAgent(node)
                sim.run(for: Int64(random.next() % 300))
            }
            sim.run(for: 3000)
            for node in three.shuffled(using: &random) {
                sim.startAgentLater(node, after: Int64(random.next() % 400))
            }
            let back = sim.run(until: { $0.runningOn("iManager").count == 1 }, limit: 40_000)
            #expect(
                back,
                "seed \(seed): iManager not back after down and join: \(sim.assignment("iManager").map { "\($0.placement) gen \($0.generation): \($0.reason)" } ?? "none")\n\(sim.summary())"
            )
            #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations)")
        }
    }
}
