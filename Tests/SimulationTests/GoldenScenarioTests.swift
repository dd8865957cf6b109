import ClusterModel
import ClusterTestKit
import Foundation
import Testing

/// Where the golden files live, in the source tree (so `VIGIL_UPDATE_GOLDEN=1` rewrites them).
let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata")

@Suite("Golden NCS scenarios on the simulated cluster")
struct GoldenScenarioTests {
    @Test("scenario", .timeLimit(.minutes(1)), arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        let sim = scenario.simulation()
        var failures: [String] = []
        scenario.script(sim, &failures)
        sim.run(for: 100)
        for failure in failures { Issue.record("\(scenario.name): \(failure)") }
        #expect(sim.violations.isEmpty, "\(sim.violations)")
        let text = sim.timeline.joined(separator: "\n") + "\n"
        let file = testdata.appendingPathComponent(scenario.name + ".golden")
        if ProcessInfo.processInfo.environment["VIGIL_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: testdata, withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOf: file, encoding: .utf8)
        if golden != text {
            let goldenLines = golden.split(separator: "\n", omittingEmptySubsequences: false)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let first = Array(zip(goldenLines, lines)).firstIndex { $0 != $1 } ?? min(goldenLines.count, lines.count)
            Issue.record(
                """
                \(scenario.name) differs from its golden file at line \(first + 1):
                  golden: \(first < goldenLines.count ? String(goldenLines[first]) : "<end>")
                  now:    \(first < lines.count ? String(lines[first]) : "<end>")
                If the change is intended: VIGIL_UPDATE_GOLDEN=1 swift test --filter GoldenScenarioTests
                """)
        }
    }

    @Test("every golden file belongs to a scenario")
    func noStrayGoldens() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: testdata.path).filter {
            $0.hasSuffix(".golden")
        }
        let names = Set(scenarios.map { $0.name + ".golden" })
        #expect(Set(files) == names)
    }
}
