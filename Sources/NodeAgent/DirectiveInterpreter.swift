import ClusterBrain
import ClusterModel
import CoordinationStore

/// What each brain directive asks of a shell, decided once for the agent and the simulation: which
/// store write on which lane, which script, which addresses, and which event each result becomes.
///
/// The shells only carry the effects out — the agent with etcd, bash, `ip` and a watchdog device,
/// the simulation with fakes on a manual clock — so the random runs exercise the same mapping the
/// agent runs (docs/design/0014-one-directive-interpreter.md).
public struct DirectiveInterpreter: Sendable {
    public let transactions: DirectiveTransactions

    public init(layout: KeyLayout) {
        self.transactions = DirectiveTransactions(layout: layout)
    }

    /// Where a store write runs.
    public enum Lane: Hashable, Sendable {
        /// Alongside the brain: its result comes back as an event, whenever it arrives.
        case background
        /// On the fence thread, which repeats it on its own if the brain falls behind (heartbeats,
        /// master renewals): never queued behind anything else.
        case fenceThread
        /// The last writes before the agent stops (leave, resign): awaited, so stopping cannot
        /// cancel them; the fence thread stops keeping the membership or mastership first.
        case beforeStopping(ends: Ending)
    }

    /// What a write before stopping gives up.
    public enum Ending: Hashable, Sendable {
        case membership, mastership
    }

    /// One effect for a shell to carry out.
    public enum Effect: Sendable {
        /// Create the member key, or adopt it: run the transaction, then ``joinStep(_:of:)`` says
        /// whether an adoption follows; ``joinEvent(_:first:adoption:)`` is the brain's event. The
        /// fence thread forgets any earlier membership first.
        case join(Transaction)
        /// A store write; ``event(after:result:)`` is the brain's event for its result.
        case write(Transaction, lane: Lane)
        /// Run the script; ``scriptFinished(_:outcome:addressStillUp:)`` is the brain's event.
        case runScript(Brain.ScriptJob)
        /// Kill the resources' scripts (running and queued), remove the addresses as loaded.
        case fence([Brain.FenceTarget])
        /// Remove these addresses; ``removalEvent(left:)`` for what stayed.
        case removeAddresses([String])
        /// Deliver `.timerFired` at this moment, cancelling the timer asked for before.
        case replaceTimer(Moment)
        case record(ClusterEvent)
        case petWatchdog
        case reboot
        /// The agent is done: every resource handed over, the member key deleted.
        case finished
    }

    /// The effect `directive` asks for.
    public func effect(of directive: Brain.Directive) -> Effect {
        switch directive {
        case .join:
            return .join(transactions.transaction(for: directive)!)
        case .sendHeartbeat, .renewMaster:
            return .write(transactions.transaction(for: directive)!, lane: .fenceThread)
        case .leave:
            return .write(transactions.transaction(for: directive)!, lane: .beforeStopping(ends: .membership))
        case .resignMaster:
            return .write(transactions.transaction(for: directive)!, lane: .beforeStopping(ends: .mastership))
        case .campaign, .writeAssignment, .evictMember, .writeEpoch, .deleteCommand, .writeStatus:
            return .write(transactions.transaction(for: directive)!, lane: .background)
        case .runScript(let job):
            return .runScript(job)
        case .selfFence(let targets):
            return .fence(targets)
        case .removeAddress(let address, _):
            return .removeAddresses([address])
        case .scheduleTimer(let at):
            return .replaceTimer(at)
        case .record(let event):
            return .record(event)
        case .petWatchdog:
            return .petWatchdog
        case .reboot:
            return .reboot
        case .shutdownComplete:
            return .finished
        }
    }

    /// The brain's event for the result of a write (nil: the store could not be reached); nil for
    /// writes whose outcome the brain learns from its view.
    public func event(after directive: Brain.Directive, result: TransactionResult?) -> Brain.Event? {
        transactions.event(for: directive, result: result)
    }

    /// After a join's first transaction: the adoption to run next, if the key found may be adopted.
    public func joinStep(_ first: TransactionResult?, of directive: Brain.Directive) -> JoinStep {
        switch transactions.joinOutcome(first, of: directive) {
        case .adopt(let existing):
            guard case .join(let record, _, _) = directive else { return .done }
            return .adopt(transactions.adoption(of: existing, record: record))
        case .inUse(let other):
            return .refused(otherInstance: other)
        case .joined, .failed:
            return .done
        }
    }

    /// What follows a join's first transaction.
    public enum JoinStep: Sendable {
        case done
        /// Run this adoption, then report ``joinEvent(_:first:adoption:)``.
        case adopt(Transaction)
        /// Another running agent uses this node name.
        case refused(otherInstance: String)
    }

    /// The brain's event for a join: the first transaction's result and the adoption's, if one ran.
    public func joinEvent(_ directive: Brain.Directive, first: TransactionResult?, adoption: TransactionResult?)
        -> Brain.Event
    {
        transactions.joinEvent(directive, first: first, adoption: adoption)
    }

    /// The brain's event for a finished script. An unload that exited 0 while the address it must
    /// leave gone (``Brain/ScriptJob/addressMustBeGone``) is still up did not stop its resource.
    /// - Parameter addressStillUp: whether that address was still up after the shell tried to
    ///   remove it (ask only after a successful unload that names one: ``mustCheckAddress(_:outcome:)``).
    public func scriptFinished(_ job: Brain.ScriptJob, outcome: ScriptOutcome, addressStillUp: Bool = false)
        -> Brain.Event
    {
        let reported = mustCheckAddress(job, outcome: outcome) != nil && addressStillUp ? .addressStayed : outcome
        return .scriptFinished(job.resource, job.action, generation: job.generation, reported)
    }

    /// The address a shell must remove (if the script left it up) before reporting `outcome`.
    public func mustCheckAddress(_ job: Brain.ScriptJob, outcome: ScriptOutcome) -> String? {
        outcome.succeeded ? job.addressMustBeGone : nil
    }

    /// The brain's event for addresses a removal left up, if any.
    public func removalEvent(left: [String]) -> Brain.Event? {
        left.isEmpty ? nil : .addressesNotRemoved(left)
    }
}
