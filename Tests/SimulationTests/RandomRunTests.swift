import ClusterBrain
import ClusterModel
import ClusterTestKit
import Foundation
import Testing

/// Seeds of this debug-built pass: 2,000 by default, `VIGIL_SIM_SEEDS` to change it. `make test`
/// runs 20 here and the full 2,000 on the release-built `vigil-sim` (scripts/random-runs).
let seedCount: UInt64 = ProcessInfo.processInfo.environment["VIGIL_SIM_SEEDS"].flatMap(UInt64.init) ?? 2000
let chunks: [UInt64] = Array(0..<20)

@Suite("Randomised simulation")
struct RandomRunTests {
    @Test(
        "seeded random runs keep S1, fenced loads and L1 (watchdog on, every fault)",
        // A hang guard only: CPU-bound, its time depends on the machine.
        .timeLimit(.minutes(120)),
        arguments: chunks)
    func randomRuns(chunk: UInt64) async {
        let perChunk = (seedCount + UInt64(chunks.count) - 1) / UInt64(chunks.count)
        let first = chunk * perChunk + 1
        let last = max(first, min(first + perChunk, seedCount + 1))
        for seed in first..<last {
            // CPU-bound: give the other (async, time-limited) tests a turn on the two cores.
            await Task.yield()
            let outcome = RandomRun.run(seed: seed, steps: 300)
            if let violation = outcome.violations.first {
                Issue.record("seed \(seed): \(violation)\n  replay: \(outcome.replayCommand)")
            }
        }
    }

    @Test(
        "without freezes no watchdog is needed: random runs stay safe with it off", .timeLimit(.minutes(120)),
        arguments: [UInt64(0), 1])
    func noWatchdogNoFreezes(chunk: UInt64) async {
        let perChunk = max(1, seedCount / 20)
        for seed in (5000 + chunk * perChunk)..<(5000 + (chunk + 1) * perChunk) {
            await Task.yield()
            let outcome = RandomRun.run(seed: seed, steps: 300, watchdog: false, freezes: false)
            if let violation = outcome.violations.first {
                Issue.record(
                    "seed \(seed): \(violation)\n  replay: \(outcome.replayCommand) --no-watchdog --no-freezes")
            }
        }
    }
}

/// The checkers must be able to fail: deliberately unsafe brains are caught.
@Suite("The invariant checkers catch broken behaviour")
struct CheckerTests {
    func partitionedHolder(_ faults: Brain.InjectedFaults, partitionFor: Int64 = 6000) -> Simulation {
        var settings = SimulationSettings(nodes: three, resources: [ipService(preferred: ["n2", "n3"])], seed: 3)
        settings.faults = faults
        let sim = Simulation(settings)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.partition("n2", for: partitionFor)
        sim.run(for: partitionFor + 2000)
        return sim
    }

    @Test("S1 catches a node that self-fences 2 s late")
    func lateSelfFence() {
        let sim = partitionedHolder(Brain.InjectedFaults(selfFenceDelay: .seconds(2)))
        #expect(sim.violations.contains { $0.invariant == "S1" })
    }

    @Test("S1 catches a master that evicts 1.5 s early")
    func earlyEviction() {
        let sim = partitionedHolder(Brain.InjectedFaults(evictEarly: .milliseconds(1500)))
        #expect(sim.violations.contains { $0.invariant == "S1" })
    }

    /// The holder is cut off, then the tolerance is lowered from 4 s to 2 s: the holder never sees
    /// the change and fences itself by 4 s, so the master must wait the 4 s the holder advertised.
    func loweredToleranceWhilePartitioned(_ faults: Brain.InjectedFaults) -> Simulation {
        var cluster = ClusterSettings()
        cluster.timing.tolerance = .seconds(4)
        var settings = SimulationSettings(
            nodes: three, resources: [ipService(preferred: ["n2", "n3"])], cluster: cluster, seed: 5)
        settings.faults = faults
        let sim = Simulation(settings)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 8000)
        sim.partition("n2", for: 9000)
        sim.run(for: 100)
        sim.setTolerance(.seconds(2))
        sim.run(for: 11_000)
        return sim
    }

    @Test("S1 catches a master that evicts by a lowered tolerance the cut-off holder never saw")
    func loweredToleranceIgnored() {
        let sim = loweredToleranceWhilePartitioned(Brain.InjectedFaults(ignoreAdvertisedTolerance: true))
        #expect(sim.violations.contains { $0.invariant == "S1" })
    }

    @Test("with the advertised tolerance honoured, the lowered tolerance breaks nothing")
    func loweredToleranceHonoured() {
        let sim = loweredToleranceWhilePartitioned(.none)
        #expect(sim.violations.isEmpty, "\(sim.violations)")
        #expect(sim.runningOn("iManager") == ["n3"])
    }

    @Test("the same partition with the real brain breaks nothing")
    func control() {
        let sim = partitionedHolder(.none)
        #expect(sim.violations.isEmpty, "\(sim.violations)")
        #expect(sim.runningOn("iManager") == ["n3"])
    }

    @Test("L1 catches a master that evicts 3 s late")
    func lateEviction() {
        var settings = SimulationSettings(nodes: three, resources: [ipService(preferred: ["n2", "n3"])], seed: 3)
        settings.faults = Brain.InjectedFaults(evictEarly: .milliseconds(-3000))
        let sim = Simulation(settings)
        sim.run(for: 10_000)
        sim.crash("n2")
        sim.run(for: 8000)
        #expect(sim.violations.contains { $0.invariant == "L1" })
    }

    @Test("random runs catch the unsafe variants too, and print a replay command")
    func randomCatches() async {
        var outcomes: [RandomRun.Outcome] = []
        for seed in UInt64(1)...30 {
            await Task.yield()
            outcomes.append(
                RandomRun.run(
                    seed: seed, steps: 300, faults: Brain.InjectedFaults(selfFenceDelay: .seconds(2)), freezes: false))
        }
        let failing = outcomes.filter { !$0.violations.isEmpty }
        #expect(!failing.isEmpty)
        #expect(failing.first?.replayCommand.contains("--seed") == true)
    }

    /// Issue 9's forced-stop gap: a resource that is more than an address (a mount: no
    /// RESOURCE_IP) on a node cut off from the store, whose forced unload hangs or fails. The
    /// fixed shell stops petting the watchdog, so the node is reset before the others load it;
    /// the old one (a failed forced unload counted as stopped, petting meanwhile) leaves it active
    /// on two nodes.
    func forcedStopScenario(_ fault: Simulation.ScriptFault, faults: Brain.InjectedFaults) -> Simulation {
        var cluster = ClusterSettings()
        cluster.timing.watchdogTimeout = .seconds(1)
        let mount = ResourceSpec(name: "data", preferredNodes: ["n2", "n3"])
        var settings = SimulationSettings(nodes: three, resources: [mount], cluster: cluster, seed: 5)
        settings.faults = faults
        let sim = Simulation(settings)
        sim.run(until: { $0.runningOn("data") == ["n2"] }, limit: 10_000)
        sim.injectScriptFault(fault, node: "n2", resource: "data", action: .unload)
        sim.partition("n2", for: 8000)
        sim.run(for: 12_000)
        return sim
    }

    @Test(
        "a forced stop that hangs or fails ends in a reset, never on two nodes; the old shell is caught",
        arguments: [Simulation.ScriptFault.hang, .fail(32)])
    func forcedStopFailures(fault: Simulation.ScriptFault) {
        let fixed = forcedStopScenario(fault, faults: .none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        #expect(fixed.runningOn("data") == ["n3"])
        let old = forcedStopScenario(fault, faults: Brain.InjectedFaults(stopFailuresIgnored: true))
        #expect(old.violations.contains { $0.invariant == "S1" }, "the old shell was not caught")
    }
}

/// Issue 9's shell gaps, each put back by a switch (Brain.InjectedFaults, ShellFaults): the same
/// scenario passes with the fix and breaks an invariant without it.
@Suite("The checkers catch each shell gap of issue 9")
struct ShellGapTests {
    func simulation(
        _ resources: [ResourceSpec], faults: Brain.InjectedFaults = .none, shell: ShellFaults = .none,
        slots: Int = 8
    ) -> Simulation {
        var settings = SimulationSettings(nodes: three, resources: resources, seed: 7)
        settings.faults = faults
        settings.shellFaults = shell
        settings.parallelScripts = slots
        return Simulation(settings)
    }

    @Test("random runs meet the new fakes: with the old shell put back they find violations")
    func randomRunsCatchTheOldShell() async {
        let old = ShellFaults.old
        var caught: [String] = []
        for seed in UInt64(1)...60 {
            await Task.yield()
            let outcome = RandomRun.run(
                seed: seed, steps: 300,
                faults: Brain.InjectedFaults(stopFailuresIgnored: true, fenceUsesCurrentDefinition: true),
                shellFaults: old)
            caught += outcome.violations.prefix(1).map(\.invariant)
        }
        #expect(!caught.isEmpty, "no seed of 60 caught the old shell")
    }

    /// The holder's VIP is edited while it runs, then the holder is cut off: its fence must remove
    /// 198.18.0.100 (as loaded), not 198.18.0.101 (as now defined).
    func editedWhileRunning(_ faults: Brain.InjectedFaults) -> Simulation {
        let sim = simulation([ipService(preferred: ["n2", "n3"])], faults: faults)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.editAddress("iManager", to: "198.18.0.101")
        // The forced unload (of the loaded definition) would remove the address too: it hangs.
        sim.injectScriptFault(.hang, node: "n2", resource: "iManager", action: .unload)
        sim.run(for: 500)
        sim.partition("n2", for: 6000)
        sim.run(for: 8000)
        return sim
    }

    @Test("an edited running resource: the fence removes the address it was loaded with")
    func editedDefinition() {
        let fixed = editedWhileRunning(.none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        #expect(fixed.runningOn("iManager") == ["n3"])
        let old = editedWhileRunning(Brain.InjectedFaults(fenceUsesCurrentDefinition: true))
        #expect(old.violations.contains { $0.invariant == "S1" }, "the old fence was not caught")
    }

    /// One script slot on n2: the first load hangs in it, the second waits; n2 is cut off. The
    /// fence kills the first (its slot frees) and must cancel the second before it starts.
    func queuedLoadAtFence(_ shell: ShellFaults) -> Simulation {
        let resources = [
            ipService(preferred: ["n2", "n3"]), ipService("files", ip: "198.18.0.102", preferred: ["n2", "n3"]),
        ]
        let sim = simulation(resources, shell: shell, slots: 1)
        for resource in ["iManager", "files"] as [ResourceName] {
            sim.injectScriptFault(.hang, node: "n2", resource: resource, action: .load)
        }
        let bothLoading = sim.run(
            until: { sim in
                (["iManager", "files"] as [ResourceName]).allSatisfy { sim.status($0, on: "n2")?.state == .loading }
            }, limit: 5000)
        #expect(bothLoading)
        // Cut off between two of the agent's address listings (every 2 s from its start), which
        // would otherwise find the queued load's address as a stray before the failover.
        sim.run(until: 1000)
        sim.partition("n2", for: 8000)
        sim.run(for: 10_000)
        return sim
    }

    @Test("a load waiting for a script slot never starts after the fence")
    func queuedScripts() {
        let fixed = queuedLoadAtFence(.none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        #expect(fixed.holders("iManager") == ["n3"] && fixed.holders("files") == ["n3"])
        let old = queuedLoadAtFence(ShellFaults(queuedScriptsSurviveFence: true))
        #expect(old.violations.contains { $0.invariant == "S1" }, "the old script runner was not caught")
    }

    /// `ip` fails twice on the holder just before it is cut off (the forced unload's own `ip` run
    /// takes the second failure: it exits 0, the address stays).
    func failingIP(_ shell: ShellFaults) -> Simulation {
        let sim = simulation([ipService(preferred: ["n2", "n3"])], shell: shell)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.run(until: 3000)
        sim.injectAddressFailures(node: "n2", count: 2)
        // Cut off between two address listings (every 2 s from the agent's start).
        sim.partition("n2", for: 6000)
        sim.run(for: 8000)
        return sim
    }

    @Test("a failed ip run is tried again, never counted as the address gone")
    func failedRemoval() {
        let fixed = failingIP(.none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        #expect(fixed.runningOn("iManager") == ["n3"])
        let old = failingIP(ShellFaults(failedRemovalCountsAsGone: true))
        #expect(old.violations.contains { $0.invariant == "S1" }, "the old address manager was not caught")
    }

    /// The holder's agent is killed while the node is cut off from the store, and restarts.
    func restartWhileCutOff(_ shell: ShellFaults) -> Simulation {
        let sim = simulation([ipService(preferred: ["n2", "n3"])], shell: shell)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.partition("n2", for: 8000)
        sim.restartAgent("n2", after: 200)
        sim.run(for: 10_000)
        return sim
    }

    @Test("an agent restarted without the store fences what its local record names")
    func restartWithoutStore() {
        let fixed = restartWhileCutOff(.none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        #expect(fixed.runningOn("iManager") == ["n3"])
        let old = restartWhileCutOff(ShellFaults(restartWithoutLocalRecord: true))
        #expect(old.violations.contains { $0.invariant == "S1" }, "the old agent start was not caught")
    }

    /// The holder's agent freezes for 5 s with a 1 s watchdog configured.
    func frozenWithWatchdog(_ shell: ShellFaults) -> Simulation {
        var cluster = ClusterSettings()
        cluster.timing.watchdogTimeout = .seconds(1)
        var settings = SimulationSettings(
            nodes: three, resources: [ipService(preferred: ["n2", "n3"])], cluster: cluster, seed: 7)
        settings.shellFaults = shell
        let sim = Simulation(settings)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.pause("n2", for: 5000)
        sim.run(for: 8000)
        return sim
    }

    @Test("the watchdog resets a frozen node by the configured timeout, not the driver's")
    func watchdogTimeout() {
        let fixed = frozenWithWatchdog(.none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        let old = frozenWithWatchdog(ShellFaults(watchdogKeepsDriverTimeout: true))
        #expect(old.violations.contains { $0.invariant == "S1" }, "the old watchdog was not caught")
    }

    /// The holder crashes; on the next node the OOM killer takes the load.
    func killedLoad(_ shell: ShellFaults) -> Simulation {
        let sim = simulation([ipService(preferred: ["n2", "n3"])], shell: shell)
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.injectScriptFault(.killedBySignal, node: "n3", resource: "iManager", action: .load)
        sim.crash("n2")
        sim.run(for: 12_000)
        return sim
    }

    @Test("a script killed by someone else is a failure (Comatose), not a resource Loading for ever")
    func killedScripts() {
        let fixed = killedLoad(.none)
        #expect(fixed.violations.isEmpty, "\(fixed.violations)")
        #expect(fixed.status("iManager", on: "n3")?.state == .comatose)
        let old = killedLoad(ShellFaults(killedScriptsDropped: true))
        #expect(old.violations.contains { $0.invariant == "L2" }, "the old script runner was not caught")
    }
}

/// ARCHITECTURE.md §4.8: a frozen agent cannot remove its address. With the watchdog the node is
/// reset in time; without it two nodes hold the VIP until the frozen agent wakes. Measured here so
/// the docs can state the window honestly.
@Suite("Frozen agents and the watchdog")
struct FrozenAgentTests {
    func frozenHolder(watchdog: Bool, freezeFor: Int64) -> Simulation {
        var cluster = ClusterSettings()
        if watchdog { cluster.timing.watchdogTimeout = .seconds(1) }
        let sim = Simulation(
            SimulationSettings(
                nodes: three, resources: [ipService(preferred: ["n2", "n3"])], cluster: cluster, seed: 11))
        sim.run(until: { $0.runningOn("iManager") == ["n2"] }, limit: 5000)
        sim.run(for: 3000)
        sim.pause("n2", for: freezeFor)
        sim.run(for: freezeFor + 3000)
        return sim
    }

    @Test(
        "with the watchdog a freeze longer than the tolerance never leaves two holders",
        arguments: [Int64(2500), 5000, 10_000])
    func watchdogCovers(freeze: Int64) {
        let sim = frozenHolder(watchdog: true, freezeFor: freeze)
        #expect(sim.violations.isEmpty, "\(sim.violations)")
        #expect(sim.runningOn("iManager") == ["n3"])
    }

    @Test("without the watchdog two nodes hold the VIP from the failover until the frozen agent wakes")
    func windowWithoutWatchdog() throws {
        let sim = frozenHolder(watchdog: false, freezeFor: 5000)
        let holding = try #require(sim.doubleHoldings.first)
        let length = try #require(holding.length)
        // Freeze 5 s; failover ≈ tolerance (2 s) + load; the agent fences as soon as it wakes.
        #expect(length > 2000 && length < 3500, "double holding lasted \(length) ms")
        print("without watchdog: 5 s freeze → two holders for \(length) ms")
    }

    @Test("a freeze shorter than the self-fence deadline is harmless even without the watchdog")
    func shortFreeze() {
        let sim = frozenHolder(watchdog: false, freezeFor: 800)
        #expect(sim.violations.isEmpty, "\(sim.violations)")
        #expect(sim.runningOn("iManager") == ["n2"])
    }
}
