import ClusterModel
import Foundation
import Testing

@testable import ClusterImport

/// Golden files: each importer's dry run (or its list of problems) on the inputs under
/// testdata/import, compared exactly with testdata/import/expected/<case>.out.
/// `VIGIL_UPDATE_GOLDEN=1 swift test --filter ClusterImportTests` rewrites them (then read the diff).
@Suite("Importing NCS, keepalived and Pacemaker configurations")
struct ImportTests {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "testdata/import")

    func input(_ path: String) throws -> ImportSource {
        ImportSource(
            name: path, text: try String(contentsOf: Self.data.appendingPathComponent(path), encoding: .utf8))
    }

    func expectGolden(_ name: String, _ actual: String, sourceLocation: Testing.SourceLocation = #_sourceLocation)
        throws
    {
        let file = Self.data.appendingPathComponent("expected/\(name).out")
        if ProcessInfo.processInfo.environment["VIGIL_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: file, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(actual == expected, "\(name): dry run differs from \(file.path)", sourceLocation: sourceLocation)
    }

    /// The outcome as the CLI prints it: the dry run, or the problems.
    func outcome(_ plan: () throws(ImportFailure) -> ImportPlan) -> String {
        do { return try plan().render() } catch { return "refused, nothing created:\n\(error)\n" }
    }

    func ncs(_ directory: String) throws -> String {
        let files = try NCSImport.files(inDirectory: Self.data.appendingPathComponent(directory).path).get()
        return outcome { () throws(ImportFailure) in try NCSImport.plan(directory: directory, files: files) }
    }

    @Test("an NCS directory: the scripts byte for byte, the policy file's modes, nodes and timeouts")
    func ncsDirectory() throws {
        try expectGolden("ncs", try ncs("ncs"))
        let files = try NCSImport.files(inDirectory: Self.data.appendingPathComponent("ncs").path).get()
        let plan = try NCSImport.plan(directory: "ncs", files: files)
        let pool = try #require(plan.resources.first { $0.spec.name == "POOL1_SERVER" }).spec
        #expect(pool.load.body == (try input("ncs/POOL1_SERVER.load")).text)
        #expect(pool.unload.body == (try input("ncs/POOL1_SERVER.unload")).text)
        #expect(pool.monitor?.script.body == (try input("ncs/POOL1_SERVER.monitor")).text)
        #expect(pool.virtualAddress == "198.18.0.120")
        #expect(pool.policies.failbackMode == .auto && pool.preferredNodes == ["n2", "n3", "n1"])
        let reference = try #require(plan.resources.first { $0.spec.name == "iManager" }).spec
        #expect(
            reference.load.body
                == "#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress 198.18.0.100\nexit 0\n"
        )
        #expect(reference.monitor == nil, "NCS had no monitor script for it: none is added")
    }

    @Test("a bad NCS directory: every problem with file, line and reason; nothing planned")
    func ncsBad() throws {
        try expectGolden("ncs-bad", try ncs("ncs-bad"))
    }

    @Test("keepalived: one resource per address, nodes by priority, nopreempt, notify noted, the rest listed")
    func keepalived() throws {
        let files = try (1...3).map {
            KeepalivedImport.NodeFile(node: nil, source: try input("keepalived/n\($0).conf"))
        }
        try expectGolden("keepalived", outcome { () throws(ImportFailure) in try KeepalivedImport.plan(files) })
        let plan = try KeepalivedImport.plan(files)
        #expect(plan.resources.map(\.spec.name.rawValue) == ["VI_WEB_1", "VI_WEB_2", "VI_MAIL"])
        #expect(plan.resources[0].spec.preferredNodes == ["n1", "n2", "n3"])
        #expect(plan.resources[2].spec.preferredNodes == ["n3", "n2", "n1"])
        #expect(plan.resources[2].spec.policies.failbackMode == .disable)
        #expect(plan.resources[0].spec.policies.failbackMode == .auto)
        #expect(!plan.render().contains("s3cret"), "the VRRP password is never shown")
    }

    @Test("bad keepalived files: unknown keyword, bad address, unbalanced braces, a file without a node")
    func keepalivedBad() throws {
        try expectGolden(
            "keepalived-bad",
            outcome { () throws(ImportFailure) in
                try KeepalivedImport.plan([
                    .init(node: nil, source: try! input("keepalived/bad.conf")),
                    .init(node: "n2", source: try! input("keepalived/unbalanced.conf")),
                    .init(node: nil, source: ImportSource(name: "empty.conf", text: "")),
                ])
            })
    }

    @Test("Pacemaker: IPaddr2 primitives and a group, scores to preferred nodes, stickiness to failback")
    func pacemaker() throws {
        try expectGolden(
            "pacemaker",
            outcome { () throws(ImportFailure) in try PacemakerImport.plan(try! input("pacemaker/cib.xml")) })
        let plan = try PacemakerImport.plan(try input("pacemaker/cib.xml"))
        let byName = Dictionary(uniqueKeysWithValues: plan.resources.map { ($0.spec.name.rawValue, $0.spec) })
        #expect(byName.keys.sorted() == ["vip_console", "vip_mail", "vip_mail6"])
        // 200/100 with default stickiness 50: the gap (100) is larger, so it goes back to n1.
        #expect(byName["vip_console"]?.preferredNodes == ["n1", "n2", "n3"])
        #expect(byName["vip_console"]?.policies.failbackMode == .auto)
        // The group's INFINITY stickiness keeps it put; n1 is -INFINITY: never a preferred node.
        #expect(byName["vip_mail"]?.preferredNodes == ["n3", "n2"])
        #expect(byName["vip_mail"]?.policies.failbackMode == .disable)
        #expect(byName["vip_mail6"]?.virtualAddress == "2001:db8:18::25")
    }

    @Test("bad CIBs: not well-formed, an address that does not parse, a bad score")
    func pacemakerBad() throws {
        try expectGolden(
            "pacemaker-bad",
            outcome { () throws(ImportFailure) in try PacemakerImport.plan(try! input("pacemaker/bad.xml")) }
                + outcome { () throws(ImportFailure) in
                    try PacemakerImport.plan(try! input("pacemaker/bad-address.xml"))
                })
    }

    @Test("the dry run says which resources exist and would be replaced or refused")
    func existing() throws {
        let plan = try PacemakerImport.plan(try input("pacemaker/cib.xml"))
        #expect(plan.render(existing: ["vip_mail"]).contains("exists  vip_mail"))
        #expect(plan.render(existing: ["vip_mail"], replace: true).contains("replace vip_mail"))
    }
}
