import ClusterModel

/// Every node's own resources: load, run, monitor, unload, report — fenced by the assignment.
extension Brain.Instance {
    enum Want: Equatable {
        /// Load (or keep) at this generation.
        case load(generation: UInt64, fence: Revision)
        /// Keep as it is and report Comatose.
        case hold(generation: UInt64, fence: Revision)
        /// Unload cleanly and report Offline at this generation.
        case release(generation: UInt64, fence: Revision, moveAway: MoveAwayReason?)
        /// Must not be active here: forced stop, no report.
        case drop
    }

    func mine(_ assignment: Assignment) -> Bool {
        assignment.memberRevision.map { $0 == memberRevision } ?? true
    }

    func want(_ name: ResourceName) -> Want {
        guard let view, let spec = view.resources[name], let versioned = view.assignments[name] else { return .drop }
        let assignment = versioned.value
        let (generation, fence) = (assignment.generation, versioned.modRevision)
        if spec.mode == .everywhere {
            guard assignment.placement == .everywhere, !shuttingDown, memberRevision != nil,
                baseList(spec).contains(me)
            else {
                return local[name]?.phase.mayHold == true
                    ? .release(generation: generation, fence: fence, moveAway: nil) : .drop
            }
            return .load(generation: generation, fence: fence)
        }
        guard assignment.placement.holder == me, mine(assignment) else { return .drop }
        if shuttingDown { return .release(generation: generation, fence: fence, moveAway: .shutdown) }
        switch assignment.placement {
        case .node, .alert: return .load(generation: generation, fence: fence)
        case .migrating, .stopping: return .release(generation: generation, fence: fence, moveAway: nil)
        case .comatose: return .hold(generation: generation, fence: fence)
        case .offline, .quorumWait, .unassigned, .everywhere: return .drop
        }
    }

    func job(_ name: ResourceName, _ spec: ResourceSpec, _ action: ScriptAction, generation: UInt64) -> Brain.ScriptJob
    {
        let script: ScriptSpec
        switch action {
        case .load: script = spec.load
        case .unload: script = spec.unload
        case .monitor: script = spec.monitor?.script ?? ScriptSpec(body: "exit 0", timeout: .seconds(10))
        }
        return Brain.ScriptJob(
            resource: name, action: action, generation: generation, script: script, variables: spec.variables,
            takeoverWait: action == .load ? timing.takeoverWait : nil,
            addressMustBeGone: action == .unload && spec.mode == .exclusive ? spec.virtualAddress : nil,
            addressReleased: action == .load ? releasedAddress(name, spec, generation: generation) : nil,
            priority: spec.priority, duplicateProbe: action == .load ? timing.duplicateProbe : nil)
    }

    /// The resource's address, if the holder of the previous generation reported a clean Offline
    /// with that address verified gone. Generations count assignment writes, and only the holder
    /// of a generation reports at it, so nobody in the cluster holds the address now: a load at
    /// this generation need not probe for it (docs/design/0018).
    func releasedAddress(_ name: ResourceName, _ spec: ResourceSpec, generation: UInt64) -> String? {
        guard spec.mode == .exclusive, let address = spec.virtualAddress, generation > 1,
            let statuses = view?.statuses[name]
        else { return nil }
        let released = statuses.values.contains { entry in
            entry.value.generation == generation - 1 && entry.value.state == .offline
                && entry.value.addressGone == address
        }
        return released ? address : nil
    }

    mutating func reconcileLocal(now: Moment, into out: inout [Brain.Directive]) {
        guard let view else { return }
        // Only what is here or assigned here can ask anything of this node: ``want(_:)`` is `.drop`
        // for every other resource, and dropping what is not here does nothing. (At 32 nodes × 500
        // resources, looking at all of them cost each member's step 0.74 ms instead of 0.04 ms, on
        // every node at every change: docs/design/0024.)
        let me = self.me
        let names = Set(local.keys).union(
            view.assignments.lazy.compactMap { name, assignment in
                let placement = assignment.value.placement
                return placement == .everywhere || placement.holder == me ? name : nil
            })
        let ordered = names.sorted { lhs, rhs in
            let (lp, rp) = (view.resources[lhs]?.priority ?? 0, view.resources[rhs]?.priority ?? 0)
            return lp != rp ? lp > rp : lhs < rhs
        }
        for name in ordered { reconcile(name, now: now, into: &out) }
    }

    mutating func reconcile(_ name: ResourceName, now: Moment, into out: inout [Brain.Directive]) {
        guard let view else { return }
        let wanted = want(name)
        var resource = local[name]
        defer {
            if let resource { report(name, resource, into: &out) }
        }
        switch wanted {
        case .load(let generation, _):
            guard var current = resource else {
                guard !fenced, !shuttingDown, let spec = view.resources[name] else { return }
                resource = startLoad(name, spec, generation: generation, incarnation: 0)
                return
            }
            if current.phase == .fenced || (current.phase == .released && current.generation != generation) {
                guard !fenced, !shuttingDown, current.scriptInFlight == nil, let spec = view.resources[name] else {
                    return
                }
                resource = startLoad(name, spec, generation: generation, incarnation: current.incarnation)
                // A refused fence is not retried until the view moves on.
                resource?.rejectedAtRevision = current.rejectedAtRevision
                return
            }
            if current.generation != generation, current.phase.mayHold, current.phase != .awaitingFence {
                // Adopt: same node, newer generation (agent restart, declined failback).
                current.generation = generation
                if current.spec == nil { current.spec = view.resources[name] }
                if let stored = view.status(of: name, on: me)?.value {
                    current.incarnation = max(current.incarnation, stored.incarnation)
                    current.upSince = current.upSince ?? stored.upSince
                }
                if current.phase == .running, current.nextMonitorAt == nil, current.spec?.monitor != nil {
                    current.nextMonitorAt = now + (current.spec?.monitor?.interval ?? .seconds(60))
                }
                out.append(
                    .record(
                        ClusterEvent(
                            kind: .script, node: me, resource: name,
                            message: "kept running here at generation \(generation)")))
            }
            if !view.suspendedMonitors.contains(name) {
                runMonitorIfDue(name, &current, now: now, into: &out)
            } else if let next = current.nextMonitorAt, now >= next, let interval = current.spec?.monitor?.interval {
                // Suspended by an administrator (`vigil monitor RES stop`): skipped, and asked
                // again an interval later (a due time left in the past would wake the brain at once).
                current.nextMonitorAt = now + interval
            }
            resource = current
        case .hold(let generation, _):
            guard var current = resource, current.phase.mayHold else { return }
            if current.scriptInFlight == nil, current.phase != .comatose {
                current.phase = .comatose
                current.nextMonitorAt = nil
            }
            current.generation = generation
            resource = current
        case .release(let generation, _, let moveAway):
            // A forced stop under way ends first: Offline only once it is done.
            if resource?.phase == .unloading(.forced) { return }
            guard var current = resource, current.phase.mayHold else {
                // Nothing active here: report a clean Offline at this generation.
                var released = resource ?? Brain.LocalResource(generation: generation, phase: .released)
                // What an unload verified at this generation stays reported; nothing else is claimed.
                if released.generation != generation || released.phase != .released { released.addressGone = nil }
                released.generation = generation
                released.phase = .released
                released.moveAway = moveAway
                resource = released
                return
            }
            guard current.scriptInFlight == nil, current.phase != .awaitingFence else { return }
            if case .unloading = current.phase { return }
            // A script already failed at this generation: stay Comatose until the master decides.
            if current.phase == .comatose, current.generation == generation { return }
            current.generation = generation
            current.moveAway = moveAway
            current.phase = .unloading(.release)
            current.nextMonitorAt = nil
            if current.spec == nil { current.spec = view.resources[name] }
            if let spec = current.spec {
                current.scriptInFlight = .unload
                out.append(.runScript(job(name, spec, .unload, generation: generation)))
            } else {
                current.phase = .released
            }
            resource = current
        case .drop:
            guard var current = resource else { return }
            guard current.phase.mayHold else {
                if view.resources[name] == nil, current.scriptInFlight == nil {
                    resource = nil
                    local[name] = nil
                }
                return
            }
            if current.phase == .awaitingFence {
                current.phase = .fenced
                resource = current
                return
            }
            if case .unloading = current.phase, current.scriptInFlight == .unload { return }
            // A failed forced stop is retried only once the master decided again (a new generation).
            let assigned = view.assignments[name]?.value.generation
            if let failedAt = current.stopFailedAtGeneration, failedAt == assigned { return }
            current.stopFailedAtGeneration = nil
            let exclusive = (current.spec ?? view.resources[name])?.mode != .everywhere
            if exclusive {
                out.append(
                    .record(
                        ClusterEvent(kind: .fence, node: me, resource: name, message: "not assigned here: forced stop"))
                )
                out.append(.selfFence([fenceTarget(name)]))
            } else if current.scriptInFlight != nil {
                return
            }
            current.nextMonitorAt = nil
            if current.spec == nil { current.spec = view.resources[name] }
            if let spec = current.spec {
                current.phase = .unloading(.forced)
                current.scriptInFlight = .unload
                out.append(.runScript(job(name, spec, .unload, generation: current.generation)))
            } else {
                current.phase = .fenced
                current.scriptInFlight = nil
            }
            resource = current
        }
    }

    /// Begins a load: the fenced `Loading` status write first; the script runs once it commits.
    func startLoad(_ name: ResourceName, _ spec: ResourceSpec, generation: UInt64, incarnation: Int)
        -> Brain.LocalResource
    {
        var resource = Brain.LocalResource(generation: generation, phase: .awaitingFence, incarnation: incarnation)
        let known = view?.statuses[name]?.values.map(\.value.incarnation).max() ?? 0
        resource.incarnation = max(incarnation, known)
        resource.spec = spec
        return resource
    }

    mutating func runMonitorIfDue(
        _ name: ResourceName, _ resource: inout Brain.LocalResource, now: Moment, into out: inout [Brain.Directive]
    ) {
        guard resource.phase == .running, resource.scriptInFlight == nil, let next = resource.nextMonitorAt,
            now >= next,
            let spec = resource.spec, spec.monitor != nil
        else { return }
        resource.nextMonitorAt = nil
        resource.scriptInFlight = .monitor
        out.append(.runScript(job(name, spec, .monitor, generation: resource.generation)))
    }

    /// The status this node should have in the store for a resource, if it should have one.
    func desiredStatus(_ resource: Brain.LocalResource) -> ResourceStatus? {
        let state: LocalState
        switch resource.phase {
        case .awaitingFence, .loading: state = .loading
        case .running: state = .running
        case .unloading(.forced): return nil
        case .unloading: state = .unloading
        case .comatose: state = .comatose
        case .released: state = .offline
        case .fenced: return nil
        }
        return ResourceStatus(
            node: me, generation: resource.generation, state: state, incarnation: resource.incarnation,
            upSince: state == .running ? resource.upSince : nil, lastAction: resource.lastAction,
            lastOutcome: resource.lastOutcome, moveAway: resource.moveAway,
            addressGone: state == .offline ? resource.addressGone : nil)
    }

    mutating func report(_ name: ResourceName, _ resource: Brain.LocalResource, into out: inout [Brain.Directive]) {
        var resource = resource
        defer { local[name] = resource }
        guard let view, let status = desiredStatus(resource), resource.reportInFlight == nil,
            resource.committedReport != status, let fence = view.assignments[name]?.modRevision,
            resource.rejectedAtRevision != view.revision
        else { return }
        if view.assignments[name]?.value.generation != status.generation { return }
        resource.reportInFlight = status
        out.append(.writeStatus(name, status, fence: fence))
    }

    mutating func statusCommitted(
        _ name: ResourceName, generation: UInt64, state: LocalState, now: Moment, into out: inout [Brain.Directive]
    ) {
        guard var resource = local[name] else { return }
        let current = resource.generation == generation
        // The answer frees the next report, also when a view moved the resource to a newer
        // generation before it came (the report in flight is then the older one).
        if let sent = resource.reportInFlight, current || sent.generation == generation {
            if sent.state == state { resource.committedReport = sent }
            resource.reportInFlight = nil
        }
        guard current else {
            local[name] = resource
            return
        }
        if state == .loading, resource.phase == .awaitingFence, let spec = resource.spec {
            resource.phase = .loading
            resource.scriptInFlight = .load
            out.append(.runScript(job(name, spec, .load, generation: generation)))
        }
        local[name] = resource
    }

    mutating func statusRejected(_ name: ResourceName, generation: UInt64) {
        guard var resource = local[name] else { return }
        resource.reportInFlight = nil
        resource.rejectedAtRevision = view?.revision
        if resource.phase == .awaitingFence, resource.generation == generation {
            resource.phase = .fenced
        }
        local[name] = resource
    }

    mutating func scriptFinished(
        _ name: ResourceName, action: ScriptAction, generation: UInt64, outcome: ScriptOutcome, now: Moment,
        into out: inout [Brain.Directive]
    ) {
        guard var resource = local[name], resource.scriptInFlight == action, outcome != .killed else { return }
        defer { local[name] = resource }
        resource.scriptInFlight = nil
        if action != .monitor || !outcome.succeeded {
            resource.lastAction = action
            resource.lastOutcome = outcome
            out.append(
                .record(
                    ClusterEvent(
                        kind: .script, node: me, resource: name,
                        message: "\(action.rawValue) \(outcome) (generation \(resource.generation))",
                        severity: outcome.succeeded ? .info : action == .monitor ? .warning : .critical, action: action)
                ))
        }
        let monitor = resource.spec?.monitor
        switch (action, resource.phase) {
        case (.load, .loading):
            if outcome.succeeded {
                resource.phase = .running
                resource.incarnation += 1
                resource.upSince = now.wallMilliseconds
                resource.monitorFailures = resource.monitorFailures.filter { now - $0 < (monitor?.window ?? .zero) }
                resource.nextMonitorAt = monitor.map { now + $0.interval }
            } else {
                resource.phase = .comatose
            }
        case (.unload, .unloading(let purpose)):
            switch purpose {
            case .forced:
                if outcome.succeeded || configuration.faults.stopFailuresIgnored {
                    resource.phase = .fenced
                } else {
                    // §4.9: it may still be active here (a mount): Comatose, the address removed
                    // again, loudly; a watchdog is no longer petted, so it resets the node.
                    resource.phase = .comatose
                    resource.stopFailedAtGeneration = view?.assignments[name]?.value.generation ?? resource.generation
                    out.append(.selfFence([fenceTarget(name)]))
                    let consequence =
                        timing.watchdogTimeout != nil
                        ? "the watchdog is no longer petted: this node will be reset"
                        : "it may still be active here: stop it by hand, then take it offline"
                    out.append(
                        .record(
                            ClusterEvent(
                                kind: .fence, node: me, resource: name,
                                message: "forced stop failed (unload \(outcome)): Comatose; \(consequence)")))
                }
            case .release, .moveAway:
                resource.phase = outcome.succeeded ? .released : .comatose
                // A successful unload of an exclusive resource checked its address gone (the shell
                // turns "still up" into `.addressStayed`, a failure).
                resource.addressGone =
                    outcome.succeeded && resource.spec?.mode == .exclusive ? resource.spec?.virtualAddress : nil
            case .restart:
                if outcome.succeeded {
                    resource.phase = .awaitingFence
                    resource.committedReport = nil
                } else {
                    resource.phase = .comatose
                }
            }
        case (.monitor, .running):
            guard let monitor else { return }
            if outcome.succeeded {
                resource.nextMonitorAt = now + monitor.interval
                return
            }
            resource.monitorFailures = resource.monitorFailures.filter { now - $0 < monitor.window } + [now]
            if resource.monitorFailures.count <= monitor.maxLocalFailures {
                out.append(
                    .record(
                        ClusterEvent(
                            kind: .script, node: me, resource: name,
                            message:
                                "monitor failure \(resource.monitorFailures.count) of \(monitor.maxLocalFailures) allowed in \(monitor.window): restarting here",
                            severity: .warning, action: .monitor)))
                resource.phase = .unloading(.restart)
                resource.scriptInFlight = .unload
                out.append(.runScript(job(name, resource.spec!, .unload, generation: resource.generation)))
                return
            }
            out.append(
                .record(
                    ClusterEvent(
                        kind: .script, node: me, resource: name,
                        message:
                            "monitor failures exceed \(monitor.maxLocalFailures) in \(monitor.window): action \(monitor.action.rawValue)",
                        severity: .critical, action: .monitor)))
            switch monitor.action {
            case .comatose:
                resource.phase = .comatose
            case .migrate:
                resource.phase = .unloading(.moveAway)
                resource.moveAway = .monitor
                resource.scriptInFlight = .unload
                out.append(.runScript(job(name, resource.spec!, .unload, generation: resource.generation)))
            case .reboot:
                resource.phase = .comatose
                out.append(.reboot)
            }
        default:
            break
        }
    }

    /// Level-triggered: an address of an exclusive resource this node does not hold (no load, run
    /// or unload under way, e.g. added by hand or left by a killed script) is removed, unless a
    /// resource held here uses the same address.
    mutating func removeStrayAddresses(_ observed: Set<String>, into out: inout [Brain.Directive]) {
        guard let view else { return }
        let inUse = Set(local.filter { $0.value.phase.mayHold }.keys.compactMap { fenceTarget($0).address })
        // Every resource of the cluster is looked at every few seconds; only the few found are sorted.
        let stray = view.resources.compactMap { name, spec -> (name: ResourceName, address: String)? in
            guard spec.mode == .exclusive, !(local[name]?.phase.mayHold ?? false), let address = spec.virtualAddress,
                observed.contains(address), !inUse.contains(address)
            else { return nil }
            return (name, address)
        }
        for (name, address) in stray.sorted(by: { $0.name < $1.name }) {
            out.append(
                .record(
                    ClusterEvent(
                        kind: .fence, node: me, resource: name,
                        message: "\(address) is up here but this node does not hold \(name): removing it",
                        severity: .warning)))
            out.append(.removeAddress(address, resource: name))
        }
    }
}
