import ClusterModel

extension Brain.Instance {
    /// Resources that may be active here and are exclusive (stopped by a self-fence).
    public var heldExclusive: [ResourceName] {
        local.filter { name, resource in
            resource.phase.mayHold && (resource.spec ?? view?.resources[name])?.mode != .everywhere
        }.keys.sorted()
    }

    /// What a self-fence now would stop: the held exclusive resources with their addresses as loaded.
    public var fenceTargets: [Brain.FenceTarget] {
        heldExclusive.map { fenceTarget($0) }
    }

    func fenceTarget(_ name: ResourceName) -> Brain.FenceTarget {
        let loaded = local[name]?.spec ?? view?.resources[name]
        let spec = configuration.faults.fenceUsesCurrentDefinition ? view?.resources[name] ?? loaded : loaded
        return Brain.FenceTarget(name, address: spec?.virtualAddress)
    }

    /// A resource whose forced stop failed may still be active here: only a reset makes the node safe.
    public var stopFailed: Bool { local.values.contains { $0.stopFailedAtGeneration != nil } }

    /// Exclusive resources whose forced stop is under way: their address is gone, but what else
    /// the unload stops (a mount) may still be active.
    var stopping: Bool { local.values.contains { $0.phase == .unloading(.forced) && $0.spec?.mode != .everywhere } }

    /// Whether the watchdog may be petted at all: not once a forced stop failed, and not while a
    /// fenced node is still stopping (a slow unmount must end in a reset, not on two nodes).
    public var watchdogMayBePetted: Bool {
        configuration.faults.stopFailuresIgnored || (!stopFailed && !(fenced && stopping))
    }

    /// A heartbeat (or the join) sent at `sentAt` committed: membership held at least until then.
    mutating func acknowledge(sentAt: Moment, now: Moment, into out: inout [Brain.Directive]) {
        if lastAckSentAt.map({ sentAt > $0 }) ?? true { lastAckSentAt = sentAt }
        if let pending = pendingTolerance, sentAt >= pending.sentAt {
            appliedTolerance = pending.value
            pendingTolerance = nil
        }
        guard let deadline, deadline > now else { return }
        if fenced {
            fenced = false
            out.append(
                .record(
                    ClusterEvent(
                        kind: .fence, node: me, message: "heartbeat acknowledged: fencing lifted", severity: .warning)))
        }
    }

    /// Pets the watchdog every third of its timeout, only while this node may hold exclusive
    /// resources safely: its deadline is in the future, or it holds none.
    mutating func petWatchdogIfAllowed(now: Moment, into out: inout [Brain.Directive]) {
        guard let timeout = timing.watchdogTimeout, !shutdownDone, watchdogMayBePetted else { return }
        let safe = (!fenced && lastAckSentAt != nil && deadline.map { now < $0 } == true) || heldExclusive.isEmpty
        guard safe, lastPetAt.map({ now - $0 >= Span(milliseconds: timeout.milliseconds / 3) }) ?? true else { return }
        lastPetAt = now
        out.append(.petWatchdog)
    }

    /// The heartbeat was refused, or the view shows this node's member key gone: stop, then join again.
    mutating func evicted(now: Moment, into out: inout [Brain.Directive]) {
        memberRevision = nil
        lastAckSentAt = nil
        out.append(
            .record(
                ClusterEvent(
                    kind: .membership, node: me, message: "evicted from the cluster: stopping exclusive resources",
                    severity: .critical)))
        fence(now: now, into: &out)
    }

    /// Self-fence: kill scripts and remove addresses of every exclusive resource now, then unload them.
    mutating func fence(now: Moment, into out: inout [Brain.Directive]) {
        fenced = true
        let held = heldExclusive
        guard !held.isEmpty else { return }
        out.append(.selfFence(fenceTargets))
        for name in held {
            guard var resource = local[name] else { continue }
            resource.scriptInFlight = nil
            resource.nextMonitorAt = nil
            // The unload of the definition it was loaded with, not of a later edit.
            if let spec = resource.spec ?? view?.resources[name] {
                resource.phase = .unloading(.forced)
                resource.scriptInFlight = .unload
                out.append(.runScript(job(name, spec, .unload, generation: resource.generation)))
            } else {
                resource.phase = .fenced
            }
            local[name] = resource
        }
    }

    mutating func checkDeadline(now: Moment, into out: inout [Brain.Directive]) {
        guard !fenced, let deadline, now >= deadline else { return }
        if heldExclusive.isEmpty && memberRevision == nil { return }
        fenceAtDeadline("stopping exclusive resources", now: now, into: &out)
    }

    /// The self-fence deadline passed (seen by this brain, or by the agent's fence thread): record why, then fence.
    mutating func fenceAtDeadline(_ what: String, now: Moment, into out: inout [Brain.Directive]) {
        out.append(
            .record(
                ClusterEvent(
                    kind: .fence, node: me,
                    message: "self-fence: no heartbeat acknowledged for \(fenceTiming.selfFenceAfter); \(what)")))
        fence(now: now, into: &out)
    }

    mutating func membershipDuties(now: Moment, into out: inout [Brain.Directive]) {
        guard let view else { return }
        if let revision = memberRevision, view.revision >= revision,
            view.members[me]?.createRevision != revision
        {
            evicted(now: now, into: &out)
        }
        if shuttingDown {
            // One heartbeat that says so, at once: the master gives this node nothing new while it
            // hands its resources over (before, a resource it released went back to it when no
            // other preferred node was a member, once per view until it had left).
            if !stoppingAnnounced, let revision = memberRevision {
                stoppingAnnounced = true
                sendHeartbeat(memberRevision: revision, now: now, into: &out)
            }
            return
        }
        let heartbeat = timing.heartbeat
        if memberRevision == nil {
            if joinIssuedAt.map({ now - $0 >= heartbeat * 2 }) ?? true {
                joinIssuedAt = now
                heartbeatCounter += 1
                if appliedTolerance == nil {
                    // Until the join commits, the smaller of the settings and what this node's
                    // previous record (an agent restart) told the master.
                    appliedTolerance = min(timing.tolerance, view.members[me]?.value.tolerance ?? timing.tolerance)
                }
                let advertised = advertiseTolerance(now: now)
                out.append(
                    .join(
                        MemberRecord(
                            node: me, heartbeat: heartbeatCounter, version: configuration.version,
                            tolerance: advertised,
                            instance: configuration.instance, wallMilliseconds: now.wallMilliseconds),
                        sentAt: now, adopts: configuration.previousInstance))
            }
            return
        }
        if lastHeartbeatSentAt.map({ now - $0 >= heartbeat }) ?? true, let revision = memberRevision {
            sendHeartbeat(memberRevision: revision, now: now, into: &out)
            if isMaster, let term = masterTerm { out.append(.renewMaster(term)) }
        }
    }

    mutating func sendHeartbeat(memberRevision revision: Revision, now: Moment, into out: inout [Brain.Directive]) {
        lastHeartbeatSentAt = now
        heartbeatCounter += 1
        let advertised = advertiseTolerance(now: now)
        out.append(
            .sendHeartbeat(
                MemberRecord(
                    node: me, heartbeat: heartbeatCounter, version: configuration.version, tolerance: advertised,
                    instance: configuration.instance, wallMilliseconds: now.wallMilliseconds,
                    stopping: shuttingDown ? true : nil),
                memberRevision: revision, sentAt: now))
    }

    /// The tolerance a heartbeat sent now advertises. A lower tolerance in the settings applies at
    /// once (this node fences sooner: safe); a higher one only once a heartbeat advertising it is
    /// acknowledged, so the master never waits less than this node's deadline allows.
    mutating func advertiseTolerance(now: Moment) -> Span {
        let wanted = timing.tolerance
        let applied = appliedTolerance ?? wanted
        if wanted <= applied {
            appliedTolerance = wanted
            pendingTolerance = nil
            return wanted
        }
        if pendingTolerance?.value != wanted { pendingTolerance = Brain.PendingTolerance(value: wanted, sentAt: now) }
        return wanted
    }

    /// How long the master waits after first seeing `node`'s latest heartbeat before evicting it:
    /// the settings' tolerance or what the node advertised, whichever is longer.
    func evictionTolerance(_ node: NodeName) -> Span {
        if configuration.faults.ignoreAdvertisedTolerance { return timing.tolerance }
        return max(timing.tolerance, view?.members[node]?.value.tolerance ?? .zero)
    }

    mutating func electionDuties(now: Moment, into out: inout [Brain.Directive]) {
        guard let view, memberRevision != nil, !fenced, !shuttingDown, !isMaster else { return }
        let tolerance = timing.tolerance
        let masterExpired: Bool
        if let master = view.master, !master.value.resigned {
            guard master.value.node != me || masterTerm != master.value else { return }
            let sighting = masterSighting ?? Brain.Sighting(revision: master.modRevision, firstSeenAt: now)
            masterExpired =
                master.value.node == me || now - sighting.firstSeenAt >= tolerance
                || masterSilentUntil(master.value.node).map { now >= $0 } == true
        } else {
            masterExpired = true
        }
        guard masterExpired, campaignIssuedAt.map({ now - $0 >= timing.heartbeat }) ?? true else { return }
        campaignIssuedAt = now
        let term = (view.master?.value.term ?? 0) + 1
        out.append(.campaign(MasterRecord(node: me, term: term), expected: view.master?.modRevision))
    }

    /// When the master's node becomes evictable: its latest heartbeat seen a tolerance ago. A
    /// crashed master's node heartbeat and its last renewal of the master record are two writes
    /// that can be seen up to a heartbeat apart; a successor may campaign at the earlier of the two
    /// expiries, so a crashed master that held resources costs no more than any crashed holder.
    /// (Safe at any time: every master write compares the master record it was made under.)
    func masterSilentUntil(_ node: NodeName) -> Moment? {
        memberSightings[node].map { $0.firstSeenAt + evictionTolerance(node) }
    }

    mutating func finishShutdownIfDone(into out: inout [Brain.Directive]) {
        guard shuttingDown, !shutdownDone else { return }
        let busy = local.values.contains { $0.phase.mayHold || $0.scriptInFlight != nil || $0.reportInFlight != nil }
        guard !busy else { return }
        shutdownDone = true
        if isMaster, let term = masterTerm { out.append(.resignMaster(term)) }
        if let revision = memberRevision { out.append(.leave(me, memberRevision: revision)) }
        out.append(.record(ClusterEvent(kind: .membership, node: me, message: "left the cluster")))
        out.append(.shutdownComplete)
    }

    mutating func scheduleNextWakeup(now: Moment, into out: inout [Brain.Directive]) {
        var candidates: [Moment] = []
        let timing = self.timing
        if let last = lastHeartbeatSentAt, memberRevision != nil { candidates.append(last + timing.heartbeat) }
        if memberRevision == nil, let issued = joinIssuedAt { candidates.append(issued + timing.heartbeat * 2) }
        if memberRevision == nil, joinIssuedAt == nil, view != nil, !shuttingDown {
            candidates.append(now + timing.heartbeat)
        }
        if !fenced, let deadline { candidates.append(deadline) }
        if let sighting = masterSighting, !isMaster { candidates.append(sighting.firstSeenAt + timing.tolerance) }
        if !isMaster, let node = view?.master?.value.node, node != me, let silent = masterSilentUntil(node) {
            candidates.append(silent)
        }
        if let issued = campaignIssuedAt { candidates.append(issued + timing.heartbeat) }
        if isMaster {
            for (node, sighting) in memberSightings where node != me {
                candidates.append(sighting.firstSeenAt + evictionTolerance(node) - configuration.faults.evictEarly)
            }
            if !quorumFormed, let since = masterSince, let quorum = view?.settings.quorum {
                candidates.append(since + quorum.timeout)
            }
            let retry = timing.heartbeat * 2
            candidates += pendingAssignments.values.map(decidesAgain)
            candidates += pendingEvictions.values.map { $0.issuedAt + retry }
            if let until = view?.settings.maintenance.untilWallMilliseconds, view?.settings.maintenance.enabled == true
            {
                candidates.append(now + Span(milliseconds: max(1, until - now.wallMilliseconds)))
            }
        }
        for resource in local.values {
            if let next = resource.nextMonitorAt { candidates.append(next) }
        }
        if let timeout = timing.watchdogTimeout, let last = lastPetAt {
            candidates.append(last + Span(milliseconds: timeout.milliseconds / 3))
        }
        let future = candidates.filter { $0 > now }
        guard let next = future.min() else { return }
        if scheduledTimer != next {
            scheduledTimer = next
            out.append(.scheduleTimer(at: next))
        }
    }
}
