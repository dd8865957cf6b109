import ClusterModel
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Subprocess
import SystemPackage

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
    private let logger: Logger
    private let state = NIOLockedValueBox(Status(processIdentifier: nil, starts: 0, lastExit: nil))

    /// - Parameter executable: path of the etcd binary (Debian's `etcd-server`: `/usr/bin/etcd`).
    public init(member: ManagedEtcd, executable: String = "/usr/bin/etcd", logger: Logger) throws(ValidationError) {
        try member.validate()
        self.member = member
        self.executable = executable
        var logger = logger
        logger[metadataKey: "vigil.node"] = "\(member.node)"
        self.logger = logger
    }

    /// What the supervisor is doing now.
    public var status: Status { state.withLockedValue { $0 } }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await self.supervise()
        }
    }

    private func supervise() async throws {
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
            let result = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(member.arguments), platformOptions: options,
                input: .none, output: .discarded, error: .discarded
            ) { execution in
                self.state.withLockedValue {
                    $0.processIdentifier = execution.processIdentifier.value
                    $0.starts += 1
                }
                // Wait for the process to end (or for cancellation, which tears it down).
                return ()
            }
            state.withLockedValue {
                $0.processIdentifier = nil
                $0.lastExit = "\(result.terminationStatus)"
            }
            if Task.isCancelled { break }
            failures = ContinuousClock.now - started > .seconds(30) ? 1 : failures + 1
            let pause = Duration.milliseconds(min(5000, 200 << min(failures, 5)))
            logger.error(
                "etcd member exited; restarting",
                metadata: ["vigil.etcd.status": "\(result.terminationStatus)", "vigil.etcd.restart_in": "\(pause)"])
            try await Task.sleep(for: pause)
        }
    }
}
