import ClusterBrain
import ClusterModel
import Testing

/// Every node's own resources: given its assignment, when scripts and writes finish, then exactly these actions.
@Suite("A node's own resources")
struct LocalResourceTests {
    func status(
        _ state: LocalState, node: NodeName = "n2", generation: UInt64 = 1, incarnation: Int = 0,
        upSince: Int64? = nil, last: (ScriptAction, ScriptOutcome)? = nil, moveAway: MoveAwayReason? = nil,
        addressGone: String? = nil
    ) -> ResourceStatus {
        ResourceStatus(
            node: node, generation: generation, state: state, incarnation: incarnation, upSince: upSince,
            lastAction: last?.0, lastOutcome: last?.1, moveAway: moveAway, addressGone: addressGone)
    }

    /// n2, with `spec` assigned to it at generation 1 (assignment revision 50).
    func assigned(_ spec: ResourceSpec = vip(), _ placement: Placement = .node("n2")) -> (Harness, World) {
        var world = World()
        world.resource(spec)
        world.assign(spec.name, placement)
        return (Harness("n2", world: world), world)
    }

    @Test("a load starts only after the fenced Loading status commits")
    func fencedLoad() {
        var world = World()
        world.resource(vip())
        var harness = Harness("n2", world: world)
        world.assign("vip", .node("n2"))
        world.bump()
        #expect(actions(harness.when(.viewChanged(world.view))) == [.writeStatus("vip", status(.loading), fence: 50)])
        #expect(
            actions(harness.when(.statusCommitted("vip", generation: 1, .loading))) == [.runScript(job(vip(), .load))])
    }

    @Test("a refused fence means no load, and no new attempt until the view moves on")
    func refusedFence() {
        var world = World()
        world.resource(vip())
        var harness = Harness("n2", world: world)
        world.assign("vip", .node("n2"))
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        #expect(actions(harness.when(.statusRejected("vip", generation: 1))).isEmpty)
        #expect(!actions(harness.after(100)).contains { if case .runScript = $0 { true } else { false } })
        world.assign("vip", .node("n2"), revision: 51)
        world.bump()
        #expect(actions(harness.when(.viewChanged(world.view))) == [.writeStatus("vip", status(.loading), fence: 51)])
    }

    @Test("a successful load reports Running with the next incarnation")
    func loadSucceeds() {
        var (harness, _) = assigned()
        _ = harness.when(.statusCommitted("vip", generation: 1, .loading))
        let directives = actions(harness.when(.scriptFinished("vip", .load, generation: 1, .success)))
        #expect(
            directives == [
                .writeStatus(
                    "vip",
                    status(.running, incarnation: 1, upSince: harness.now.wallMilliseconds, last: (.load, .success)),
                    fence: 50)
            ])
    }

    @Test(
        "a failed or timed-out load makes the resource Comatose",
        arguments: [ScriptOutcome.failure(exitCode: 3), .timedOut])
    func loadFails(outcome: ScriptOutcome) {
        var (harness, _) = assigned()
        _ = harness.when(.statusCommitted("vip", generation: 1, .loading))
        let directives = actions(harness.when(.scriptFinished("vip", .load, generation: 1, outcome)))
        #expect(directives == [.writeStatus("vip", status(.comatose, last: (.load, outcome)), fence: 50)])
    }

    @Test("migrating away: unload, then a clean Offline at the generation")
    func migrateAway() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        _ = harness.when(.statusCommitted("vip", generation: 1, .running))
        world.assign("vip", .migrating(from: "n2", to: "n3"), generation: 2, revision: 80)
        world.bump()
        let unload = actions(harness.when(.viewChanged(world.view)))
        #expect(
            unload == [
                .runScript(job(vip(), .unload, generation: 2)),
                .writeStatus("vip", status(.unloading, generation: 2), fence: 80),
            ])
        // The unload names the address that must be gone when it exits 0.
        if case .runScript(let job) = unload.first { #expect(job.addressMustBeGone == "198.18.0.100") }
        _ = harness.when(.statusCommitted("vip", generation: 2, .unloading))
        #expect(
            actions(harness.when(.scriptFinished("vip", .unload, generation: 2, .success))) == [
                .writeStatus(
                    "vip",
                    status(.offline, generation: 2, last: (.unload, .success), addressGone: "198.18.0.100"),
                    fence: 80)
            ])
    }

    @Test("a report's answer that comes after the view moved to a newer generation frees the next report")
    func lateAnswerFreesReport() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        // Running (generation 1) is in flight when the view already says: migrate away.
        world.assign("vip", .migrating(from: "n2", to: "n3"), generation: 2, revision: 80)
        world.bump()
        #expect(actions(harness.when(.viewChanged(world.view))) == [.runScript(job(vip(), .unload, generation: 2))])
        // Its answer comes now: the Unloading report goes out, and the Offline one after it.
        #expect(
            actions(harness.when(.statusCommitted("vip", generation: 1, .running))) == [
                .writeStatus("vip", status(.unloading, generation: 2), fence: 80)
            ])
        _ = harness.when(.statusCommitted("vip", generation: 2, .unloading))
        #expect(
            actions(harness.when(.scriptFinished("vip", .unload, generation: 2, .success))) == [
                .writeStatus(
                    "vip",
                    status(.offline, generation: 2, last: (.unload, .success), addressGone: "198.18.0.100"),
                    fence: 80)
            ])
    }

    /// n3 loading `vip` at generation 3 after n2's status `previous`.
    func loadAfter(_ previous: (state: LocalState, generation: UInt64, addressGone: String?)) -> Brain.ScriptJob? {
        var world = World()
        world.resource(vip())
        world.status("vip", "n2", previous.state, generation: previous.generation, addressGone: previous.addressGone)
        world.assign("vip", .node("n3"), generation: 3, revision: 90)
        var harness = Harness("n3", world: world)
        let load = actions(harness.when(.statusCommitted("vip", generation: 3, .loading)))
        guard case .runScript(let job)? = load.first else { return nil }
        return job
    }

    @Test("a load right after a clean release of its address skips the probe; any other load probes")
    func releasedAddress() {
        // Migrate or graceful stop: the previous generation's holder reported the address gone.
        #expect(loadAfter((.offline, 2, "198.18.0.100"))?.addressReleased == "198.18.0.100")
        // Failover (the holder's last word was Running), an Offline that verified no address or
        // another one, or a release at an older generation: probe.
        #expect(loadAfter((.running, 2, nil))?.addressReleased == nil)
        #expect(loadAfter((.offline, 2, nil))?.addressReleased == nil)
        #expect(loadAfter((.offline, 2, "198.18.0.200"))?.addressReleased == nil)
        #expect(loadAfter((.offline, 1, "198.18.0.100"))?.addressReleased == nil)
        #expect(loadAfter((.comatose, 2, "198.18.0.100"))?.addressReleased == nil)
    }

    @Test(
        "a failed unload, or one that exits 0 but leaves its address up, leaves the resource Comatose",
        arguments: [ScriptOutcome.failure(exitCode: 1), .addressStayed])
    func unloadFails(outcome: ScriptOutcome) {
        var world = World()
        world.resource(vip())
        world.assign("vip", .stopping("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        _ = harness.when(.statusCommitted("vip", generation: 1, .unloading))
        #expect(
            actions(harness.when(.scriptFinished("vip", .unload, generation: 1, outcome))) == [
                .writeStatus("vip", status(.comatose, last: (.unload, outcome)), fence: 50)
            ])
    }

    @Test("a resource assigned elsewhere that is still active here is stopped at once")
    func assignedElsewhere() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n3"))
        var harness = Harness("n2", world: world, local: ["vip"], joined: false)
        #expect(
            actions(harness.when(.joined(memberRevision: 12, sentAt: harness.now))) == [
                .selfFence([target()]), .runScript(job(vip(), .unload, generation: 0)),
            ])
    }

    @Test("a restarted agent adopts a resource still assigned to its own membership: no reload")
    func adoption() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"), generation: 4)
        world.status("vip", "n2", .running, generation: 4)
        world.view.statuses["vip"]!["n2"]!.value.incarnation = 7
        var harness = Harness("n2", world: world, local: ["vip"], joined: false)
        let directives = actions(harness.when(.joined(memberRevision: 12, sentAt: harness.now)))
        #expect(directives == [.writeStatus("vip", status(.running, generation: 4, incarnation: 7), fence: 50)])
    }

    @Test("a node that joined under a new member key does not adopt: it stops the resource")
    func noAdoptionAfterEviction() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"], joined: false)
        world.member("n2")
        world.view.members["n2"]!.createRevision = 90
        world.view.members["n2"]!.modRevision = 90
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        let directives = actions(harness.when(.joined(memberRevision: 90, sentAt: harness.now)))
        #expect(directives == [.selfFence([target()]), .runScript(job(vip(), .unload, generation: 0))])
    }

    func monitored(max: Int, action: MonitorAction) -> ResourceSpec {
        vip {
            $0.monitor = MonitorSpec(
                script: ScriptSpec(body: "monitor", timeout: .seconds(5)), interval: .seconds(10),
                maxLocalFailures: max,
                window: .minutes(10), action: action)
        }
    }

    /// n2 running `spec` (loaded by this agent), with its load reported.
    func running(_ spec: ResourceSpec) -> Harness { runningHere(spec).0 }

    /// n2 running `spec` at generation 1 (assignment revision 50), its Running status committed.
    func runningHere(_ spec: ResourceSpec = vip(), watchdogTimeout: Span? = nil) -> (Harness, World) {
        var world = World()
        world.view.settings.timing.watchdogTimeout = watchdogTimeout
        world.resource(spec)
        world.assign(spec.name, .node("n2"))
        var harness = Harness("n2", world: world)
        _ = harness.when(.statusCommitted(spec.name, generation: 1, .loading))
        _ = harness.when(.scriptFinished(spec.name, .load, generation: 1, .success))
        _ = harness.when(.statusCommitted(spec.name, generation: 1, .running))
        return (harness, world)
    }

    @Test("the monitor runs every interval while the resource runs")
    func monitorSchedule() {
        let spec = monitored(max: 1, action: .comatose)
        var harness = running(spec)
        #expect(!actions(harness.after(9999)).contains(.runScript(job(spec, .monitor))))
        #expect(actions(harness.after(1)).contains(.runScript(job(spec, .monitor))))
        _ = harness.when(.scriptFinished("vip", .monitor, generation: 1, .success))
        #expect(actions(harness.after(10_000)).contains(.runScript(job(spec, .monitor))))
    }

    @Test("a suspended monitor does not run, and runs again once resumed (vigil monitor RES stop|start)")
    func monitorSuspended() {
        let spec = monitored(max: 1, action: .comatose)
        var (harness, world) = runningHere(spec)
        world.view.suspendedMonitors = ["vip"]
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        for _ in 0..<5 {
            #expect(!actions(harness.after(10_000)).contains(.runScript(job(spec, .monitor))))
        }
        world.view.suspendedMonitors = []
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        #expect(actions(harness.after(10_000)).contains(.runScript(job(spec, .monitor))))
    }

    @Test("monitor failures up to the limit restart the resource on the same node")
    func monitorLocalRestart() {
        let spec = monitored(max: 1, action: .comatose)
        var harness = running(spec)
        _ = harness.after(10_000)
        #expect(
            actions(harness.when(.scriptFinished("vip", .monitor, generation: 1, .failure(exitCode: 1)))).first
                == .runScript(job(spec, .unload)))
        _ = harness.when(.statusCommitted("vip", generation: 1, .unloading))
        let reload = actions(harness.when(.scriptFinished("vip", .unload, generation: 1, .success)))
        guard case .writeStatus(_, let loading, _)? = reload.first else {
            Issue.record("no fenced Loading write: \(reload)")
            return
        }
        #expect(loading.state == .loading)
        #expect(
            actions(harness.when(.statusCommitted("vip", generation: 1, .loading))) == [.runScript(job(spec, .load))])
    }

    @Test("beyond the limit the monitor action fires", arguments: [MonitorAction.comatose, .migrate, .reboot])
    func monitorAction(action: MonitorAction) {
        let spec = monitored(max: 0, action: action)
        var harness = running(spec)
        _ = harness.after(10_000)
        let directives = actions(harness.when(.scriptFinished("vip", .monitor, generation: 1, .timedOut)))
        switch action {
        case .comatose:
            #expect(directives.count == 1)
            guard case .writeStatus(_, let reported, _)? = directives.first else { return }
            #expect(reported.state == .comatose)
        case .migrate:
            #expect(directives.first == .runScript(job(spec, .unload)))
            _ = harness.when(.statusCommitted("vip", generation: 1, .unloading))
            let done = actions(harness.when(.scriptFinished("vip", .unload, generation: 1, .success)))
            guard case .writeStatus(_, let reported, _)? = done.first else { return }
            #expect(reported.state == .offline)
            #expect(reported.moveAway == .monitor)
        case .reboot:
            #expect(directives.contains(.reboot))
        }
    }

    @Test("a Comatose placement keeps the resource as it is and runs nothing")
    func comatoseHold() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        _ = harness.when(.statusCommitted("vip", generation: 1, .running))
        world.assign("vip", .comatose("n2"), generation: 2, revision: 90)
        world.bump()
        let directives = actions(harness.when(.viewChanged(world.view)))
        #expect(directives == [.writeStatus("vip", status(.comatose, generation: 2), fence: 90)])
    }

    @Test("an everywhere resource loads on every eligible node, fenced the same way")
    func everywhere() {
        var world = World()
        let web = ResourceSpec(name: "web", mode: .everywhere)
        world.resource(web)
        world.assign("web", .everywhere)
        var harness = Harness("n3", world: world)
        _ = harness.when(.statusCommitted("web", generation: 1, .loading))
        #expect(harness.brain.local["web"]?.phase == .loading)
        world.assign("web", .offline, generation: 2, revision: 70)
        world.bump()
        _ = harness.when(.scriptFinished("web", .load, generation: 1, .success))
        #expect(actions(harness.when(.viewChanged(world.view))).first == .runScript(job(web, .unload, generation: 2)))
    }

    @Test("a self-fenced node loads its still-assigned resource again once a heartbeat proves its membership")
    func reloadAfterFence() {
        var harness = running(vip())
        harness.storeReachable = false
        let fence = actions(harness.after(1600))
        #expect(fence.contains(.selfFence([target()])))
        _ = harness.when(.scriptFinished("vip", .unload, generation: 1, .success))
        let again = actions(harness.acknowledge())
        guard case .writeStatus(_, let loading, _)? = again.first else {
            Issue.record("no reload: \(again)")
            return
        }
        #expect(loading.state == .loading)
    }

    @Test("a fence stops the resource as it was loaded: an edited address or unload does not count")
    func fenceUsesLoadedDefinition() {
        var (harness, world) = runningHere()
        // `vigil resource edit` changes the address and the unload of the running resource.
        let edited = vip {
            $0.variables["RESOURCE_IP"] = "198.18.0.101"
            $0.unload.body = "edited unload"
        }
        world.resource(edited)
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        harness.storeReachable = false
        let fence = actions(harness.after(1600))
        #expect(fence == [.selfFence([target(address: "198.18.0.100")]), .runScript(job(vip(), .unload))])
    }

    @Test("a restarted agent that cannot reach the store fences what its local record names, at its deadline")
    func restartWithoutStore() {
        var harness = Harness("n2", started: ["vip": vip()])
        harness.storeReachable = false
        #expect(!actions(harness.after(1500)).contains { if case .selfFence = $0 { true } else { false } })
        let fence = actions(harness.after(200))
        #expect(fence.contains(.selfFence([target()])))
        #expect(fence.contains(.runScript(job(vip(), .unload, generation: 0))))
    }

    @Test("a failed forced unload leaves the resource Comatose, removes its address again and stops the watchdog")
    func forcedUnloadFails() {
        var world = World()
        world.view.settings.timing.watchdogTimeout = .seconds(1)
        world.resource(vip())
        world.assign("vip", .node("n3"))
        var harness = Harness("n2", world: world, local: ["vip"], joined: false)
        #expect(
            actions(harness.when(.joined(memberRevision: 12, sentAt: harness.now))) == [
                .selfFence([target()]), .runScript(job(vip(), .unload, generation: 0)),
            ])
        let failed = harness.when(.scriptFinished("vip", .unload, generation: 0, .failure(exitCode: 32)))
        #expect(actions(failed) == [.selfFence([target()])])
        #expect(harness.brain.local["vip"]?.phase == .comatose)
        #expect(
            failed.contains {
                if case .record(let event) = $0 { event.message.contains("forced stop failed") } else { false }
            })
        // Still a healthy member, but never petted again; and the stop is not retried in a loop.
        let later = harness.after(3000)
        #expect(!later.contains(.petWatchdog))
        #expect(!actions(later).contains { if case .runScript = $0 { true } else { $0 == .selfFence([target()]) } })
        // The master decides again (a new generation, e.g. the admin's offline): the stop is retried.
        world.assign("vip", .offline, generation: 2, revision: 51)
        world.bump()
        #expect(
            actions(harness.when(.viewChanged(world.view))) == [
                .selfFence([target()]), .runScript(job(vip(), .unload, generation: 0)),
            ])
        _ = harness.when(.scriptFinished("vip", .unload, generation: 0, .success))
        #expect(harness.after(1000).contains(.petWatchdog))
    }

    @Test("a release asked for while a forced stop runs reports Offline only once the unload has finished")
    func releaseDuringForcedStop() {
        var (harness, world) = runningHere()
        harness.storeReachable = false
        #expect(actions(harness.after(1600)).contains(.runScript(job(vip(), .unload))))
        // Membership proven again, and the master asks for a migration while the forced unload runs.
        harness.storeReachable = true
        _ = harness.acknowledge()
        world.assign("vip", .migrating(from: "n2", to: "n3"), generation: 2, revision: 51)
        world.bump()
        let during = actions(harness.when(.viewChanged(world.view)))
        #expect(
            !during.contains { if case .writeStatus(_, let status, _) = $0 { status.state == .offline } else { false } }
        )
        let after = actions(harness.when(.scriptFinished("vip", .unload, generation: 1, .success)))
        #expect(
            after.contains { if case .writeStatus(_, let status, _) = $0 { status.state == .offline } else { false } })
    }

    @Test("a fenced node does not pet the watchdog while a forced stop runs; it does once the stop is done")
    func noPetWhileStopping() {
        var (harness, _) = runningHere(watchdogTimeout: .seconds(1))
        harness.storeReachable = false
        let fenced = harness.after(1000)
        #expect(fenced.contains(.runScript(job(vip(), .unload))))
        #expect(!harness.after(3000).contains(.petWatchdog), "petted while the forced unload was still running")
        _ = harness.when(.scriptFinished("vip", .unload, generation: 1, .success))
        #expect(harness.after(1000).contains(.petWatchdog))
    }

    @Test("an address seen here of a resource this node does not hold is removed; one it holds or is loading is not")
    func strayAddress() {
        var world = World()
        world.resource(vip())
        world.resource(vip("web") { $0.variables["RESOURCE_IP"] = "198.18.0.101" })
        world.assign("vip", .node("n3"))
        world.assign("web", .node("n2"))
        var harness = Harness("n2", world: world)
        _ = harness.when(.statusCommitted("web", generation: 1, .loading))
        let observed = harness.when(.addressesObserved(["198.18.0.12", "198.18.0.100", "198.18.0.101"]))
        #expect(actions(observed) == [.removeAddress("198.18.0.100", resource: "vip")])
        #expect(
            observed.contains {
                if case .record(let event) = $0 { event.severity == .warning && event.resource == "vip" } else { false }
            })
        #expect(actions(harness.when(.addressesObserved(["198.18.0.101"]))).isEmpty)
    }
}
