import ClusterModel

/// The cluster brain: one pure, deterministic value per node that decides everything.
///
/// Drivers feed it ``Brain/Event``s (facts, each with `now`) and carry out the
/// ``Brain/Directive``s it returns. It never reads a clock, never does I/O and never starts a task.
public enum Brain {}

extension Brain {
    /// Deliberately unsafe behaviour, for tests that prove the invariant checkers can fail.
    /// MUST stay at ``none`` outside such tests.
    public struct InjectedFaults: Hashable, Sendable {
        /// Self-fence this much later than the deadline.
        public var selfFenceDelay: Span
        /// Evict this much earlier than the tolerance allows.
        public var evictEarly: Span
        /// Evict by the settings' tolerance alone, ignoring the longer one a node advertised.
        public var ignoreAdvertisedTolerance: Bool
        /// The shell as it was before issue 9: a failed forced unload counts as stopped, and the
        /// watchdog is petted while a fenced node's forced unload still runs.
        public var stopFailuresIgnored: Bool
        /// The shell as it was before issue 9: the self-fence removes the address of the current
        /// definition, not the one the resource was loaded with (wrong after an edit).
        public var fenceUsesCurrentDefinition: Bool

        public init(
            selfFenceDelay: Span = .zero, evictEarly: Span = .zero, ignoreAdvertisedTolerance: Bool = false,
            stopFailuresIgnored: Bool = false, fenceUsesCurrentDefinition: Bool = false
        ) {
            self.selfFenceDelay = selfFenceDelay
            self.evictEarly = evictEarly
            self.ignoreAdvertisedTolerance = ignoreAdvertisedTolerance
            self.stopFailuresIgnored = stopFailuresIgnored
            self.fenceUsesCurrentDefinition = fenceUsesCurrentDefinition
        }

        public static let none = InjectedFaults()
    }

    /// Fixed facts about the node this brain runs on.
    public struct Configuration: Hashable, Sendable {
        public var node: NodeName
        public var version: String
        public var faults: InjectedFaults
        /// This agent process (random per start), written into the member key.
        public var instance: String?
        /// The instance this node's previous agent wrote in its local record: only its member key
        /// is adopted (an agent restart); another one belongs to a second agent with this name.
        public var previousInstance: String?

        public init(
            node: NodeName, version: String = VigilVersion.current, faults: InjectedFaults = .none,
            instance: String? = nil,
            previousInstance: String? = nil
        ) {
            self.node = node
            self.version = version
            self.faults = faults
            self.instance = instance
            self.previousInstance = previousInstance
        }
    }

    /// Past-tense facts delivered to the brain.
    public enum Event: Hashable, Sendable {
        /// The agent started; `localResources` are held on this node already (their address is up),
        /// each with the definition it was loaded with (the node's local record, else the store's).
        case started(localResources: [ResourceName: ResourceSpec])
        /// The store changed (or was re-read); the whole decoded view at its revision.
        case viewChanged(ClusterView)
        /// The member key was created (or adopted after an agent restart) at `memberRevision`.
        case joined(memberRevision: Revision, sentAt: Moment)
        case joinFailed
        /// The member key exists and belongs to another running agent with this node's name.
        case joinRefused(otherInstance: String)
        /// A heartbeat sent at `sentAt` committed.
        case heartbeatAcknowledged(sentAt: Moment)
        /// The heartbeat's compare failed: this node was evicted.
        case heartbeatRejected
        /// The heartbeat did not reach the store.
        case heartbeatFailed
        /// A fenced status write committed or was refused (fence failed or store unreachable).
        case statusCommitted(ResourceName, generation: UInt64, LocalState)
        case statusRejected(ResourceName, generation: UInt64)
        /// The master's assignment write at `generation` ended. `reached`: the store committed it
        /// or refused it by its compare — either way the store holds something newer than the view
        /// the write was decided on; false: the call failed (the store may or may not have it).
        case assignmentAnswered(ResourceName, generation: UInt64, reached: Bool)
        case scriptFinished(ResourceName, ScriptAction, generation: UInt64, ScriptOutcome)
        case timerFired
        /// The agent's fence thread reached the self-fence deadline before any acknowledgement and
        /// removed the addresses itself (it may be ahead of this brain when the agent is busy).
        case deadlineFenced
        /// The addresses on this node's interfaces now (listed every few seconds).
        case addressesObserved(Set<String>)
        /// A fence (the brain's or the fence thread's) could not remove these addresses; it keeps trying.
        case addressesNotRemoved([String])
        /// SIGTERM: unload local resources, hand them over, leave.
        case shutdownRequested
    }

    /// A script to run, with everything the runner needs.
    public struct ScriptJob: Hashable, Sendable {
        public var resource: ResourceName
        public var action: ScriptAction
        public var generation: UInt64
        public var script: ScriptSpec
        public var variables: [String: String]
        /// Loads only: how long an address still answering elsewhere is waited for (`VIGIL_TAKEOVER_WAIT`).
        public var takeoverWait: Span?
        /// Loads only: how long the duplicate-address probe waits for an answer (`VIGIL_DAD_TIMEOUT`).
        public var duplicateProbe: Span?
        /// Unloads of exclusive resources: the address (as loaded) that must be gone once the script
        /// exits 0. The shell removes it if the script left it up, and reports `.addressStayed` if
        /// it stays: an unload whose `ip` failed under `ignore_error` is not a clean stop.
        public var addressMustBeGone: String?
        /// Loads only: the resource's address, when the holder of the previous generation reported
        /// it verified gone with a clean Offline (`VIGIL_ADDRESS_RELEASED`: no duplicate-address
        /// probe for it; docs/design/0018).
        public var addressReleased: String?
        /// The resource's priority: with many scripts waiting for a slot, higher goes first.
        public var priority: Int

        public init(
            resource: ResourceName, action: ScriptAction, generation: UInt64, script: ScriptSpec,
            variables: [String: String], takeoverWait: Span? = nil, addressMustBeGone: String? = nil,
            addressReleased: String? = nil, priority: Int = 0, duplicateProbe: Span? = nil
        ) {
            self.resource = resource
            self.action = action
            self.generation = generation
            self.script = script
            self.variables = variables
            self.takeoverWait = takeoverWait
            self.addressMustBeGone = addressMustBeGone
            self.addressReleased = addressReleased
            self.priority = priority
            self.duplicateProbe = duplicateProbe
        }
    }

    /// What a self-fence stops: an exclusive resource that may be held here and the address it was
    /// loaded with (not the one an edit since gave it).
    public struct FenceTarget: Hashable, Sendable, CustomStringConvertible {
        public var resource: ResourceName
        public var address: String?

        public init(_ resource: ResourceName, address: String?) {
            self.resource = resource
            self.address = address
        }

        public var description: String { address.map { "\(resource) (\($0))" } ?? resource.rawValue }
    }

    /// Imperatives for the drivers. Every store write named here is fenced as its comment says.
    public enum Directive: Hashable, Sendable {
        /// Create the member key (compare: absent), or adopt it if this node's own key still exists:
        /// written by this instance, by `adopts` (the previous agent on this machine) or by an agent
        /// that wrote no instance.
        case join(MemberRecord, sentAt: Moment, adopts: String?)
        /// Rewrite the member key; compare its create revision with `memberRevision`.
        case sendHeartbeat(MemberRecord, memberRevision: Revision, sentAt: Moment)
        /// Mark the master record resigned; compare its value with `record` (the current term).
        case resignMaster(MasterRecord)
        /// Delete the member key; compare its create revision.
        case leave(NodeName, memberRevision: Revision)
        /// Become master: put `record`; compare the master key's mod revision with `expected` (nil: absent).
        case campaign(MasterRecord, expected: Revision?)
        /// Rewrite the master key; compare its value with `record`.
        case renewMaster(MasterRecord)
        /// Put an assignment; compare the master key's value with `term` and the assignment's mod
        /// revision with `expected` (nil: absent); delete command `consuming` in the same transaction.
        case writeAssignment(ResourceName, Assignment, expected: Revision?, term: MasterRecord, consuming: String?)
        /// Delete a member whose heartbeats stopped; compare its mod revision and the master's value.
        case evictMember(NodeName, modRevision: Revision, term: MasterRecord)
        /// Put the epoch; compare the master's value.
        case writeEpoch(UInt64, term: MasterRecord)
        /// Delete a handled (refused) command; compare the master's value.
        case deleteCommand(String, term: MasterRecord)
        /// Put this node's status of a resource; compare the assignment's mod revision with `fence`.
        case writeStatus(ResourceName, ResourceStatus, fence: Revision)
        case runScript(ScriptJob)
        /// Kill the resources' running and queued scripts and remove their addresses (as loaded) now, without the store.
        case selfFence([FenceTarget])
        /// Remove `address` (the address of `resource`, which this node does not hold) from every
        /// interface; report `.addressesNotRemoved` if it stays.
        case removeAddress(String, resource: ResourceName)
        /// Deliver `.timerFired` at `at` (replaces any earlier request).
        case scheduleTimer(at: Moment)
        /// Append to the cluster event log.
        case record(ClusterEvent)
        /// Pet the hardware watchdog (only issued while the self-fence deadline is in the future).
        case petWatchdog
        /// Reset this node (monitor action `reboot`).
        case reboot
        /// Shutdown finished: every resource handed over and the member key deleted (or unreachable).
        case shutdownComplete
    }
}
