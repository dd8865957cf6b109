import ClusterAPI
import ClusterModel
import CoordinationStore
import InMemoryStore
import Logging
import NodeAgent
import Testing

/// `vigil status` and `GET /v1/cluster` read the view the node's watch follows instead of the whole
/// prefix, but only once the watch has delivered the store's current revision: a write
/// acknowledged before the call is always in the answer (docs/design/0023).
@Suite("Status from the watched view")
struct ViewMirrorTests {
    let store = InMemoryStore(now: { 0 })
    let layout = KeyLayout(cluster: "lab")

    func spec(_ name: String) throws -> ResourceSpec {
        try ResourceTemplate.named("Generic_IP_Service")!.instantiate(
            name: try ResourceName(validating: name), variables: ["RESOURCE_IP": "198.18.0.100"])
    }

    func names(_ control: ClusterControl) async throws -> [String] {
        try await control.status().resources.map(\.name)
    }

    @Test("the mirror is served when it has caught up with the store, never when it is behind", .timeLimit(.minutes(1)))
    func servedOnlyWhenCaughtUp() async throws {
        let client = store.client("n1")
        let written = try await client.put(layout.resource("stored"), ModelCodec.encode(try spec("stored")))
        let mirror = ViewMirror()
        let control = ClusterControl(store: client, layout: layout, node: "n1", logDirectory: nil, mirror: mirror)
        // A mirror at the store's revision is what status shows (it differs from the store here
        // only to tell the two apart).
        var mirrored = ClusterView(revision: written)
        mirrored.resources["mirrored"] = try spec("mirrored")
        mirror.reset(mirrored)
        #expect(try await names(control) == ["mirrored"])
        // Behind the store (a write it has not delivered): the whole prefix is read instead.
        mirror.reset(ClusterView(revision: written - 1))
        #expect(try await names(control) == ["stored"])
        // No watch at all: read whole.
        mirror.invalidate()
        #expect(try await names(control) == ["stored"])
    }

    @Test("a definition written just before a status call is in its answer", .timeLimit(.minutes(1)))
    func readsItsWrites() async throws {
        let client = store.client("n1")
        let mirror = ViewMirror()
        let watcher = StoreWatcher(
            store: client, layout: layout, idleLimit: .seconds(30), mirror: mirror, logger: Logger(label: "test"))
        let watching = Task { await watcher.run { _ in } }
        defer { watching.cancel() }
        let control = ClusterControl(store: client, layout: layout, node: "n1", logDirectory: nil, mirror: mirror)
        for index in 1...20 {
            let name = "r\(index)"
            _ = try await client.put(
                layout.resource(try ResourceName(validating: name)), ModelCodec.encode(try spec(name)))
            #expect(try await names(control).contains(name))
        }
    }
}
