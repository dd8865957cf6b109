import ClusterBrain
import ClusterModel
import CoordinationStore
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The fence path, on a thread of its own (ARCHITECTURE.md §4.11, docs/design/0012).
///
/// The brain decides what the member key and the master key say, which resources are held and how
/// long a heartbeat keeps this node safe; the keeper carries that out on a dedicated event loop
/// thread (real-time priority when the kernel allows it) that nothing else uses:
/// - it sends the brain's heartbeat (and the master's renewal) at once, then repeats it every
///   heartbeat interval itself, so a busy agent (API flood, scripts, busy cores) does not miss one;
///   it repeats only while the brain has spoken within ``Plan/brainGrace`` (a wedged agent still
///   loses its membership);
/// - it keeps the self-fence deadline (send time of the last acknowledged heartbeat + tolerance −
///   margin) as a timer on that thread; when it passes, the addresses of every exclusive resource
///   that may be held are removed there and then (one `ip -batch`), and their scripts killed;
/// - it pets the watchdog only while that deadline is in the future (or nothing is held).
///
/// Its store calls run as tasks whose executor is the keeper's loop, on a store whose HTTP client
/// uses that loop too, so neither the cooperative thread pool nor the API's event loops delay them.
public final class FenceKeeper: Sendable {
    /// What the brain wants kept, refreshed after every brain step.
    public struct Plan: Sendable, Equatable {
        /// Heartbeat send time + this = the self-fence deadline.
        public var selfFenceAfter: Duration
        public var heartbeatInterval: Duration
        /// Repeat heartbeats only while the brain spoke within this (a wedged agent must not stay a member).
        public var brainGrace: Duration
        /// The exclusive resources that may be held here, with their addresses as loaded.
        public var targets: [Brain.FenceTarget]
        /// Pet the watchdog at least this often (a third of its timeout), if there is one.
        public var watchdogPetInterval: Duration?
        /// The brain's word (`watchdogMayBePetted`): false once a forced stop failed, and while a
        /// fenced node's forced unload runs — only a reset makes the node safe then.
        public var mayPetWatchdog: Bool

        public init(
            selfFenceAfter: Duration, heartbeatInterval: Duration, brainGrace: Duration,
            targets: [Brain.FenceTarget], watchdogPetInterval: Duration?, mayPetWatchdog: Bool = true
        ) {
            self.selfFenceAfter = selfFenceAfter
            self.heartbeatInterval = heartbeatInterval
            self.brainGrace = brainGrace
            self.targets = targets
            self.watchdogPetInterval = watchdogPetInterval
            self.mayPetWatchdog = mayPetWatchdog
        }
    }

    /// The fence thread: one event loop, shared by the keeper's timers, its tasks and its store client.
    public final class Thread: TaskExecutor, Sendable {
        public let group: MultiThreadedEventLoopGroup
        public let loop: any EventLoop
        /// How the thread's priority was raised ("SCHED_RR 10", "nice -15" or "unchanged").
        public let priority: String

        public init() {
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            loop = group.next()
            priority = (try? loop.submit { Self.raisePriority() }.wait()) ?? "unchanged"
        }

        /// Real-time round-robin if allowed (root outside a restricted container), else the lowest nice.
        static func raisePriority() -> String {
            var parameters = sched_param()
            parameters.sched_priority = 10
            if pthread_setschedparam(pthread_self(), SCHED_RR, &parameters) == 0 { return "SCHED_RR 10" }
            // On Linux the nice value is per thread; 0 is the calling one.
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -15) == 0 { return "nice -15" }
            return "unchanged"
        }

        public func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            let executor = asUnownedTaskExecutor()
            loop.execute { job.runSynchronously(on: executor) }
        }

        public func shutdown() {
            try? group.syncShutdownGracefully()
        }
    }

    struct State {
        var plan: Plan?
        var heartbeat: (record: MemberRecord, memberRevision: Revision)?
        var renewal: MasterRecord?
        var lastBrainAt: ContinuousClock.Instant
        /// When the last heartbeat, and the last master renewal, went out. Kept apart: a renewal
        /// judged "recent" by the heartbeat just sent was skipped, and the master record then went
        /// unrenewed for longer than the tolerance (another node took over while this one lived).
        var lastSentAt: ContinuousClock.Instant?
        var lastRenewalAt: ContinuousClock.Instant?
        var inFlight = 0
        /// Send time of the newest acknowledged heartbeat (or join, or the agent's start).
        var lastAckSentAt: ContinuousClock.Instant
        /// Whether `lastAckSentAt` is an acknowledgement (not the agent's start).
        var acknowledgedAny = false
        /// The previous agent's deadline (an agent restart), until this one's first acknowledgement.
        var inheritedDeadline: ContinuousClock.Instant?

        func deadline(_ plan: Plan) -> ContinuousClock.Instant {
            let own = lastAckSentAt + plan.selfFenceAfter
            return inheritedDeadline.map { min($0, own) } ?? own
        }
        var fenced = false
        var lastPetAt: ContinuousClock.Instant?
        var deadlineTimer: Scheduled<Void>?
        var scheduledDeadline: ContinuousClock.Instant?
        var tick: RepeatedTask?
        var stopped = false
        /// How long after its deadline the last deadline fence ran (scheduling jitter).
        var lastFenceLateness: Duration?
    }

    private let thread: Thread
    private let store: any CoordinationStore
    private let transactions: DirectiveTransactions
    private let scripts: ScriptRunner?
    private let addresses: AddressManager
    private let watchdog: WatchdogDevice?
    private let origin: ContinuousClock.Instant
    private let logger: Logger
    /// Fences the keeper itself carried out at its deadline, addresses a fence could not remove,
    /// and heartbeat round trips.
    private let deadlineFences = Counter(label: "vigil_fence_deadline_total")
    private let removalFailures = Counter(label: "vigil_address_removal_failures_total")
    private let heartbeatRoundTrip = Timer(label: "vigil_heartbeat_round_trip_seconds", preferredDisplayUnit: .seconds)
    private let state: NIOLockedValueBox<State>
    /// Where acknowledgements and rejections go (the brain's event stream).
    private let report: @Sendable (Brain.Event) -> Void
    private let deadlineFile: DeadlineFile?
    private let (sends, sendQueue) = AsyncStream<(Brain.Directive, ContinuousClock.Instant)>.makeStream()

    /// - Parameters:
    ///   - store: a store whose client runs on `thread`'s loop (or needs no thread at all).
    ///   - origin: the agent's zero for ``Moment``s (acknowledgements are reported in its scale).
    ///   - report: receives `.heartbeatAcknowledged`, `.heartbeatRejected`, `.heartbeatFailed`, `.deadlineFenced`
    ///     and `.addressesNotRemoved`.
    ///   - inheritedDeadline: the previous agent's deadline when this one restarted with resources
    ///     held: the deadline stays at most that until this agent's first acknowledgement.
    ///   - deadlineFile: where each new deadline is written for a restarted agent (see ``DeadlineFile``).
    public init(
        thread: Thread, store: any CoordinationStore, transactions: DirectiveTransactions, scripts: ScriptRunner?,
        addresses: AddressManager, watchdog: WatchdogDevice?, origin: ContinuousClock.Instant, logger: Logger,
        inheritedDeadline: ContinuousClock.Instant? = nil, deadlineFile: DeadlineFile? = nil,
        report: @escaping @Sendable (Brain.Event) -> Void
    ) {
        self.thread = thread
        self.store = store
        self.transactions = transactions
        self.scripts = scripts
        self.addresses = addresses
        self.watchdog = watchdog
        self.origin = origin
        self.logger = logger
        self.report = report
        let now = ContinuousClock.now
        self.state = NIOLockedValueBox(
            State(lastBrainAt: now, lastAckSentAt: now, inheritedDeadline: inheritedDeadline))
        self.deadlineFile = deadlineFile
    }

    /// Sends the heartbeats the brain asks for, on the fence thread, until cancelled. Timers stop with it.
    public func run() async {
        await withTaskExecutorPreference(thread) {
            await withDiscardingTaskGroup { group in
                for await (directive, sentAt) in sends {
                    group.addTask { await self.send(directive, sentAt: sentAt) }
                }
            }
        }
    }

    /// Stops the timers; later calls do nothing.
    public func stop() {
        sendQueue.finish()
        state.withLockedValue { state in
            state.stopped = true
            state.deadlineTimer?.cancel()
            state.tick?.cancel()
        }
    }

    // MARK: What the agent tells the keeper

    /// The brain's current plan, after each of its steps; also proves the brain is alive.
    public func update(_ plan: Plan, isMaster: Bool) {
        let now = ContinuousClock.now
        let (reschedule, restartTick) = state.withLockedValue { state -> (Bool, Bool) in
            let old = state.plan
            state.plan = plan
            state.lastBrainAt = now
            if !isMaster { state.renewal = nil }
            return (
                old?.selfFenceAfter != plan.selfFenceAfter || old == nil,
                old?.heartbeatInterval != plan.heartbeatInterval || old?.watchdogPetInterval != plan.watchdogPetInterval
            )
        }
        if reschedule { thread.loop.execute { self.armDeadline() } }
        if restartTick { thread.loop.execute { self.startTicking() } }
    }

    /// The brain's `.sendHeartbeat` or `.renewMaster`: becomes the record to repeat, sent now
    /// unless an identical one went out within three quarters of an interval (the keeper's own
    /// cadence covers it: one write per interval, not two).
    public func keep(_ directive: Brain.Directive) {
        let now = ContinuousClock.now
        let sendNow = state.withLockedValue { state -> Bool in
            let interval = state.plan?.heartbeatInterval ?? .milliseconds(400)
            func recent(_ last: ContinuousClock.Instant?) -> Bool { last.map { now - $0 < interval * 3 / 4 } ?? false }
            switch directive {
            case .sendHeartbeat(let record, let revision, _):
                var previous = state.heartbeat?.record
                previous?.heartbeat = record.heartbeat
                let same = previous == record && state.heartbeat?.memberRevision == revision
                state.heartbeat = (record, revision)
                return !(same && recent(state.lastSentAt))
            case .renewMaster(let record):
                let same = state.renewal == record
                state.renewal = record
                return !(same && recent(state.lastRenewalAt))
            default:
                return false
            }
        }
        if sendNow { sendQueue.yield((directive, now)) }
    }

    /// The member key is being created again (or deleted): nothing to repeat until the next heartbeat directive.
    public func forgetMembership() {
        state.withLockedValue { state in
            state.heartbeat = nil
            state.renewal = nil
        }
    }

    /// The master record is resigned: no more renewals.
    public func forgetMastership() {
        state.withLockedValue { $0.renewal = nil }
    }

    /// A heartbeat or join sent at `sentAt` committed (the join's result comes through the agent).
    public func acknowledged(sentAt: ContinuousClock.Instant) {
        let later = state.withLockedValue { state -> Bool in
            guard sentAt > state.lastAckSentAt else { return false }
            state.lastAckSentAt = sentAt
            state.acknowledgedAny = true
            state.inheritedDeadline = nil
            if let plan = state.plan, ContinuousClock.now < sentAt + plan.selfFenceAfter { state.fenced = false }
            return true
        }
        if later { thread.loop.execute { self.armDeadline() } }
    }

    /// Runs the self-fence now, on the fence thread: kills the scripts and removes the addresses of `targets`.
    public func fenceNow(_ targets: [Brain.FenceTarget]) async {
        let future = thread.loop.flatSubmit { self.removeHeld(targets, reason: "the brain's self-fence") }
        try? await future.get()
    }

    public var isFenced: Bool { state.withLockedValue { $0.fenced } }

    /// Send time of the newest heartbeat (or join) acknowledged so far, if any. The brain hears of
    /// each through the agent's event queue, which a busy agent may be far behind
    /// (docs/design/0025 §4).
    /// In the brain's scale, as the queued `heartbeatAcknowledged` events give it.
    public var newestAcknowledged: Moment? {
        state.withLockedValue { $0.acknowledgedAny ? $0.lastAckSentAt : nil }.map(moment)
    }

    /// A member whose last acknowledged heartbeat still covers now: not fenced, its member key
    /// kept, the self-fence deadline ahead (what `/healthz` answers).
    public var inGoodStanding: Bool {
        state.withLockedValue { state in
            guard let plan = state.plan, state.heartbeat != nil, !state.fenced else { return false }
            return ContinuousClock.now < state.deadline(plan)
        }
    }

    /// How long after its deadline the last deadline fence ran, if one did.
    public var lastFenceLateness: Duration? { state.withLockedValue { $0.lastFenceLateness } }

    // MARK: On the fence thread

    private func moment(_ instant: ContinuousClock.Instant) -> Moment {
        Moment(milliseconds: (instant - origin).wholeMilliseconds)
    }

    private func send(_ directive: Brain.Directive, sentAt: ContinuousClock.Instant) async {
        var stamped = directive
        if case .sendHeartbeat(let record, let revision, _) = directive {
            stamped = .sendHeartbeat(record, memberRevision: revision, sentAt: moment(sentAt))
        }
        guard let transaction = transactions.transaction(for: stamped) else { return }
        state.withLockedValue {
            $0.inFlight += 1
            if case .renewMaster = directive {
                $0.lastRenewalAt = max($0.lastRenewalAt ?? sentAt, sentAt)
            } else {
                $0.lastSentAt = max($0.lastSentAt ?? sentAt, sentAt)
            }
        }
        defer { state.withLockedValue { $0.inFlight -= 1 } }
        let result: TransactionResult?
        do {
            result = try await store.transaction(transaction)
        } catch {
            logger.debug("heartbeat write failed", metadata: ["vigil.error": "\(error)"])
            result = nil
        }
        guard case .sendHeartbeat = directive else { return }
        heartbeatRoundTrip.record(duration: ContinuousClock.now - sentAt)
        if result?.succeeded == true {
            acknowledged(sentAt: sentAt)
        } else if result != nil {
            // Evicted: repeating the record can only fail again.
            forgetMembership()
        }
        if let event = transactions.event(for: stamped, result: result) { report(event) }
    }

    private func startTicking() {
        let interval = state.withLockedValue { state -> Duration? in
            guard !state.stopped, let plan = state.plan else { return nil }
            state.tick?.cancel()
            return [plan.heartbeatInterval / 4, plan.watchdogPetInterval ?? .seconds(3600)].min()
        }
        guard let interval else { return }
        let task = thread.loop.scheduleRepeatedTask(initialDelay: TimeAmount(interval), delay: TimeAmount(interval)) {
            _ in
            self.tick()
        }
        state.withLockedValue { $0.tick = task }
    }

    /// Every quarter interval: repeat the heartbeat when one is due, pet the watchdog when safe.
    private func tick() {
        let now = ContinuousClock.now
        let (due, pet) = state.withLockedValue { state -> ([Brain.Directive], Bool) in
            guard let plan = state.plan, !state.stopped else { return ([], false) }
            let brainAlive = now - state.lastBrainAt < plan.brainGrace
            var due: [Brain.Directive] = []
            func isDue(_ last: ContinuousClock.Instant?) -> Bool {
                last.map { now - $0 >= plan.heartbeatInterval } ?? true
            }
            if brainAlive, state.inFlight < 3 {
                if let heartbeat = state.heartbeat, isDue(state.lastSentAt) {
                    due.append(
                        .sendHeartbeat(heartbeat.record, memberRevision: heartbeat.memberRevision, sentAt: moment(now)))
                    state.lastSentAt = now
                }
                if let renewal = state.renewal, isDue(state.lastRenewalAt) {
                    due.append(.renewMaster(renewal))
                    state.lastRenewalAt = now
                }
            }
            let safe = (!state.fenced && brainAlive && now < state.deadline(plan)) || plan.targets.isEmpty
            var pet = false
            if let every = plan.watchdogPetInterval, safe, plan.mayPetWatchdog,
                state.lastPetAt.map({ now - $0 >= every }) ?? true
            {
                state.lastPetAt = now
                pet = true
            }
            return (due, pet)
        }
        for directive in due { sendQueue.yield((directive, now)) }
        if pet { watchdog?.pet() }
    }

    /// (Re)arms the deadline timer at the last acknowledged send + selfFenceAfter.
    private func armDeadline() {
        let deadline = state.withLockedValue { state -> ContinuousClock.Instant? in
            guard !state.stopped, let plan = state.plan else { return nil }
            let deadline = state.deadline(plan)
            if state.scheduledDeadline == deadline, state.deadlineTimer != nil { return nil }
            state.deadlineTimer?.cancel()
            state.scheduledDeadline = deadline
            return deadline
        }
        guard let deadline else { return }
        deadlineFile?.write(deadline)
        let delay = max(deadline - ContinuousClock.now, .zero)
        let timer = thread.loop.scheduleTask(in: TimeAmount(delay)) { self.deadlinePassed() }
        state.withLockedValue { $0.deadlineTimer = timer }
    }

    private func deadlinePassed() {
        let now = ContinuousClock.now
        let fence = state.withLockedValue { state -> (held: [Brain.FenceTarget], late: Duration)? in
            guard let plan = state.plan, !state.stopped, !state.fenced else { return nil }
            state.deadlineTimer = nil
            let deadline = state.deadline(plan)
            guard now >= deadline else { return nil }
            state.fenced = true
            state.lastFenceLateness = now - deadline
            return (plan.targets, now - deadline)
        }
        guard let (held, late) = fence else {
            armDeadline()
            return
        }
        deadlineFences.increment()
        logger.critical(
            "self-fence deadline passed without an acknowledged heartbeat: removing virtual IPs",
            metadata: ["vigil.resources": "\(held.map(\.description))", "vigil.late": "\(late)"])
        _ = removeHeld(held, reason: "self-fence deadline")
        report(.deadlineFenced)
    }

    /// Kills the resources' scripts (queued ones never start) and removes their addresses at once,
    /// on this thread (a few milliseconds). A script killed in the middle of adding its address may
    /// add it after that removal, so once the killed process groups are gone (checked every 5 ms,
    /// for up to ``scriptDeathLimit``, without blocking the thread: heartbeats go on) the addresses
    /// are removed again; the future completes then.
    private func removeHeld(_ held: [Brain.FenceTarget], reason: String) -> EventLoopFuture<Void> {
        let groups = Set(held.compactMap { scripts?.kill($0.resource) })
        let wanted = Array(Set(held.compactMap(\.address))).sorted()
        let remaining = addresses.removeAllNow(wanted)
        guard !groups.isEmpty else {
            // No script to wait for: a second pass at once for whatever stayed.
            finishRemoval(remaining.isEmpty ? [] : addresses.removeAllNow(remaining), reason: reason)
            return thread.loop.makeSucceededVoidFuture()
        }
        let promise = thread.loop.makePromise(of: Void.self)
        let end = ContinuousClock.now + Self.scriptDeathLimit
        @Sendable func check() {
            let live = ScriptRunner.liveGroups(among: groups)
            guard live.isEmpty || ContinuousClock.now >= end else {
                thread.loop.scheduleTask(in: .milliseconds(5)) { check() }
                return
            }
            if !live.isEmpty {
                logger.critical(
                    "killed scripts still running after the fence", metadata: ["vigil.groups": "\(live.sorted())"])
            }
            finishRemoval(addresses.removeAllNow(wanted), reason: reason)
            promise.succeed()
        }
        check()
        return promise.futureResult
    }

    private func finishRemoval(_ remaining: [String], reason: String) {
        guard !remaining.isEmpty else { return }
        reportRemovalFailure(remaining, reason: reason)
        retryRemoval(remaining, attempt: 1)
    }

    /// How long a fence waits for killed scripts' process groups to die (SIGKILL: normally microseconds).
    static let scriptDeathLimit = Duration.seconds(2)
    /// How often and how many times addresses a fence could not remove are tried again.
    static let removalRetryInterval = Duration.milliseconds(500)
    static let removalRetries = 20

    private func reportRemovalFailure(_ remaining: [String], reason: String) {
        removalFailures.increment(by: remaining.count)
        logger.critical(
            "virtual IPs still up after the fence removed them",
            metadata: ["vigil.vip": "\(remaining)", "vigil.reason": "\(reason)"])
        report(.addressesNotRemoved(remaining))
    }

    /// Tries again every ``removalRetryInterval``, up to ``removalRetries`` times; reports if the last try fails.
    private func retryRemoval(_ addresses: [String], attempt: Int) {
        guard attempt <= Self.removalRetries, !state.withLockedValue({ $0.stopped }) else { return }
        thread.loop.scheduleTask(in: TimeAmount(Self.removalRetryInterval)) {
            let remaining = self.addresses.removeAllNow(addresses)
            guard !remaining.isEmpty else {
                self.logger.notice("virtual IPs removed on a later try", metadata: ["vigil.vip": "\(addresses)"])
                return
            }
            if attempt == Self.removalRetries { self.reportRemovalFailure(remaining, reason: "last retry") }
            self.retryRemoval(remaining, attempt: attempt + 1)
        }
    }
}
