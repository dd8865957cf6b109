import ClusterBrain
import ClusterModel
import CoordinationStore
import NodeAgent
import Testing

@Suite("Directives become fenced transactions")
struct DirectiveTransactionsTests {
    let layout = KeyLayout(cluster: "c")
    var mapping: DirectiveTransactions { DirectiveTransactions(layout: layout) }
    let term = MasterRecord(node: "n1", term: 4)

    @Test("a heartbeat compares the member key's create revision with the join revision")
    func heartbeat() throws {
        let record = MemberRecord(node: "n2", heartbeat: 9, version: "t")
        let txn = try #require(
            mapping.transaction(for: .sendHeartbeat(record, memberRevision: 12, sentAt: Moment(milliseconds: 5))))
        #expect(txn.compare == [Compare(key: "/vigil/c/members/n2", .createRevision(12))])
        #expect(txn.success == [.put(key: "/vigil/c/members/n2", value: ModelCodec.encode(record))])
    }

    @Test("an eviction compares the master's term and the member's last seen mod revision")
    func eviction() throws {
        let txn = try #require(mapping.transaction(for: .evictMember("n3", modRevision: 77, term: term)))
        #expect(
            txn.compare == [
                Compare(key: "/vigil/c/master", .value(ModelCodec.encode(term))),
                Compare(key: "/vigil/c/members/n3", .modRevision(77)),
            ])
        #expect(txn.success == [.delete(key: "/vigil/c/members/n3")])
    }

    @Test("an assignment compares the term and the assignment it replaces, and consumes its command")
    func assignment() throws {
        let assignment = Assignment(generation: 3, placement: .node("n2"), memberRevision: 12, reason: "r")
        let txn = try #require(
            mapping.transaction(for: .writeAssignment("vip", assignment, expected: 40, term: term, consuming: "c9")))
        #expect(
            txn.compare == [
                Compare(key: "/vigil/c/master", .value(ModelCodec.encode(term))),
                Compare(key: "/vigil/c/assignments/vip", .modRevision(40)),
            ])
        #expect(txn.success.count == 2)
        #expect(txn.success.last == .delete(key: "/vigil/c/commands/c9"))
        let first = try #require(
            mapping.transaction(for: .writeAssignment("vip", assignment, expected: nil, term: term, consuming: nil)))
        #expect(first.compare.last == .absent("/vigil/c/assignments/vip"))
        // However the call ended, the master hears of it, and whether the store answered.
        for result in [
            TransactionResult(succeeded: true, revision: 50), TransactionResult(succeeded: false, revision: 50), nil,
        ] {
            #expect(
                mapping.event(
                    for: .writeAssignment("vip", assignment, expected: 40, term: term, consuming: nil), result: result)
                    == .assignmentAnswered("vip", generation: assignment.generation, reached: result != nil))
        }
    }

    @Test("a status write is fenced by the assignment's revision")
    func status() throws {
        let status = ResourceStatus(node: "n2", generation: 3, state: .loading, incarnation: 1)
        let txn = try #require(mapping.transaction(for: .writeStatus("vip", status, fence: 41)))
        #expect(txn.compare == [Compare(key: "/vigil/c/assignments/vip", .modRevision(41))])
        #expect(
            mapping.event(
                for: .writeStatus("vip", status, fence: 41), result: TransactionResult(succeeded: false, revision: 50))
                == .statusRejected("vip", generation: 3))
        #expect(
            mapping.event(
                for: .writeStatus("vip", status, fence: 41), result: TransactionResult(succeeded: true, revision: 50))
                == .statusCommitted("vip", generation: 3, .loading))
        #expect(
            mapping.event(for: .writeStatus("vip", status, fence: 41), result: nil)
                == .statusRejected("vip", generation: 3))
    }

    @Test("a campaign compares the master key's mod revision, or its absence")
    func campaign() throws {
        let record = MasterRecord(node: "n2", term: 5)
        #expect(
            try #require(mapping.transaction(for: .campaign(record, expected: 33))).compare == [
                Compare(key: "/vigil/c/master", .modRevision(33))
            ])
        #expect(
            try #require(mapping.transaction(for: .campaign(record, expected: nil))).compare == [
                .absent("/vigil/c/master")
            ])
    }

    @Test("resigning rewrites the master record as resigned, compared on the current term")
    func resign() throws {
        let txn = try #require(mapping.transaction(for: .resignMaster(term)))
        var resigned = term
        resigned.resigned = true
        #expect(txn.compare == [Compare(key: "/vigil/c/master", .value(ModelCodec.encode(term)))])
        #expect(txn.success == [.put(key: "/vigil/c/master", value: ModelCodec.encode(resigned))])
    }

    @Test("a join creates the member key, or adopts this node's own existing key")
    func join() {
        let record = MemberRecord(node: "n2", heartbeat: 1, version: "t", instance: "b")
        let sentAt = Moment(milliseconds: 9)
        let join = Brain.Directive.join(record, sentAt: sentAt, adopts: "a")
        #expect(
            mapping.joinEvent(join, first: TransactionResult(succeeded: true, revision: 70), adoption: nil)
                == .joined(memberRevision: 70, sentAt: sentAt))
        // Written by the previous agent on this machine (instance a): adopted.
        let previous = MemberRecord(node: "n2", heartbeat: 7, version: "t", instance: "a")
        let existing = KeyValue(
            key: "/vigil/c/members/n2", value: ModelCodec.encode(previous), createRevision: 12, modRevision: 60,
            version: 9)
        let found = TransactionResult(succeeded: false, revision: 70, gets: [existing])
        #expect(mapping.joinOutcome(found, of: join) == .adopt(existing))
        #expect(
            mapping.adoption(of: existing, record: record).compare == [Compare(key: existing.key, .createRevision(12))])
        #expect(
            mapping.joinEvent(join, first: found, adoption: TransactionResult(succeeded: true, revision: 71))
                == .joined(memberRevision: 12, sentAt: sentAt))
        #expect(
            mapping.joinEvent(join, first: found, adoption: TransactionResult(succeeded: false, revision: 71))
                == .joinFailed)
        #expect(mapping.joinEvent(join, first: nil, adoption: nil) == .joinFailed)
        // By an agent that wrote no instance (an older version): adopted.
        let older = KeyValue(
            key: existing.key, value: ModelCodec.encode(MemberRecord(node: "n2", heartbeat: 7, version: "t")),
            createRevision: 12, modRevision: 60, version: 9)
        #expect(
            mapping.joinOutcome(TransactionResult(succeeded: false, revision: 70, gets: [older]), of: join)
                == .adopt(older))
    }

    @Test("a member key written by another running agent with the same name is not adopted")
    func joinInUse() {
        let record = MemberRecord(node: "n2", heartbeat: 1, version: "t", instance: "b")
        let join = Brain.Directive.join(record, sentAt: Moment(milliseconds: 9), adopts: "a")
        let clone = MemberRecord(node: "n2", heartbeat: 40, version: "t", instance: "c")
        let existing = KeyValue(
            key: "/vigil/c/members/n2", value: ModelCodec.encode(clone), createRevision: 12, modRevision: 60, version: 9
        )
        let found = TransactionResult(succeeded: false, revision: 70, gets: [existing])
        #expect(mapping.joinOutcome(found, of: join) == .inUse(instance: "c"))
        #expect(mapping.joinEvent(join, first: found, adoption: nil) == .joinRefused(otherInstance: "c"))
        // Its own key (a join whose answer was lost) is adopted.
        let own = KeyValue(
            key: existing.key, value: ModelCodec.encode(record), createRevision: 12, modRevision: 60, version: 9)
        #expect(
            mapping.joinOutcome(TransactionResult(succeeded: false, revision: 70, gets: [own]), of: join) == .adopt(own)
        )
    }

    @Test("directives that do not write have no transaction")
    func nonWriting() {
        #expect(mapping.transaction(for: .petWatchdog) == nil)
        #expect(mapping.transaction(for: .selfFence([Brain.FenceTarget("vip", address: "198.18.0.100")])) == nil)
        #expect(mapping.transaction(for: .scheduleTimer(at: Moment(milliseconds: 1))) == nil)
    }
}

/// The one mapping from directives to effects that the agent and the simulation both carry out.
@Suite("Directive interpreter: one mapping for the agent and the simulation")
struct DirectiveInterpreterTests {
    let interpreter = DirectiveInterpreter(layout: KeyLayout(cluster: "c"))
    let record = MemberRecord(node: "n2", heartbeat: 1, version: "t")
    let term = MasterRecord(node: "n2", term: 3)

    func lane(_ directive: Brain.Directive) -> DirectiveInterpreter.Lane? {
        if case .write(let transaction, let lane) = interpreter.effect(of: directive) {
            #expect(transaction == interpreter.transactions.transaction(for: directive))
            return lane
        }
        return nil
    }

    @Test("store writes go on their lanes: heartbeats on the fence thread, leaving awaited, the rest alongside")
    func lanes() {
        let sent = Moment(milliseconds: 5)
        #expect(lane(.sendHeartbeat(record, memberRevision: 4, sentAt: sent)) == .fenceThread)
        #expect(lane(.renewMaster(term)) == .fenceThread)
        #expect(lane(.leave("n2", memberRevision: 4)) == .beforeStopping(ends: .membership))
        #expect(lane(.resignMaster(term)) == .beforeStopping(ends: .mastership))
        #expect(lane(.campaign(term, expected: nil)) == .background)
        #expect(lane(.writeEpoch(2, term: term)) == .background)
        guard case .join = interpreter.effect(of: .join(record, sentAt: sent, adopts: nil)) else {
            Issue.record("a join is not a plain write")
            return
        }
    }

    @Test("the other directives map one to one; a timer request replaces the one before")
    func others() {
        let targets = [Brain.FenceTarget("vip", address: "198.18.0.100")]
        guard case .fence(targets) = interpreter.effect(of: .selfFence(targets)),
            case .removeAddresses(["198.18.0.7"]) = interpreter.effect(of: .removeAddress("198.18.0.7", resource: "v")),
            case .replaceTimer(Moment(milliseconds: 9)) = interpreter.effect(
                of: .scheduleTimer(at: Moment(milliseconds: 9))),
            case .petWatchdog = interpreter.effect(of: .petWatchdog),
            case .finished = interpreter.effect(of: .shutdownComplete)
        else {
            Issue.record("unexpected effect")
            return
        }
        #expect(interpreter.removalEvent(left: []) == nil)
        #expect(interpreter.removalEvent(left: ["198.18.0.7"]) == .addressesNotRemoved(["198.18.0.7"]))
    }

    @Test("an unload that exits 0 with its address still up is reported as .addressStayed; other results as they are")
    func unloadAddressCheck() {
        let unload = Brain.ScriptJob(
            resource: "vip", action: .unload, generation: 4, script: ScriptSpec(body: "exit 0", timeout: .seconds(5)),
            variables: [:], addressMustBeGone: "198.18.0.100")
        #expect(interpreter.mustCheckAddress(unload, outcome: .success) == "198.18.0.100")
        #expect(interpreter.mustCheckAddress(unload, outcome: .failure(exitCode: 1)) == nil)
        #expect(
            interpreter.scriptFinished(unload, outcome: .success, addressStillUp: true)
                == .scriptFinished("vip", .unload, generation: 4, .addressStayed))
        #expect(
            interpreter.scriptFinished(unload, outcome: .success)
                == .scriptFinished("vip", .unload, generation: 4, .success))
        #expect(
            interpreter.scriptFinished(unload, outcome: .timedOut, addressStillUp: true)
                == .scriptFinished("vip", .unload, generation: 4, .timedOut))
    }
}
