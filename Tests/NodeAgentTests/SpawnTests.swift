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
