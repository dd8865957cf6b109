import ClusterModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// This node's own record of what it may hold (docs/design/0013): the exclusive resources that
/// may be active here, with the definitions they were loaded with, and the agent instance that
/// wrote it.
///
/// Kept in a root-only file (`<stateDirectory>/held.json`, 0600 in a 0700 directory), rewritten
/// atomically (write, rename) before any load script can add an address. A restarted agent
/// reads it first, so it knows the addresses to fence at its deadline even when the store cannot
/// be reached, and which member key is its predecessor's (adopted) rather than another agent's.
///
/// Not synced to disk (docs/design/0025 §5): only a restarted *process* needs the record, and the
/// page cache outlives the process; a machine that crashes loses every address with it. A sync in
/// the agent's loop cost seconds on a busy disk, and the loop handled nothing meanwhile.
public struct HeldRecord: Codable, Equatable, Sendable {
    public var instance: String
    public var resources: [ResourceSpec]

    public init(instance: String, resources: [ResourceSpec]) {
        self.instance = instance
        self.resources = resources.sorted { $0.name < $1.name }
    }
}

extension HeldRecord: Validatable {
    public func validate() throws(ValidationError) {
        for (index, spec) in resources.enumerated() {
            do {
                try spec.validate()
            } catch {
                throw ValidationError(
                    field: "resources[\(index)].\(error.field)", value: error.value, reason: error.reason)
            }
        }
    }
}

/// Reads and writes ``HeldRecord`` at one path.
public struct HeldRecordFile: Sendable {
    public let path: String

    public init(stateDirectory: String) {
        path = stateDirectory + "/held.json"
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The record, nil if there is none. A record that is not root-only, or does not parse, is an
    /// error: the agent must not guess what it holds. Except a record last written before the
    /// machine started (`bootedAt`), which may be cut short by the crash (it was never synced):
    /// nil, since no address of it survived the restart.
    public func read(bootedAt: Date? = Self.bootTime()) throws(Failure) -> HeldRecord? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw Failure(description: "\(path) must be owned by root and readable by root only (mode 0600)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "cannot read \(path)")
        }
        do {
            return try ModelCodec.decode(HeldRecord.self, from: data)
        } catch {
            if let bootedAt, Double(info.st_mtim.tv_sec) < bootedAt.timeIntervalSince1970 { return nil }
            throw Failure(description: "\(path) is not a valid held record: \(error)")
        }
    }

    /// When this machine started (`btime` of `/proc/stat`), nil if that cannot be read.
    public static func bootTime() -> Date? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return TimeInterval(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
                .map(Date.init(timeIntervalSince1970:))
        }
        return nil
    }

    /// Replaces the record atomically (readers see the old or the new one, never a part), without
    /// a sync to disk (see the type's comment).
    public func write(_ record: HeldRecord) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure(description: "cannot create \(directory): \(error)")
        }
        let temporary = path + ".new"
        let bytes = ModelCodec.encode(record)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        var offset = 0
        var failed = fchmod(descriptor, 0o600) != 0
        while !failed, offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { failed = true } else { offset += written }
        }
        close(descriptor)
        guard !failed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// The self-fence deadline, kept for a restarted agent (docs/design/0013): while the agent is
/// gone nobody removes its addresses, so the next one must fence at the old deadline, not a full
/// span after its own start. Written by the fence thread whenever the deadline moves (one `pwrite`
/// of a few bytes, no fsync: only a process restart needs it; a machine restart drops the
/// addresses anyway), as nanoseconds of `CLOCK_BOOTTIME`, which runs on across processes.
public final class DeadlineFile: Sendable {
    public let path: String
    private let descriptor: Int32

    public init(stateDirectory: String) {
        path = stateDirectory + "/deadline"
        try? FileManager.default.createDirectory(
            atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    static func bootNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// Records `deadline` (an instant of this process's clock).
    public func write(_ deadline: ContinuousClock.Instant) {
        guard descriptor >= 0 else { return }
        let remaining = deadline - ContinuousClock.now
        let nanoseconds =
            remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
        // Fixed width, so one small pwrite replaces the whole value.
        let text = Array(String(format: "%020lld\n", Self.bootNanoseconds() + nanoseconds).utf8)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// The recorded deadline as an instant of this process's clock, if there is one.
    public func read() -> ContinuousClock.Instant? {
        guard descriptor >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0,
            let recorded = Int64(
                String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return ContinuousClock.now + .nanoseconds(recorded - Self.bootNanoseconds())
    }
}
