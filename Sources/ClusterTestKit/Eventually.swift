/// Polls `condition` until it holds or `limit` has passed, and says whether it holds: a hang guard
/// for tests that wait on other tasks, never a measurement (the limit is far above the wait).
public func eventually(
    within limit: Duration = .seconds(60), every interval: Duration = .milliseconds(10), _ condition: () -> Bool
) async throws -> Bool {
    let end = ContinuousClock.now + limit
    while !condition(), ContinuousClock.now < end { try await Task.sleep(for: interval) }
    return condition()
}
