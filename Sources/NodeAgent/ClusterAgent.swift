import ClusterBrain
import ClusterModel
import CoordinationStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Subprocess
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The node agent's heart: owns the brain, feeds it every event (store views, write results,
/// script results, timers, shutdown) from one stream, and carries out its directives.
///
/// Store writes, scripts and timers run as child tasks and report back as events; a self-fence
/// removes the addresses inline, before anything else happens.
public final class ClusterAgent: Service, Sendable {
    public let configuration: AgentConfiguration
    private let store: any CoordinationStore
    private let scripts: ScriptRunner
    private let addresses: AddressManager
    /// The fence path's own thread and store client (docs/design/0012).
    private let fenceThread: FenceKeeper.Thread
    private let fenceStore: any CoordinationStore
    private let layout: KeyLayout
    private let transactions: DirectiveTransactions
    private let interpreter: DirectiveInterpreter
    private let logger: Logger
    private let events: EventLog
    /// Output tails of finished scripts, attached to the brain's record of that result.
    private let tails = Tails()
    private let metrics = AgentMetrics()
    /// This node's local record of what it may hold (docs/design/0013).
    private let heldFile: HeldRecordFile
    private let deadlineFile: DeadlineFile
    /// This agent process, written into the member key and the local record.
    private let instance = String(UInt64.random(in: 1...UInt64.max), radix: 16)
    /// An address listing is under way (at most one at a time, even if `ip` hangs).
    private let observing = InFlight()

    final class InFlight: Sendable {
        private let busy = NIOLockedValueBox(false)

        /// True, and marks it busy, if nothing was under way.
        func begin() -> Bool {
            busy.withLockedValue { busy in
                defer { busy = true }
                return !busy
            }
        }

        func end() { busy.withLockedValue { $0 = false } }
    }

    /// Why the agent cannot run (it stops with this error; systemd restarts it).
    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    final class Tails: Sendable {
        /// Last output lines and run time (milliseconds) by `<resource>.<action>`.
        let lines = NIOLockedValueBox<[String: (lines: [String], milliseconds: Int64)]>([:])
    }

    /// Told when the agent is up as intended: joined the cluster, or out of it waiting for
    /// `vigil join` (systemd's READY=1).
    let onReady: @Sendable (String) -> Void
    /// The fence keeper of the current membership, if any.
    private let currentKeeper = NIOLockedValueBox<FenceKeeper?>(nil)
    /// What this node holds (as last recorded).
    private let held = NIOLockedValueBox<[ResourceSpec]>([])

    /// How long a graceful stop may take: the longest unload among the resources held, plus the
    /// tolerance and a margin for the hand-over (systemd is told, EXTEND_TIMEOUT_USEC).
    public var handOverTime: Duration {
        let longest = held.withLockedValue { $0.map(\.unload.timeout.duration).max() } ?? .zero
        return longest + configuration.timing.tolerance.duration + .seconds(30)
    }

    /// The view this node's watcher follows (while it is a member), for the API's reads.
    public let mirror = ViewMirror()

    /// Whether this node is a member in good standing with the store now: joined, its heartbeats
    /// acknowledged within the self-fence time, not fenced.
    public var inGoodStanding: Bool { currentKeeper.withLockedValue { $0 }?.inGoodStanding ?? false }

    public init(
        configuration: AgentConfiguration, store: any CoordinationStore, scripts: ScriptRunner,
        addresses: AddressManager,
        fenceThread: FenceKeeper.Thread, fenceStore: any CoordinationStore, logger: Logger,
        onReady: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.onReady = onReady
        self.configuration = configuration
        self.store = store
        self.scripts = scripts
        self.addresses = addresses
        self.fenceThread = fenceThread
        self.fenceStore = fenceStore
        self.layout = KeyLayout(cluster: configuration.cluster)
        self.transactions = DirectiveTransactions(layout: layout)
        self.interpreter = DirectiveInterpreter(layout: layout)
        var logger = logger
        logger[metadataKey: "vigil.node"] = "\(configuration.node)"
        self.logger = logger
        self.events = EventLog(store: store, layout: layout, node: configuration.node, logger: logger)
        self.heldFile = HeldRecordFile(stateDirectory: configuration.stateDirectory)
        self.deadlineFile = DeadlineFile(stateDirectory: configuration.stateDirectory)
    }

    /// Writes the cluster settings and node definitions if the cluster is new (compare: absent).
    func bootstrap() async {
        var operations: [(String, [UInt8])] = [
            (layout.config, ModelCodec.encode(ClusterSettings(timing: configuration.timing)))
        ]
        for definition in configuration.nodeDefinitions {
            operations.append((layout.node(definition.name), ModelCodec.encode(definition)))
        }
        for attempt in 0..<600 {
            do {
                for (key, value) in operations {
                    _ = try await store.transaction(
                        Transaction(compare: [.absent(key)], success: [.put(key: key, value: value)]))
                }
                return
            } catch {
                if attempt % 50 == 0 {
                    logger.warning("store not reachable yet", metadata: ["vigil.error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(100))
                if Task.isCancelled { return }
            }
        }
    }

    public func run() async throws {
        // What the previous agent on this machine may have left active, before anything else.
        let previous: HeldRecord?
        do {
            previous = try heldFile.read()
        } catch {
            throw StartFailure(description: "\(error)")
        }
        if previous == nil, FileManager.default.fileExists(atPath: heldFile.path) {
            logger.warning(
                "the held record is from before this machine started and cannot be read; ignored (no address outlives a restart)",
                metadata: ["vigil.path": "\(heldFile.path)"])
        }
        // Rewritten at once (a state directory that cannot be written stops the agent here); the
        // instance stays the previous one until this agent owns the member key (a crash before
        // that must leave the key adoptable for the next start).
        try writeHeld(HeldRecord(instance: previous?.instance ?? instance, resources: previous?.resources ?? []))
        // Opened once for the agent's life: a real watchdog device can be open only once at a time.
        let watchdog: WatchdogDevice?
        do {
            watchdog = try configuration.watchdogDevice.map {
                try WatchdogDevice(
                    path: $0, timeout: configuration.watchdogTimeout ?? .seconds(1), kind: configuration.watchdogKind)
            }
        } catch {
            throw StartFailure(description: "\(error)")
        }
        if let watchdog {
            logger.notice(
                "watchdog armed",
                metadata: ["vigil.device": "\(watchdog.path)", "vigil.timeout": "\(watchdog.timeoutSeconds)s"])
            if configuration.watchdogKind == .file {
                logger.warning(
                    "watchdogKind file: a plain file is petted; it resets nothing unless something watches it (tests only)"
                )
            }
        }
        // Stopping cleanly (resources handed over) disarms it; a crash leaves it armed, as it should.
        defer { watchdog?.disarm() }
        // Resources whose address is already up here (agent restart): the brain adopts or stops
        // them. They are unguarded until the fence thread runs, so nothing may wait for the store
        // first: no bootstrap (the cluster exists) and no standby check (a node that leaves hands
        // its resources over first).
        var present = try await presentAtStart(previous: previous)
        if present.isEmpty { await bootstrap() }
        // Member until told to leave (vigil leave/down), then out until told to join, until stopped.
        for _ in 0..<1_000_000 {
            if present.isEmpty, let standby = await standby() {
                let until = standby.rejoinAfter.map { "for \($0) (vigil restart)" } ?? "until vigil join"
                logger.notice("this node is out of the cluster \(until)")
                onReady("out of cluster \(configuration.cluster) \(until)")
                await events.append(
                    ClusterEvent(kind: .membership, node: configuration.node, message: "out of the cluster \(until)"))
                guard await waitForJoin(watchdog: watchdog) else { return }
                await events.append(
                    ClusterEvent(
                        kind: .membership, node: configuration.node,
                        message: standby.rejoinAfter == nil
                            ? "joining the cluster (vigil join)" : "joining the cluster again (vigil restart)"))
            }
            let end = await runMember(watchdog: watchdog, previous: previous, present: present)
            guard end == .left else { return }
            present = [:]
        }
    }

    enum MemberEnd { case stopped, left }

    /// The record of an administrator taking this node out of the cluster, if there is one.
    func standby() async -> StandbyRecord? {
        for attempt in 0..<600 {
            do {
                guard let entry = try await store.get(layout.standby(configuration.node)) else { return nil }
                // Unreadable: out until joined (the administrator's decision is kept).
                return (try? ModelCodec.decode(StandbyRecord.self, from: entry.value))
                    ?? StandbyRecord(by: "?", since: 0)
            } catch {
                if attempt % 50 == 0 { logger.warning("store not reachable", metadata: ["vigil.error": "\(error)"]) }
                try? await Task.sleep(for: .milliseconds(100))
                if Task.isShuttingDownGracefully || Task.isCancelled { return nil }
            }
        }
        return nil
    }

    /// Waits, petting the watchdog (nothing is held), until the standby flag goes — or, after
    /// `vigil restart SECONDS`, until this node has been out that long by its own clock, when it
    /// deletes its flag itself (only if nobody rewrote it meanwhile: a later `vigil leave` holds).
    /// False when stopping.
    func waitForJoin(watchdog: WatchdogDevice?) async -> Bool {
        let pause = configuration.timing.heartbeat.duration
        let out = ContinuousClock.now
        let key = layout.standby(configuration.node)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            watchdog?.pet()
            do {
                guard let entry = try await store.get(key) else { return true }
                if let after = (try? ModelCodec.decode(StandbyRecord.self, from: entry.value))?.rejoinAfter,
                    ContinuousClock.now - out >= after.duration
                {
                    let result = try await store.transaction(
                        Transaction(
                            compare: [Compare(key: key, .modRevision(entry.modRevision))], success: [.delete(key: key)])
                    )
                    if result.succeeded { return true }
                }
            } catch {
                logger.debug("store not reachable while out of the cluster", metadata: ["vigil.error": "\(error)"])
            }
            try? await Task.sleep(for: pause)
        }
        return false
    }

    /// Writes the local record. At start a failure stops the agent; later it is loud (metric,
    /// critical log) and tried again at the next brain step, while the store still fences.
    private func writeHeld(_ record: HeldRecord) throws(StartFailure) {
        held.withLockedValue { $0 = record.resources }
        do {
            try heldFile.write(record)
        } catch {
            metrics.heldRecordFailures.increment()
            logger.critical("cannot write the local record of held resources", metadata: ["vigil.error": "\(error)"])
            throw StartFailure(description: "\(error)")
        }
    }

    /// Resources whose address is up here now, with the definitions they were loaded with: the
    /// local record's (the store is not asked: it may be unreachable, and the record was written
    /// before any load), or without a record (a first start, an older agent) the store's. `ip` is
    /// asked up to 20 times: if it cannot tell, the agent does not start (it would not know what
    /// to fence).
    func presentAtStart(previous: HeldRecord?) async throws -> [ResourceName: ResourceSpec] {
        var specs: [ResourceName: ResourceSpec] = [:]
        if let previous {
            for spec in previous.resources { specs[spec.name] = spec }
        } else {
            let stored = try? await store.range(prefix: layout.prefix + "resources/")
            for entry in stored?.keyValues ?? [] {
                if let spec = try? ModelCodec.decode(ResourceSpec.self, from: entry.value) { specs[spec.name] = spec }
            }
        }
        for attempt in 1...20 {
            if let present = await addresses.present(Array(specs.values)) {
                if !present.isEmpty {
                    logger.warning(
                        "addresses up at start: fenced at the previous agent's deadline unless this one joins first",
                        metadata: [
                            "vigil.resources": "\(present.sorted())",
                            "vigil.source": "\(previous == nil ? "store" : "local record")",
                        ])
                }
                return specs.filter { present.contains($0.key) }
            }
            if attempt < 20 { try? await Task.sleep(for: .milliseconds(100)) }
        }
        throw StartFailure(
            description:
                "cannot list this node's addresses with \(addresses.ipCommand): cannot tell which virtual IPs are up")
    }

    /// One membership: join, run the brain until stopped or told to leave.
    func runMember(watchdog: WatchdogDevice?, previous: HeldRecord?, present: [ResourceName: ResourceSpec]) async
        -> MemberEnd
    {
        let origin = ContinuousClock.now
        @Sendable func now() -> Moment {
            Moment(
                milliseconds: (ContinuousClock.now - origin).wholeMilliseconds,
                wallMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        }

        let (events, continuation) = AsyncStream<Brain.Event>.makeStream()
        var brain = Brain.Instance(
            configuration: Brain.Configuration(
                node: configuration.node, instance: instance, previousInstance: previous?.instance))
        continuation.yield(.started(localResources: present))
        var lastHeld = HeldRecord(instance: previous?.instance ?? instance, resources: previous?.resources ?? [])
        // Members heartbeat every interval, so a healthy watch is never silent for three of them.
        let watcher = StoreWatcher(
            store: store, layout: layout, idleLimit: configuration.timing.heartbeat.duration * 3, mirror: mirror,
            logger: logger)
        let me = configuration.node
        var leaving = false
        let timer = TimerSlot()
        defer { timer.cancel() }
        let keeper = FenceKeeper(
            thread: fenceThread, store: fenceStore, transactions: transactions, scripts: scripts, addresses: addresses,
            watchdog: watchdog, origin: origin, logger: logger,
            // Addresses up at start were unguarded while no agent ran: the old deadline still holds.
            inheritedDeadline: present.isEmpty ? nil : deadlineFile.read(), deadlineFile: deadlineFile,
            report: { continuation.yield($0) })
        currentKeeper.withLockedValue { $0 = keeper }
        defer { currentKeeper.withLockedValue { $0 = nil } }

        let newest = NewestView()
        await withDiscardingTaskGroup { group in
            group.addTask { await watcher.run { if newest.offer($0) { continuation.yield(.viewChanged($0)) } } }
            // Started on the fence thread itself: not even its first step waits for the thread pool.
            group.addTask(executorPreference: fenceThread) { await keeper.run() }
            await withGracefulShutdownHandler {
                var lastReconcile = ContinuousClock.now
                var slowSteps = SlowSteps()
                for await var event in events {
                    let stepStarted = ContinuousClock.now
                    if case .viewChanged = event {
                        // An empty slot: an earlier signal's turn took this view, or a newer one.
                        // The signal's own view would take the brain back in time.
                        guard let view = newest.take() else { continue }
                        event = .viewChanged(view)
                    }
                    if case .viewChanged(let view) = event, view.standby.contains(me), !leaving {
                        leaving = true
                        logger.notice("told to leave the cluster: handing resources over")
                        continuation.yield(.shutdownRequested)
                    }
                    // The fence thread's newest acknowledgement first: its own event may wait far
                    // back in the queue (167 script ends of a handover), and the brain checks the
                    // self-fence deadline at every step (docs/design/0025 §4).
                    let directives = brain.handle(event, newestAcknowledgement: keeper.newestAcknowledged, now: now())
                    // The fence thread and the local record learn what is held before any script
                    // can add an address.
                    keeper.update(Self.fencePlan(brain), isMaster: brain.isMaster)
                    let held = Self.heldRecord(brain, instance: instance, previous: previous?.instance)
                    if held != lastHeld, (try? writeHeld(held)) != nil { lastHeld = held }
                    var finished = false
                    // A master's assignments of one step go to the store together: the writes a
                    // node's own status waits behind are a few requests, not one per resource
                    // (docs/design/0026 §3).
                    let assignments = directives.filter(batchesWithOthers)
                    if assignments.count > 1 {
                        writeAssignments(assignments, group: &group, continuation: continuation)
                    }
                    for directive in directives {
                        if assignments.count > 1, batchesWithOthers(directive) { continue }
                        finished =
                            await execute(
                                directive, brain: brain, group: &group, continuation: continuation, origin: origin,
                                watchdog: watchdog, keeper: keeper, timer: timer) || finished
                    }
                    if finished { break }
                    slowSteps.note(event, took: ContinuousClock.now - stepStarted, logger: logger)
                    if ContinuousClock.now - lastReconcile > .seconds(2) {
                        lastReconcile = ContinuousClock.now
                        // The brain decides what to do about addresses it does not expect.
                        if observing.begin() {
                            let addresses = self.addresses
                            let observing = self.observing
                            group.addTask {
                                defer { observing.end() }
                                if let observed = await addresses.localAddresses() {
                                    continuation.yield(.addressesObserved(observed))
                                }
                            }
                        }
                        if let view = brain.view { metrics.recordView(view, node: me) }
                    }
                }
            } onGracefulShutdown: {
                continuation.yield(.shutdownRequested)
            }
            keeper.stop()
            continuation.finish()
            group.cancelAll()
        }
        return leaving && !Task.isShuttingDownGracefully && !Task.isCancelled ? .left : .stopped
    }

    /// What the fence thread must keep: the brain's self-fence span and the addresses of the
    /// exclusive resources that may be held here, as they were loaded.
    static func fencePlan(_ brain: Brain.Instance) -> FenceKeeper.Plan {
        let timing = brain.timingSettings
        return FenceKeeper.Plan(
            selfFenceAfter: brain.selfFenceSpan.duration, heartbeatInterval: timing.heartbeat.duration,
            brainGrace: max(timing.tolerance.duration * 4, .seconds(5)), targets: brain.fenceTargets,
            watchdogPetInterval: timing.watchdogTimeout.map { $0.duration / 3 },
            mayPetWatchdog: brain.watchdogMayBePetted)
    }

    /// The local record for what `brain` may hold: its exclusive resources as loaded, and the
    /// instance that owns this node's member key (this one once joined, else still the previous).
    static func heldRecord(_ brain: Brain.Instance, instance: String, previous: String?) -> HeldRecord {
        HeldRecord(
            instance: brain.memberRevision != nil ? instance : previous ?? instance,
            resources: brain.heldExclusive.compactMap { brain.local[$0]?.spec ?? brain.view?.resources[$0] })
    }

    /// Writes a step's assignments (each its own transaction, checked on its own) in requests of
    /// up to ``assignmentsPerRequest`` nested transactions; each answer goes to the brain as before.
    private func writeAssignments(
        _ directives: [Brain.Directive], group: inout DiscardingTaskGroup,
        continuation: AsyncStream<Brain.Event>.Continuation
    ) {
        let interpreter = self.interpreter
        let store = self.store
        let logger = self.logger
        var writes: [(directive: Brain.Directive, transaction: Transaction)] = []
        for directive in directives {
            guard case .writeAssignment(_, let assignment, _, _, _) = directive,
                case .write(let transaction, .background) = interpreter.effect(of: directive)
            else { preconditionFailure("not an assignment written in the background: \(directive)") }
            metrics.recordAssignment(assignment)
            writes.append((directive, transaction))
        }
        for start in stride(from: 0, to: writes.count, by: Self.assignmentsPerRequest) {
            let chunk = Array(writes[start..<min(start + Self.assignmentsPerRequest, writes.count)])
            group.addTask {
                var results: [TransactionResult]?
                do {
                    results = try await store.transactions(chunk.map(\.transaction))
                } catch {
                    logger.debug(
                        "store write failed", metadata: ["vigil.count": "\(chunk.count)", "vigil.error": "\(error)"])
                }
                for (index, write) in chunk.enumerated() {
                    let result = results.flatMap { index < $0.count ? $0[index] : nil }
                    if let event = interpreter.event(after: write.directive, result: result) {
                        continuation.yield(event)
                    }
                }
            }
        }
    }

    /// Whether `directive` is an assignment (always written in the background), which goes to the
    /// store together with the others of its step.
    private func batchesWithOthers(_ directive: Brain.Directive) -> Bool {
        if case .writeAssignment = directive { true } else { false }
    }

    /// Assignments in one store request at most (each a nested transaction; etcd allows 128
    /// operations per transaction by default).
    static let assignmentsPerRequest = 50

    /// Carries out one directive (its effect as ``DirectiveInterpreter`` decides); returns true when
    /// the agent is done (shutdown complete).
    private func execute(
        _ directive: Brain.Directive, brain: Brain.Instance, group: inout DiscardingTaskGroup,
        continuation: AsyncStream<Brain.Event>.Continuation, origin: ContinuousClock.Instant, watchdog: WatchdogDevice?,
        keeper: FenceKeeper, timer: TimerSlot
    ) async -> Bool {
        let interpreter = self.interpreter
        let store = self.store
        let logger = self.logger
        let addresses = self.addresses
        switch interpreter.effect(of: directive) {
        case .join(let first):
            keeper.forgetMembership()
            group.addTask {
                let result = try? await store.transaction(first)
                var adoption: TransactionResult?
                switch interpreter.joinStep(result, of: directive) {
                case .adopt(let transaction):
                    adoption = try? await store.transaction(transaction)
                case .refused(let other):
                    logger.error(
                        "another running agent uses this node name: not joining until its member key is gone",
                        metadata: ["vigil.instance": "\(other)"])
                case .done:
                    break
                }
                let event = interpreter.joinEvent(directive, first: result, adoption: adoption)
                if case .joined(_, let sentAt) = event {
                    keeper.acknowledged(sentAt: origin + sentAt.sinceOrigin)
                    self.onReady("member of cluster \(self.configuration.cluster)")
                }
                continuation.yield(event)
            }
        case .write(_, .fenceThread):
            // The fence thread stamps, sends and repeats them.
            keeper.keep(directive)
        case .write(let transaction, .beforeStopping(let ends)):
            if ends == .membership { keeper.forgetMembership() } else { keeper.forgetMastership() }
            do {
                _ = try await store.transaction(transaction)
            } catch {
                logger.warning(
                    "could not leave cleanly; the others will evict this node", metadata: ["vigil.error": "\(error)"])
            }
        case .write(let transaction, .background):
            if case .writeAssignment(_, let assignment, _, _, _) = directive { metrics.recordAssignment(assignment) }
            group.addTask {
                var result: TransactionResult?
                do {
                    result = try await store.transaction(transaction)
                } catch {
                    logger.debug("store write failed", metadata: ["vigil.error": "\(error)"])
                }
                if let event = interpreter.event(after: directive, result: result) { continuation.yield(event) }
            }
        case .runScript(let job):
            let scripts = self.scripts
            let tails = self.tails
            let metrics = self.metrics
            // Taken now: a fence between here and the script's turn for a slot cancels it.
            let ticket = scripts.ticket(for: job.resource)
            group.addTask {
                let start = ContinuousClock.now
                let outcome = await scripts.run(job, ticket: ticket)
                var stillUp = false
                if let address = interpreter.mustCheckAddress(job, outcome: outcome) {
                    stillUp = !(await addresses.remove([address]).isEmpty)
                    if stillUp {
                        logger.error(
                            "unload exited 0 but the virtual IP is still up and could not be removed",
                            metadata: ["vigil.resource": "\(job.resource)", "vigil.vip": "\(address)"])
                    }
                }
                let event = interpreter.scriptFinished(job, outcome: outcome, addressStillUp: stillUp)
                let elapsed = ContinuousClock.now - start
                metrics.scriptDuration(job.action).record(duration: elapsed)
                if case .scriptFinished(_, _, _, let reported) = event, !reported.succeeded {
                    metrics.scriptFailures(job.action).increment()
                }
                let lines = scripts.lastLines(job.resource, job.action)
                tails.lines.withLockedValue {
                    $0["\(job.resource).\(job.action.rawValue)"] = (lines, elapsed.wholeMilliseconds)
                }
                continuation.yield(event)
            }
        case .fence(let targets):
            logger.critical(
                "self-fence: removing virtual IPs", metadata: ["vigil.resources": "\(targets.map(\.description))"])
            metrics.selfFences.increment()
            // Scripts killed and addresses removed on the fence thread, in one batch.
            await keeper.fenceNow(targets)
        case .removeAddresses(let wanted):
            // The brain's record of it is logged with the other cluster events.
            group.addTask {
                if let event = interpreter.removalEvent(left: await addresses.remove(wanted)) {
                    continuation.yield(event)
                }
            }
        case .replaceTimer(let at):
            timer.replace(at: origin + at.sinceOrigin) { continuation.yield(.timerFired) }
        case .record(var event):
            var output: [String]?
            if event.kind == .script, let resource = event.resource, let action = event.action,
                let tail = tails.lines.withLockedValue({ $0.removeValue(forKey: "\(resource).\(action.rawValue)") })
            {
                output = tail.lines
                event.message += " in \(tail.milliseconds) ms"
            }
            var metadata: Logger.Metadata = ["vigil.kind": "\(event.kind.rawValue)", "vigil.event": "\(event.message)"]
            if let resource = event.resource { metadata["vigil.resource"] = "\(resource)" }
            let level: Logger.Level =
                switch event.severity {
                case .info: .info
                case .warning: .warning
                case .critical: .critical
                }
            logger.log(level: level, "cluster event", metadata: metadata)
            let events = self.events
            group.addTask { await events.append(event, output: output) }
        case .petWatchdog:
            watchdog?.pet()
        case .reboot:
            // NCS resets the node. The resource is Comatose here already; the machine going down
            // stops the heartbeats and the others take everything over.
            let command = configuration.rebootCommand
            let logger = logger
            logger.critical(
                "monitor action reboot: rebooting this node",
                metadata: ["vigil.command": "\(command.joined(separator: " "))"])
            group.addTask {
                do {
                    try AgentConfiguration.checkRebootCommand(command, isDefault: false)
                    let result = try await Subprocess.run(
                        .path(FilePath(command[0])), arguments: Arguments(Array(command.dropFirst())),
                        output: .string(limit: 4096), error: .combinedWithOutput)
                    if !result.terminationStatus.isSuccess {
                        logger.critical(
                            "the reboot command failed: this node was not rebooted; the resource stays Comatose",
                            metadata: [
                                "vigil.status": "\(result.terminationStatus)",
                                "vigil.output": "\(result.standardOutput)",
                            ])
                    }
                } catch {
                    logger.critical(
                        "the reboot command cannot run: this node was not rebooted; the resource stays Comatose",
                        metadata: ["vigil.error": "\(error)"])
                }
            }
        case .finished:
            logger.info("left the cluster")
            return true
        }
        return false
    }
}

/// The newest view the watch delivered that the brain has not taken yet. While the brain is
/// busy, a newer view replaces the one waiting instead of queueing behind it: during a large
/// failover every status write is a view, and each queued one would cost a whole brain step
/// on every node, for a view already out of date (docs/design/0024). A signal that finds the
/// slot empty is skipped: its view, or a newer one, was taken on an earlier signal's turn.
final class NewestView: Sendable {
    private let slot = NIOLockedValueBox<ClusterView?>(nil)

    /// Keeps `view` as the newest; true when none was waiting (the brain must be told of it).
    func offer(_ view: ClusterView) -> Bool {
        slot.withLockedValue { waiting in
            defer { waiting = view }
            return waiting == nil
        }
    }

    /// The view waiting, if any; the slot is empty afterwards.
    func take() -> ClusterView? {
        slot.withLockedValue { waiting in
            defer { waiting = nil }
            return waiting
        }
    }
}

/// The brain's one timer: each request replaces the one before (`Brain.Directive.scheduleTimer`).
final class TimerSlot: Sendable {
    private let current = NIOLockedValueBox<Task<Void, Never>?>(nil)

    /// Cancels the pending timer, if any, and calls `fire` at `instant` unless replaced or cancelled first.
    func replace(at instant: ContinuousClock.Instant, fire: @escaping @Sendable () -> Void) {
        let task = Task {
            guard (try? await Task.sleep(until: instant, clock: .continuous)) != nil else { return }
            fire()
        }
        current.withLockedValue { current in
            current?.cancel()
            current = task
        }
    }

    func cancel() {
        current.withLockedValue { $0?.cancel() }
    }
}

extension Moment {
    /// The time since the agent's origin this moment stands for.
    var sinceOrigin: Duration { .milliseconds(milliseconds) }
}

extension Duration {
    /// Whole milliseconds, rounded down (the agent's clock readings become ``Moment``s this way).
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Steps of the agent's loop that took long (the brain, the local record, the directives' start),
/// reported at most once per 10 s: a loop that falls behind answers nothing meanwhile, and which
/// events cost the time is what a slow failover's log must say (docs/design/0025 §7).
struct SlowSteps {
    static let threshold: Duration = .milliseconds(250)
    static let interval: Duration = .seconds(10)
    private var count = 0
    private var longest: Duration = .zero
    private var kinds: [String: Int] = [:]
    private var lastReport: ContinuousClock.Instant?

    mutating func note(_ event: Brain.Event, took spent: Duration, logger: Logger) {
        guard spent >= Self.threshold else { return }
        count += 1
        longest = max(longest, spent)
        // The case's name only: a view's description would be the whole cluster.
        let kind = Mirror(reflecting: event).children.first?.label ?? "\(event)"
        kinds[kind, default: 0] += 1
        let now = ContinuousClock.now
        if let lastReport, now - lastReport < Self.interval { return }
        lastReport = now
        logger.warning(
            "the agent's loop is slow",
            metadata: [
                "vigil.steps": "\(count)", "vigil.longest_ms": "\(longest.wholeMilliseconds)",
                "vigil.events":
                    "\(kinds.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))",
            ])
        count = 0
        longest = .zero
        kinds = [:]
    }
}
