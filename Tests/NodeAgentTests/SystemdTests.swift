import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing

@testable import NodeAgent

#if canImport(Glibc)
    import Glibc
#endif

/// What vigild tells systemd and journald, on a real datagram socket and a captured stream.
@Suite("systemd: readiness notifications, journal priorities, the etcd log bound")
struct SystemdTests {
    /// A datagram socket at a fresh path, as systemd's NOTIFY_SOCKET; returns (path, descriptor).
    func notifySocket() throws -> (String, Int32) {
        let path = NSTemporaryDirectory() + "vigil-notify-\(UUID().uuidString.prefix(8))"
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(descriptor >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return (path, descriptor)
    }

    @Test("READY=1 and STOPPING=1 reach the socket NOTIFY_SOCKET names; nothing is sent without it")
    func notify() throws {
        let (path, descriptor) = try notifySocket()
        defer {
            close(descriptor)
            unlink(path)
        }
        #expect(SystemdNotify.send("READY=1\nSTATUS=member of cluster lab", environment: ["NOTIFY_SOCKET": path]))
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        #expect(
            String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == "READY=1\nSTATUS=member of cluster lab")
        #expect(!SystemdNotify.send("READY=1", environment: [:]))
        #expect(!SystemdNotify.send("READY=1", environment: ["NOTIFY_SOCKET": path + "-missing"]))
    }

    @Test("journal lines carry their syslog priority on every line; JOURNAL_STREAM must name stderr")
    func journal() {
        let lines = NIOLockedValueBox<[String]>([])
        var handler = JournalLogHandler(label: "vigild") { text in lines.withLockedValue { $0.append(text) } }
        handler.logLevel = .trace
        let logger = Logger(label: "vigild") { _ in handler }
        logger.warning("store not reachable", metadata: ["vigil.error": "timeout"])
        logger.critical("two\nlines")
        logger.debug("detail")
        let written = lines.withLockedValue { $0 }
        #expect(written.count == 3)
        #expect(written[0].hasPrefix("<4>vigild: store not reachable vigil.error=timeout"))
        #expect(written[1].hasPrefix("<2>vigild: two\n<2>lines"))
        #expect(written[2].hasPrefix("<7>"))
        #expect(!JournalLogHandler.journalIsStderr(environment: [:]))
        #expect(!JournalLogHandler.journalIsStderr(environment: ["JOURNAL_STREAM": "1:2"]))
    }

    @Test("the managed member's log is kept bounded: past the limit it moves to .1 and starts empty")
    func etcdLogBound() throws {
        let path = NSTemporaryDirectory() + "vigil-etcd-\(UUID().uuidString.prefix(8)).log"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".1")
        }
        try Data(repeating: 65, count: 100).write(to: URL(fileURLWithPath: path))
        EtcdSupervisor.rotate(path, above: 1000)
        #expect(FileManager.default.contents(atPath: path)?.count == 100, "rotated below the limit")
        try Data(repeating: 66, count: 2000).write(to: URL(fileURLWithPath: path))
        EtcdSupervisor.rotate(path, above: 1000)
        #expect(FileManager.default.contents(atPath: path)?.count == 0)
        #expect(FileManager.default.contents(atPath: path + ".1")?.count == 2000)
    }

    @Test("a member a crashed agent left running (KillMode=process) is stopped before a new one starts")
    func leftoverMember() async throws {
        let directory = NSTemporaryDirectory() + "vigil-leftover-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A stand-in whose command line looks like the member's: argv[0] ends in etcd, the data
        // directory among its arguments.
        let fake = directory + "/etcd"
        try FileManager.default.createSymbolicLink(atPath: fake, withDestinationPath: "/usr/bin/tail")
        let data = directory + "/data"
        _ = FileManager.default.createFile(atPath: data, contents: Data())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fake)
        process.arguments = ["-q", "-f", "/dev/null", data]
        try process.run()
        let pidFile = data + ".pid"
        try "\(process.processIdentifier)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        // Another process under that PID file's name but another data directory is left alone.
        await EtcdSupervisor.stopLeftover(
            pidFile: pidFile, dataDirectory: directory + "/other", logger: Logger(label: "t"))
        #expect(process.isRunning)
        await EtcdSupervisor.stopLeftover(pidFile: pidFile, dataDirectory: data, logger: Logger(label: "t"))
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
    }
}
