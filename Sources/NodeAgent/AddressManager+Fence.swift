import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Removing virtual IPs synchronously on the calling thread — the fence thread — with at most four
/// `ip` runs whatever their number: `ip -o addr show`, one `ip -force -batch -` deleting every one
/// found, and a `show` to check (twice if some survived). No task, no thread pool: it works while
/// they are busy.
extension AddressManager {
    /// Removes `addresses` (without prefix length) from every interface carrying them, blocking.
    /// - Returns: the addresses still up afterwards (empty on success).
    @discardableResult
    public func removeAllNow(_ addresses: [String]) -> [String] {
        guard !addresses.isEmpty else { return [] }
        let wanted = Set(addresses)
        for _ in 0..<2 {
            // Not knowing is not "gone": a listing that fails is tried again, and if the last
            // one fails too, every address counts as still up.
            guard let found = carried(wanted) else { continue }
            if found.isEmpty { return [] }
            let batch = found.map { "address del \($0.cidr) dev \($0.device)\n" }.joined()
            let result = Spawn.run(ipCommand, ["-force", "-batch", "-"], input: batch)
            if result?.status != 0 {
                logger.error("ip -batch failed removing addresses", metadata: ["vigil.vip": "\(found.map(\.cidr))"])
            }
        }
        guard let left = carried(wanted) else { return Array(wanted).sorted() }
        return Array(Set(left.map(\.address))).sorted()
    }

    /// (address, cidr, device) of each wanted address found on this node; nil if `ip` cannot be run.
    func carried(_ wanted: Set<String>) -> [(address: String, cidr: String, device: String)]? {
        guard let result = Spawn.run(ipCommand, ["-o", "addr", "show"], input: nil), result.status == 0 else {
            logger.error("cannot list addresses with ip", metadata: ["vigil.command": "\(ipCommand)"])
            return nil
        }
        return Self.parse(result.output).filter { wanted.contains($0.address) }
    }

    /// Lines of `ip -o addr show`: `2: eth0    inet 198.18.0.100/24 brd … scope global secondary eth0\ …`.
    static func parse(_ output: String) -> [(address: String, cidr: String, device: String)] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[2] == "inet" || fields[2] == "inet6" else { return nil }
            let cidr = String(fields[3])
            let device = String(fields[1].split(separator: "@").first ?? fields[1]).replacingOccurrences(
                of: ":", with: "")
            return (String(cidr.split(separator: "/").first ?? ""), cidr, device)
        }
    }
}

/// posix_spawn and wait, on the calling thread (for the fence path, which must not wait for a pool).
enum Spawn {
    /// A pipe whose ends close on exec (only the dup2'ed copies reach the child).
    static func makePipe(_ descriptors: inout [Int32]) -> Bool {
        guard pipe(&descriptors) == 0 else { return false }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        return true
    }

    /// Writes `bytes` to a pipe whose reader may have exited (an `ip` that failed early) without
    /// the process dying of SIGPIPE, whatever its signal disposition: SIGPIPE is blocked on this
    /// thread meanwhile and a pending one consumed (the write then fails with EPIPE).
    static func writeIgnoringSIGPIPE(_ descriptor: Int32, _ bytes: [UInt8]) {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 {
            var none = timespec()
            _ = sigtimedwait(&pipeSignal, nil, &none)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    /// Runs `path` with `arguments`, feeding `input` to its stdin; nil if it could not be started.
    static func run(_ path: String, _ arguments: [String], input: String?) -> (status: Int32, output: String)? {
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        guard makePipe(&stdinPipe) else { return nil }
        guard makePipe(&stdoutPipe) else {
            close(stdinPipe[0])
            close(stdinPipe[1])
            return nil
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let variables: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        let environment: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        defer { for variable in environment { free(variable) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environment)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        guard spawned == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            return nil
        }
        if let input { writeIgnoringSIGPIPE(stdinPipe[1], Array(input.utf8)) }
        close(stdinPipe[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while output.count < 4 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(stdoutPipe[0], $0.baseAddress, $0.count) }
            if count > 0 {
                output += buffer[0..<count]
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(stdoutPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exited = (status & 0x7f) == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), String(decoding: output, as: UTF8.self))
    }
}
