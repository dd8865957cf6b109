import ClusterBrain
import ClusterModel
import CoordinationStore

/// How each store-writing directive of the brain becomes one fenced transaction, and how the
/// transaction's result becomes the brain's next event. Shared by the agent and the simulation,
/// so the fencing the simulation checks is the fencing the agent does.
public struct DirectiveTransactions: Sendable {
    public let layout: KeyLayout

    public init(layout: KeyLayout) { self.layout = layout }

    /// The transaction for `directive`, or nil if it does not write to the store.
    public func transaction(for directive: Brain.Directive) -> Transaction? {
        switch directive {
        case .join(let record, _, _):
            let key = layout.member(record.node)
            return Transaction(
                compare: [.absent(key)], success: [.put(key: key, value: ModelCodec.encode(record))],
                failure: [.get(key: key)])
        case .sendHeartbeat(let record, let revision, _):
            let key = layout.member(record.node)
            return Transaction(
                compare: [Compare(key: key, .createRevision(revision))],
                success: [.put(key: key, value: ModelCodec.encode(record))])
        case .resignMaster(let record):
            var resigned = record
            resigned.resigned = true
            return Transaction(
                compare: [masterCompare(record)],
                success: [.put(key: layout.master, value: ModelCodec.encode(resigned))])
        case .leave(let node, let revision):
            return Transaction(
                compare: [Compare(key: layout.member(node), .createRevision(revision))],
                success: [.delete(key: layout.member(node))])
        case .campaign(let record, let expected):
            let compare =
                expected.map { Compare(key: layout.master, .modRevision($0)) } ?? .absent(layout.master)
            return Transaction(
                compare: [compare], success: [.put(key: layout.master, value: ModelCodec.encode(record))])
        case .renewMaster(let record):
            return Transaction(
                compare: [masterCompare(record)],
                success: [.put(key: layout.master, value: ModelCodec.encode(record))])
        case .writeAssignment(let resource, let assignment, let expected, let term, let consuming):
            let key = layout.assignment(resource)
            let compare = [masterCompare(term), expected.map { Compare(key: key, .modRevision($0)) } ?? .absent(key)]
            var success: [StoreOperation] = [.put(key: key, value: ModelCodec.encode(assignment))]
            if let consuming { success.append(.delete(key: layout.command(consuming))) }
            return Transaction(compare: compare, success: success)
        case .evictMember(let node, let modRevision, let term):
            let key = layout.member(node)
            return Transaction(
                compare: [masterCompare(term), Compare(key: key, .modRevision(modRevision))],
                success: [.delete(key: key)])
        case .writeEpoch(let epoch, let term):
            return Transaction(
                compare: [masterCompare(term)],
                success: [.put(key: layout.epoch, value: ModelCodec.encode(KeyLayout.EpochRecord(epoch: epoch)))])
        case .deleteCommand(let id, let term):
            return Transaction(compare: [masterCompare(term)], success: [.delete(key: layout.command(id))])
        case .writeStatus(let resource, let status, let fence):
            return Transaction(
                compare: [Compare(key: layout.assignment(resource), .modRevision(fence))],
                success: [.put(key: layout.status(resource, node: status.node), value: ModelCodec.encode(status))])
        case .runScript, .selfFence, .removeAddress, .scheduleTimer, .record, .petWatchdog, .reboot, .shutdownComplete:
            return nil
        }
    }

    /// The second step of a join whose create found the key: adopt it if it is this node's own.
    public func adoption(of existing: KeyValue, record: MemberRecord) -> Transaction {
        Transaction(
            compare: [Compare(key: existing.key, .createRevision(existing.createRevision))],
            success: [.put(key: existing.key, value: ModelCodec.encode(record))])
    }

    /// The event that tells the brain how a store-writing directive ended.
    ///
    /// Joins go through ``joinEvent(first:adoption:sentAt:)`` instead.
    /// - Parameter result: the transaction's result, or nil if the store could not be reached.
    /// - Returns: nil for directives whose outcome the brain learns from the view.
    public func event(for directive: Brain.Directive, result: TransactionResult?) -> Brain.Event? {
        switch directive {
        case .sendHeartbeat(_, _, let sentAt):
            guard let result else { return .heartbeatFailed }
            return result.succeeded ? .heartbeatAcknowledged(sentAt: sentAt) : .heartbeatRejected
        case .writeStatus(let resource, let status, _):
            guard let result, result.succeeded else { return .statusRejected(resource, generation: status.generation) }
            return .statusCommitted(resource, generation: status.generation, status.state)
        case .writeAssignment(let resource, let assignment, _, _, _):
            return .assignmentAnswered(resource, generation: assignment.generation, reached: result != nil)
        default:
            return nil
        }
    }

    private func masterCompare(_ record: MasterRecord) -> Compare {
        Compare(key: layout.master, .value(ModelCodec.encode(record)))
    }

}

/// How the first step of a join ended.
public enum JoinOutcome: Hashable, Sendable {
    /// The member key was created at this revision.
    case joined(Revision)
    /// The key exists (this node's own, from before an agent restart): adopt it with ``DirectiveTransactions/adoption(of:record:)``.
    case adopt(KeyValue)
    /// The key exists and belongs to another running agent with the same node name.
    case inUse(instance: String)
    case failed
}

extension DirectiveTransactions {
    /// Classifies the result of the join transaction of `directive`: a key found is adopted only if
    /// this instance, the one the join `adopts`, or an agent without an instance wrote it.
    public func joinOutcome(_ result: TransactionResult?, of directive: Brain.Directive) -> JoinOutcome {
        guard let result, case .join(let record, _, let adopts) = directive else { return .failed }
        if result.succeeded { return .joined(result.revision) }
        guard let existing = result.gets.first ?? nil else { return .failed }
        let owner = (try? ModelCodec.decode(MemberRecord.self, from: existing.value))?.instance
        guard let owner, owner != record.instance, owner != adopts else { return .adopt(existing) }
        return .inUse(instance: owner)
    }

    /// The brain's event for `directive` (a join): the create's result, and the adoption's if one was needed.
    public func joinEvent(
        _ directive: Brain.Directive, first: TransactionResult?, adoption: TransactionResult?
    ) -> Brain.Event {
        guard case .join(_, let sentAt, _) = directive else { return .joinFailed }
        switch joinOutcome(first, of: directive) {
        case .joined(let revision):
            return .joined(memberRevision: revision, sentAt: sentAt)
        case .adopt(let existing):
            guard let adoption, adoption.succeeded else { return .joinFailed }
            return .joined(memberRevision: existing.createRevision, sentAt: sentAt)
        case .inUse(let other):
            return .joinRefused(otherInstance: other)
        case .failed:
            return .joinFailed
        }
    }
}
