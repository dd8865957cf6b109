import ClusterModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The hardware watchdog (ARCHITECTURE.md §4.8, docs/design/0004): petted while this node may hold
/// its resources safely, so a frozen node is reset.
///
/// At start the driver's timeout is set to the configured one and read back (`WDIOC_SETTIMEOUT`,
/// `WDIOC_GETTIMEOUT`): the fence margin is computed from the configured timeout, so a driver that
/// keeps another one (softdog's 60 s) is refused, as is a device that does not exist (it is never
/// created) or is not a character device. Tests use ``Kind/file`` (a plain file that something
/// else watches) or a fake ``WatchdogDriver``; they never open `/dev/watchdog`.
public final class WatchdogDevice: Sendable {
    /// What the configured path is.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A Linux watchdog device (`/dev/watchdog`, `/dev/watchdog0`): timeout set by ioctl.
        case linux
        /// A plain file that must already exist, petted by appending a byte; no ioctl. For tests
        /// and demos only: it protects nothing unless something watches it.
        case file
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public let path: String
    public let timeoutSeconds: Int32
    private let descriptor: Int32
    private let driver: any WatchdogDriver

    public init(path: String, timeout: Span, kind: Kind, driver: any WatchdogDriver = LinuxWatchdogDriver())
        throws(Failure)
    {
        self.path = path
        self.driver = driver
        let seconds = Int32(clamping: (timeout.milliseconds + 999) / 1000)
        timeoutSeconds = seconds
        // Checked before the descriptor is kept: a refused device is closed here, once.
        let descriptor: Int32
        switch driver.open(path, append: kind == .file) {
        case .success(let opened): descriptor = opened
        case .failure(let error): throw Failure(description: "watchdogDevice \(path): cannot open it: \(error)")
        }
        if kind == .linux {
            guard driver.isCharacterDevice(descriptor) else {
                driver.close(descriptor)
                throw Failure(
                    description:
                        "watchdogDevice \(path): not a character device (a Linux watchdog such as /dev/watchdog0; "
                        + "watchdogKind: file is for tests only)")
            }
            let set = driver.setTimeout(descriptor, seconds: seconds)
            let read = driver.timeout(descriptor)
            guard set == seconds, read == seconds else {
                // Magic close: stop the timer this open started before refusing.
                driver.write(descriptor, 0x56)
                driver.close(descriptor)
                throw Failure(
                    description:
                        "watchdogDevice \(path): the driver keeps a timeout of \(read.map { "\($0) s" } ?? "unknown"), "
                        + "not the configured watchdogTimeout of \(seconds) s (set answered \(set.map { "\($0) s" } ?? "an error"))"
                )
            }
        }
        self.descriptor = descriptor
    }

    /// The magic close: write `V`, so that the driver stops the timer when the device is closed.
    func disarm() {
        driver.write(descriptor, 0x56)
    }

    deinit {
        driver.close(descriptor)
    }

    public func pet() {
        driver.write(descriptor, 0x31)
    }
}

/// The calls a watchdog needs, so tests can stand in for the kernel driver.
public protocol WatchdogDriver: Sendable {
    /// Opens `path` for writing without creating it (appending for a plain file).
    func open(_ path: String, append: Bool) -> Result<Int32, Errno>
    func isCharacterDevice(_ descriptor: Int32) -> Bool
    /// `WDIOC_SETTIMEOUT`: the timeout the driver answers with, nil on error.
    func setTimeout(_ descriptor: Int32, seconds: Int32) -> Int32?
    /// `WDIOC_GETTIMEOUT`, nil on error.
    func timeout(_ descriptor: Int32) -> Int32?
    func write(_ descriptor: Int32, _ byte: UInt8)
    func close(_ descriptor: Int32)
}

/// The Linux watchdog API (linux/watchdog.h).
public struct LinuxWatchdogDriver: WatchdogDriver {
    /// `_IOWR('W', 6, int)` and `_IOR('W', 7, int)`.
    static let setTimeoutRequest: UInt = 0xC004_5706
    static let getTimeoutRequest: UInt = 0x8004_5707

    public init() {}

    public func open(_ path: String, append: Bool) -> Result<Int32, Errno> {
        let descriptor = Glibc.open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : 0))
        return descriptor >= 0 ? .success(descriptor) : .failure(Errno(rawValue: errno))
    }

    public func isCharacterDevice(_ descriptor: Int32) -> Bool {
        var info = stat()
        return fstat(descriptor, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR
    }

    public func setTimeout(_ descriptor: Int32, seconds: Int32) -> Int32? {
        var value = seconds
        let result = withUnsafeMutablePointer(to: &value) { ioctl(descriptor, Self.setTimeoutRequest, $0) }
        return result == 0 ? value : nil
    }

    public func timeout(_ descriptor: Int32) -> Int32? {
        var value: Int32 = 0
        let result = withUnsafeMutablePointer(to: &value) { ioctl(descriptor, Self.getTimeoutRequest, $0) }
        return result == 0 ? value : nil
    }

    public func write(_ descriptor: Int32, _ byte: UInt8) {
        var byte = byte
        _ = Glibc.write(descriptor, &byte, 1)
    }

    public func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }
}
