import ClusterBrain
import ClusterModel
import Foundation
import Logging
import NIOConcurrencyHelpers
import Subprocess
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Runs load, unload and monitor scripts: bash, as root, from root-owned files written from the
/// store, in a session of their own, with a timeout (SIGTERM to the whole group, SIGKILL 5 s later),
/// output to `<logDirectory>/<resource>.<action>.out`.
public final class ScriptRunner: Sendable {
    public struct Settings: Sendable {
        public var node: NodeName
        public var cluster: String
        /// Where script files are written (created root-only, 0700).
        public var scriptDirectory: String
        public var logDirectory: String
        /// The function library scripts source as `$VIGIL_FUNCS`.
        public var functionLibrary: String
        public var bash: String = "/bin/bash"
        /// Output kept per script file before it is rotated to `.out.1`.
        public var maximumOutputBytes: Int = 1 << 20
        /// Scripts running at once on this node (each resource's own scripts always run one at a time).
        public var parallelScripts: Int = 8

        public init(
            node: NodeName, cluster: String, scriptDirectory: String, logDirectory: String, functionLibrary: String
        ) {
            self.node = node
            self.cluster = cluster
            self.scriptDirectory = scriptDirectory
            self.logDirectory = logDirectory
            self.functionLibrary = functionLibrary
        }
    }

    public let settings: Settings
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let slots: Slots

    struct State {
        /// Process group leaders of running scripts, per resource (for a self-fence kill).
        var running: [ResourceName: pid_t] = [:]
        /// Process group leaders this runner killed itself: only their SIGKILL is `.killed`; any other
        /// (the OOM killer, an admin's `kill -9`) is a failure, so the resource does not stay loading.
        var killedByVigil: Set<pid_t> = []
        /// How many times each resource's scripts were killed: a job whose ticket predates a kill
        /// never starts (a load queued for a slot must not add its address back after a fence).
        var kills: [ResourceName: UInt64] = [:]

        /// Whether `resource` was killed since `ticket` was taken.
        func cancelled(_ resource: ResourceName, _ ticket: Ticket) -> Bool {
            (kills[resource] ?? 0) != ticket.kills
        }
    }

    /// Taken when the brain asks for a script, before it waits for a slot: the script runs only if
    /// no kill of its resource came in between.
    public struct Ticket: Sendable {
        let kills: UInt64
    }

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.slots = Slots(count: max(1, settings.parallelScripts))
    }

    /// A counting semaphore: at most `count` scripts at once. Waiters go in order of their rank
    /// (higher first), in arrival order within a rank: during a failover of many resources the
    /// loads and unloads of the most important resources start first, and monitors wait behind them.
    actor Slots {
        private var available: Int
        private var waiting: [(rank: Rank, arrival: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        private var arrivals: UInt64 = 0

        init(count: Int) { available = count }

        /// Scripts waiting for a slot.
        var queued: Int { waiting.count }

        func acquire(rank: Rank) async {
            if available > 0 {
                available -= 1
                return
            }
            arrivals += 1
            let arrival = arrivals
            await withCheckedContinuation { continuation in
                waiting.append((rank, arrival, continuation))
            }
        }

        func release() {
            // Highest rank; within a rank, the earliest arrival.
            guard
                let next = waiting.indices.max(by: {
                    (waiting[$0].rank, waiting[$1].arrival) < (waiting[$1].rank, waiting[$0].arrival)
                })
            else {
                available += 1
                return
            }
            waiting.remove(at: next).continuation.resume()
        }
    }

    /// A script's place in the queue for a slot: loads and unloads before monitors, then by the
    /// resource's priority.
    struct Rank: Comparable {
        var acting: Bool
        var priority: Int

        init(_ job: Brain.ScriptJob) {
            self.init(acting: job.action != .monitor, priority: job.priority)
        }

        init(acting: Bool, priority: Int) {
            self.acting = acting
            self.priority = priority
        }

        static func < (lhs: Rank, rhs: Rank) -> Bool {
            (lhs.acting ? 1 : 0, lhs.priority) < (rhs.acting ? 1 : 0, rhs.priority)
        }
    }

    /// Writes a script file: refuses a directory that is not root-owned or is writable by others.
    func write(_ job: Brain.ScriptJob) throws -> String {
        let directory = settings.scriptDirectory
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        guard stat(directory, &info) == 0 else { throw ScriptError(reason: "cannot stat \(directory)") }
        guard info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            throw ScriptError(
                reason: "script directory \(directory) must be owned by root and not writable by group or others")
        }
        let path = "\(directory)/\(job.resource).\(job.action.rawValue)"
        let text = job.script.body.hasPrefix("#!") ? job.script.body : "#!/bin/bash\n" + job.script.body
        try Data((text.hasSuffix("\n") ? text : text + "\n").utf8).write(
            to: URL(fileURLWithPath: path), options: .atomic)
        chmod(path, 0o700)
        return path
    }

    struct ScriptError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// A ticket for a script of `resource`, to take when the brain asks for it.
    public func ticket(for resource: ResourceName) -> Ticket {
        Ticket(kills: state.withLockedValue { $0.kills[resource] ?? 0 })
    }

    /// Runs `job` to its end (or its timeout); never throws: a failure to start is a failed script.
    /// - Parameter ticket: taken when the brain asked for the job; `.killed` without running if
    ///   the resource's scripts were killed since.
    public func run(_ job: Brain.ScriptJob, ticket: Ticket) async -> ScriptOutcome {
        await slots.acquire(rank: Rank(job))
        let outcome = await runNow(job, ticket: ticket)
        await slots.release()
        return outcome
    }

    /// Runs `job` with a ticket taken now.
    public func run(_ job: Brain.ScriptJob) async -> ScriptOutcome {
        await run(job, ticket: ticket(for: job.resource))
    }

    private func runNow(_ job: Brain.ScriptJob, ticket: Ticket) async -> ScriptOutcome {
        if state.withLockedValue({ $0.cancelled(job.resource, ticket) }) {
            logger.notice(
                "script not started: its resource was fenced while it waited",
                metadata: ["vigil.resource": "\(job.resource)", "vigil.action": "\(job.action.rawValue)"])
            return .killed
        }
        let started = ContinuousClock.now
        var metadata: Logger.Metadata = [
            "vigil.resource": "\(job.resource)", "vigil.action": "\(job.action.rawValue)",
            "vigil.generation": "\(job.generation)",
        ]
        let outcome: ScriptOutcome
        do {
            let path = try write(job)
            outcome = try await execute(job, path: path, ticket: ticket)
        } catch {
            logger.error("script could not run", metadata: metadata.merging(["vigil.error": "\(error)"]) { $1 })
            return .failure(exitCode: 126)
        }
        metadata["vigil.outcome"] = "\(outcome)"
        metadata["vigil.seconds"] = "\(ContinuousClock.now - started)"
        if outcome.succeeded || job.action == .monitor && outcome != .timedOut {
            logger.info("script finished", metadata: metadata)
        } else {
            logger.error("script failed", metadata: metadata)
        }
        return outcome
    }

    private func execute(_ job: Brain.ScriptJob, path: String, ticket: Ticket) async throws -> ScriptOutcome {
        try FileManager.default.createDirectory(atPath: settings.logDirectory, withIntermediateDirectories: true)
        let outputPath = "\(settings.logDirectory)/\(job.resource).\(job.action.rawValue).out"
        rotate(outputPath)
        let output = try FileDescriptor.open(
            FilePath(outputPath), .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite])
        // Milliseconds, as the function library's own lines have them: what a slow failover spent
        // before the script's first line (spawn, bash, sourcing) shows.
        let header =
            "==== \(Date().formatted(Self.headerTime)) \(job.action.rawValue) generation \(job.generation) on \(settings.node)\n"
        _ = try? output.writeAll(Array(header.utf8))
        var environment: [Environment.Key: String?] = [
            "VIGIL_RESOURCE": job.resource.rawValue, "VIGIL_NODE": settings.node.rawValue,
            "VIGIL_ACTION": job.action.rawValue, "VIGIL_GENERATION": String(job.generation),
            "VIGIL_CLUSTER": settings.cluster, "VIGIL_FUNCS": settings.functionLibrary,
        ]
        for (name, value) in job.variables { environment[Environment.Key(stringLiteral: name)] = value }
        if let wait = job.takeoverWait {
            environment["VIGIL_TAKEOVER_WAIT"] = String(format: "%.1f", Double(wait.milliseconds) / 1000)
        }
        if let probe = job.duplicateProbe {
            environment["VIGIL_DAD_TIMEOUT"] = String(format: "%.3f", Double(probe.milliseconds) / 1000)
        }
        if let released = job.addressReleased { environment["VIGIL_ADDRESS_RELEASED"] = released }
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        let timeout = job.script.timeout.duration
        let resource = job.resource
        let scriptEnvironment = Environment.inherit.updating(environment)
        let platformOptions = options
        return try await withThrowingTaskGroup(of: ScriptOutcome?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    .path(FilePath(self.settings.bash)), arguments: [path], environment: scriptEnvironment,
                    platformOptions: platformOptions, input: .none,
                    output: .fileDescriptor(output, closeAfterSpawningProcess: false),
                    error: .fileDescriptor(output, closeAfterSpawningProcess: false)
                ) { execution in
                    let leader = execution.processIdentifier.value
                    // A kill between the check above and this spawn: the script dies before it does anything.
                    let killedMeanwhile = self.state.withLockedValue { state in
                        state.running[resource] = leader
                        guard state.cancelled(resource, ticket) else { return false }
                        state.killedByVigil.insert(leader)
                        return true
                    }
                    if killedMeanwhile { Glibc.kill(-leader, SIGKILL) }
                }
                let ours = self.state.withLockedValue { state in
                    _ = state.running.removeValue(forKey: resource)
                    return state.killedByVigil.remove(result.processIdentifier.value) != nil
                }
                switch result.terminationStatus {
                case .exited(0): return .success
                case .exited(let code): return .failure(exitCode: Int32(code))
                case .signaled(let signal):
                    return signal == SIGKILL && ours ? .killed : .failure(exitCode: 128 + Int32(signal))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            try? output.close()
            guard let first else {
                // Timed out: the cancelled run tears the session down (SIGTERM, then SIGKILL after 5 s).
                _ = try? await group.next()
                return .timedOut
            }
            return first
        }
    }

    /// UTC with milliseconds: `2026-12-04 19:41:06.996Z`.
    static let headerTime = Date.ISO8601FormatStyle(dateTimeSeparator: .space, includingFractionalSeconds: true)

    /// Kills the resource's running script and everything it started (self-fence); a script of
    /// it still waiting for a slot, or being spawned, never runs.
    /// - Returns: the process group of the running script, if one was found.
    @discardableResult
    public func kill(_ resource: ResourceName) -> pid_t? {
        let leader = state.withLockedValue { state -> pid_t? in
            state.kills[resource, default: 0] += 1
            guard let leader = state.running[resource] else { return nil }
            state.killedByVigil.insert(leader)
            return leader
        }
        if let leader { Glibc.kill(-leader, SIGKILL) }
        return leader
    }

    /// The process group of the resource's running script, once its spawn has registered it.
    public func processGroup(of resource: ResourceName) -> pid_t? {
        state.withLockedValue { $0.running[resource] }
    }

    /// The process groups among `groups` that still have a process that is not a zombie (from
    /// `/proc/<pid>/stat`; a zombie can do nothing more). The fence polls this after a kill.
    public static func liveGroups(among groups: Set<pid_t>) -> Set<pid_t> {
        guard let directory = opendir("/proc") else { return groups }
        defer { closedir(directory) }
        var live = Set<pid_t>()
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name) else { continue }
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { continue }
            // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", fields[0] != "X", let group = Int32(fields[2]) else { continue }
            if groups.contains(group) { live.insert(group) }
        }
        return live
    }

    /// The last `count` lines the latest run of `action` for `resource` printed.
    public func lastLines(_ resource: ResourceName, _ action: ScriptAction, count: Int = 10) -> [String] {
        let path = "\(settings.logDirectory)/\(resource).\(action.rawValue).out"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let lastRun = text.components(separatedBy: "==== ").last ?? ""
        return Array(
            lastRun.split(separator: "\n", omittingEmptySubsequences: true).dropFirst().suffix(count).map(String.init))
    }

    private func rotate(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0, Int(info.st_size) > settings.maximumOutputBytes else { return }
        _ = try? FileManager.default.removeItem(atPath: path + ".1")
        _ = try? FileManager.default.moveItem(atPath: path, toPath: path + ".1")
    }
}
