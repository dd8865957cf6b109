import ClusterBrain
import ClusterModel

/// Seeded random runs: a 3-node cluster with several kinds of resources, faults injected at random,
/// invariants checked after every step.
public enum RandomRun {
    /// What one run found.
    public struct Outcome: Sendable {
        public var seed: UInt64
        public var violations: [Violation]
        public var timeline: [String]
        public var actions: Int

        /// The command that replays this run.
        public var replayCommand: String { "swift run vigil-sim random --seed \(seed) --verbose" }
    }

    /// The resources every random run uses.
    public static func resources() -> [ResourceSpec] {
        var vip = ResourceSpec(
            name: "vip_a", template: "Generic_IP_Service", variables: ["RESOURCE_IP": "198.18.0.100"])
        vip.priority = 10
        var back = ResourceSpec(name: "vip_b", preferredNodes: ["n3", "n2", "n1"])
        back.policies.failbackMode = .auto
        back.exclusionGroups = ["db"]
        var other = ResourceSpec(name: "vip_c", preferredNodes: ["n2", "n3"])
        other.exclusionGroups = ["db"]
        other.monitor = MonitorSpec(
            script: ScriptSpec(body: "exit 0", timeout: .seconds(5)), interval: .seconds(2), maxLocalFailures: 1,
            window: .seconds(30), action: .migrate)
        var web = ResourceSpec(name: "web", mode: .everywhere)
        web.priority = 20
        return [vip, back, other, web]
    }

    /// Runs `steps` steps of 100 ms with the given seed.
    ///
    /// - Parameters:
    ///   - watchdog: model the hardware watchdog (1 s); without it a frozen or killed agent can
    ///     leave its address up past its eviction (ARCHITECTURE.md §4.8).
    ///   - freezes: inject agent freezes (SIGSTOP) and agent kills; without them every fault is
    ///     one Vigil covers with no watchdog.
    public static func run(
        seed: UInt64, steps: Int = 300, watchdog: Bool = true, faults: Brain.InjectedFaults = .none,
        shellFaults: ShellFaults = .none, verbose: Bool = false,
        freezes: Bool = true
    ) -> Outcome {
        var cluster = ClusterSettings()
        if watchdog { cluster.timing.watchdogTimeout = .seconds(1) }
        var settings = SimulationSettings(
            nodes: ["n1", "n2", "n3"], resources: resources(), cluster: cluster, seed: seed)
        settings.faults = faults
        settings.shellFaults = shellFaults
        // Few slots, so scripts queue behind each other (and a fence meets queued ones).
        settings.parallelScripts = 2
        let sim = Simulation(settings)
        sim.recordEvents = verbose
        var random = SeededRandom(seed: seed ^ 0xA5A5_5A5A_F00D_BEEF)
        let nodes = settings.nodes
        let exclusive = settings.resources.filter { $0.mode == .exclusive }.map(\.name)
        sim.run(for: 2000)
        for _ in 0..<steps {
            if random.chance(0.04) {
                let node = nodes[Int(random.int(0...Int64(nodes.count - 1)))]
                let resource = exclusive[Int(random.int(0...Int64(exclusive.count - 1)))]
                switch random.int(0...15) {
                case 0, 1: sim.crash(node, bootAfter: random.int(500...5000))
                case 2: if let master = sim.master { sim.crash(master, bootAfter: random.int(500...5000)) }
                case 3 where freezes: sim.pause(node, for: random.int(100...4000))
                case 4: sim.partition(node, for: random.int(100...5000))
                case 5 where freezes: sim.restartAgent(node, after: random.int(20...2000))
                case 3, 5: sim.crash(node, bootAfter: random.int(500...5000))
                case 6:
                    // Likewise a failing unload (its resource stays active: Comatose, then a reset).
                    let unload = watchdog && random.chance(0.5)
                    sim.injectScriptFault(.fail(1), node: node, resource: resource, action: unload ? .unload : .load)
                case 7:
                    // A hanging unload of a resource that is more than an address can only be made
                    // safe by the watchdog (docs/design/0013): without it, only loads hang.
                    let unload = watchdog && random.chance(0.5)
                    sim.injectScriptFault(.hang, node: node, resource: resource, action: unload ? .unload : .load)
                case 8: sim.injectScriptFault(.fail(2), node: node, resource: "vip_c", action: .monitor)
                case 9:
                    let verbs: [AdminCommand.Verb] = [
                        .offline, .online(node: nil), .online(node: node), .migrate(.next), .migrate(.most),
                        .migrate(.node(node)), .alert(answer: true),
                    ]
                    sim.command(resource, verbs[Int(random.int(0...Int64(verbs.count - 1)))])
                case 10: sim.compactStore()
                case 11:
                    let tolerances: [Span] = [.seconds(2), .milliseconds(2500), .seconds(3), .seconds(4)]
                    sim.setTolerance(tolerances[Int(random.int(0...3))])
                case 12:
                    // An admin edits the VIP of a resource that may be running (the fence must
                    // still remove the address it was loaded with).
                    sim.editAddress("vip_a", to: random.chance(0.5) ? "198.18.0.100" : "198.18.0.101")
                case 13:
                    // `ip` fails a few times in a row (the fence's four tries absorb up to three).
                    sim.injectAddressFailures(node: node, count: Int(random.int(1...3)))
                case 14:
                    // The OOM killer takes a script (unloads only with the watchdog, as above).
                    let actions: [ScriptAction] = watchdog ? [.load, .unload, .monitor] : [.load, .monitor]
                    let action = actions[Int(random.int(0...Int64(actions.count - 1)))]
                    sim.injectScriptFault(
                        .killedBySignal, node: node, resource: action == .monitor ? "vip_c" : resource, action: action)
                default:
                    sim.stopAgent(node)
                    sim.startAgentLater(node, after: random.int(500...3000))
                }
            }
            sim.run(for: 100)
        }
        return Outcome(seed: seed, violations: sim.violations, timeline: sim.timeline, actions: sim.stepsRun)
    }
}
