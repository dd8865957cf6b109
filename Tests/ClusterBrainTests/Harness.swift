import ClusterBrain
import ClusterModel

/// Builds the store state a brain test starts from.
struct World {
    var view = ClusterView(revision: 100)

    init(nodes: [NodeName] = ["n1", "n2", "n3"], members: [NodeName]? = nil, master: NodeName? = "n1") {
        for (index, node) in nodes.enumerated() {
            view.nodes[node] = NodeDefinition(name: node, index: index)
        }
        for node in members ?? nodes { member(node) }
        if let master {
            view.master = Versioned(MasterRecord(node: master, term: 1), createRevision: 20, modRevision: 20)
        }
    }

    /// The join revision of each node in tests: 11 for n1, 12 for n2, …
    static func joinRevision(_ node: NodeName) -> Revision { 10 + Revision(node.rawValue.dropFirst())! }

    mutating func member(_ node: NodeName, heartbeatRevision: Revision? = nil) {
        let join = Self.joinRevision(node)
        view.members[node] = Versioned(
            MemberRecord(node: node, heartbeat: 1, version: "t"), createRevision: join,
            modRevision: heartbeatRevision ?? join)
    }

    mutating func resource(_ spec: ResourceSpec) { view.resources[spec.name] = spec }

    mutating func assign(
        _ resource: ResourceName, _ placement: Placement, generation: UInt64 = 1, revision: Revision = 50,
        noFailback: Bool = false
    ) {
        let holder = placement.holder
        view.assignments[resource] = Versioned(
            Assignment(
                generation: generation, placement: placement, memberRevision: holder.map(Self.joinRevision),
                reason: "test", noFailback: noFailback),
            createRevision: 30, modRevision: revision)
    }

    mutating func status(
        _ resource: ResourceName, _ node: NodeName, _ state: LocalState, generation: UInt64 = 1,
        moveAway: MoveAwayReason? = nil, addressGone: String? = nil
    ) {
        view.statuses[resource, default: [:]][node] = Versioned(
            ResourceStatus(
                node: node, generation: generation, state: state, incarnation: 1, moveAway: moveAway,
                addressGone: addressGone),
            createRevision: 60, modRevision: 60)
    }

    mutating func command(_ id: String, _ resource: ResourceName, _ verb: AdminCommand.Verb) {
        view.commands[id] = AdminCommand(id: id, resource: resource, verb: verb, user: "alice")
    }

    /// Moves the revision on (every change the tests make is a new store revision).
    /// (A test's change is content, never only a heartbeat: see ``ClusterView/contentRevision``.)
    mutating func bump() {
        view.revision += 1
        view.contentRevision = view.revision
    }
}

/// A brain under test, with its own clock.
struct Harness {
    var brain: Brain.Instance
    var now = Moment(milliseconds: 10_000, wallMilliseconds: 1_700_000_000_000)
    let node: NodeName

    /// A brain that has started, joined and seen `world` (and, if the world says so, is master).
    init(_ node: NodeName = "n1", world: World, local: Set<ResourceName> = [], joined: Bool = true) {
        self.node = node
        brain = Brain.Instance(configuration: Brain.Configuration(node: node, version: "t"))
        _ = when(.started(localResources: world.view.resources.filter { local.contains($0.key) }))
        _ = when(.viewChanged(world.view))
        if joined {
            _ = when(.joined(memberRevision: World.joinRevision(node), sentAt: now))
        }
    }

    /// n2, joined, with `spec` assigned to it and loaded there.
    static func holder(of spec: ResourceSpec) -> Harness {
        var world = World()
        world.resource(spec)
        world.assign(spec.name, .node("n2"))
        return Harness("n2", world: world, local: [spec.name])
    }

    /// A brain that has started with `started` held here (from its local record) and has not yet
    /// seen the store.
    init(_ node: NodeName, started: [ResourceName: ResourceSpec]) {
        self.node = node
        brain = Brain.Instance(configuration: Brain.Configuration(node: node, version: "t"))
        _ = when(.started(localResources: started))
    }

    /// The timer the brain asked for last.
    var timer: Moment?

    mutating func when(_ event: Brain.Event) -> [Brain.Directive] {
        let directives = brain.handle(event, now: now)
        for case .scheduleTimer(let at) in directives { timer = at }
        return directives
    }

    /// Whether heartbeats this node sends are acknowledged at once (false: the store is unreachable).
    var storeReachable = true

    /// Lets time pass, firing every timer the brain asked for on the way and once more at the end;
    /// heartbeats are acknowledged at once if the store is reachable. Returns everything the brain did.
    mutating func after(_ milliseconds: Int64) -> [Brain.Directive] {
        let end = now + .milliseconds(milliseconds)
        var directives: [Brain.Directive] = []
        for _ in 0..<10_000 {
            guard let next = timer, next < end else { break }
            timer = nil
            now = next
            directives += fire()
        }
        now = end
        return directives + fire()
    }

    private mutating func fire() -> [Brain.Directive] {
        var directives = when(.timerFired)
        if storeReachable {
            for case .sendHeartbeat(_, _, let sentAt) in directives {
                directives += when(.heartbeatAcknowledged(sentAt: sentAt))
            }
        }
        return directives
    }

    /// Keeps this node alive (an acknowledged heartbeat sent now).
    @discardableResult
    mutating func acknowledge() -> [Brain.Directive] { when(.heartbeatAcknowledged(sentAt: now)) }
}

/// Only the directives that act on the world: store writes, scripts, fencing, reboot, leave.
func actions(_ directives: [Brain.Directive]) -> [Brain.Directive] {
    directives.filter {
        switch $0 {
        case .record, .scheduleTimer, .petWatchdog, .sendHeartbeat, .renewMaster: false
        default: true
        }
    }
}

/// The assignment writes among `directives`: resource, placement, generation.
func assignments(_ directives: [Brain.Directive]) -> [String] {
    directives.compactMap {
        guard case .writeAssignment(let resource, let assignment, _, _, _) = $0 else { return nil }
        return "\(resource) \(assignment.placement) gen \(assignment.generation)"
    }
}

let term1 = MasterRecord(node: "n1", term: 1)

/// What a self-fence of `name` (loaded as ``vip(_:preferred:_:)`` makes it) stops.
func target(_ name: ResourceName = "vip", address: String? = "198.18.0.100") -> Brain.FenceTarget {
    Brain.FenceTarget(name, address: address)
}

func vip(_ name: ResourceName = "vip", preferred: [NodeName] = [], _ change: (inout ResourceSpec) -> Void = { _ in })
    -> ResourceSpec
{
    var spec = ResourceSpec(
        name: name, template: "Generic_IP_Service",
        load: ScriptSpec(body: "load", timeout: .seconds(60)),
        unload: ScriptSpec(body: "unload", timeout: .seconds(60)),
        variables: ["RESOURCE_IP": "198.18.0.100"], preferredNodes: preferred)
    change(&spec)
    return spec
}

func job(_ spec: ResourceSpec, _ action: ScriptAction, generation: UInt64 = 1) -> Brain.ScriptJob {
    let script: ScriptSpec
    switch action {
    case .load: script = spec.load
    case .unload: script = spec.unload
    case .monitor: script = spec.monitor!.script
    }
    return Brain.ScriptJob(
        resource: spec.name, action: action, generation: generation, script: script, variables: spec.variables,
        takeoverWait: action == .load ? TimingSettings().takeoverWait : nil,
        addressMustBeGone: action == .unload && spec.mode == .exclusive ? spec.variables["RESOURCE_IP"] : nil,
        priority: spec.priority, duplicateProbe: action == .load ? TimingSettings().duplicateProbe : nil)
}
