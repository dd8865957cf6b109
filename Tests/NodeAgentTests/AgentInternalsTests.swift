// Tests of NodeAgent internals the public API does not reach: the fence path's spawn helper, the brain's timer.
import ClusterModel
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

@Suite("Script slots")
struct ScriptSlotTests {
    /// With every slot taken, waiting scripts start loads and unloads first, by resource priority,
    /// monitors last, and in arrival order within a rank.
    @Test("waiting scripts get a slot by rank, then in arrival order", .timeLimit(.minutes(1)))
    func rankOrder() async throws {
        let slots = ScriptRunner.Slots(count: 1)
        await slots.acquire(rank: .init(acting: true, priority: 0))
        let started = NIOLockedValueBox<[String]>([])
        let waiting: [(String, ScriptRunner.Rank)] = [
            ("monitor-100", .init(acting: false, priority: 100)), ("load-1-first", .init(acting: true, priority: 1)),
            ("load-5", .init(acting: true, priority: 5)), ("load-1-second", .init(acting: true, priority: 1)),
        ]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, (name, rank)) in waiting.enumerated() {
                // One at a time into the queue, so their arrival order is known.
                group.addTask {
                    await slots.acquire(rank: rank)
                    started.withLockedValue { $0.append(name) }
                    await slots.release()
                }
                let start = ContinuousClock.now
                while await slots.queued < index + 1, ContinuousClock.now - start < .seconds(50) {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            await slots.release()
            try await group.waitForAll()
        }
        #expect(started.withLockedValue { $0 } == ["load-5", "load-1-first", "load-1-second", "monitor-100"])
    }
}

@Suite("The view waiting for the brain")
struct NewestViewTests {
    /// The watch hands views over faster than a busy brain takes them: the brain is told once and
    /// then takes the newest, never a queue of stale ones.
    @Test("views that come while one waits replace it; the brain is told once per empty slot")
    func newestWins() {
        let slot = NewestView()
        #expect(slot.offer(ClusterView(revision: 1)))
        #expect(!slot.offer(ClusterView(revision: 2)))
        #expect(!slot.offer(ClusterView(revision: 3)))
        #expect(slot.take()?.revision == 3)
        #expect(slot.take() == nil)
        #expect(slot.offer(ClusterView(revision: 4)))
        #expect(slot.take()?.revision == 4)
    }
}
