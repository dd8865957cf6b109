import ClusterBrain
import ClusterModel
import Testing

/// The master's decisions: given a store state, when it changes, then exactly these writes.
@Suite("Placement by the master")
struct PlacementTests {
    /// The assignment writes of the master (n1) when it takes charge of `world`, or, given `change`,
    /// when the world then changes.
    func decisions(_ world: World, after change: ((inout World) -> Void)? = nil) -> [String] {
        var harness = Harness("n1", world: world, joined: false)
        let initial = harness.when(.joined(memberRevision: 11, sentAt: harness.now))
        guard let change else { return assignments(initial) }
        var changed = world
        change(&changed)
        changed.bump()
        return assignments(harness.when(.viewChanged(changed.view)))
    }

    @Test("cluster start waits for quorum, then places on the most preferred member")
    func quorumWait() {
        var world = World(members: ["n1"])
        world.view.settings.quorum = QuorumSettings(nodeCount: 2, timeout: .seconds(30))
        world.resource(vip())
        var harness = Harness("n1", world: world, joined: false)
        #expect(
            assignments(harness.when(.joined(memberRevision: 11, sentAt: harness.now))) == ["vip quorum-wait gen 1"])
        world.member("n2")
        world.assign("vip", .quorumWait)
        world.bump()
        #expect(assignments(harness.when(.viewChanged(world.view))) == ["vip node(n1) gen 2"])
    }

    @Test("after the quorum timeout resources load on whatever nodes are up")
    func quorumTimeout() {
        var world = World(members: ["n1"])
        world.view.settings.quorum = QuorumSettings(nodeCount: 3, timeout: .seconds(5))
        world.resource(vip(preferred: ["n2", "n1"]))
        world.assign("vip", .quorumWait)
        var harness = Harness("n1", world: world)
        #expect(assignments(harness.after(4999)).isEmpty)
        #expect(assignments(harness.after(1)) == ["vip node(n1) gen 2"])
    }

    @Test("ignore-quorum resources load at once")
    func ignoreQuorum() {
        var world = World(members: ["n1"])
        world.view.settings.quorum = QuorumSettings(nodeCount: 3, timeout: .seconds(60))
        world.resource(vip { $0.policies.ignoreQuorum = true })
        world.resource(vip("other"))
        var harness = Harness("n1", world: world, joined: false)
        #expect(
            assignments(harness.when(.joined(memberRevision: 11, sentAt: harness.now))) == [
                "other quorum-wait gen 1", "vip node(n1) gen 1",
            ])
    }

    @Test("start mode MANUAL raises a start alert proposing the best node")
    func startManual() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n1"]) { $0.policies.startMode = .manual })
        world.assign("vip", .quorumWait)
        #expect(decisions(world) == ["vip alert(start, on: -, proposed: n2) gen 2"])
    }

    @Test("failover AUTO: an evicted holder's resource goes to the most preferred member left")
    func failoverAuto() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3", "n1"]))
        world.assign("vip", .node("n2"))
        #expect(decisions(world) { $0.view.members["n2"] = nil } == ["vip node(n3) gen 2"])
    }

    /// The master (n1) has just written `vip node(n3) gen 2` after n2's eviction.
    func failedOver() -> (Harness, World) {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3", "n1"]))
        world.assign("vip", .node("n2"))
        var harness = Harness("n1", world: world)
        world.view.members["n2"] = nil
        world.bump()
        #expect(assignments(harness.when(.viewChanged(world.view))) == ["vip node(n3) gen 2"])
        return (harness, world)
    }

    @Test("an assignment write whose call failed is asked again two heartbeats after it ended, not while under way")
    func unansweredWriteNotRepeated() {
        var (harness, _) = failedOver()
        // A busy store: no answer for more than two heartbeats (800 ms at the default profile).
        #expect(assignments(harness.after(1000)).isEmpty)
        // The call failed: asked again two heartbeats after it ended.
        #expect(assignments(harness.when(.assignmentAnswered("vip", generation: 2, reached: false))).isEmpty)
        #expect(assignments(harness.after(700)).isEmpty)
        #expect(assignments(harness.after(200)) == ["vip node(n3) gen 2"])
    }

    /// Placement reads the view, the pending writes and the time; an event about the master's own
    /// resources changes none of them, so it does not place (a master that also loads part of a
    /// large failover handled 100 answers and its loads' ends each with a placing pass, and its own
    /// status writes waited behind them: docs/design/0026). The wakeup places at its moment.
    @Test("the master places on a view or its wakeup, not on a status, script end or assignment answer")
    func localEventsDoNotPlace() {
        var (harness, _) = failedOver()
        #expect(assignments(harness.when(.assignmentAnswered("vip", generation: 2, reached: false))).isEmpty)
        let due = harness.timer
        // Past the moment to ask again, before the wakeup fires: events about this node's own
        // resources come in.
        harness.now = harness.now + .milliseconds(900)
        #expect(assignments(harness.when(.statusCommitted("other", generation: 1, .running))).isEmpty)
        #expect(assignments(harness.when(.scriptFinished("other", .load, generation: 1, .success))).isEmpty)
        #expect(assignments(harness.when(.assignmentAnswered("vip", generation: 2, reached: false))).isEmpty)
        #expect(due != nil && due! <= harness.now)
        #expect(assignments(harness.when(.timerFired)) == ["vip node(n3) gen 2"])
    }

    @Test(
        "an assignment write the store committed or refused is asked again only after a tolerance without the view showing it"
    )
    func answeredWriteAwaitsView() {
        // Either way the store is ahead of the master's view. (A slow attempt that timed out and was
        // sent again is refused although the first one committed.)
        var (harness, world) = failedOver()
        #expect(assignments(harness.after(100)).isEmpty)
        #expect(assignments(harness.when(.assignmentAnswered("vip", generation: 2, reached: true))).isEmpty)
        // The watch runs late: two heartbeats and more pass without the write in the view (the
        // other members keep heartbeating, so nobody is evicted meanwhile).
        for _ in 0..<4 {
            #expect(assignments(harness.after(400)).isEmpty)
            world.member("n3", heartbeatRevision: world.view.revision + 1)
            world.view.revision += 1
            #expect(assignments(harness.when(.viewChanged(world.view))).isEmpty)
        }
        // A tolerance (2 s) after the answer without it: asked again.
        #expect(assignments(harness.after(400)) == ["vip node(n3) gen 2"])
    }

    @Test("a failover is marked on the assignment and its event is critical; a start is neither")
    func failoverTyped() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3", "n1"]))
        var harness = Harness("n1", world: world, joined: false)
        let start = harness.when(.joined(memberRevision: 11, sentAt: harness.now))
        #expect(start.contains { if case .writeAssignment(_, let a, _, _, _) = $0 { !a.failover } else { false } })
        #expect(
            start.contains {
                if case .record(let e) = $0 { e.kind == .assignment && e.severity == .info } else { false }
            })
        world.assign("vip", .node("n2"))
        world.view.members["n2"] = nil
        world.bump()
        let failover = harness.when(.viewChanged(world.view))
        #expect(failover.contains { if case .writeAssignment(_, let a, _, _, _) = $0 { a.failover } else { false } })
        #expect(
            failover.contains {
                if case .record(let e) = $0 { e.kind == .assignment && e.severity == .critical } else { false }
            })
    }

    @Test("failover MANUAL raises a failover alert")
    func failoverManual() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3"]) { $0.policies.failoverMode = .manual })
        world.assign("vip", .node("n2"))
        #expect(decisions(world) { $0.view.members["n2"] = nil } == ["vip alert(failover, on: -, proposed: n3) gen 2"])
    }

    @Test("a holder that re-joined under a new member key no longer owns its resource")
    func rejoinedHolder() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3"]))
        world.assign("vip", .node("n2"))
        let writes = decisions(world) {
            $0.view.members["n2"] = Versioned(
                MemberRecord(node: "n2", heartbeat: 1, version: "t"), createRevision: 99, modRevision: 99)
        }
        #expect(writes == ["vip node(n2) gen 2"])
    }

    @Test("no eligible member: Unassigned; a preferred node joining places it")
    func unassigned() {
        var world = World(members: ["n1", "n2"])
        world.resource(vip(preferred: ["n3"]))
        world.assign("vip", .node("n3"))
        #expect(decisions(world) == ["vip unassigned gen 2"])
        world.assign("vip", .unassigned, generation: 2)
        #expect(decisions(world) { $0.member("n3") } == ["vip node(n3) gen 3"])
    }

    @Test("a member whose agent is stopping is given nothing new; once it runs again it is")
    func stoppingNodeNotChosenAgain() {
        var world = World()
        world.resource(vip(preferred: ["n2"]))
        world.view.members["n2"]!.value.stopping = true
        world.assign("vip", .node("n2"))
        world.status("vip", "n2", .offline, moveAway: .shutdown)
        // Its only preferred node is stopping: Unassigned.
        #expect(decisions(world) == ["vip unassigned gen 2"])
        // Unassigned while n2 is still a member (its other resources still unloading): it stays so.
        // (Before: "vip node(n2) gen 3", released again, and so on once per view.)
        world.assign("vip", .unassigned, generation: 2)
        #expect(decisions(world).isEmpty)
        // n2's agent runs again (joined again, or restarted and kept its key): it gets it back.
        let back = decisions(world) { $0.view.members["n2"]!.value.stopping = nil }
        #expect(back == ["vip node(n2) gen 3"])
    }

    @Test("failback AUTO moves back to the first preferred node only, through a clean unload")
    func failbackAuto() {
        var world = World(members: ["n1", "n3"])
        world.resource(vip(preferred: ["n2", "n3", "n1"]) { $0.policies.failbackMode = .auto })
        world.assign("vip", .node("n3"), generation: 2)
        world.status("vip", "n3", .running, generation: 2)
        #expect(decisions(world).isEmpty)
        #expect(decisions(world) { $0.member("n2") } == ["vip migrating(n3->n2) gen 3"])
    }

    @Test("failback MANUAL raises a failback alert while the resource keeps running")
    func failbackManual() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3"]) { $0.policies.failbackMode = .manual })
        world.assign("vip", .node("n3"), generation: 2)
        world.status("vip", "n3", .running, generation: 2)
        #expect(decisions(world) == ["vip alert(failback, on: n3, proposed: n2) gen 3"])
    }

    @Test("failback DISABLE (the default) never moves it back")
    func failbackDisabled() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3"]))
        world.assign("vip", .node("n3"), generation: 2)
        world.status("vip", "n3", .running, generation: 2)
        #expect(decisions(world).isEmpty)
    }

    @Test("a resource placed by an admin or moved by its monitor does not fail back")
    func noFailbackFlag() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3"]) { $0.policies.failbackMode = .auto })
        world.assign("vip", .node("n3"), generation: 2, noFailback: true)
        world.status("vip", "n3", .running, generation: 2)
        #expect(decisions(world).isEmpty)
    }

    @Test("a migrating resource loads on its target once the source reports Offline at that generation")
    func migrationCompletes() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .migrating(from: "n1", to: "n3"), generation: 2)
        world.status("vip", "n1", .unloading, generation: 2)
        #expect(decisions(world).isEmpty)
        #expect(decisions(world) { $0.status("vip", "n1", .offline, generation: 2) } == ["vip node(n3) gen 3"])
    }

    @Test("an Offline status of an older generation proves nothing")
    func staleOffline() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .migrating(from: "n1", to: "n3"), generation: 2)
        world.status("vip", "n1", .offline, generation: 1)
        #expect(decisions(world).isEmpty)
    }

    @Test("a failed load makes the placement Comatose on that node")
    func comatose() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"))
        #expect(decisions(world) { $0.status("vip", "n2", .comatose) } == ["vip comatose(n2) gen 2"])
    }

    @Test("monitor action migrate: an Offline asking to move away goes to the next preferred node, without failback")
    func monitorMigrate() {
        var world = World()
        world.resource(vip(preferred: ["n1", "n2", "n3"]) { $0.policies.failbackMode = .auto })
        world.assign("vip", .node("n2"))
        var harness = Harness("n1", world: world)
        world.status("vip", "n2", .offline, moveAway: .monitor)
        world.bump()
        let writes = harness.when(.viewChanged(world.view))
        #expect(assignments(writes) == ["vip node(n3) gen 2"])
        let noFailback = writes.contains {
            if case .writeAssignment(_, let assignment, _, _, _) = $0 { assignment.noFailback } else { false }
        }
        #expect(noFailback)
    }

    @Test("follows-master resources move to the master")
    func followsMaster() {
        var world = World()
        world.resource(vip { $0.policies.followsMaster = true })
        world.assign("vip", .node("n2"))
        #expect(decisions(world) == ["vip migrating(n2->n1) gen 2"])
    }

    @Test("exclusion groups keep two resources of one group off the same node")
    func exclusionGroups() {
        var world = World()
        world.resource(vip("db_a", preferred: ["n1", "n2"]) { $0.exclusionGroups = ["db"] })
        world.resource(vip("db_b", preferred: ["n1", "n2"]) { $0.exclusionGroups = ["db"] })
        world.assign("db_a", .node("n1"))
        world.assign("db_b", .node("n2"))
        #expect(decisions(world) { $0.view.members["n2"] = nil } == ["db_b unassigned gen 2"])
    }

    @Test("several resources are placed in priority order")
    func priorityOrder() {
        var world = World()
        world.resource(vip("low") { $0.priority = 1 })
        world.resource(vip("high") { $0.priority = 9 })
        world.resource(vip("mid") { $0.priority = 5 })
        var harness = Harness("n1", world: world, joined: false)
        #expect(
            assignments(harness.when(.joined(memberRevision: 11, sentAt: harness.now))) == [
                "high node(n1) gen 1", "mid node(n1) gen 1", "low node(n1) gen 1",
            ])
    }

    @Test("everywhere resources start on every eligible node at once")
    func everywhere() {
        var world = World()
        world.resource(ResourceSpec(name: "web", mode: .everywhere))
        world.assign("web", .quorumWait)
        #expect(decisions(world) == ["web everywhere gen 2"])
    }

    @Test("maintenance freezes evictions and failovers")
    func maintenance() {
        var world = World()
        world.view.settings.maintenance = MaintenanceSettings(enabled: true)
        world.resource(vip(preferred: ["n2", "n3"]))
        world.assign("vip", .node("n2"))
        var harness = Harness("n1", world: world)
        #expect(actions(harness.after(5000)).isEmpty)
        world.view.members["n2"] = nil
        world.bump()
        #expect(assignments(harness.when(.viewChanged(world.view))).isEmpty)
        world.view.settings.maintenance = MaintenanceSettings(enabled: false)
        world.bump()
        #expect(assignments(harness.when(.viewChanged(world.view))) == ["vip node(n3) gen 2"])
    }

    @Test("every master write is fenced by the master's term and the value it replaces")
    func fencedWrites() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .node("n2"), revision: 77)
        var harness = Harness("n1", world: world)
        world.view.members["n2"] = nil
        world.bump()
        let write = harness.when(.viewChanged(world.view)).first {
            if case .writeAssignment = $0 { true } else { false }
        }
        guard case .writeAssignment(_, let assignment, let expected, let term, let consuming)? = write else {
            Issue.record("no assignment written")
            return
        }
        #expect(expected == 77)
        #expect(term == term1)
        #expect(consuming == nil)
        #expect(assignment.memberRevision == 11)
    }
}

@Suite("Admin commands")
struct CommandTests {
    func handle(_ world: World, _ verb: AdminCommand.Verb, resource: ResourceName = "vip") -> [Brain.Directive] {
        var harness = Harness("n1", world: world)
        var changed = world
        changed.command("c1", resource, verb)
        changed.bump()
        return harness.when(.viewChanged(changed.view))
    }

    func running(on node: NodeName, preferred: [NodeName] = ["n1", "n2", "n3"]) -> World {
        var world = World()
        world.resource(vip(preferred: preferred))
        world.assign("vip", .node(node))
        world.status("vip", node, .running)
        return world
    }

    @Test("migrate to a node: unload here, then load there; the command is consumed in the same write")
    func migrateToNode() {
        let directives = handle(running(on: "n1"), .migrate(.node("n3")))
        #expect(assignments(directives) == ["vip migrating(n1->n3) gen 2"])
        #expect(
            directives.contains {
                if case .writeAssignment(_, _, _, _, let consuming) = $0 { consuming == "c1" } else { false }
            })
    }

    @Test("migrate --next goes to the next preferred member, wrapping around")
    func migrateNext() {
        #expect(assignments(handle(running(on: "n3"), .migrate(.next))) == ["vip migrating(n3->n1) gen 2"])
        #expect(assignments(handle(running(on: "n1"), .migrate(.next))) == ["vip migrating(n1->n2) gen 2"])
    }

    @Test("migrate --most goes to the most preferred member, and is refused when already there")
    func migrateMost() {
        #expect(assignments(handle(running(on: "n3"), .migrate(.most))) == ["vip migrating(n3->n1) gen 2"])
        let refused = handle(running(on: "n1"), .migrate(.most))
        #expect(assignments(refused).isEmpty)
        #expect(refused.contains(.deleteCommand("c1", term: term1)))
    }

    @Test("migrate to a node that is not a member is refused with the reason in the event log")
    func migrateRefused() {
        var world = running(on: "n1")
        world.view.members["n3"] = nil
        let directives = handle(world, .migrate(.node("n3")))
        #expect(actions(directives) == [.deleteCommand("c1", term: term1)])
        #expect(
            directives.contains {
                if case .record(let event) = $0 {
                    event.message.contains("n3 is not an eligible member") && event.message.contains("alice")
                } else {
                    false
                }
            })
    }

    @Test("offline: unload on the holder, then Offline")
    func offline() {
        #expect(assignments(handle(running(on: "n2"), .offline)) == ["vip stopping(n2) gen 2"])
        var world = World(members: ["n1"])
        world.resource(vip(preferred: ["n3"]))
        world.assign("vip", .unassigned)
        #expect(assignments(handle(world, .offline)) == ["vip offline gen 2"])
    }

    @Test("a stopped resource becomes Offline once the holder reports it")
    func stoppingCompletes() {
        var world = running(on: "n2")
        world.assign("vip", .stopping("n2"), generation: 2)
        world.status("vip", "n2", .unloading, generation: 2)
        var harness = Harness("n1", world: world)
        world.status("vip", "n2", .offline, generation: 2)
        world.bump()
        #expect(assignments(harness.when(.viewChanged(world.view))) == ["vip offline gen 3"])
    }

    @Test("online without a node picks the most preferred member; with a node, that node")
    func online() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n1"]))
        world.assign("vip", .offline)
        #expect(assignments(handle(world, .online(node: nil))) == ["vip node(n2) gen 2"])
        #expect(assignments(handle(world, .online(node: "n1"))) == ["vip node(n1) gen 2"])
    }

    @Test("a Comatose resource must be taken offline before it can go online")
    func comatoseNeedsOffline() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .comatose("n2"))
        let refused = handle(world, .online(node: nil))
        #expect(actions(refused) == [.deleteCommand("c1", term: term1)])
        #expect(assignments(handle(world, .offline)) == ["vip stopping(n2) gen 2"])
    }

    @Test("alert yes loads on the proposed node; no takes it offline")
    func alerts() {
        var world = World()
        world.resource(vip())
        world.assign("vip", .alert(.failover, on: nil, proposed: "n3"))
        #expect(assignments(handle(world, .alert(answer: true))) == ["vip node(n3) gen 2"])
        #expect(assignments(handle(world, .alert(answer: false))) == ["vip offline gen 2"])
    }

    @Test("a failback alert answered no keeps the resource where it is, and stops asking")
    func failbackAlertNo() {
        var world = World()
        world.resource(vip(preferred: ["n2", "n3"]) { $0.policies.failbackMode = .manual })
        world.assign("vip", .alert(.failback, on: "n3", proposed: "n2"))
        world.status("vip", "n3", .running)
        #expect(assignments(handle(world, .alert(answer: true))) == ["vip migrating(n3->n2) gen 2"])
        let no = handle(world, .alert(answer: false))
        #expect(assignments(no) == ["vip node(n3) gen 2"])
    }

    @Test("a command for an unknown resource is dropped with an event")
    func unknownResource() {
        let directives = handle(World(), .offline, resource: "ghost")
        #expect(actions(directives) == [.deleteCommand("c1", term: term1)])
    }
}
