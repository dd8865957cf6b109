import ClusterModel
import CoordinationStore
import Logging
import NIOConcurrencyHelpers

/// Reads the whole cluster prefix, then follows it with one watch resumed from the last revision
/// seen; on compaction, any error, or silence longer than `idleLimit` it reads everything again
/// (a watch alone is never trusted). Hands every new view to `deliver`.
///
/// Silence matters: a watch whose etcd member was cut off by a partition neither ends nor errs, it
/// just stops. Every member heartbeats, so a healthy watch sees an event at least every heartbeat.
public struct StoreWatcher: Sendable {
    public let store: any CoordinationStore
    public let layout: KeyLayout
    public let idleLimit: Duration
    private let logger: Logger

    public init(store: any CoordinationStore, layout: KeyLayout, idleLimit: Duration, logger: Logger) {
        self.store = store
        self.layout = layout
        self.idleLimit = idleLimit
        self.logger = logger
    }

    final class LastEvent: Sendable {
        let time = NIOLockedValueBox(ContinuousClock.now)
    }

    struct Silent: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "no watch event for \(limit)" }
    }

    /// Runs until cancelled.
    public func run(deliver: @escaping @Sendable (ClusterView) async -> Void) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let snapshot = try await store.range(prefix: layout.prefix, excluding: layout.notInView)
                let view = layout.view(of: snapshot)
                await deliver(view)
                failures = 0
                try await follow(from: view, deliver: deliver)
            } catch let relocated as WatchRelocated {
                logger.info("store watch opened again", metadata: ["vigil.reason": "\(relocated.reason)"])
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning(
                        "store watch interrupted; reading everything again", metadata: ["vigil.error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(1000, 50 * failures)))
            }
        }
    }

    /// Applies watch batches to `view` until the watch fails or stays silent past `idleLimit`.
    private func follow(from initial: ClusterView, deliver: @escaping @Sendable (ClusterView) async -> Void)
        async throws
    {
        let lastEvent = LastEvent()
        let layout = self.layout
        let store = self.store
        let idleLimit = self.idleLimit
        let notInView = layout.notInView
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var view = initial
                for try await batch in store.watch(prefix: layout.prefix, fromRevision: initial.revision + 1) {
                    lastEvent.time.withLockedValue { $0 = ContinuousClock.now }
                    var changed = false
                    for event in batch {
                        view.revision = max(view.revision, event.keyValue.modRevision)
                        // The event log, sessions and users are no part of the view: writing them
                        // (an event per script run, a session per login) wakes no brain.
                        if notInView.contains(where: { event.keyValue.key.hasPrefix($0) }) { continue }
                        changed = true
                        switch event.kind {
                        case .put: layout.put(StoredEntry(event.keyValue), into: &view)
                        case .delete: layout.delete(event.keyValue.key, at: event.keyValue.modRevision, from: &view)
                        }
                    }
                    if changed { await deliver(view) }
                }
                throw StoreError(.unavailable, "watch ended")
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: idleLimit / 4)
                    if ContinuousClock.now - lastEvent.time.withLockedValue({ $0 }) > idleLimit {
                        throw Silent(limit: idleLimit)
                    }
                }
            }
            // Whichever ends first (the watch failing, or the silence check) ends both.
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
