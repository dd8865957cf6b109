import ClusterBrain
import ClusterModel
import CoordinationStore
import InMemoryStore
import NodeAgent

/// Settings of one simulated cluster.
public struct SimulationSettings: Sendable {
    public var nodes: [NodeName]
    public var resources: [ResourceSpec]
    public var cluster: ClusterSettings
    public var seed: UInt64
    /// One-way latency between a node and the store, in milliseconds.
    public var storeLatency: ClosedRange<Int64> = 1...3
    /// Delay before a node's watch delivers a change.
    public var watchLatency: ClosedRange<Int64> = 1...5
    /// How long fake scripts run, per action.
    public var loadDuration: ClosedRange<Int64> = 20...150
    public var unloadDuration: ClosedRange<Int64> = 10...80
    public var monitorDuration: ClosedRange<Int64> = 5...20
    /// A call to an unreachable store fails after this long.
    public var storeTimeout: Int64 = 1000
    /// Deliberately unsafe brain behaviour (checker tests only).
    public var faults: Brain.InjectedFaults = .none
    /// The shell's gaps before issue 9, put back in the fakes (checker tests only).
    public var shellFaults: ShellFaults = .none
    /// Scripts running at once per node; the rest wait for a slot (the agent's `parallelScripts`).
    public var parallelScripts = 8
    /// Nodes whose agents start at time 0 (the rest stay down until started).
    public var startNodes: [NodeName]?

    public init(
        nodes: [NodeName], resources: [ResourceSpec], cluster: ClusterSettings = ClusterSettings(), seed: UInt64 = 1
    ) {
        self.nodes = nodes
        self.resources = resources
        self.cluster = cluster
        self.seed = seed
    }

    /// The longest a load can take, for the liveness bound.
    var longestLoad: Int64 { loadDuration.upperBound }
}

/// The agent shell's gaps that issue 9 closed, each one a switch that puts it back in the
/// simulation's fakes so a checker test can show the invariants catch it.
public struct ShellFaults: Hashable, Sendable {
    /// A script waiting for a slot when its resource is fenced still runs afterwards.
    public var queuedScriptsSurviveFence = false
    /// A failed `ip` run counts as "address gone": no second try, no retry, no report; an unload
    /// that exits 0 is trusted to have removed its address.
    public var failedRemovalCountsAsGone = false
    /// A script killed by someone else (OOM, `kill -9`) is reported as killed by Vigil, which the
    /// brain ignores: the resource stays Loading or Unloading.
    public var killedScriptsDropped = false
    /// A restarted agent cut off from the store knows nothing of what it holds (no local record).
    public var restartWithoutLocalRecord = false
    /// The watchdog keeps the driver's own timeout (softdog: 60 s) instead of the configured one.
    public var watchdogKeepsDriverTimeout = false

    public init(
        queuedScriptsSurviveFence: Bool = false, failedRemovalCountsAsGone: Bool = false,
        killedScriptsDropped: Bool = false, restartWithoutLocalRecord: Bool = false,
        watchdogKeepsDriverTimeout: Bool = false
    ) {
        self.queuedScriptsSurviveFence = queuedScriptsSurviveFence
        self.failedRemovalCountsAsGone = failedRemovalCountsAsGone
        self.killedScriptsDropped = killedScriptsDropped
        self.restartWithoutLocalRecord = restartWithoutLocalRecord
        self.watchdogKeepsDriverTimeout = watchdogKeepsDriverTimeout
    }

    /// Every gap put back.
    public static let old = ShellFaults(
        queuedScriptsSurviveFence: true, failedRemovalCountsAsGone: true, killedScriptsDropped: true,
        restartWithoutLocalRecord: true, watchdogKeepsDriverTimeout: true)

    public static let none = ShellFaults()
}

/// A broken invariant, with when and what.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var time: Int64
    public var invariant: String
    public var detail: String
    public var description: String { "t=\(time)ms \(invariant): \(detail)" }
}

/// A period during which an exclusive resource was active on two nodes.
public struct DoubleHolding: Hashable, Sendable {
    public var resource: ResourceName
    public var nodes: [NodeName]
    public var start: Int64
    public var end: Int64?
    public var length: Int64? { end.map { $0 - start } }
}

/// One simulated machine: its agent (a brain plus fake drivers), its addresses and its watchdog.
public struct SimNode: Sendable {
    public let name: NodeName
    public internal(set) var machineUp = true
    /// Identifies the running agent process; 0 when none runs.
    public internal(set) var agent = 0
    public internal(set) var brain: Brain.Instance?
    public internal(set) var paused = false
    public internal(set) var partitioned = false
    /// Exclusive resources whose address is up here (the real state the checker judges).
    public var held: Set<ResourceName> { Set(loaded.keys) }
    /// Each exclusive resource held here with the definition it was loaded with.
    public internal(set) var loaded: [ResourceName: ResourceSpec] = [:]
    /// Non-exclusive resources active here.
    public internal(set) var active: Set<ResourceName> = []
    var deferred: [Simulation.Action] = []
    var view = ClusterView()
    var lastSeenRevision: Int64 = 0
    var watchScheduled = false
    /// The script each resource has in flight (running or waiting for a slot), by token.
    var scripts: [ResourceName: (token: Int, action: ScriptAction)] = [:]
    /// Tokens of scripts holding a slot, and scripts waiting for one, oldest first.
    var running: Set<Int> = []
    var waiting: [(token: Int, job: Brain.ScriptJob)] = []
    /// The next this many `ip` runs fail (out of file descriptors, say).
    var ipFailures = 0
    var scriptFaults: [ResourceName: [ScriptAction: Simulation.ScriptFault]] = [:]
    var timerToken = 0
    var scriptToken = 0
    /// The instance the node's last agent wrote in its local record.
    var lastInstance: String?
    var watchdogToken = 0
    /// This node's monotonic clock origin: moments of different nodes are not comparable.
    let clockOffset: Int64
}

/// A deterministic cluster: N brains with fake script and address drivers on one in-memory store,
/// a manual clock, seeded latencies and faults, and invariant checks after every step.
public final class Simulation {
    public enum ScriptFault: Hashable, Sendable {
        case fail(Int32)
        case hang
        /// Killed by someone else partway (the OOM killer, `kill -9`).
        case killedBySignal
    }

    enum Action {
        case deliver(NodeName, agent: Int, Brain.Event)
        case timer(NodeName, agent: Int, token: Int)
        case commit(NodeName, agent: Int, Brain.Directive)
        case watch(NodeName, agent: Int)
        case scriptDone(NodeName, agent: Int, token: Int, Brain.ScriptJob, ScriptOutcome)
        case watchdogCheck(NodeName, token: Int)
        case boot(NodeName)
        case startAgent(NodeName)
        case resume(NodeName)
        case heal(NodeName)
        /// The agent lists its node's addresses (every 2 s, as the real agent does).
        case observe(NodeName, agent: Int)
        /// A killed script's process group is gone: its slot is free.
        case slotFreed(NodeName, token: Int)
        /// The fence thread tries again to remove addresses that stayed (every 500 ms, 20 times).
        case retryRemoval(NodeName, agent: Int, [String], triesLeft: Int)

        var node: NodeName {
            switch self {
            case .deliver(let n, _, _), .timer(let n, _, _), .commit(let n, _, _), .watch(let n, _),
                .scriptDone(let n, _, _, _, _), .watchdogCheck(let n, _), .boot(let n), .startAgent(let n),
                .resume(let n), .heal(let n), .observe(let n, _), .retryRemoval(let n, _, _, _),
                .slotFreed(let n, _):
                n
            }
        }
    }

    struct Scheduled {
        var time: Int64
        var sequence: UInt64
        var action: Action
    }

    struct LivenessObligation {
        var resource: ResourceName
        var from: NodeName
        var created: Int64
        var deadline: Int64
        var voided = false
    }

    public let settings: SimulationSettings
    public let layout: KeyLayout
    let interpreter: DirectiveInterpreter
    public private(set) var now: Int64 = 0
    var random: SeededRandom
    public private(set) var kv: InMemoryKV
    public private(set) var nodes: [NodeName: SimNode] = [:]
    private var queue: [Scheduled] = []
    private var sequence: UInt64 = 0
    /// Readable history: cluster events and injected faults.
    public private(set) var timeline: [String] = []
    public private(set) var violations: [Violation] = []
    public private(set) var doubleHoldings: [DoubleHolding] = []
    private var fencedLoads: Set<String> = []
    private var obligations: [LivenessObligation] = []
    /// Since when a brain has waited for a script the node no longer runs or queues ("node/resource").
    private var lostResults: [String: Int64] = [:]
    private var reportedLost: Set<String> = []
    private var lastDisturbance: Int64 = -1_000_000
    private var commandCounter = 0
    public private(set) var stepsRun = 0
    /// Record every cluster event in the timeline (golden scenarios) or only faults and violations.
    public var recordEvents = true

    public init(_ settings: SimulationSettings) {
        self.settings = settings
        self.layout = KeyLayout(cluster: "sim")
        self.interpreter = DirectiveInterpreter(layout: layout)
        self.random = SeededRandom(seed: settings.seed)
        var kv = InMemoryKV()
        var setup: [StoreOperation] = [.put(key: layout.config, value: ModelCodec.encode(settings.cluster))]
        for (index, node) in settings.nodes.enumerated() {
            setup.append(
                .put(key: layout.node(node), value: ModelCodec.encode(NodeDefinition(name: node, index: index))))
        }
        for spec in settings.resources {
            setup.append(.put(key: layout.resource(spec.name), value: ModelCodec.encode(spec)))
        }
        _ = try? kv.apply(Transaction(compare: [], success: setup))
        self.kv = kv
        for (index, node) in settings.nodes.enumerated() {
            nodes[node] = SimNode(name: node, clockOffset: 1_000_000 * Int64(index + 1))
        }
        for node in settings.startNodes ?? settings.nodes {
            schedule(0, .startAgent(node))
        }
    }

    /// The longest tolerance the cluster has had (liveness bounds must allow for it: a node may
    /// still advertise an older, longer one).
    var tolerance: Int64 { max(settings.cluster.timing.tolerance.milliseconds, longestToleranceSet) }
    private var longestToleranceSet: Int64 = 0

    // MARK: Running

    /// Processes every action up to and including time `end`.
    public func run(until end: Int64) {
        _ = process(until: end) { _ in false }
        now = max(now, end)
        checkInvariants()
    }

    /// Performs queued actions up to `end`, checking the invariants after each; stops early (true)
    /// as soon as `condition` holds.
    private func process(until end: Int64, stopWhen condition: (Simulation) -> Bool) -> Bool {
        while let next = queue.last, next.time <= end {
            queue.removeLast()
            now = next.time
            perform(next.action)
            stepsRun += 1
            checkInvariants()
            if condition(self) { return true }
        }
        return false
    }

    /// Runs for `milliseconds` of simulated time.
    public func run(for milliseconds: Int64) { run(until: now + milliseconds) }

    /// Runs until `condition` holds (checked after every action) or `limit` milliseconds pass; returns whether it held.
    @discardableResult
    public func run(until condition: (Simulation) -> Bool, limit: Int64) -> Bool {
        let end = now + limit
        if condition(self) || process(until: end, stopWhen: condition) { return true }
        now = end
        return condition(self)
    }

    func schedule(_ time: Int64, _ action: Action) {
        sequence += 1
        let item = Scheduled(time: time, sequence: sequence, action: action)
        // Kept sorted latest-first so the earliest is at the end.
        var low = 0
        var high = queue.count
        while low < high {
            let mid = (low + high) / 2
            let other = queue[mid]
            if (other.time, other.sequence) > (item.time, item.sequence) { low = mid + 1 } else { high = mid }
        }
        queue.insert(item, at: low)
    }

    private func after(_ range: ClosedRange<Int64>) -> Int64 { now + random.int(range) }

    func moment(_ node: SimNode) -> Moment {
        Moment(milliseconds: now + node.clockOffset, wallMilliseconds: 1_700_000_000_000 + now)
    }

    // MARK: Actions

    private func isAgentAlive(_ name: NodeName, _ agent: Int) -> Bool {
        guard let node = nodes[name] else { return false }
        return node.machineUp && node.agent == agent && agent != 0
    }

    private func perform(_ action: Action) {
        let name = action.node
        // A frozen agent handles nothing until it resumes; its scripts and the store go on.
        if let node = nodes[name], node.paused {
            switch action {
            case .deliver, .timer, .watch, .observe, .retryRemoval:
                nodes[name]!.deferred.append(action)
                return
            case .scriptDone(_, let agent, let token, let job, let outcome):
                if let event = applyScriptEffect(name, agent: agent, token: token, job, outcome) {
                    nodes[name]!.deferred.append(.deliver(name, agent: agent, event))
                }
                return
            default:
                break
            }
        }
        switch action {
        case .deliver(_, let agent, let event):
            guard isAgentAlive(name, agent) else { return }
            feed(name, event)
        case .timer(_, let agent, let token):
            guard isAgentAlive(name, agent), nodes[name]!.timerToken == token else { return }
            feed(name, .timerFired)
        case .commit(_, let agent, let directive):
            commit(name, agent: agent, directive)
        case .watch(_, let agent):
            guard isAgentAlive(name, agent) else { return }
            nodes[name]!.watchScheduled = false
            deliverWatch(name)
        case .scriptDone(_, let agent, let token, let job, let outcome):
            guard let event = applyScriptEffect(name, agent: agent, token: token, job, outcome) else { return }
            feed(name, event)
        case .watchdogCheck(_, let token):
            guard let node = nodes[name], node.machineUp, node.watchdogToken == token else { return }
            note("\(name): watchdog expired: node reset")
            resetMachine(name, reboot: true)
        case .boot:
            guard !nodes[name]!.machineUp else { return }
            nodes[name]!.machineUp = true
            note("\(name): machine booted")
            schedule(now + 200, .startAgent(name))
        case .startAgent:
            startAgent(name)
        case .resume:
            guard nodes[name]!.paused else { return }
            nodes[name]!.paused = false
            note("\(name): agent resumed")
            let deferred = nodes[name]!.deferred
            nodes[name]!.deferred = []
            for item in deferred { schedule(now, item) }
            launchWaiting(name)
        case .observe(_, let agent):
            guard isAgentAlive(name, agent) else { return }
            feed(name, .addressesObserved(Set(nodes[name]!.loaded.values.compactMap(\.virtualAddress))))
            schedule(now + 2000, .observe(name, agent: agent))
        case .retryRemoval(_, let agent, let addresses, let triesLeft):
            guard isAgentAlive(name, agent) else { return }
            let left = addressesUp(name, addresses)
            guard !left.isEmpty, triesLeft > 0 else { return }
            if tryRemoving(name, left), addressesUp(name, left).isEmpty { return }
            schedule(now + 500, .retryRemoval(name, agent: agent, left, triesLeft: triesLeft - 1))
        case .slotFreed(_, let token):
            freeSlot(name, token)
        case .heal:
            guard nodes[name]!.partitioned else { return }
            nodes[name]!.partitioned = false
            note("\(name): reconnected to the store")
            scheduleWatch(name)
        }
    }

    /// Applies a finished script's effect on addresses; the brain's event for it, nil if the
    /// script was killed or superseded (or its agent is gone).
    private func applyScriptEffect(
        _ name: NodeName, agent: Int, token: Int, _ job: Brain.ScriptJob, _ outcome: ScriptOutcome
    ) -> Brain.Event? {
        let resource = job.resource
        guard let node = nodes[name], node.machineUp else { return nil }
        freeSlot(name, token)
        guard node.scripts[resource]?.token == token else { return nil }
        nodes[name]!.scripts[resource] = nil
        if job.action == .unload, outcome.succeeded {
            // The unload's `ignore_error del_secondary_ipaddress` is an `ip` run too: if it fails,
            // the script still exits 0 and the address stays.
            if let address = node.loaded[resource]?.virtualAddress {
                _ = tryRemoving(name, [address])
            } else {
                nodes[name]!.loaded[resource] = nil
            }
            nodes[name]!.active.remove(resource)
        }
        guard node.agent == agent else { return nil }
        // The agent's check of the address the unload must leave gone: `removeAllNow`, two tries.
        var stillUp = false
        if let address = interpreter.mustCheckAddress(job, outcome: outcome),
            !settings.shellFaults.failedRemovalCountsAsGone
        {
            for _ in 0..<2 where !addressesUp(name, [address]).isEmpty { _ = tryRemoving(name, [address]) }
            stillUp = !addressesUp(name, [address]).isEmpty
        }
        return interpreter.scriptFinished(job, outcome: outcome, addressStillUp: stillUp)
    }

    private func startAgent(_ name: NodeName) {
        guard var node = nodes[name], node.machineUp, node.agent == 0 else { return }
        sequence += 1
        node.agent = Int(sequence)
        // The local record: the previous agent's instance, and the definitions of what is held.
        node.brain = Brain.Instance(
            configuration: Brain.Configuration(
                node: name, faults: settings.faults, instance: "\(node.agent)", previousInstance: node.lastInstance))
        node.lastInstance = "\(node.agent)"
        node.view = ClusterView()
        node.lastSeenRevision = 0
        node.watchScheduled = false
        node.deferred = []
        node.paused = false
        nodes[name] = node
        note("\(name): agent started")
        // What is up here, as the local record names it (the old agent read the store's
        // definitions instead, and knew nothing while cut off from it).
        let forgotten = settings.shellFaults.restartWithoutLocalRecord && node.partitioned
        feed(name, .started(localResources: forgotten ? [:] : node.loaded))
        scheduleWatch(name)
        schedule(now + 2000, .observe(name, agent: node.agent))
    }

    private func feed(_ name: NodeName, _ event: Brain.Event) {
        guard var node = nodes[name], var brain = node.brain else { return }
        let directives = brain.handle(event, now: moment(node))
        node.brain = brain
        nodes[name] = node
        for directive in directives { execute(name, directive) }
    }

    /// Carries out a directive's effect (as ``DirectiveInterpreter`` decides) with the fakes.
    private func execute(_ name: NodeName, _ directive: Brain.Directive) {
        guard let node = nodes[name] else { return }
        switch interpreter.effect(of: directive) {
        case .join, .write:
            // Every lane reaches the same store here; the fence thread is the brain's own timer.
            schedule(after(settings.storeLatency), .commit(name, agent: node.agent, directive))
        case .runScript(let job):
            startScript(name, job)
        case .fence(let targets):
            // The fence kills running scripts, cancels waiting ones and removes the addresses as
            // loaded; a resource that is more than an address (vip_b, vip_c: no RESOURCE_IP, think
            // of a mount) stays active until an unload succeeds, or the machine is reset.
            for target in targets { killScript(name, target.resource) }
            removeOnFenceThread(name, targets.compactMap(\.address), agent: node.agent)
        case .removeAddresses(let wanted):
            // One `removeAllNow`: two tries.
            for _ in 0..<2 where !addressesUp(name, wanted).isEmpty { _ = tryRemoving(name, wanted) }
            let left = settings.shellFaults.failedRemovalCountsAsGone ? [] : addressesUp(name, wanted)
            if let event = interpreter.removalEvent(left: left) {
                schedule(now, .deliver(name, agent: node.agent, event))
            }
        case .replaceTimer(let at):
            nodes[name]!.timerToken += 1
            schedule(
                max(now, at.milliseconds - node.clockOffset),
                .timer(name, agent: node.agent, token: nodes[name]!.timerToken))
        case .record(let event):
            if recordEvents { note(event.description) }
        case .petWatchdog:
            guard let timeout = settings.cluster.timing.watchdogTimeout else { return }
            nodes[name]!.watchdogToken += 1
            // The old agent never set the driver's timeout: softdog kept its 60 s.
            let expiry = settings.shellFaults.watchdogKeepsDriverTimeout ? 60_000 : timeout.milliseconds
            schedule(now + expiry, .watchdogCheck(name, token: nodes[name]!.watchdogToken))
        case .reboot:
            note("\(name): monitor action reboot")
            resetMachine(name, reboot: true)
        case .finished:
            nodes[name]!.agent = 0
            nodes[name]!.brain = nil
            nodes[name]!.watchdogToken += 1
            note("\(name): agent stopped")
        }
    }

    private func startScript(_ name: NodeName, _ job: Brain.ScriptJob) {
        nodes[name]!.scriptToken += 1
        let token = nodes[name]!.scriptToken
        nodes[name]!.scripts[job.resource] = (token, job.action)
        nodes[name]!.waiting.append((token, job))
        launchWaiting(name)
    }

    /// Starts waiting scripts while slots are free (not while the agent is frozen).
    private func launchWaiting(_ name: NodeName) {
        while let node = nodes[name], node.machineUp, !node.paused, node.running.count < settings.parallelScripts,
            let (token, job) = node.waiting.first
        {
            nodes[name]!.waiting.removeFirst()
            launch(name, job, token: token)
        }
    }

    private func freeSlot(_ name: NodeName, _ token: Int) {
        guard nodes[name]?.running.remove(token) != nil else { return }
        launchWaiting(name)
    }

    /// Kills the resource's running script (its slot frees once the process group is gone, a few
    /// milliseconds on) and cancels a waiting one.
    private func killScript(_ name: NodeName, _ resource: ResourceName) {
        guard let token = nodes[name]!.scripts[resource]?.token else { return }
        nodes[name]!.scripts[resource] = nil
        if !settings.shellFaults.queuedScriptsSurviveFence {
            nodes[name]!.waiting.removeAll { $0.token == token }
        }
        if nodes[name]!.running.contains(token) { schedule(now + 5, .slotFreed(name, token: token)) }
    }

    private func launch(_ name: NodeName, _ job: Brain.ScriptJob, token: Int) {
        var node = nodes[name]!
        node.running.insert(token)
        // A waiting script the fence failed to cancel runs anyway (ShellFaults.queuedScriptsSurviveFence).
        node.scripts[job.resource] = (token, job.action)
        let exclusive = settings.resources.first { $0.name == job.resource }?.mode != .everywhere
        if job.action == .load {
            if exclusive {
                if !fencedLoads.contains(fenceKey(job.resource, name, job.generation)) {
                    violate(
                        "fenced-load",
                        "\(name) started load of \(job.resource) generation \(job.generation) without a committed fenced Loading status"
                    )
                }
                node.loaded[job.resource] = loadedSpec(name, job)
            } else {
                node.active.insert(job.resource)
            }
        }
        let fault = node.scriptFaults[job.resource]?[job.action]
        node.scriptFaults[job.resource]?[job.action] = nil
        nodes[name] = node
        let duration: Int64
        let outcome: ScriptOutcome
        switch fault {
        case .fail(let code)?:
            duration = random.int(settings.loadDuration)
            outcome = .failure(exitCode: code)
        case .hang?:
            duration = job.script.timeout.milliseconds
            outcome = .timedOut
        case .killedBySignal?:
            duration = random.int(settings.unloadDuration)
            outcome = settings.shellFaults.killedScriptsDropped ? .killed : .failure(exitCode: 137)
        case nil:
            switch job.action {
            case .load: duration = random.int(settings.loadDuration)
            case .unload: duration = random.int(settings.unloadDuration)
            case .monitor: duration = random.int(settings.monitorDuration)
            }
            outcome = .success
        }
        schedule(
            now + duration,
            .scriptDone(name, agent: node.agent, token: token, job, outcome))
    }

    /// The definition a load starts with: the brain's (what it asked to load), else the store's.
    private func loadedSpec(_ name: NodeName, _ job: Brain.ScriptJob) -> ResourceSpec {
        var spec =
            nodes[name]?.brain?.local[job.resource]?.spec ?? currentSpec(job.resource)
            ?? ResourceSpec(name: job.resource)
        if let address = job.variables["RESOURCE_IP"] { spec.variables["RESOURCE_IP"] = address }
        return spec
    }

    // MARK: Addresses

    /// Addresses among `addresses` still up on the node.
    private func addressesUp(_ name: NodeName, _ addresses: [String]) -> [String] {
        let up = Set(nodes[name]?.loaded.values.compactMap(\.virtualAddress) ?? [])
        return addresses.filter(up.contains).sorted()
    }

    /// One `ip` run removing `addresses`; false when `ip` failed (an injected failure).
    private func tryRemoving(_ name: NodeName, _ addresses: [String]) -> Bool {
        guard nodes[name]!.ipFailures == 0 else {
            nodes[name]!.ipFailures -= 1
            return false
        }
        let gone = Set(addresses)
        nodes[name]!.loaded = nodes[name]!.loaded.filter { !gone.contains($0.value.virtualAddress ?? "") }
        return true
    }

    /// The fence thread's removal (FenceKeeper: `removeAllNow` tries twice, again after the killed
    /// scripts are gone): four tries now; what stays is reported and tried every 500 ms, 20 times.
    private func removeOnFenceThread(_ name: NodeName, _ addresses: [String], agent: Int) {
        if settings.shellFaults.failedRemovalCountsAsGone {
            _ = tryRemoving(name, addresses)
            return
        }
        for _ in 0..<4 where !addressesUp(name, addresses).isEmpty { _ = tryRemoving(name, addresses) }
        let left = addressesUp(name, addresses)
        guard !left.isEmpty else { return }
        schedule(now, .deliver(name, agent: agent, .addressesNotRemoved(left)))
        schedule(now + 500, .retryRemoval(name, agent: agent, left, triesLeft: 20))
    }

    private func fenceKey(_ resource: ResourceName, _ node: NodeName, _ generation: UInt64) -> String {
        "\(resource)/\(node)/\(generation)"
    }

    // MARK: Store

    private func commit(_ name: NodeName, agent: Int, _ directive: Brain.Directive) {
        guard let node = nodes[name], node.machineUp || true else { return }
        let reachable = node.machineUp && !node.partitioned
        let revisionBefore = kv.revision
        var event: Brain.Event?
        let effect = interpreter.effect(of: directive)
        if !reachable {
            // The request never arrives; the caller's timeout reports the failure.
            if case .join = effect {
                event = interpreter.joinEvent(directive, first: nil, adoption: nil)
            } else {
                event = interpreter.event(after: directive, result: nil)
            }
            if let event { schedule(now + settings.storeTimeout, .deliver(name, agent: agent, event)) }
            return
        }
        switch effect {
        case .join(let first):
            let result = try? kv.apply(first)
            var adoption: TransactionResult?
            if case .adopt(let transaction) = interpreter.joinStep(result, of: directive) {
                adoption = try? kv.apply(transaction)
            }
            event = interpreter.joinEvent(directive, first: result, adoption: adoption)
        case .write(let transaction, _):
            let result = try? kv.apply(transaction)
            if case .writeStatus(let resource, let status, _) = directive, result?.succeeded == true,
                status.state == .loading
            {
                checkFencedLoadingWrite(resource, status)
            }
            event = interpreter.event(after: directive, result: result)
        default:
            return
        }
        if let event { schedule(after(settings.storeLatency), .deliver(name, agent: agent, event)) }
        if kv.revision != revisionBefore { notifyWatchers() }
    }

    private func checkFencedLoadingWrite(_ resource: ResourceName, _ status: ResourceStatus) {
        let spec = settings.resources.first { $0.name == resource }
        if spec?.mode == .everywhere {
            fencedLoads.insert(fenceKey(resource, status.node, status.generation))
            return
        }
        guard let entry = kv.get(layout.assignment(resource)),
            let assignment = try? ModelCodec.decode(Assignment.self, from: entry.value)
        else {
            violate("fenced-load", "Loading status of \(resource) on \(status.node) committed with no assignment")
            return
        }
        guard assignment.generation == status.generation, assignment.placement.holder == status.node else {
            violate(
                "fenced-load",
                "Loading status of \(resource) on \(status.node) generation \(status.generation) committed while the assignment is \(assignment.placement) generation \(assignment.generation)"
            )
            return
        }
        fencedLoads.insert(fenceKey(resource, status.node, status.generation))
    }

    private func notifyWatchers() {
        for name in nodes.keys.sorted() { scheduleWatch(name) }
    }

    private func scheduleWatch(_ name: NodeName) {
        guard let node = nodes[name], node.machineUp, node.agent != 0, !node.partitioned, !node.watchScheduled else {
            return
        }
        nodes[name]!.watchScheduled = true
        schedule(after(settings.watchLatency), .watch(name, agent: node.agent))
    }

    private func deliverWatch(_ name: NodeName) {
        guard var node = nodes[name], !node.partitioned else { return }
        if node.lastSeenRevision == 0 {
            node.view = layout.view(
                from: kv.range(prefix: layout.prefix).keyValues.map(StoredEntry.init), revision: kv.revision)
        } else {
            do {
                for batch in try kv.events(prefix: layout.prefix, fromRevision: node.lastSeenRevision + 1) {
                    for event in batch.events {
                        switch event.kind {
                        case .put: layout.put(StoredEntry(event.keyValue), into: &node.view)
                        case .delete:
                            layout.delete(event.keyValue.key, at: event.keyValue.modRevision, from: &node.view)
                        }
                    }
                }
            } catch {
                // Compacted: re-read everything.
                node.view = layout.view(
                    from: kv.range(prefix: layout.prefix).keyValues.map(StoredEntry.init), revision: kv.revision)
            }
        }
        guard node.lastSeenRevision != kv.revision else { return }
        node.lastSeenRevision = kv.revision
        node.view.revision = kv.revision
        let view = node.view
        nodes[name] = node
        feed(name, .viewChanged(view))
    }

    // MARK: Faults and admin actions

    private func note(_ text: String) {
        timeline.append("\(String(now).leftPadded(to: 7, with: " "))ms  \(text)")
    }

    private func disturb() { lastDisturbance = now }

    /// Power loss: addresses gone, agent gone; the machine boots again after `bootAfter` ms if given.
    public func crash(_ name: NodeName, bootAfter: Int64? = nil) {
        guard nodes[name]?.machineUp == true else { return }
        note("FAULT \(name): machine crash")
        createObligations(for: name)
        disturb(keepObligations: true)
        resetMachine(name, reboot: false)
        if let bootAfter { schedule(now + bootAfter, .boot(name)) }
    }

    private func disturb(keepObligations: Bool) {
        if !keepObligations { for index in obligations.indices { obligations[index].voided = true } }
        disturb()
    }

    private func resetMachine(_ name: NodeName, reboot: Bool) {
        guard var node = nodes[name] else { return }
        node.machineUp = false
        node.agent = 0
        node.brain = nil
        node.loaded = [:]
        node.active = []
        node.scripts = [:]
        node.running = []
        node.waiting = []
        node.ipFailures = 0
        node.paused = false
        node.deferred = []
        node.partitioned = false
        node.watchdogToken += 1
        nodes[name] = node
        if reboot { schedule(now + random.int(1000...3000), .boot(name)) }
    }

    /// Boots a crashed machine now.
    public func boot(_ name: NodeName) { schedule(now, .boot(name)) }

    /// Starts the agent of a node that has none (first start of a cluster member).
    public func startAgent(at name: NodeName) { schedule(now, .startAgent(name)) }

    /// Kills the agent process (addresses stay up) and starts a new one after `restartAfter` ms.
    public func restartAgent(_ name: NodeName, after restartAfter: Int64) {
        guard let node = nodes[name], node.machineUp, node.agent != 0 else { return }
        note("FAULT \(name): agent killed, restarting after \(restartAfter)ms")
        disturb(keepObligations: false)
        nodes[name]!.agent = 0
        nodes[name]!.brain = nil
        nodes[name]!.paused = false
        // Its scripts' results are lost with it; their slots belong to the next agent.
        nodes[name]!.scripts = [:]
        nodes[name]!.running = []
        nodes[name]!.waiting = []
        schedule(now + restartAfter, .startAgent(name))
    }

    /// Freezes the agent (SIGSTOP) for `milliseconds`.
    public func pause(_ name: NodeName, for milliseconds: Int64) {
        guard let node = nodes[name], node.machineUp, node.agent != 0, !node.paused else { return }
        note("FAULT \(name): agent frozen for \(milliseconds)ms")
        disturb(keepObligations: false)
        nodes[name]!.paused = true
        schedule(now + milliseconds, .resume(name))
    }

    /// Cuts the node off the store for `milliseconds` (it still runs, and keeps its addresses).
    public func partition(_ name: NodeName, for milliseconds: Int64) {
        guard let node = nodes[name], node.machineUp, !node.partitioned else { return }
        note("FAULT \(name): partitioned from the store for \(milliseconds)ms")
        disturb(keepObligations: false)
        nodes[name]!.partitioned = true
        schedule(now + milliseconds, .heal(name))
    }

    /// The next run of `action` for `resource` on `node` fails or hangs.
    public func injectScriptFault(_ fault: ScriptFault, node: NodeName, resource: ResourceName, action: ScriptAction) {
        note(
            "FAULT \(node): next \(action.rawValue) of \(resource) will \(fault == .hang ? "hang" : fault == .killedBySignal ? "be killed" : "fail")"
        )
        disturb(keepObligations: false)
        nodes[node]?.scriptFaults[resource, default: [:]][action] = fault
    }

    /// The next `count` `ip` runs on `node` fail (out of file descriptors, a broken binary).
    public func injectAddressFailures(node: NodeName, count: Int) {
        note("FAULT \(node): the next \(count) ip runs fail")
        disturb(keepObligations: false)
        nodes[node]?.ipFailures = count
    }

    /// Changes the virtual address of a resource, as `vigil resource edit` does (also while it runs).
    public func editAddress(_ resource: ResourceName, to address: String) {
        guard var spec = currentSpec(resource) else { return }
        note("ADMIN edit \(resource): RESOURCE_IP=\(address)")
        disturb(keepObligations: false)
        spec.variables["RESOURCE_IP"] = address
        _ = try? kv.apply(
            Transaction(compare: [], success: [.put(key: layout.resource(resource), value: ModelCodec.encode(spec))]))
        notifyWatchers()
    }

    /// A resource's definition in the store.
    public func currentSpec(_ resource: ResourceName) -> ResourceSpec? {
        kv.get(layout.resource(resource)).flatMap { try? ModelCodec.decode(ResourceSpec.self, from: $0.value) }
    }

    /// Graceful stop (SIGTERM) of a node's agent.
    public func stopAgent(_ name: NodeName) {
        guard let node = nodes[name], node.agent != 0 else { return }
        note("ADMIN \(name): agent stop requested")
        disturb(keepObligations: false)
        schedule(now, .deliver(name, agent: node.agent, .shutdownRequested))
    }

    /// An admin command, as the API would store it.
    public func command(_ resource: ResourceName, _ verb: AdminCommand.Verb, user: String = "admin") {
        commandCounter += 1
        let id = "c" + String(commandCounter).leftPadded(to: 6)
        note(
            "ADMIN \(user): \(verb.description.split(separator: " ").first!) \(resource)\(verb.description.split(separator: " ").dropFirst().map { " " + $0 }.joined())"
        )
        disturb(keepObligations: false)
        let command = AdminCommand(id: id, resource: resource, verb: verb, user: user)
        _ = try? kv.apply(
            Transaction(compare: [], success: [.put(key: layout.command(id), value: ModelCodec.encode(command))]))
        notifyWatchers()
    }

    /// Changes cluster settings, as the API would.
    public func updateSettings(_ change: (inout ClusterSettings) -> Void) {
        var settings = currentSettings
        change(&settings)
        note("ADMIN settings: maintenance \(settings.maintenance.enabled ? "on" : "off")")
        disturb(keepObligations: false)
        _ = try? kv.apply(
            Transaction(compare: [], success: [.put(key: layout.config, value: ModelCodec.encode(settings))]))
        notifyWatchers()
    }

    /// Changes the cluster's tolerance live, as `vigil set tolerance` does.
    public func setTolerance(_ tolerance: Span) {
        var settings = currentSettings
        settings.timing.tolerance = tolerance
        note("ADMIN settings: tolerance \(tolerance)")
        disturb(keepObligations: false)
        longestToleranceSet = max(
            longestToleranceSet, tolerance.milliseconds, currentSettings.timing.tolerance.milliseconds)
        _ = try? kv.apply(
            Transaction(compare: [], success: [.put(key: layout.config, value: ModelCodec.encode(settings))]))
        notifyWatchers()
    }

    /// Compacts the store's history up to its current revision (watches behind it must re-read).
    public func compactStore() {
        try? kv.compact(revision: kv.revision)
    }

    var currentSettings: ClusterSettings {
        kv.get(layout.config).flatMap { try? ModelCodec.decode(ClusterSettings.self, from: $0.value) }
            ?? settings.cluster
    }

    // MARK: Reading the cluster

    /// The assignment in the store.
    public func assignment(_ resource: ResourceName) -> Assignment? {
        kv.get(layout.assignment(resource)).flatMap { try? ModelCodec.decode(Assignment.self, from: $0.value) }
    }

    /// A node's status of a resource in the store.
    public func status(_ resource: ResourceName, on node: NodeName) -> ResourceStatus? {
        kv.get(layout.status(resource, node: node)).flatMap {
            try? ModelCodec.decode(ResourceStatus.self, from: $0.value)
        }
    }

    /// Nodes whose address for an exclusive resource is up (machine running).
    public func holders(_ resource: ResourceName) -> [NodeName] {
        nodes.values.filter { $0.machineUp && $0.held.contains(resource) }.map(\.name).sorted()
    }

    /// Nodes where a resource is loaded and Running according to their own agent.
    public func runningOn(_ resource: ResourceName) -> [NodeName] {
        nodes.values.filter { node in
            node.machineUp && node.brain?.local[resource]?.phase == .running
                && (node.held.contains(resource) || node.active.contains(resource))
        }.map(\.name).sorted()
    }

    /// The current master according to the store.
    public var master: NodeName? {
        kv.get(layout.master).flatMap { try? ModelCodec.decode(MasterRecord.self, from: $0.value) }?.node
    }

    /// Members according to the store.
    public var members: [NodeName] {
        kv.range(prefix: layout.prefix + "members/").keyValues.compactMap {
            try? ModelCodec.decode(MemberRecord.self, from: $0.value).node
        }
    }

    public var epoch: UInt64 {
        kv.get(layout.epoch).flatMap { try? ModelCodec.decode(KeyLayout.EpochRecord.self, from: $0.value) }?.epoch ?? 0
    }

    /// A readable table of every resource: placement, generation, who holds it.
    public func summary() -> String {
        var lines = [
            "master: \(master.map(\.rawValue) ?? "-")  members: \(members.map(\.rawValue).joined(separator: ","))  epoch: \(epoch)"
        ]
        for spec in settings.resources.sorted(by: { $0.name < $1.name }) {
            let assignment = assignment(spec.name)
            let placement = assignment.map { "\($0.placement) gen \($0.generation)" } ?? "-"
            let running = runningOn(spec.name).map(\.rawValue).joined(separator: ",")
            lines.append("  \(spec.name): \(placement)  running on: \(running.isEmpty ? "-" : running)")
        }
        return lines.joined(separator: "\n")
    }

    /// Appends the summary to the timeline (golden files show the state at chosen points).
    public func snapshot(_ label: String) {
        timeline.append("--- \(label) @ \(now)ms")
        timeline.append(contentsOf: summary().split(separator: "\n").map(String.init))
    }

    // MARK: Invariants

    private func violate(_ invariant: String, _ detail: String) {
        let violation = Violation(time: now, invariant: invariant, detail: detail)
        violations.append(violation)
        timeline.append("\(String(now).leftPadded(to: 7, with: " "))ms  VIOLATION \(violation.invariant): \(detail)")
        if recordEvents {
            for node in nodes.values.sorted(by: { $0.name < $1.name }) {
                let local =
                    node.brain?.local.sorted { $0.key < $1.key }.map {
                        "\($0.key)=\($0.value.phase)@\($0.value.generation) inflight:\($0.value.scriptInFlight.map { "\($0)" } ?? "-") report:\($0.value.reportInFlight.map { "\($0.state)" } ?? "-") rejectedAt:\($0.value.rejectedAtRevision ?? -1)"
                    } ?? []
                timeline.append(
                    "    \(node.name) up:\(node.machineUp) held:\(node.held.sorted()) view-rev:\(node.lastSeenRevision) "
                        + local.joined(separator: "; "))
            }
        }
    }

    private func checkInvariants() {
        for spec in settings.resources where spec.mode == .exclusive {
            let holding = holders(spec.name)
            let open = doubleHoldings.lastIndex { $0.resource == spec.name && $0.end == nil }
            if holding.count > 1 {
                if open == nil {
                    doubleHoldings.append(DoubleHolding(resource: spec.name, nodes: holding, start: now))
                    violate("S1", "\(spec.name) active on \(holding.map(\.rawValue).joined(separator: " and "))")
                }
            } else if let open {
                doubleHoldings[open].end = now
            }
        }
        checkObligations()
        checkScriptResults()
    }

    /// L2: a brain never waits for a script that is no longer running or queued on its node (a
    /// result lost: the resource would stay Loading or Unloading for ever). Five seconds of grace
    /// cover results on their way; a frozen agent is not judged.
    private func checkScriptResults() {
        var waitingFor: Set<String> = []
        for node in nodes.values where node.machineUp && node.agent != 0 && !node.paused {
            for (resource, local) in node.brain?.local ?? [:] where local.scriptInFlight != nil {
                guard node.scripts[resource] == nil else { continue }
                let key = "\(node.name)/\(resource)"
                waitingFor.insert(key)
                let since = lostResults[key] ?? now
                lostResults[key] = since
                if now - since >= 5000, !reportedLost.contains(key) {
                    reportedLost.insert(key)
                    violate(
                        "L2",
                        "\(node.name) has waited 5 s for a \(resource) \(local.scriptInFlight!.rawValue) that no longer runs"
                    )
                }
            }
        }
        lostResults = lostResults.filter { waitingFor.contains($0.key) }
        reportedLost.formIntersection(waitingFor)
    }

    private func createObligations(for name: NodeName) {
        guard now - lastDisturbance > 2 * tolerance + 2000 else { return }
        for spec in settings.resources where spec.mode == .exclusive && spec.policies.failoverMode == .auto {
            guard let assignment = assignment(spec.name), assignment.placement == .node(name),
                status(spec.name, on: name)?.state == .running, nodes[name]?.held.contains(spec.name) == true,
                // A script fault still armed for this resource would make the failover fail on purpose.
                nodes.values.allSatisfy({ $0.scriptFaults[spec.name]?.isEmpty ?? true })
            else { continue }
            let bound = tolerance + settings.longestLoad + 500
            obligations.append(LivenessObligation(resource: spec.name, from: name, created: now, deadline: now + bound))
        }
    }

    private func checkObligations() {
        guard !obligations.isEmpty else { return }
        var remaining: [LivenessObligation] = []
        for obligation in obligations {
            if obligation.voided { continue }
            if obligation.created != lastDisturbance, lastDisturbance > obligation.created { continue }
            // Met as soon as it runs again anywhere (a rebooted node may adopt its own resource back).
            if !runningOn(obligation.resource).isEmpty { continue }
            guard now >= obligation.deadline else {
                remaining.append(obligation)
                continue
            }
            guard let spec = settings.resources.first(where: { $0.name == obligation.resource }) else { continue }
            let preferred = spec.preferredNodes.isEmpty ? settings.nodes : spec.preferredNodes
            let excluded = Set(
                settings.resources.filter { other in
                    other.name != spec.name && !Set(other.exclusionGroups).isDisjoint(with: spec.exclusionGroups)
                }.flatMap { holders($0.name) })
            let eligible = preferred.filter { node in
                guard node != obligation.from, !excluded.contains(node), let sim = nodes[node] else { return false }
                return sim.machineUp && sim.agent != 0 && !sim.paused && !sim.partitioned
            }
            if eligible.isEmpty { continue }
            violate(
                "L1",
                "\(obligation.resource) not Running \(obligation.deadline - obligation.created)ms after \(obligation.from) crashed though \(eligible.map(\.rawValue).joined(separator: ",")) could run it (assignment: \(assignment(obligation.resource).map { "\($0.placement) gen \($0.generation)" } ?? "-"))"
            )
        }
        obligations = remaining
    }
}

extension Simulation {
    /// Starts a node's agent again after `milliseconds` (after a graceful stop).
    public func startAgentLater(_ name: NodeName, after milliseconds: Int64) {
        schedule(now + milliseconds, .startAgent(name))
    }
}
