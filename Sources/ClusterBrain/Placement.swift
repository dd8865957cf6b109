import ClusterModel

/// The master's placement decisions (NCS order: follows-master, exclusion groups, preferred nodes).
extension Brain.Instance {
    struct Decision {
        var placement: Placement
        var reason: String
        var noFailback: Bool
        var consuming: String? = nil
        /// Its holder failed or was evicted (counted as a failover).
        var failover = false
        /// Of the event that records it: critical when the service is down or waits for an admin.
        var severity: ClusterEvent.Severity = .info
    }

    /// Nodes a resource may run on, in preference order: its preferred list (or every node),
    /// limited to members, without nodes holding a resource of a shared exclusion group.
    func eligibleNodes(
        for name: ResourceName, _ spec: ResourceSpec, excluding excluded: Set<NodeName> = [],
        planned: [ResourceName: Placement]
    ) -> [NodeName] {
        guard let view else { return [] }
        if spec.policies.followsMaster {
            return placeable(me) && !excluded.contains(me) && baseList(spec).contains(me) ? [me] : []
        }
        // The common case, the same for every resource of a placing pass: every member, in cluster order.
        if let members = placingMembers, spec.preferredNodes.isEmpty, spec.exclusionGroups.isEmpty, excluded.isEmpty {
            return members
        }
        // Most resources are in no exclusion group: no scan of every other resource for them (the
        // master places every resource at every view change).
        let busy: Set<NodeName> =
            spec.exclusionGroups.isEmpty
            ? []
            : Set(
                view.resources.compactMap { other, otherSpec -> NodeName? in
                    guard other != name, otherSpec.exclusionGroups.contains(where: spec.exclusionGroups.contains)
                    else { return nil }
                    return (planned[other] ?? view.assignments[other]?.value.placement)?.holder
                })
        return baseList(spec).filter { placeable($0) && !excluded.contains($0) && !busy.contains($0) }
    }

    /// A member that may be given a resource: not one whose agent is stopping.
    func placeable(_ node: NodeName) -> Bool {
        guard let member = view?.members[node] else { return false }
        return member.value.stopping != true
    }

    /// The preferred nodes list, or every defined node in cluster order when it is empty.
    func baseList(_ spec: ResourceSpec) -> [NodeName] {
        spec.preferredNodes.isEmpty ? defaultList : spec.preferredNodes
    }

    /// Every defined node in cluster order (the members by name while no node is defined).
    var defaultList: [NodeName] {
        guard let view else { return [] }
        let ordered = view.orderedNodes
        return ordered.isEmpty ? view.members.keys.sorted() : ordered
    }

    /// Whether `node` still holds the membership the assignment was made for.
    func holderAlive(_ node: NodeName, _ assignment: Assignment) -> Bool {
        guard let member = view?.members[node] else { return false }
        return assignment.memberRevision.map { $0 == member.createRevision } ?? true
    }

    /// The master's step: forget settled writes, form the quorum, evict silent members, bump the
    /// epoch, place the resources.
    mutating func masterDuties(now: Moment, placing: Bool = true, into out: inout [Brain.Directive]) {
        guard let view, let term = masterTerm else { return }
        let maintenance = view.settings.maintenance.isActive(atWall: now.wallMilliseconds)
        forgetSettledWrites(view, now: now)
        formQuorum(view, now: now, into: &out)
        if !maintenance { evictSilentMembers(view, term: term, now: now, into: &out) }
        bumpEpoch(view, term: term, into: &out)
        if placing { placeResources(view, term: term, maintenance: maintenance, now: now, into: &out) }
    }

    /// Forgets writes the view now reflects, or that went unanswered too long (they are issued again).
    mutating func forgetSettledWrites(_ view: ClusterView, now: Moment) {
        let retry = timing.heartbeat * 2
        pendingAssignments = pendingAssignments.filter { name, pending in
            view.assignments[name]?.modRevision == pending.revision && now < decidesAgain(pending)
        }
        pendingEvictions = pendingEvictions.filter { node, pending in
            view.members[node]?.modRevision == pending.revision && now - pending.issuedAt < retry
        }
        pendingCommands = pendingCommands.filter { id, issuedAt in view.commands[id] != nil && now - issuedAt < retry }
    }

    /// When the master decides again for a resource whose pending assignment the view does not show.
    func decidesAgain(_ pending: Brain.PendingWrite) -> Moment {
        pending.expiry(retry: timing.heartbeat * 2, patience: timing.tolerance)
    }

    /// Quorum at cluster start: enough members, or the quorum timeout; a cluster that already placed
    /// resources has formed before.
    mutating func formQuorum(_ view: ClusterView, now: Moment, into out: inout [Brain.Directive]) {
        let settings = view.settings
        if !quorumFormed {
            let placedBefore = view.assignments.values.contains { $0.value.placement != .quorumWait }
            let enough = view.members.count >= settings.quorum.nodeCount
            let waited = masterSince.map { now - $0 >= settings.quorum.timeout } ?? false
            if placedBefore || enough || waited {
                quorumFormed = true
                let why =
                    placedBefore
                    ? "cluster already formed"
                    : enough
                        ? "\(view.members.count) members present, quorum \(settings.quorum.nodeCount)"
                        : "quorum timeout \(settings.quorum.timeout) passed"
                out.append(.record(ClusterEvent(kind: .membership, node: me, message: "quorum reached: \(why)")))
            }
        }

    }

    /// Evicts a member tolerance after first seeing its latest heartbeat, proved by its revision.
    mutating func evictSilentMembers(
        _ view: ClusterView, term: MasterRecord, now: Moment, into out: inout [Brain.Directive]
    ) {
        for (node, sighting) in memberSightings.sorted(by: { $0.key < $1.key }) where node != me {
            guard pendingEvictions[node] == nil, view.members[node] != nil else { continue }
            let waited = now - sighting.firstSeenAt
            let tolerance = evictionTolerance(node)
            if waited >= tolerance - configuration.faults.evictEarly {
                pendingEvictions[node] = Brain.PendingWrite(revision: sighting.revision, issuedAt: now)
                out.append(.evictMember(node, modRevision: sighting.revision, term: term))
                out.append(
                    .record(
                        ClusterEvent(
                            kind: .membership, node: me,
                            message: "evicting \(node): no heartbeat for \(waited) (tolerance \(tolerance))",
                            severity: .critical)))
            }
        }
    }

    /// The epoch: bumped at every membership change this master sees.
    mutating func bumpEpoch(_ view: ClusterView, term: MasterRecord, into out: inout [Brain.Directive]) {
        let members = Set(view.members.keys)
        if let known = knownMembers, known != members {
            let joined = members.subtracting(known).sorted().map(\.rawValue)
            let left = known.subtracting(members).sorted().map(\.rawValue)
            let epoch = max(view.epoch, lastEpochWritten) + 1
            lastEpochWritten = epoch
            out.append(.writeEpoch(epoch, term: term))
            var parts: [String] = []
            if !joined.isEmpty { parts.append("joined: " + joined.joined(separator: ", ")) }
            if !left.isEmpty { parts.append("left: " + left.joined(separator: ", ")) }
            out.append(
                .record(
                    ClusterEvent(
                        kind: .membership, node: me, message: "epoch \(epoch) (\(parts.joined(separator: "; ")))")))
        }
        knownMembers = members
    }

    /// Admin commands first, then the master's own decisions, for each resource in priority order
    /// (then by name); nothing new during maintenance but commands.
    mutating func placeResources(
        _ view: ClusterView, term: MasterRecord, maintenance: Bool, now: Moment, into out: inout [Brain.Directive]
    ) {
        let ordered = view.resources.values.sorted { ($0.priority, $1.name) > ($1.priority, $0.name) }
        placingMembers = defaultList.filter(placeable)
        defer { placingMembers = nil }
        var planned: [ResourceName: Placement] = [:]
        var commandsByResource: [ResourceName: [AdminCommand]] = [:]
        for command in view.commands.values.sorted(by: { $0.id < $1.id }) where pendingCommands[command.id] == nil {
            if view.resources[command.resource] == nil {
                pendingCommands[command.id] = now
                out.append(.deleteCommand(command.id, term: term))
                out.append(
                    .record(
                        ClusterEvent(
                            kind: .admin, node: me, resource: command.resource,
                            message: "refused \(command.user)'s command: no such resource")))
            } else {
                commandsByResource[command.resource, default: []].append(command)
            }
        }
        for spec in ordered {
            let name = spec.name
            guard pendingAssignments[name] == nil else { continue }
            let current = view.assignments[name]
            var decision: Decision?
            if let command = commandsByResource[name]?.first {
                pendingCommands[command.id] = now
                switch applyCommand(command, spec, current?.value, planned: planned) {
                case .success(var accepted):
                    accepted.consuming = command.id
                    decision = accepted
                case .failure(let refusal):
                    out.append(.deleteCommand(command.id, term: term))
                    out.append(
                        .record(
                            ClusterEvent(
                                kind: .admin, node: me, resource: name,
                                message: "refused \(command.user)'s '\(command.verb)': \(refusal.reason)")))
                }
            } else if !maintenance {
                decision = decide(name, spec, current?.value, planned: planned)
            }
            guard let decision else { continue }
            var assignment = Assignment(
                generation: (current?.value.generation ?? 0) + 1, placement: decision.placement,
                memberRevision: nil, reason: decision.reason, noFailback: decision.noFailback,
                failover: decision.failover)
            if let holder = decision.placement.holder {
                if let current = current?.value, current.placement.holder == holder, holderAlive(holder, current) {
                    assignment.memberRevision = current.memberRevision ?? view.members[holder]?.createRevision
                } else {
                    assignment.memberRevision = view.members[holder]?.createRevision
                }
            }
            planned[name] = decision.placement
            pendingAssignments[name] = Brain.PendingWrite(
                revision: current?.modRevision, issuedAt: now, generation: assignment.generation)
            out.append(
                .writeAssignment(
                    name, assignment, expected: current?.modRevision, term: term, consuming: decision.consuming))
            out.append(
                .record(
                    ClusterEvent(
                        kind: .assignment, node: me, resource: name,
                        message: "\(decision.placement) generation \(assignment.generation): \(decision.reason)",
                        severity: decision.severity)))
        }
    }

    /// What the master does for a resource on its own (no admin command), or nil to leave it.
    func decide(_ name: ResourceName, _ spec: ResourceSpec, _ current: Assignment?, planned: [ResourceName: Placement])
        -> Decision?
    {
        guard let view else { return nil }
        let eligible = eligibleNodes(for: name, spec, planned: planned)
        let best = eligible.first
        let placement = current?.placement
        switch placement {
        case nil, .quorumWait?:
            guard quorumFormed || spec.policies.ignoreQuorum else {
                return placement == nil
                    ? Decision(placement: .quorumWait, reason: "waiting for quorum", noFailback: false) : nil
            }
            if spec.policies.startMode == .manual {
                return Decision(
                    placement: .alert(.start, on: nil, proposed: spec.mode == .everywhere ? nil : best),
                    reason: "start mode MANUAL", noFailback: false)
            }
            if spec.mode == .everywhere {
                return Decision(
                    placement: .everywhere, reason: "start mode AUTO: every eligible node", noFailback: false)
            }
            guard let best else {
                return placement == .unassigned
                    ? nil : Decision(placement: .unassigned, reason: "no preferred node is a member", noFailback: false)
            }
            return Decision(placement: .node(best), reason: "start mode AUTO: most preferred member", noFailback: false)
        case .unassigned?:
            guard let best else { return nil }
            return Decision(placement: .node(best), reason: "preferred node \(best) is a member", noFailback: false)
        case .offline?, .everywhere?, .comatose?:
            return nil
        case .alert(let kind, let on, let proposed)?:
            // A failback alert whose holder died becomes a failover.
            if kind == .failback, let on, let current, !holderAlive(on, current) {
                return failover(from: on, spec, eligible: eligible)
            }
            // A start or failover alert whose proposal is gone gets a new proposal.
            if kind != .failback, spec.mode == .exclusive, proposed.map({ !eligible.contains($0) }) ?? (best != nil),
                proposed != best
            {
                return Decision(
                    placement: .alert(kind, on: nil, proposed: best), reason: "proposed node changed", noFailback: false
                )
            }
            return nil
        case .node(let holder)?:
            guard let current else { return nil }
            guard holderAlive(holder, current) else {
                let status = view.status(of: name, on: holder)?.value
                let left = status?.generation == current.generation && status?.state == .offline
                return failover(from: holder, spec, eligible: eligible, left: left)
            }
            if let status = view.status(of: name, on: holder)?.value, status.generation == current.generation {
                if status.state == .comatose {
                    return Decision(
                        placement: .comatose(holder),
                        reason:
                            "\(status.lastAction?.rawValue ?? "script") failed on \(holder): \(status.lastOutcome?.description ?? "")",
                        noFailback: true, severity: .critical)
                }
                if status.state == .offline {
                    let others = eligibleNodes(for: name, spec, excluding: [holder], planned: planned)
                    let next = nextAfter(holder, spec, among: others)
                    if let why = status.moveAway, let next {
                        let text = why == .monitor ? "monitor action migrate" : "its agent is stopping"
                        return Decision(
                            placement: .node(next), reason: "\(holder) released it (\(text)): next preferred node",
                            noFailback: why == .monitor)
                    }
                    return Decision(
                        placement: others.first.map(Placement.node) ?? .unassigned, reason: "\(holder) released it",
                        noFailback: false)
                }
            }
            if spec.policies.followsMaster, holder != me, eligible.contains(me) {
                return Decision(
                    placement: .migrating(from: holder, to: me), reason: "follows the master (\(me))", noFailback: true)
            }
            if !baseList(spec).contains(holder), let best {
                return Decision(
                    placement: .migrating(from: holder, to: best), reason: "\(holder) is no longer a preferred node",
                    noFailback: false)
            }
            if !current.noFailback, spec.policies.failbackMode != .disable, let first = baseList(spec).first,
                first != holder, eligible.contains(first),
                view.status(of: name, on: holder)?.value.state == .running
            {
                if spec.policies.failbackMode == .auto {
                    return Decision(
                        placement: .migrating(from: holder, to: first),
                        reason: "failback AUTO to first preferred node \(first)", noFailback: false)
                }
                return Decision(
                    placement: .alert(.failback, on: holder, proposed: first),
                    reason: "failback MANUAL: \(first) is back", noFailback: false)
            }
            return nil
        case .migrating(let from, let to)?:
            guard let current else { return nil }
            let status = view.status(of: name, on: from)?.value
            if holderAlive(from, current), status?.generation == current.generation, status?.state == .comatose {
                return Decision(
                    placement: .comatose(from), reason: "unload failed on \(from)", noFailback: true,
                    severity: .critical)
            }
            let released =
                !holderAlive(from, current) || (status?.generation == current.generation && status?.state == .offline)
            guard released else { return nil }
            if let to, eligible.contains(to) {
                return Decision(placement: .node(to), reason: "migrated from \(from)", noFailback: current.noFailback)
            }
            return Decision(
                placement: best.map(Placement.node) ?? .unassigned, reason: "migrated from \(from); target unavailable",
                noFailback: current.noFailback)
        case .stopping(let holder)?:
            guard let current else { return nil }
            let status = view.status(of: name, on: holder)?.value
            if !holderAlive(holder, current) {
                return Decision(placement: .offline, reason: "\(holder) left while stopping", noFailback: false)
            }
            guard status?.generation == current.generation else { return nil }
            if status?.state == .offline {
                return Decision(placement: .offline, reason: "unloaded on \(holder)", noFailback: false)
            }
            if status?.state == .comatose {
                return Decision(
                    placement: .comatose(holder), reason: "unload failed on \(holder)", noFailback: true,
                    severity: .critical)
            }
            return nil
        }
    }

    func failover(from holder: NodeName, _ spec: ResourceSpec, eligible: [NodeName], left: Bool = false) -> Decision {
        let gone = left ? "left the cluster" : "failed"
        let members = baseList(spec).filter { placeable($0) && $0 != holder }
        if eligible.isEmpty, !members.isEmpty {
            let names = members.map(\.rawValue).joined(separator: ", ")
            return Decision(
                placement: .unassigned, reason: "\(holder) \(gone); \(names) excluded by exclusion groups",
                noFailback: false, severity: .critical)
        }
        if spec.policies.failoverMode == .manual {
            return Decision(
                placement: .alert(.failover, on: nil, proposed: eligible.first),
                reason: "\(holder) \(gone); failover mode MANUAL", noFailback: false, failover: true,
                severity: .critical)
        }
        guard let best = eligible.first else {
            return Decision(
                placement: .unassigned, reason: "\(holder) \(gone); no preferred node is a member", noFailback: false,
                severity: .critical)
        }
        return Decision(
            placement: .node(best), reason: "\(holder) \(gone): failover AUTO to most preferred member",
            noFailback: false, failover: true, severity: .critical)
    }

    /// The next node after `node` in the preferred list (wrapping around) that is among `candidates`.
    func nextAfter(_ node: NodeName, _ spec: ResourceSpec, among candidates: [NodeName]) -> NodeName? {
        let list = baseList(spec)
        guard let index = list.firstIndex(of: node) else { return candidates.first }
        let rotated = list[(index + 1)...] + list[..<index]
        return rotated.first { candidates.contains($0) }
    }

    struct Refusal: Error { var reason: String }

    /// An admin command against the current assignment.
    func applyCommand(
        _ command: AdminCommand, _ spec: ResourceSpec, _ current: Assignment?, planned: [ResourceName: Placement]
    ) -> Result<Decision, Refusal> {
        let name = spec.name
        let placement = current?.placement ?? .offline
        let eligible = eligibleNodes(for: name, spec, planned: planned)
        let who = command.user
        func alive(_ node: NodeName) -> Bool { current.map { holderAlive(node, $0) } ?? false }
        switch command.verb {
        case .online(let node):
            switch placement {
            case .offline, .unassigned, .quorumWait, .alert(.start, _, _), .alert(.failover, _, _):
                if spec.mode == .everywhere {
                    return .success(Decision(placement: .everywhere, reason: "online by \(who)", noFailback: false))
                }
                if let node {
                    guard eligible.contains(node) else {
                        return .failure(
                            Refusal(
                                reason:
                                    "\(node) is not an eligible member (preferred: \(baseList(spec).map(\.rawValue).joined(separator: ", ")))"
                            ))
                    }
                    return .success(
                        Decision(placement: .node(node), reason: "online on \(node) by \(who)", noFailback: true))
                }
                guard let best = eligible.first else { return .failure(Refusal(reason: "no eligible member")) }
                return .success(
                    Decision(
                        placement: .node(best), reason: "online by \(who): most preferred member", noFailback: false))
            case .node(let holder):
                guard let node, node != holder else { return .failure(Refusal(reason: "already running on \(holder)")) }
                guard eligible.contains(node) else {
                    return .failure(Refusal(reason: "\(node) is not an eligible member"))
                }
                return .success(
                    Decision(
                        placement: .migrating(from: holder, to: node), reason: "online on \(node) by \(who)",
                        noFailback: true))
            case .comatose(let holder):
                return .failure(Refusal(reason: "comatose on \(holder): take it offline first"))
            case .everywhere:
                return .failure(Refusal(reason: "already online everywhere"))
            case .migrating, .stopping, .alert(.failback, _, _):
                return .failure(Refusal(reason: "busy (\(placement)); try again when it settles"))
            }
        case .offline:
            switch placement {
            case .node(let holder), .migrating(let holder, _), .alert(.failback, let holder?, _), .comatose(let holder):
                if alive(holder) {
                    return .success(
                        Decision(placement: .stopping(holder), reason: "offline by \(who)", noFailback: false))
                }
                return .success(Decision(placement: .offline, reason: "offline by \(who)", noFailback: false))
            case .stopping:
                return .failure(Refusal(reason: "already being taken offline"))
            case .offline:
                return .failure(Refusal(reason: "already offline"))
            case .everywhere, .unassigned, .quorumWait, .alert:
                return .success(Decision(placement: .offline, reason: "offline by \(who)", noFailback: false))
            }
        case .migrate(let target):
            guard case .node(let holder) = placement else {
                return .failure(
                    Refusal(reason: "only a running exclusive resource can migrate (it is \(placement.stateName))"))
            }
            let others = eligible.filter { $0 != holder }
            let chosen: NodeName?
            switch target {
            case .node(let node):
                guard node != holder else { return .failure(Refusal(reason: "already running on \(node)")) }
                guard others.contains(node) else {
                    return .failure(Refusal(reason: "\(node) is not an eligible member"))
                }
                chosen = node
            case .most:
                guard eligible.first != holder else {
                    return .failure(Refusal(reason: "already on the most preferred member \(holder)"))
                }
                chosen = eligible.first
            case .next:
                chosen = nextAfter(holder, spec, among: others)
            }
            guard let chosen else { return .failure(Refusal(reason: "no other eligible member")) }
            return .success(
                Decision(placement: .migrating(from: holder, to: chosen), reason: "migrate by \(who)", noFailback: true)
            )
        case .alert(let answer):
            guard case .alert(let kind, let on, let proposed) = placement else {
                return .failure(Refusal(reason: "no alert is pending (it is \(placement.stateName))"))
            }
            switch (kind, answer) {
            case (.start, true), (.failover, true):
                if spec.mode == .everywhere {
                    return .success(
                        Decision(
                            placement: .everywhere, reason: "\(kind.rawValue) alert answered yes by \(who)",
                            noFailback: false))
                }
                let target = proposed.flatMap { eligible.contains($0) ? $0 : nil } ?? eligible.first
                guard let target else { return .failure(Refusal(reason: "no eligible member")) }
                return .success(
                    Decision(
                        placement: .node(target), reason: "\(kind.rawValue) alert answered yes by \(who)",
                        noFailback: false))
            case (.start, false), (.failover, false):
                return .success(
                    Decision(
                        placement: .offline, reason: "\(kind.rawValue) alert answered no by \(who)", noFailback: false))
            case (.failback, true):
                guard let on, let proposed, eligible.contains(proposed) else {
                    return .failure(Refusal(reason: "the failback target is not an eligible member"))
                }
                return .success(
                    Decision(
                        placement: .migrating(from: on, to: proposed), reason: "failback alert answered yes by \(who)",
                        noFailback: false))
            case (.failback, false):
                guard let on else { return .failure(Refusal(reason: "no holder")) }
                return .success(
                    Decision(
                        placement: .node(on), reason: "failback alert answered no by \(who): stays on \(on)",
                        noFailback: true))
            }
        }
    }
}
