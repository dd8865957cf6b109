import ClusterModel
import Foundation
import NodeAgent
import Testing

@Suite("The local record of held resources")
struct HeldRecordTests {
    let root: String

    init() throws {
        root = try makeTestRoot("vigil-held")
    }

    let spec = ResourceSpec(name: "vip", template: "Generic_IP_Service", variables: ["RESOURCE_IP": "198.18.0.100"])

    @Test("written root-only and read back; none at first")
    func roundTrip() throws {
        let file = HeldRecordFile(stateDirectory: root + "/state")
        #expect(try file.read() == nil)
        let record = HeldRecord(instance: "abc", resources: [spec])
        try file.write(record)
        #expect(try file.read() == record)
        var info = stat()
        #expect(stat(file.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(root + "/state", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("a record cut short by a machine crash (written before the boot) is none; written since, refused")
    func fromEarlierBoot() throws {
        let file = HeldRecordFile(stateDirectory: root)
        try file.write(HeldRecord(instance: "abc", resources: [spec]))
        try "{\"instance\": \"ab".write(toFile: file.path, atomically: false, encoding: .utf8)
        chmod(file.path, 0o600)
        var written = stat()
        #expect(stat(file.path, &written) == 0)
        let writtenAt = Date(timeIntervalSince1970: TimeInterval(written.st_mtim.tv_sec))
        #expect(try file.read(bootedAt: writtenAt.addingTimeInterval(10)) == nil)
        #expect { try file.read(bootedAt: writtenAt.addingTimeInterval(-10)) } throws: {
            "\($0)".contains("not a valid held record")
        }
        // A valid record from before the boot still reads: it names what to look for.
        try file.write(HeldRecord(instance: "abc", resources: [spec]))
        #expect(try file.read(bootedAt: Date().addingTimeInterval(10))?.instance == "abc")
        let boot = try #require(HeldRecordFile.bootTime())
        #expect(boot < Date() && boot > Date(timeIntervalSince1970: 1_600_000_000))
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("a record others can read, or that does not parse, is refused with the path named")
    func refused() throws {
        let file = HeldRecordFile(stateDirectory: root)
        try file.write(HeldRecord(instance: "abc", resources: [spec]))
        chmod(file.path, 0o644)
        #expect { try file.read() } throws: { "\($0)".contains(file.path) && "\($0)".contains("0600") }
        try "{not json".write(toFile: file.path, atomically: false, encoding: .utf8)
        chmod(file.path, 0o600)
        #expect { try file.read() } throws: { "\($0)".contains("not a valid held record") }
        try? FileManager.default.removeItem(atPath: root)
    }
}

@Suite("The recorded self-fence deadline")
struct DeadlineFileTests {
    @Test("a deadline written by one agent reads back in another's clock; none at first")
    func roundTrip() throws {
        let root = try makeTestRoot("vigil-deadline")
        #expect(DeadlineFile(stateDirectory: root).read() == nil)
        let deadline = ContinuousClock.now + .milliseconds(1600)
        DeadlineFile(stateDirectory: root).write(deadline)
        let read = try #require(DeadlineFile(stateDirectory: root).read())
        // The same instant up to clock-reading jitter (a wrong sign or unit is off by seconds).
        #expect(abs((read - deadline) / .milliseconds(1)) < 500)
        var info = stat()
        #expect(stat(root + "/deadline", &info) == 0 && info.st_mode & 0o777 == 0o600)
        try? FileManager.default.removeItem(atPath: root)
    }
}
