import ClusterModel

extension Brain {
    /// What this node is doing with one resource.
    public enum Phase: Hashable, Sendable {
        /// The fenced `Loading` status write is in flight; the load script starts when it commits.
        case awaitingFence
        case loading
        case running
        case unloading(UnloadPurpose)
        case comatose
        /// Stopped by a self-fence or an eviction; may load again once a heartbeat proves membership.
        case fenced
        /// Cleanly unloaded and reported Offline at this generation: never loaded again at it.
        case released

        /// Whether the resource may be active on this node (its address may be up).
        public var mayHold: Bool {
            switch self {
            case .loading, .running, .unloading(.release), .unloading(.restart), .unloading(.moveAway), .comatose,
                .awaitingFence:
                true
            case .unloading(.forced), .fenced, .released: false
            }
        }
    }

    /// Why an unload runs.
    public enum UnloadPurpose: Hashable, Sendable {
        /// Hand over or take offline, then report Offline.
        case release
        /// Monitor local restart: load again on this node afterwards.
        case restart
        /// Monitor action migrate: report Offline asking the master to move it away.
        case moveAway
        /// Forced stop (self-fence, eviction, or placement elsewhere): no report.
        case forced
    }

    /// This node's record of one resource.
    public struct LocalResource: Hashable, Sendable {
        public var generation: UInt64
        public var phase: Phase
        public var incarnation: Int
        public var upSince: Int64?
        public var scriptInFlight: ScriptAction?
        public var monitorFailures: [Moment]
        public var nextMonitorAt: Moment?
        public var lastAction: ScriptAction?
        public var lastOutcome: ScriptOutcome?
        /// The definition the resource was loaded with: edits apply after offline/online, as in NCS.
        public var spec: ResourceSpec?
        /// The status last committed, and the one being written.
        public var committedReport: ResourceStatus?
        public var reportInFlight: ResourceStatus?
        /// The view revision at which a status write was refused: no retry until the view moves.
        public var rejectedAtRevision: Revision?
        /// Ask the master to place it elsewhere (monitor action migrate, shutdown).
        public var moveAway: MoveAwayReason?
        /// A forced stop's unload failed while the assignment had this generation: the resource is
        /// Comatose here and may still be active (a mount), so the watchdog is no longer petted. A
        /// new assignment generation (an admin's offline or online) retries the stop.
        public var stopFailedAtGeneration: UInt64?
        /// The virtual address a clean unload left verified gone (reported with Offline, so the
        /// next holder may skip its duplicate-address probe: docs/design/0018).
        public var addressGone: String?

        init(generation: UInt64, phase: Phase, incarnation: Int = 0) {
            self.generation = generation
            self.phase = phase
            self.incarnation = incarnation
            self.monitorFailures = []
            self.moveAway = nil
        }
    }

    /// When a store record was first seen at its current revision.
    public struct Sighting: Hashable, Sendable {
        public var revision: Revision
        public var firstSeenAt: Moment
    }

    /// A raised tolerance waiting for an acknowledged heartbeat that advertised it.
    struct PendingTolerance: Hashable, Sendable {
        var value: Span
        var sentAt: Moment
    }

    /// A write the master issued and has not yet seen in the view.
    struct PendingWrite: Hashable, Sendable {
        var revision: Revision?
        var issuedAt: Moment
        /// The generation an assignment write carries (its answer names it).
        var generation: UInt64?
        /// When the call ended (answered or failed); nil while it is under way.
        var answeredAt: Moment?
        /// The store committed or refused it: it holds something newer than the view, which
        /// only has to catch up.
        var reached = false

        /// When the master decides again if the view has not moved: `retry` after a call that
        /// failed; `patience` after issuing one that has not ended, or after the store committed
        /// or refused one (deciding again on a view that is behind the store would only be refused
        /// again). Counting from the issue alone asked again for every write a busy store was
        /// still working on, and every such write made it busier: 551 decisions for 100 resources
        /// in a 32-node failover (docs/design/0024).
        func expiry(retry: Span, patience: Span) -> Moment {
            guard let answeredAt else { return issuedAt + max(retry, patience) }
            return answeredAt + (reached ? max(retry, patience) : retry)
        }
    }

    /// One node's brain: membership, the master's placement, and this node's resources.
    public struct Instance: Hashable, Sendable {
        public let configuration: Configuration
        public internal(set) var view: ClusterView?
        public internal(set) var startedAt: Moment?

        // Membership of this node.
        public internal(set) var memberRevision: Revision?
        var joinIssuedAt: Moment?
        /// The other instance whose member key refused this node's join (reported once).
        var refusedBy: String?
        var heartbeatCounter: UInt64 = 0
        var lastHeartbeatSentAt: Moment?
        /// Send time of the newest acknowledged heartbeat (or join).
        public internal(set) var lastAckSentAt: Moment?
        /// The tolerance this node's self-fence deadline uses (nil until it first joins).
        public internal(set) var appliedTolerance: Span?
        /// A raised tolerance, applied once a heartbeat sent at or after `sentAt` is acknowledged.
        var pendingTolerance: PendingTolerance?
        /// True from a self-fence until the next acknowledged heartbeat.
        public internal(set) var fenced = false
        public internal(set) var shuttingDown = false
        /// A heartbeat saying `stopping` went out (the keeper repeats it until the node has left).
        var stoppingAnnounced = false
        var shutdownDone = false

        // What this node has seen of the others.
        public internal(set) var memberSightings: [NodeName: Sighting] = [:]
        public internal(set) var masterSighting: Sighting?

        // Master role.
        var campaignIssuedAt: Moment?
        var masterTerm: MasterRecord?
        var masterSince: Moment?
        var quorumFormed = false
        var pendingAssignments: [ResourceName: PendingWrite] = [:]
        var pendingEvictions: [NodeName: PendingWrite] = [:]
        var pendingCommands: [String: Moment] = [:]
        var lastEpochWritten: UInt64 = 0
        var knownMembers: Set<NodeName>?
        /// During a placing pass: the members in cluster order, what most resources may run on.
        var placingMembers: [NodeName]?

        // This node's resources.
        public internal(set) var local: [ResourceName: LocalResource] = [:]
        var scheduledTimer: Moment?
        var lastPetAt: Moment?
        /// The content revision of the view the last full pass (placement and local resources) saw,
        /// and when it ran: a view that differs only in heartbeats is given a full pass at most once
        /// a heartbeat (with 32 members that is 1 pass a heartbeat instead of 32).
        var fullPass: FullPass?

        struct FullPass: Hashable, Sendable {
            var contentRevision: Revision
            var at: Moment
        }

        public init(configuration: Configuration) {
            self.configuration = configuration
        }

        var me: NodeName { configuration.node }
        var timing: TimingSettings { view?.settings.timing ?? TimingSettings() }

        /// Whether this node currently acts as master.
        public var isMaster: Bool {
            guard let view, let master = view.master, master.value.node == me, !master.value.resigned,
                memberRevision != nil, !fenced
            else {
                return false
            }
            return masterTerm == master.value
        }

        /// The timing of this node's self-fence: the settings with the applied tolerance.
        var fenceTiming: TimingSettings {
            var timing = self.timing
            if let appliedTolerance { timing.tolerance = appliedTolerance }
            return timing
        }

        /// The cluster's timing as this brain knows it (defaults until the first view).
        public var timingSettings: TimingSettings { timing }

        /// How long after a heartbeat's send time its acknowledgement keeps this node safe.
        public var selfFenceSpan: Span { fenceTiming.selfFenceAfter + configuration.faults.selfFenceDelay }

        /// The self-fence deadline: send time of the last acknowledged heartbeat + tolerance − margin.
        public var deadline: Moment? {
            let base = lastAckSentAt ?? startedAt
            return base.map { $0 + fenceTiming.selfFenceAfter + configuration.faults.selfFenceDelay }
        }

        /// Handles one event as ``handle(_:now:)`` does, after taking `newestAcknowledgement`: the
        /// send time of the newest heartbeat the store has acknowledged, as the fence path knows it.
        /// Its own `heartbeatAcknowledged` event may still wait behind `event` (a handover's script
        /// ends queue up), and every step checks the self-fence deadline: without it the brain fences
        /// on acknowledgements it has not been told of (docs/design/0025 §4). Taken only while this
        /// brain counts acknowledgements (joined, not evicted) and only when newer.
        public mutating func handle(_ event: Event, newestAcknowledgement: Moment?, now: Moment) -> [Directive] {
            var out: [Directive] = []
            if let sentAt = newestAcknowledgement, let known = lastAckSentAt, sentAt > known {
                out = handle(.heartbeatAcknowledged(sentAt: sentAt), now: now)
            }
            return out + handle(event, now: now)
        }

        /// Handles one event; returns the directives to carry out, in order.
        public mutating func handle(_ event: Event, now: Moment) -> [Directive] {
            var out: [Directive] = []
            switch event {
            case .started(let resources):
                startedAt = now
                for (name, spec) in resources {
                    var resource = LocalResource(generation: 0, phase: .running)
                    resource.spec = spec
                    local[name] = resource
                }
            case .viewChanged(let newView):
                let heartbeatsOnly =
                    fullPass.map { newView.contentRevision == $0.contentRevision && now - $0.at < timing.heartbeat }
                    ?? false
                observe(newView, now: now, into: &out)
                if heartbeatsOnly {
                    reconcile(now: now, full: false, into: &out)
                    return out
                }
            case .joined(let revision, let sentAt):
                memberRevision = revision
                joinIssuedAt = nil
                acknowledge(sentAt: sentAt, now: now, into: &out)
                out.append(.record(ClusterEvent(kind: .membership, node: me, message: "joined the cluster")))
            case .joinFailed:
                break  // retried two heartbeats after it was issued
            case .joinRefused(let other):
                // Retried like a failed join: the key goes once the master evicts a dead agent.
                if refusedBy != other {
                    refusedBy = other
                    out.append(
                        .record(
                            ClusterEvent(
                                kind: .membership, node: me,
                                message:
                                    "another running agent uses the node name \(me) (instance \(other)): not joining until its member key is gone",
                                severity: .critical)))
                }
            case .heartbeatAcknowledged(let sentAt):
                if memberRevision != nil { acknowledge(sentAt: sentAt, now: now, into: &out) }
            case .heartbeatRejected:
                if memberRevision != nil { evicted(now: now, into: &out) }
            case .heartbeatFailed:
                break
            case .statusCommitted(let resource, let generation, let state):
                statusCommitted(resource, generation: generation, state: state, now: now, into: &out)
            case .statusRejected(let resource, let generation):
                statusRejected(resource, generation: generation)
            case .assignmentAnswered(let resource, let generation, let reached):
                if var pending = pendingAssignments[resource], pending.generation == generation,
                    pending.answeredAt == nil
                {
                    pending.answeredAt = now
                    pending.reached = reached
                    pendingAssignments[resource] = pending
                }
                // An answer changes only when the master may decide again for that resource, which
                // the wakeup covers: no placing pass, and nothing local.
                reconcile(now: now, full: false, into: &out)
                return out
            case .scriptFinished(let resource, let action, let generation, let outcome):
                scriptFinished(resource, action: action, generation: generation, outcome: outcome, now: now, into: &out)
            case .timerFired:
                scheduledTimer = nil
            case .deadlineFenced:
                // The addresses are gone whatever this brain has seen since: stop the resources too.
                if !fenced, startedAt != nil, !heldExclusive.isEmpty {
                    fenceAtDeadline("the fence thread removed the addresses", now: now, into: &out)
                }
            case .addressesObserved(let addresses):
                removeStrayAddresses(addresses, into: &out)
            case .addressesNotRemoved(let addresses):
                out.append(
                    .record(
                        ClusterEvent(
                            kind: .fence, node: me,
                            message:
                                "could not remove \(addresses.joined(separator: ", ")) while fencing: it may still answer here; retrying"
                        )))
            case .shutdownRequested:
                shuttingDown = true
                out.append(
                    .record(ClusterEvent(kind: .membership, node: me, message: "shutting down: handing resources over"))
                )
            }
            // Placement reads only the view, the master's pending writes and the time (whose
            // moments the wakeup covers). An event about this node's own resources changes none
            // of them: the master does not place again for it. Its 100 assignment answers and its
            // own loads' status and script ends each cost a placing pass before, and kept its own
            // status writes waiting behind them in its queue (docs/design/0026).
            let placing: Bool
            switch event {
            case .statusCommitted, .statusRejected, .scriptFinished: placing = false
            default: placing = true
            }
            reconcile(now: now, placing: placing, into: &out)
            return out
        }

        /// Everything level-triggered: membership duties, fencing, master duties, local resources, timer.
        /// - Parameters:
        ///   - full: false for a view that differs from the last full pass's only in heartbeats:
        ///     placement and local resources are left for the next full pass.
        ///   - placing: false to leave placement (only) for the next pass that places.
        mutating func reconcile(now: Moment, full: Bool = true, placing: Bool = true, into out: inout [Directive]) {
            guard startedAt != nil, !shutdownDone else { return }
            checkDeadline(now: now, into: &out)
            membershipDuties(now: now, into: &out)
            if let view {
                if full, placing { fullPass = FullPass(contentRevision: view.contentRevision, at: now) }
                electionDuties(now: now, into: &out)
                if isMaster { masterDuties(now: now, placing: full && placing, into: &out) }
                if full, memberRevision != nil || shuttingDown { reconcileLocal(now: now, into: &out) }
            }
            finishShutdownIfDone(into: &out)
            petWatchdogIfAllowed(now: now, into: &out)
            scheduleNextWakeup(now: now, into: &out)
        }

        mutating func observe(_ newView: ClusterView, now: Moment, into out: inout [Directive]) {
            for (node, member) in newView.members {
                if memberSightings[node]?.revision != member.modRevision {
                    memberSightings[node] = Sighting(revision: member.modRevision, firstSeenAt: now)
                }
            }
            for node in memberSightings.keys where newView.members[node] == nil {
                memberSightings[node] = nil
            }
            let masterRevision = newView.master?.modRevision ?? 0
            if masterSighting?.revision != masterRevision {
                masterSighting = Sighting(revision: masterRevision, firstSeenAt: now)
                campaignIssuedAt = nil
            }
            if let master = newView.master?.value, master.node == me, !master.resigned, masterTerm != master {
                masterTerm = master
                masterSince = now
                quorumFormed = false
                knownMembers = nil
                pendingAssignments = [:]
                pendingEvictions = [:]
                pendingCommands = [:]
                out.append(
                    .record(ClusterEvent(kind: .election, node: me, message: "became master (term \(master.term))")))
            } else if let term = masterTerm, newView.master?.value != term {
                masterTerm = nil
                out.append(
                    .record(ClusterEvent(kind: .election, node: me, message: "no longer master (term \(term.term))")))
            }
            view = newView
        }
    }
}
