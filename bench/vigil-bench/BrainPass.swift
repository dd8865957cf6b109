import ClusterBrain
import ClusterModel

/// The cost of one brain step at 32 nodes × 500 resources, as the master and as another member,
/// for a view whose content changed (one resource's status) and for one that changed only in
/// heartbeats: what every agent pays for every change a failover makes (docs/benchmarks.md); and the
/// master's step for the store's answer to one of its assignment writes (docs/design/0026).
///
///   swift run -c release vigil-bench brain [--runs 200]
func benchBrainPass(runs: Int) {
    let nodes = (1...32).map { NodeName(stringLiteral: "n\($0)") }
    var view = ClusterView(revision: 1000)
    for (index, node) in nodes.enumerated() {
        view.nodes[node] = NodeDefinition(name: node, index: index)
        view.members[node] = Versioned(
            MemberRecord(node: node, heartbeat: 1, version: VigilVersion.current), createRevision: Revision(10 + index),
            modRevision: Revision(10 + index))
    }
    view.master = Versioned(MasterRecord(node: nodes[0], term: 1), createRevision: 50, modRevision: 50)
    for index in 0..<500 {
        let name = ResourceName(stringLiteral: "r\(index)")
        let holder = nodes[index % nodes.count]
        let spec = ResourceSpec(
            name: name, template: "Generic_IP_Service", load: ScriptSpec(body: "exit 0", timeout: .seconds(60)),
            unload: ScriptSpec(body: "exit 0", timeout: .seconds(60)),
            variables: ["RESOURCE_IP": "198.18.\(1 + index / 250).\(index % 250 + 1)"])
        view.resources[name] = spec
        view.assignments[name] = Versioned(
            Assignment(
                generation: 1, placement: .node(holder), memberRevision: view.members[holder]!.createRevision,
                reason: "bench", noFailback: false),
            createRevision: 100, modRevision: 100)
        view.statuses[name] = [
            holder: Versioned(
                ResourceStatus(node: holder, generation: 1, state: .running, incarnation: 1), createRevision: 200,
                modRevision: 200)
        ]
    }
    view.contentRevision = view.revision
    let clock = ContinuousClock()

    func measure(_ node: NodeName, heartbeatsOnly: Bool, answers: Bool = false) -> [Duration] {
        var brain = Brain.Instance(configuration: Brain.Configuration(node: node))
        let held = view.resources.filter { view.assignments[$0.key]?.value.placement.holder == node }
        var now = Moment(milliseconds: 0, wallMilliseconds: 1_800_000_000_000)
        _ = brain.handle(.started(localResources: held), now: now)
        _ = brain.handle(.joined(memberRevision: view.members[node]!.createRevision, sentAt: now), now: now)
        var current = view
        _ = brain.handle(.viewChanged(current), now: now)
        var times: [Duration] = []
        for run in 0..<runs {
            now = now + .milliseconds(1)
            current.revision += 1
            // A member's heartbeat: its key's revision moves, nothing else.
            let beating = nodes[run % nodes.count]
            current.members[beating]!.modRevision = current.revision
            _ = brain.handle(.heartbeatAcknowledged(sentAt: now), now: now)
            if !heartbeatsOnly {
                // Another node's resource reports a new status: content changed.
                let name = ResourceName(stringLiteral: "r\((run * 7) % 500)")
                let holder = current.assignments[name]!.value.placement.holder!
                current.statuses[name]![holder]!.modRevision = current.revision
                current.statuses[name]![holder]!.value.incarnation += 1
                current.contentRevision = current.revision
            }
            if answers {
                // The store's answer to one of the master's assignment writes (the view is
                // unchanged): a failover of 100 resources brings 100 of them at once.
                _ = brain.handle(.viewChanged(current), now: now)
                let name = ResourceName(stringLiteral: "r\((run * 7) % 500)")
                let start = clock.now
                _ = brain.handle(.assignmentAnswered(name, generation: 1, reached: true), now: now)
                times.append(clock.now - start)
                continue
            }
            let start = clock.now
            _ = brain.handle(.viewChanged(current), now: now)
            times.append(clock.now - start)
        }
        return times
    }

    print("Brain step at 32 nodes × 500 resources, \(runs) steps each (min / median / p90 / max)")
    let answers = measure(nodes[0], heartbeatsOnly: false, answers: true).sorted()
    print(
        "  master, assignment answered: \(ms(answers[0])) / \(ms(percentile(answers, 0.5))) / \(ms(percentile(answers, 0.9))) / \(ms(answers[answers.count - 1]))"
    )
    for (label, node) in [("master", nodes[0]), ("member", nodes[4])] {
        for heartbeatsOnly in [false, true] {
            let times = measure(node, heartbeatsOnly: heartbeatsOnly).sorted()
            print(
                "  \(label), \(heartbeatsOnly ? "heartbeat only " : "content changed"): \(ms(times[0])) / \(ms(percentile(times, 0.5))) / \(ms(percentile(times, 0.9))) / \(ms(times[times.count - 1]))"
            )
        }
    }
}
