import ClusterModel
import NIOConcurrencyHelpers

/// The cluster view this node's watcher follows, for readers that would otherwise read the whole
/// prefix from the store (`vigil status`, `GET /v1/cluster`): at 32 nodes × 500 resources that read
/// is about a megabyte through etcd's JSON gateway per call (docs/design/0023).
///
/// A reader first asks the store for its current revision (one key), then takes the mirror once
/// the watch has delivered at least that revision: what it gets is as fresh as a store read —
/// a write acknowledged before the call is in it.
public final class ViewMirror: Sendable {
    struct Mirrored {
        var view: ClusterView?
        /// The newest revision the watch delivered (any key, the event log's included).
        var seen: Revision = 0
    }

    private let state = NIOLockedValueBox(Mirrored())

    public init() {}

    /// A full read: the watch follows from here.
    public func reset(_ view: ClusterView) {
        state.withLockedValue { $0 = Mirrored(view: view, seen: view.revision) }
    }

    /// A watch batch applied: `view` if a key of the view changed, and the revision the batch reached.
    public func advance(to revision: Revision, view: ClusterView?) {
        state.withLockedValue { state in
            if let view { state.view = view }
            state.seen = max(state.seen, revision)
        }
    }

    /// The watch stopped: nothing to serve until the next full read.
    public func invalidate() {
        state.withLockedValue { $0 = Mirrored() }
    }

    /// The view once the watch has delivered `revision`, waiting up to `limit`; nil if it did not,
    /// and at once when no watch runs (the node is not a member).
    public func view(atLeast revision: Revision, within limit: Duration) async -> ClusterView? {
        let deadline = ContinuousClock.now + limit
        while true {
            let (current, following) = state.withLockedValue { ($0.seen >= revision ? $0.view : nil, $0.view != nil) }
            if let current { return current }
            guard following, ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}
