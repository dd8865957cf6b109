import ClusterModel
import CoordinationStore
import Logging

/// Reads the whole cluster prefix, then follows it with one watch resumed from the last revision
/// seen; on compaction or any error it reads everything again (a watch alone is never trusted).
/// Hands every new view to `deliver`.
public struct StoreWatcher: Sendable {
    public let store: any CoordinationStore
    public let layout: KeyLayout
    private let logger: Logger

    public init(store: any CoordinationStore, layout: KeyLayout, logger: Logger) {
        self.store = store
        self.layout = layout
        self.logger = logger
    }

    static func entry(_ kv: KeyValue) -> StoredEntry {
        StoredEntry(key: kv.key, value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision)
    }

    /// Runs until cancelled.
    public func run(deliver: @Sendable (ClusterView) async -> Void) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let snapshot = try await store.range(prefix: layout.prefix)
                var view = layout.view(from: snapshot.keyValues.map(Self.entry), revision: snapshot.revision)
                await deliver(view)
                failures = 0
                for try await batch in store.watch(prefix: layout.prefix, fromRevision: snapshot.revision + 1) {
                    for event in batch {
                        switch event.kind {
                        case .put: layout.put(Self.entry(event.keyValue), into: &view)
                        case .delete: layout.delete(event.keyValue.key, from: &view)
                        }
                        view.revision = max(view.revision, event.keyValue.modRevision)
                    }
                    await deliver(view)
                }
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("store watch interrupted; reading everything again", metadata: ["vigil.error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(1000, 50 * failures)))
            }
        }
    }
}
