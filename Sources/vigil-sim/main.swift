import ClusterBrain
import ClusterModel
import ClusterTestKit

#if canImport(Glibc)
    import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
func value(_ flag: String) -> String? {
    arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}

switch arguments.first {
case "random":
    // Seeded random runs with fault injection; every invariant checked after every step.
    let first = UInt64(value("--seed") ?? value("--from") ?? "1") ?? 1
    let count = value("--seed") != nil ? 1 : UInt64(value("--count") ?? "100") ?? 100
    let steps = Int(value("--steps") ?? "300") ?? 300
    let watchdog = !arguments.contains("--no-watchdog")
    // Deliberately unsafe variants, to watch the checker catch them.
    var faults = Brain.InjectedFaults.none
    if let delay = value("--unsafe-self-fence-delay-ms").flatMap(Int64.init) {
        faults.selfFenceDelay = .milliseconds(delay)
    }
    if let early = value("--unsafe-evict-early-ms").flatMap(Int64.init) { faults.evictEarly = .milliseconds(early) }
    // The agent shell's gaps before issue 9, all put back.
    let shellFaults =
        arguments.contains("--unsafe-old-shell")
        ? ShellFaults.old : ShellFaults.none
    if arguments.contains("--unsafe-old-shell") {
        faults.stopFailuresIgnored = true
        faults.fenceUsesCurrentDefinition = true
    }
    var failed = 0
    var actions = 0
    for seed in first..<(first + count) {
        let outcome = RandomRun.run(
            seed: seed, steps: steps, watchdog: watchdog, faults: faults, shellFaults: shellFaults,
            verbose: arguments.contains("--verbose"),
            freezes: !arguments.contains("--no-freezes"))
        actions += outcome.actions
        if arguments.contains("--verbose") { print(outcome.timeline.joined(separator: "\n")) }
        if !outcome.violations.isEmpty {
            failed += 1
            print("seed \(seed): \(outcome.violations.count) violation(s), first: \(outcome.violations[0])")
            print("  replay: \(outcome.replayCommand)")
        }
    }
    print("\(count) seeds × \(steps) steps, \(actions) actions: \(count - UInt64(failed)) passed, \(failed) failed")
    exit(failed == 0 ? 0 : 1)
default:
    // The demo: NCS's reference scenario (iManager behind a VIP, Active/Active Tomcat) on a
    // simulated 3-node cluster: the node holding the VIP crashes, the VIP moves.
    let ip = "198.18.0.100"
    let iManager = ResourceSpec(
        name: "iManager", template: "Generic_IP_Service",
        load: ScriptSpec(
            body: ". /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress \(ip)\nexit 0",
            timeout: .seconds(60)),
        unload: ScriptSpec(
            body: ". /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress \(ip)\nexit 0",
            timeout: .seconds(60)),
        variables: ["RESOURCE_IP": ip])
    let tomcat = ResourceSpec(name: "Tomcat", mode: .everywhere)
    var settings = SimulationSettings(
        nodes: ["n1", "n2", "n3"], resources: [iManager, tomcat], seed: UInt64(value("--seed") ?? "1") ?? 1)
    settings.storeLatency = 1...2
    settings.loadDuration = 80...120
    let sim = Simulation(settings)
    print(
        """
        Vigil demo (simulated): 3 nodes, one store, the NCS reference resource.
          iManager (Generic_IP_Service) load script:
            . /opt/novell/ncs/lib/ncsfuncs
            exit_on_error add_secondary_ipaddress \(ip)
            exit 0
          Tomcat runs on every node (Active/Active); only the address moves.
          Timing profile 'default': tolerance 2s, heartbeat 400ms.

        """)
    sim.run(until: { !$0.runningOn("iManager").isEmpty }, limit: 5000)
    sim.run(for: 2000)
    sim.snapshot("cluster up")
    guard let holder = sim.runningOn("iManager").first else {
        print("iManager never started")
        exit(1)
    }
    let crashAt = sim.now
    sim.crash(holder)
    let moved = sim.run(
        until: { !$0.runningOn("iManager").isEmpty && !$0.runningOn("iManager").contains(holder) }, limit: 10_000)
    let outage = sim.now - crashAt
    sim.run(for: 500)
    sim.snapshot("after the crash of \(holder)")
    for line in sim.timeline { print(line) }
    print("")
    print(
        moved
            ? "VIP \(ip) answered again from \(sim.runningOn("iManager").map(\.rawValue).joined(separator: ",")) \(outage) ms after \(holder) crashed: the tolerance (2 s after its last heartbeat) plus the load script."
            : "VIP did not move within 10 s")
    print("Invariant violations (two holders, unfenced loads, slow failover): \(sim.violations.count)")
    exit(moved && sim.violations.isEmpty ? 0 : 1)
}
