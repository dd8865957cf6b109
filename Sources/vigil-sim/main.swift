#if canImport(Glibc)
import Glibc
#endif
import ClusterBrain
import ClusterModel
import ClusterTestKit

let arguments = Array(CommandLine.arguments.dropFirst())
func value(_ flag: String) -> String? {
    arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}

switch arguments.first {
case "random":
    let first = UInt64(value("--seed") ?? value("--from") ?? "1") ?? 1
    let count = value("--seed") != nil ? 1 : UInt64(value("--count") ?? "100") ?? 100
    let steps = Int(value("--steps") ?? "300") ?? 300
    let watchdog = !arguments.contains("--no-watchdog")
    // Deliberately unsafe variants, to watch the checker catch them.
    var faults = Brain.InjectedFaults.none
    if let delay = value("--unsafe-self-fence-delay-ms").flatMap(Int64.init) { faults.selfFenceDelay = .milliseconds(delay) }
    if let early = value("--unsafe-evict-early-ms").flatMap(Int64.init) { faults.evictEarly = .milliseconds(early) }
    var failed = 0
    var actions = 0
    for seed in first..<(first + count) {
        let outcome = RandomRun.run(seed: seed, steps: steps, watchdog: watchdog, faults: faults, verbose: arguments.contains("--verbose"),
        freezes: !arguments.contains("--no-freezes"))
        actions += outcome.actions
        if arguments.contains("--verbose") { outcome.timeline.forEach { print($0) } }
        if !outcome.violations.isEmpty {
            failed += 1
            print("seed \(seed): \(outcome.violations.count) violation(s), first: \(outcome.violations[0])")
            print("  replay: \(outcome.replayCommand)")
        }
    }
    print("\(count) seeds × \(steps) steps, \(actions) actions: \(count - UInt64(failed)) passed, \(failed) failed")
    exit(failed == 0 ? 0 : 1)
default:
    let ip = ResourceSpec(
        name: "iManager", template: "Generic_IP_Service",
        load: ScriptSpec(body: ". /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress 198.18.0.100\nexit 0", timeout: .seconds(60)),
        unload: ScriptSpec(body: ". /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress 198.18.0.100\nexit 0", timeout: .seconds(60)),
        variables: ["RESOURCE_IP": "198.18.0.100"])
    let sim = Simulation(SimulationSettings(nodes: ["n1", "n2", "n3"], resources: [ip], seed: 1))
    sim.run(for: 3000)
    sim.snapshot("cluster formed")
    if let holder = sim.holders("iManager").first {
        sim.crash(holder)
        sim.run(for: 4000)
        sim.snapshot("after crash of \(holder)")
    }
    sim.timeline.forEach { print($0) }
    print("violations: \(sim.violations.count)")
}
