// Tests of NodeAgent internals the public API does not reach: the fence path's spawn helper, the brain's timer.
import NIOConcurrencyHelpers
import Testing

@testable import NodeAgent

@Suite("Spawning ip on the fence thread")
struct SpawnTests {
    /// The test process does not ignore SIGPIPE: without the guard, writing a batch to an `ip` that
    /// exited without reading it kills the whole process (as it killed a test run once).
    @Test("a command that exits without reading its input does not kill the caller with SIGPIPE")
    func readerGone() {
        let input = String(repeating: "address del 198.18.0.100/24 dev eth0\n", count: 40_000)
        let result = Spawn.run("/bin/true", [], input: input)
        #expect(result?.status == 0)
    }
}

@Suite("The brain's timer")
struct TimerSlotTests {
    /// `scheduleTimer` replaces any earlier request: the replaced timer, due first, never fires.
    @Test("a replaced timer never fires; its replacement does", .timeLimit(.minutes(1)))
    func replaced() async throws {
        let slot = TimerSlot()
        let fired = NIOLockedValueBox<[String]>([])
        // Due a second apart: only a stall of a second between these two lines could fire the first.
        slot.replace(at: .now + .seconds(1)) { fired.withLockedValue { $0.append("first") } }
        slot.replace(at: .now + .seconds(2)) { fired.withLockedValue { $0.append("second") } }
        let start = ContinuousClock.now
        while fired.withLockedValue({ $0.isEmpty }), ContinuousClock.now - start < .seconds(50) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(fired.withLockedValue { $0 } == ["second"])
        slot.cancel()
    }
}
