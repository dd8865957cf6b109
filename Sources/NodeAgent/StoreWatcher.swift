import ClusterModel
import CoordinationStore
import Logging
import NIOConcurrencyHelpers

/// Reads the whole cluster prefix, then follows it with one watch. On an error or silence longer
/// than `idleLimit` the watch is opened again from the revision after the last one applied (etcd
/// replays what came meanwhile); everything is read again only when that history was compacted
/// away, or after ``fullReadAfter`` failed rounds in a row. (Reading everything on every silence made
/// every node of a slow store re-read the whole prefix at once — at 32 nodes × 500 resources about
/// a megabyte each, which kept the store slow: docs/design/0023.) Hands every new view to `deliver`.
///
/// Silence matters: a watch whose etcd member was cut off by a partition neither ends nor errs, it
/// just stops. Every member heartbeats, so a healthy watch sees an event at least every heartbeat.
public struct StoreWatcher: Sendable {
    public let store: any CoordinationStore
    public let layout: KeyLayout
    public let idleLimit: Duration
    /// Where readers on this node find the view the watch follows.
    public let mirror: ViewMirror?
    private let logger: Logger

    public init(
        store: any CoordinationStore, layout: KeyLayout, idleLimit: Duration, mirror: ViewMirror? = nil, logger: Logger
    ) {
        self.store = store
        self.layout = layout
        self.idleLimit = idleLimit
        self.mirror = mirror
        self.logger = logger
    }

    /// Failed rounds in a row after which the view is read whole again.
    static let fullReadAfter = 10

    final class LastEvent: Sendable {
        let time = NIOLockedValueBox(ContinuousClock.now)
    }

    /// The view as far as the watch has applied it (kept across rounds, to resume from).
    final class Applied: Sendable {
        let view = NIOLockedValueBox<ClusterView?>(nil)
    }

    struct Silent: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "no watch event for \(limit)" }
    }

    /// Runs until cancelled.
    public func run(deliver: @escaping @Sendable (ClusterView) async -> Void) async {
        defer { mirror?.invalidate() }
        var failures = 0
        let applied = Applied()
        while !Task.isCancelled {
            do {
                let view: ClusterView
                if let resumed = applied.view.withLockedValue({ $0 }) {
                    view = resumed
                } else {
                    let snapshot = try await store.range(prefix: layout.prefix, excluding: layout.notInView)
                    view = layout.view(of: snapshot)
                    applied.view.withLockedValue { $0 = view }
                    mirror?.reset(view)
                    await deliver(view)
                }
                let healthy = NIOLockedValueBox(false)
                defer { if healthy.withLockedValue({ $0 }) { failures = 0 } }
                try await follow(from: view, applied: applied, deliver: deliver) {
                    healthy.withLockedValue { $0 = true }
                }
            } catch let relocated as WatchRelocated {
                logger.info("store watch opened again", metadata: ["vigil.reason": "\(relocated.reason)"])
            } catch {
                failures += 1
                var readWhole = failures % Self.fullReadAfter == 0
                if case .compacted? = (error as? StoreError)?.code { readWhole = true }
                if readWhole {
                    applied.view.withLockedValue { $0 = nil }
                    mirror?.invalidate()
                }
                if failures == 1 || failures % 20 == 0 || readWhole {
                    logger.warning(
                        readWhole
                            ? "store watch interrupted; reading everything again" : "store watch interrupted; resuming",
                        metadata: ["vigil.error": "\(error)"])
                }
                // Jittered, so the nodes of a slow store do not all come back at once.
                let pause = min(1000, 50 * failures)
                try? await Task.sleep(for: .milliseconds(pause / 2 + Int.random(in: 0...max(1, pause / 2))))
            }
        }
    }

    /// Applies watch batches to `view` until the watch fails or stays silent past `idleLimit`.
    /// `delivering` is called once the first batch came through (the round is healthy).
    private func follow(
        from initial: ClusterView, applied: Applied, deliver: @escaping @Sendable (ClusterView) async -> Void,
        delivering: @escaping @Sendable () -> Void
    ) async throws {
        let lastEvent = LastEvent()
        let layout = self.layout
        let store = self.store
        let idleLimit = self.idleLimit
        let notInView = layout.notInView
        let mirror = self.mirror
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var view = initial
                var first = true
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
                    if first {
                        first = false
                        delivering()
                    }
                    applied.view.withLockedValue { $0 = view }
                    mirror?.advance(to: view.revision, view: changed ? view : nil)
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
