/// A watch that does not go silent for good. A watch's connection can die without an error (a
/// partition drops the packets; TCP notices only much later), and a prefix such as the event log
/// can be quiet for hours, so silence alone proves nothing: every `restartAfter` of silence (and
/// after any error) the watch is opened again from the revision after the last one delivered. etcd
/// replays what was written meanwhile, so nothing is lost or delivered twice; a quiet prefix costs
/// one watch request per `restartAfter`.
extension CoordinationStore {
    /// Follows `prefix` from `revision` until cancelled. Ends with an error only when the resume
    /// point was compacted away (`StoreError.Code.compacted`: re-read and start again).
    public func resumingWatch(
        prefix: String, fromRevision revision: Int64, restartAfter limit: Duration,
        pause: Duration = .milliseconds(500)
    ) -> AsyncThrowingStream<[WatchEvent], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[WatchEvent], any Error>.makeStream()
        let task = Task {
            let progress = WatchProgress(next: revision)
            while !Task.isCancelled {
                let start = await progress.next
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await batch in self.watch(prefix: prefix, fromRevision: start) {
                                await progress.delivered(batch)
                                continuation.yield(batch)
                            }
                            throw StoreError(.unavailable, "watch ended")
                        }
                        group.addTask {
                            while await progress.quietFor() < limit {
                                try await Task.sleep(for: limit / 4)
                            }
                        }
                        // The watch failing or the silence limit: either ends this round.
                        defer { group.cancelAll() }
                        try await group.next()
                    }
                } catch is WatchRelocated {
                    // Opened again at once, elsewhere.
                } catch let error as StoreError {
                    if case .compacted = error.code {
                        continuation.finish(throwing: error)
                        return
                    }
                    try? await Task.sleep(for: pause)
                } catch {
                    if Task.isCancelled { break }
                    try? await Task.sleep(for: pause)
                }
                await progress.restarted()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// Where a resuming watch stands: the next revision to ask for, and when it last heard anything.
actor WatchProgress {
    var next: Int64
    private var heard = ContinuousClock.now
    private(set) var restarts = 0

    init(next: Int64) { self.next = next }

    func delivered(_ batch: [WatchEvent]) {
        heard = .now
        if let last = batch.last { next = max(next, last.keyValue.modRevision + 1) }
    }

    func quietFor() -> Duration { .now - heard }

    func restarted() {
        heard = .now
        restarts += 1
    }
}
