import ClusterModel
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Subprocess
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the node's managed etcd member and keeps it running: restarts it when it exits (with a
/// growing pause, at most 5 s), and stops it on graceful shutdown (SIGTERM, SIGKILL after 5 s).
public final class EtcdSupervisor: Service, Sendable {
    public struct Status: Sendable {
        /// PID of the running member, if any.
        public var processIdentifier: Int32?
        public var starts: Int
        public var lastExit: String?
    }

    public let member: ManagedEtcd
    public let executable: String
    /// Where the member's own output goes (appended; the previous file is kept as `.1` once it
    /// passes `maxLogBytes`, checked at each start and every minute). nil: discarded.
    public let logFile: String?
    public static let maxLogBytes = 10 * 1024 * 1024
    /// Told when the member exits and is restarted (the event log says where its output is).
    private let onExit: @Sendable (String) async -> Void
    private let logger: Logger
    private let state = NIOLockedValueBox(Status(processIdentifier: nil, starts: 0, lastExit: nil))

    /// The member runs at a higher CPU priority than everything else on the node (nice −10, set by
    /// `nice` before it execs etcd, so every thread of it has it): on a saturated host — a
    /// failover's scripts, an API flood, many agents on a few cores — a starved member stops
    /// acknowledging heartbeats and every node of the cluster fences (docs/design/0023). Where
    /// the priority cannot be raised (not root), `nice` says so in the member's log and runs it
    /// as it is.
    static let nice = (command: "/usr/bin/nice", adjustment: "-10")

    /// What is started: etcd through `nice`, or etcd itself where `nice` is missing.
    static func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard FileManager.default.isExecutableFile(atPath: nice.command) else { return (executable, arguments) }
        return (nice.command, ["-n", nice.adjustment, executable] + arguments)
    }

    /// - Parameter executable: path of the etcd binary (Debian's `etcd-server`: `/usr/bin/etcd`).
    public init(
        member: ManagedEtcd, executable: String = "/usr/bin/etcd", logFile: String? = nil, logger: Logger,
        onExit: @escaping @Sendable (String) async -> Void = { _ in }
    ) throws(ValidationError) {
        try member.validate()
        self.member = member
        self.executable = executable
        self.logFile = logFile
        self.onExit = onExit
        var logger = logger
        logger[metadataKey: "vigil.node"] = "\(member.node)"
        self.logger = logger
    }

    /// What the supervisor is doing now.
    public var status: Status { state.withLockedValue { $0 } }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.supervise() }
                if let logFile = self.logFile {
                    group.addTask {
                        while true {
                            try await Task.sleep(for: .seconds(60))
                            Self.rotate(logFile, above: Self.maxLogBytes)
                        }
                    }
                }
            }
        }
    }

    /// Keeps a log file bounded: past `limit` bytes its content moves to `<file>.1` (replacing the
    /// older one) and the file starts empty (the member appends, so it carries on at the start).
    static func rotate(_ path: String, above limit: Int) {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int, size > limit
        else { return }
        let old = path + ".1"
        try? FileManager.default.removeItem(atPath: old)
        try? FileManager.default.copyItem(atPath: path, toPath: old)
        truncate(path, 0)
    }

    /// The member's stdout and stderr: the log file, appended to (nil: discarded).
    private func openLog() -> FileDescriptor? {
        guard let logFile else { return nil }
        Self.rotate(logFile, above: Self.maxLogBytes)
        return try? FileDescriptor.open(
            FilePath(logFile), .writeOnly, options: [.append, .create, .closeOnExec],
            permissions: [.ownerReadWrite, .groupRead])
    }

    /// The running member's PID, for the next agent: under systemd's `KillMode=process` a crashed
    /// agent leaves its member running, and a new one must stop it before starting its own.
    var pidFile: String { member.dataDirectory + ".pid" }

    /// Stops a member a previous agent left running (its PID file names an etcd process using this
    /// data directory): SIGTERM, then SIGKILL after 5 s.
    static func stopLeftover(pidFile: String, dataDirectory: String, logger: Logger) async {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return }
        let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard arguments.first?.hasSuffix("etcd") == true, arguments.contains(dataDirectory) else { return }
        logger.warning("stopping the etcd member a previous agent left running", metadata: ["vigil.pid": "\(pid)"])
        // Gone, or a zombie waiting for its parent to reap it.
        func alive() -> Bool {
            guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            return !stat[close...].hasPrefix(") Z")
        }
        kill(pid, SIGTERM)
        for _ in 0..<50 where alive() {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if alive() { kill(pid, SIGKILL) }
    }

    private func supervise() async throws {
        await Self.stopLeftover(pidFile: pidFile, dataDirectory: member.dataDirectory, logger: logger)
        var failures = 0
        while !Task.isCancelled {
            var options = PlatformOptions()
            options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(5))]
            // After the first start the data directory holds the member: rejoin, do not bootstrap.
            var member = self.member
            member.existingMember =
                member.existingMember
                || FileManager.default.fileExists(atPath: member.dataDirectory + "/member")
            logger.info(
                "starting etcd member", metadata: ["vigil.etcd.arguments": "\(member.arguments.joined(separator: " "))"]
            )
            let started = ContinuousClock.now
            let pidFile = self.pidFile
            let (program, arguments) = Self.command(executable, member.arguments)
            let record: @Sendable (Int32) -> Void = { pid in
                self.state.withLockedValue {
                    $0.processIdentifier = pid
                    $0.starts += 1
                }
                try? "\(pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
            }
            // The body only records the PID; the run waits for the process to end (or for
            // cancellation, which tears it down).
            let status =
                if let log = openLog() {
                    try await Subprocess.run(
                        .path(FilePath(program)), arguments: Arguments(arguments), platformOptions: options,
                        input: .none, output: .fileDescriptor(log, closeAfterSpawningProcess: true),
                        error: .combinedWithOutput
                    ) { record($0.processIdentifier.value) }.terminationStatus
                } else {
                    try await Subprocess.run(
                        .path(FilePath(program)), arguments: Arguments(arguments), platformOptions: options,
                        input: .none, output: .discarded, error: .discarded
                    ) { record($0.processIdentifier.value) }.terminationStatus
                }
            try? FileManager.default.removeItem(atPath: pidFile)
            state.withLockedValue {
                $0.processIdentifier = nil
                $0.lastExit = "\(status)"
            }
            if Task.isCancelled { break }
            failures = ContinuousClock.now - started > .seconds(30) ? 1 : failures + 1
            let pause = Duration.milliseconds(min(5000, 200 << min(failures, 5)))
            logger.error(
                "etcd member exited; restarting",
                metadata: [
                    "vigil.etcd.status": "\(status)", "vigil.etcd.restart_in": "\(pause)",
                    "vigil.etcd.log": "\(logFile ?? "discarded")",
                ])
            await onExit(
                "etcd member exited (\(status)); restarting in \(pause)"
                    + (logFile.map { "; its output: \($0)" } ?? ""))
            try await Task.sleep(for: pause)
        }
    }
}
