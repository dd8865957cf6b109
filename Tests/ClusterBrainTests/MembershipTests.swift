import ClusterBrain
import ClusterModel
import Testing

@Suite("Membership, fencing and election")
struct MembershipTests {
    @Test("a started node joins as soon as it has read the store, and retries after two heartbeats")
    func joins() {
        var world = World(master: nil)
        world.view.members = [:]
        var brain = Brain.Instance(configuration: Brain.Configuration(node: "n1", version: "t"))
        let start = Moment(milliseconds: 0)
        #expect(actions(brain.handle(.started(localResources: [:]), now: start)).isEmpty)
        #expect(
            actions(brain.handle(.viewChanged(world.view), now: start)) == [
                .join(
                    MemberRecord(
                        node: "n1", heartbeat: 1, version: "t", tolerance: .seconds(2),
                        wallMilliseconds: start.wallMilliseconds), sentAt: start, adopts: nil)
            ])
        #expect(actions(brain.handle(.joinFailed, now: start + .milliseconds(10))).isEmpty)
        #expect(
            actions(brain.handle(.timerFired, now: start + .milliseconds(800))) == [
                .join(
                    MemberRecord(
                        node: "n1", heartbeat: 2, version: "t", tolerance: .seconds(2),
                        wallMilliseconds: (start + .milliseconds(800)).wallMilliseconds),
                    sentAt: start + .milliseconds(800), adopts: nil)
            ])
    }

    @Test("a member heartbeats every interval, fenced by its join revision")
    func heartbeats() {
        var harness = Harness("n2", world: World())
        _ = harness.after(400)
        let directives = harness.after(400)
        #expect(
            directives.contains(
                .sendHeartbeat(
                    MemberRecord(
                        node: "n2", heartbeat: 4, version: "t", tolerance: .seconds(2),
                        wallMilliseconds: harness.now.wallMilliseconds), memberRevision: 12, sentAt: harness.now)))
    }

    @Test("at the deadline a node stops its exclusive resources: addresses first, then the unload script")
    func selfFence() {
        let spec = vip()
        var harness = Harness.holder(of: spec)
        harness.storeReachable = false
        // Deadline = ack sent at t + tolerance (2 s) − margin (400 ms) = t + 1600 ms.
        #expect(!actions(harness.after(1599)).contains(.selfFence([target()])))
        let directives = actions(harness.after(1))
        #expect(directives == [.selfFence([target()]), .runScript(job(spec, .unload))])
        #expect(harness.brain.fenced)
    }

    @Test("an acknowledgement still queued behind a late event does not let the brain fence")
    func queuedAcknowledgement() {
        let spec = vip()
        var harness = Harness.holder(of: spec)
        harness.storeReachable = false
        let joinedAt = harness.now
        // The store acknowledged a heartbeat sent 1 s after the join; its event waits in the queue.
        // 1.7 s after the join (past the join's deadline, 1.6 s) a monitor's end comes first.
        harness.now = joinedAt + .milliseconds(1700)
        let late = Brain.Event.scriptFinished("vip", .monitor, generation: 1, .success)
        var told = harness.brain
        let directives = told.handle(late, newestAcknowledgement: joinedAt + .milliseconds(1000), now: harness.now)
        #expect(!actions(directives).contains(.selfFence([target()])), "\(directives)")
        #expect(!told.fenced)
        #expect(told.lastAckSentAt == joinedAt + .milliseconds(1000))
        // Not told (the fence thread has nothing newer): the deadline has passed, and it fences.
        var untold = harness.brain
        #expect(
            actions(untold.handle(late, newestAcknowledgement: nil, now: harness.now)).contains(.selfFence([target()])))
        // An acknowledgement the brain already has changes nothing.
        var same = harness.brain
        #expect(
            actions(same.handle(late, newestAcknowledgement: joinedAt, now: harness.now)).contains(
                .selfFence([target()])))
    }

    @Test(
        "the fence thread's deadline fence stops the resources even if a later acknowledgement reached the brain first")
    func fenceThreadFenced() {
        let spec = vip()
        var harness = Harness.holder(of: spec)
        _ = harness.after(500)
        _ = harness.acknowledge()
        #expect(!harness.brain.fenced)
        let directives = actions(harness.when(.deadlineFenced))
        #expect(directives == [.selfFence([target()]), .runScript(job(spec, .unload))])
        #expect(harness.brain.fenced)
        // Once fenced, a second report changes nothing.
        #expect(actions(harness.when(.deadlineFenced)).isEmpty)
    }

    @Test("a heartbeat acknowledged in time moves the deadline")
    func acknowledgedHeartbeat() {
        var harness = Harness.holder(of: vip())
        harness.storeReachable = false
        harness.now = harness.now + .milliseconds(1000)
        harness.acknowledge()
        #expect(!actions(harness.after(1500)).contains(.selfFence([target()])))
        #expect(actions(harness.after(100)).contains(.selfFence([target()])))
    }

    @Test("a refused heartbeat means eviction: stop at once, then join again")
    func evicted() {
        let spec = vip()
        var harness = Harness.holder(of: spec)
        let directives = actions(harness.when(.heartbeatRejected))
        #expect(
            directives == [
                .selfFence([target()]), .runScript(job(spec, .unload)),
                .join(
                    MemberRecord(
                        node: "n2", heartbeat: 3, version: "t", tolerance: .seconds(2),
                        wallMilliseconds: harness.now.wallMilliseconds), sentAt: harness.now, adopts: nil),
            ])
        #expect(harness.brain.memberRevision == nil)
    }

    @Test("the master evicts a member exactly one tolerance after first seeing its latest heartbeat")
    func eviction() {
        var harness = Harness("n1", world: World())
        #expect(actions(harness.after(1999)).isEmpty)
        let directives = actions(harness.after(1))
        #expect(
            directives == [
                .evictMember("n2", modRevision: 12, term: term1), .evictMember("n3", modRevision: 13, term: term1),
            ])
    }

    @Test("a lowered tolerance applies to the self-fence deadline at once")
    func loweredTolerance() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        world.view.settings.timing.tolerance = .milliseconds(1500)
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        let directives = harness.after(400)
        #expect(
            directives.contains {
                if case .sendHeartbeat(let record, _, _) = $0 { record.tolerance == .milliseconds(1500) } else { false }
            })
        // That heartbeat was acknowledged now: deadline = now + 1500 ms − 300 ms margin (20 %), not + 1600 ms.
        #expect(harness.brain.deadline == harness.now + .milliseconds(1200))
    }

    @Test("a raised tolerance is advertised first and applied only once that heartbeat is acknowledged")
    func raisedTolerance() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        harness.storeReachable = false
        world.view.settings.timing.tolerance = .seconds(4)
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        let directives = harness.after(400)
        #expect(
            directives.contains {
                if case .sendHeartbeat(let record, _, _) = $0 { record.tolerance == .seconds(4) } else { false }
            })
        // Not acknowledged: still the old deadline (t + 1600 ms).
        #expect(harness.brain.deadline == Moment(milliseconds: 10_000 + 1600))
        #expect(harness.brain.appliedTolerance == .seconds(2))
        _ = harness.acknowledge()
        #expect(harness.brain.appliedTolerance == .seconds(4))
        #expect(harness.brain.deadline == harness.now + .milliseconds(3200))
    }

    @Test("the master waits the longer of the settings' tolerance and the one a member advertised")
    func advertisedToleranceDelaysEviction() {
        var world = World()
        world.view.members["n2"]?.value.tolerance = .seconds(3)
        world.view.members["n3"]?.value.tolerance = .seconds(1)
        var harness = Harness("n1", world: world)
        func evictsN2(_ directives: [Brain.Directive]) -> Bool {
            directives.contains(.evictMember("n2", modRevision: 12, term: term1))
        }
        let first = actions(harness.after(2000))
        #expect(first.contains(.evictMember("n3", modRevision: 13, term: term1)))
        #expect(!evictsN2(first))
        #expect(!evictsN2(actions(harness.after(999))))
        #expect(evictsN2(actions(harness.after(1))))
    }

    @Test("a newer heartbeat revision restarts the eviction clock")
    func heartbeatResetsEviction() {
        var world = World()
        var harness = Harness("n1", world: world)
        harness.now = harness.now + .milliseconds(1500)
        world.member("n2", heartbeatRevision: 101)
        world.bump()
        harness.acknowledge()
        _ = harness.when(.viewChanged(world.view))
        let directives = actions(harness.after(500))
        #expect(directives == [.evictMember("n3", modRevision: 13, term: term1)])
        world.view.members["n3"] = nil
        world.bump()
        _ = harness.when(.viewChanged(world.view))
        #expect(actions(harness.after(1499)).isEmpty)
        #expect(actions(harness.after(1)) == [.evictMember("n2", modRevision: 101, term: term1)])
    }

    @Test("with no master key a member campaigns for term 1 (compare: key absent)")
    func campaignsWhenNoMaster() {
        var harness = Harness("n2", world: World(master: nil))
        let directives = actions(harness.after(400))
        #expect(directives == [.campaign(MasterRecord(node: "n2", term: 1), expected: nil)])
    }

    @Test("a master key not rewritten for a tolerance is taken over with the next term")
    func campaignsWhenMasterSilent() {
        var harness = Harness("n2", world: World(master: "n1"))
        #expect(actions(harness.after(1999)).isEmpty)
        harness.acknowledge()
        #expect(actions(harness.after(1)) == [.campaign(MasterRecord(node: "n2", term: 2), expected: 20)])
    }

    /// A crashed master's last renewal of its record can be seen a heartbeat after its node's last
    /// heartbeat: the successor takes over once the node's heartbeat is a tolerance old (when it
    /// could evict it), not a heartbeat later.
    @Test("a master whose node stopped heartbeating is taken over at the node's eviction time")
    func campaignsWhenMasterNodeSilent() {
        var world = World(master: "n1")
        var harness = Harness("n2", world: world)
        #expect(actions(harness.after(400)).isEmpty)
        // The master record renewed once more 400 ms later; n1's member heartbeat never again.
        world.view.master?.modRevision = 21
        world.bump()
        harness.acknowledge()
        _ = harness.when(.viewChanged(world.view))
        #expect(actions(harness.after(1599)).isEmpty)
        harness.acknowledge()
        #expect(actions(harness.after(1)) == [.campaign(MasterRecord(node: "n2", term: 2), expected: 21)])
    }

    @Test("a fenced node does not campaign")
    func fencedDoesNotCampaign() {
        var harness = Harness("n2", world: World(master: "n1"))
        harness.storeReachable = false
        let directives = actions(harness.after(2000))
        #expect(harness.brain.fenced)
        #expect(!directives.contains { if case .campaign = $0 { true } else { false } })
    }

    @Test("a master that cannot heartbeat stops acting as master at its deadline")
    func masterFences() {
        var harness = Harness("n1", world: World())
        harness.storeReachable = false
        #expect(harness.brain.isMaster)
        _ = harness.after(1600)
        #expect(!harness.brain.isMaster)
        #expect(!actions(harness.after(400)).contains { if case .evictMember = $0 { true } else { false } })
    }

    @Test("the watchdog is petted only while the deadline is in the future")
    func watchdog() {
        var world = World()
        world.view.settings.timing.watchdogTimeout = .seconds(1)
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"])
        harness.storeReachable = false
        // Deadline: ack + 2 s − 1.1 s = +900 ms. Before it: pets. At it: the addresses go first,
        // and only then, holding nothing, may it pet again.
        #expect(harness.after(899).contains(.petWatchdog))
        let atDeadline = harness.after(1)
        let fence = atDeadline.firstIndex(of: .selfFence([target()]))
        let pet = atDeadline.firstIndex(of: .petWatchdog)
        #expect(fence != nil)
        #expect(pet.map { $0 > fence! } ?? true)
    }

    @Test("a restarted agent does not pet the watchdog before its membership is proven")
    func restartedAgentWaits() {
        var world = World()
        world.view.settings.timing.watchdogTimeout = .seconds(1)
        world.resource(vip())
        world.assign("vip", .node("n2"))
        var harness = Harness("n2", world: world, local: ["vip"], joined: false)
        #expect(!harness.after(400).contains(.petWatchdog))
        #expect(harness.when(.joined(memberRevision: 12, sentAt: harness.now)).contains(.petWatchdog))
    }

    @Test("graceful stop: unload, report Offline asking to move away, then leave")
    func shutdown() {
        let spec = vip()
        var harness = Harness.holder(of: spec)
        _ = harness.when(.statusCommitted("vip", generation: 1, .running))
        let stopping = harness.when(.shutdownRequested)
        let stop = actions(stopping)
        #expect(stop.first == .runScript(job(spec, .unload)))
        // The master learns at once that this node takes nothing new.
        let said = stopping.compactMap { directive -> MemberRecord? in
            guard case .sendHeartbeat(let record, _, _) = directive else { return nil }
            return record
        }
        #expect(said.map(\.stopping) == [true])
        _ = harness.when(.statusCommitted("vip", generation: 1, .unloading))
        let done = actions(harness.when(.scriptFinished("vip", .unload, generation: 1, .success)))
        #expect(
            done == [
                .writeStatus(
                    "vip",
                    ResourceStatus(
                        node: "n2", generation: 1, state: .offline, incarnation: 0, lastAction: .unload,
                        lastOutcome: .success, moveAway: .shutdown, addressGone: "198.18.0.100"),
                    fence: 50)
            ])
        let left = actions(harness.when(.statusCommitted("vip", generation: 1, .offline)))
        #expect(left == [.leave("n2", memberRevision: 12), .shutdownComplete])
    }
}
