import ClusterModel
import Foundation
import NIOConcurrencyHelpers
import NodeAgent
import SystemPackage
import Testing

/// A stand-in for the kernel's watchdog driver: it records every call and keeps the timeout it
/// is willing to keep (softdog's 60 s when `fixedTimeout` is set).
final class FakeWatchdogDriver: WatchdogDriver {
    let calls = NIOLockedValueBox<[String]>([])
    let characterDevice: Bool
    let fixedTimeout: Int32?
    let current = NIOLockedValueBox<Int32>(60)

    init(characterDevice: Bool = true, fixedTimeout: Int32? = nil) {
        self.characterDevice = characterDevice
        self.fixedTimeout = fixedTimeout
    }

    func open(_ path: String, append: Bool) -> Result<Int32, Errno> {
        calls.withLockedValue { $0.append("open \(path)") }
        return path.hasPrefix("/missing") ? .failure(.noSuchFileOrDirectory) : .success(42)
    }
    func isCharacterDevice(_ descriptor: Int32) -> Bool { characterDevice }
    func setTimeout(_ descriptor: Int32, seconds: Int32) -> Int32? {
        calls.withLockedValue { $0.append("set \(seconds)") }
        return current.withLockedValue { current in
            current = fixedTimeout ?? seconds
            return current
        }
    }
    func timeout(_ descriptor: Int32) -> Int32? {
        calls.withLockedValue { $0.append("get") }
        return current.withLockedValue { $0 }
    }
    func write(_ descriptor: Int32, _ byte: UInt8) {
        calls.withLockedValue { $0.append("write \(Character(Unicode.Scalar(byte)))") }
    }
    func close(_ descriptor: Int32) {
        calls.withLockedValue { $0.append("close") }
    }
}

@Suite("Watchdog device")
struct WatchdogTests {
    @Test("the driver's timeout is set to the configured one and read back; pets write 1, disarming V")
    func timeoutSet() throws {
        let driver = FakeWatchdogDriver()
        do {
            let device = try WatchdogDevice(
                path: "/dev/fake-watchdog", timeout: .milliseconds(1500), kind: .linux, driver: driver)
            #expect(device.timeoutSeconds == 2)
            device.pet()
        }
        #expect(driver.calls.withLockedValue { $0 } == ["open /dev/fake-watchdog", "set 2", "get", "write 1", "close"])
    }

    @Test("a driver that keeps another timeout (softdog's 60 s) is refused, disarmed, with both values named")
    func timeoutRefused() {
        let driver = FakeWatchdogDriver(fixedTimeout: 60)
        #expect {
            try WatchdogDevice(path: "/dev/fake-watchdog", timeout: .seconds(1), kind: .linux, driver: driver)
        } throws: { error in
            "\(error)".contains("60 s") && "\(error)".contains("watchdogTimeout of 1 s")
        }
        #expect(driver.calls.withLockedValue { $0.suffix(2) } == ["write V", "close"])
    }

    @Test("a missing device, or a plain file where a device is expected, is refused")
    func badDevice() {
        #expect {
            try WatchdogDevice(
                path: "/missing/watchdog", timeout: .seconds(1), kind: .linux, driver: FakeWatchdogDriver())
        } throws: { "\($0)".contains("/missing/watchdog") && "\($0)".contains("cannot open") }
        #expect {
            try WatchdogDevice(
                path: "/tmp/plain", timeout: .seconds(1), kind: .linux,
                driver: FakeWatchdogDriver(characterDevice: false))
        } throws: { "\($0)".contains("not a character device") }
    }

    @Test("the real driver layer never creates the path, and refuses a plain file as a device")
    func realLayerOnFiles() throws {
        let root = try makeTestRoot("vigil-watchdog")
        #expect(throws: WatchdogDevice.Failure.self) {
            try WatchdogDevice(path: root + "/typo", timeout: .seconds(1), kind: .file)
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/typo"))
        let file = root + "/watchdog"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        #expect {
            try WatchdogDevice(path: file, timeout: .seconds(1), kind: .linux)
        } throws: { "\($0)".contains("not a character device") }
        do {
            let device = try WatchdogDevice(path: file, timeout: .seconds(1), kind: .file)
            device.pet()
            device.pet()
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "11")
        try? FileManager.default.removeItem(atPath: root)
    }
}
