import ClusterModel
import CoordinationStore

extension StoredEntry {
    /// One key as the store returned it.
    public init(_ kv: KeyValue) {
        self.init(key: kv.key, value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision)
    }
}

extension KeyLayout {
    /// The cluster as one read of the whole prefix shows it.
    public func view(of snapshot: RangeResult) -> ClusterView {
        view(from: snapshot.keyValues.map(StoredEntry.init), revision: snapshot.revision)
    }
}
