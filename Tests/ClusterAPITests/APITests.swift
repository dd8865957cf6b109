import ClusterAPI
import ClusterClient
import ClusterModel
import ClusterTestKit
import CoordinationStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryStore
import NIOConcurrencyHelpers
import Testing

/// An API on an in-memory store, with an admin and an observer user.
struct APIFixture {
    let store = InMemoryStore(now: { 0 })
    let layout = KeyLayout(cluster: "lab")
    let builder: APIRouterBuilder

    init(node: NodeName = "n1") async throws {
        builder = APIRouterBuilder(
            control: ClusterControl(store: store.client(node.rawValue), layout: layout, node: node, logDirectory: nil))
        let client = store.client("setup")
        for (index, name) in ["n1", "n2", "n3"].enumerated() {
            let node = try NodeName(validating: name)
            _ = try await client.put(layout.node(node), ModelCodec.encode(NodeDefinition(name: node, index: index)))
        }
        try await builder.authenticator.setUser("admin", UserRequest(password: "admin-secret", role: .admin))
        try await builder.authenticator.setUser("watcher", UserRequest(password: "watcher-secret", role: .observer))
    }

    /// Runs `test` against the router of one listener (`local`: the root-only socket).
    @discardableResult
    func test<Value: Sendable>(local: Bool = false, _ test: @Sendable (any TestClientProtocol) async throws -> Value)
        async throws -> Value
    {
        let app = Application(router: builder.router(local: local))
        return try await app.test(.router, test)
    }

    /// Everything in the store but the event log, to show a refused request changed nothing.
    func contents() async throws -> [String: [UInt8]] {
        let range = try await store.client("check").range(prefix: layout.prefix)
        return Dictionary(
            uniqueKeysWithValues: range.keyValues.filter { !$0.key.hasPrefix(layout.eventsPrefix) }.map {
                ($0.key, $0.value)
            })
    }

    /// Writes what the master and a node would: `resource` assigned at `generation` (to `node`, or
    /// offline), and `node`'s status of it.
    func place(
        _ resource: ResourceName, on node: NodeName, generation: UInt64, state: LocalState, offline: Bool = false
    ) async throws {
        let check = store.client("check")
        _ = try await check.put(
            layout.assignment(resource),
            ModelCodec.encode(
                Assignment(generation: generation, placement: offline ? .offline : .node(node), reason: "test")))
        _ = try await check.put(
            layout.status(resource, node: node),
            ModelCodec.encode(ResourceStatus(node: node, generation: generation, state: state, incarnation: 1)))
    }

    func events() async throws -> [StoredEvent] {
        try await store.client("check").range(prefix: layout.eventsPrefix).keyValues.map {
            try ModelCodec.decode(StoredEvent.self, from: $0.value)
        }
    }
}

func basic(_ user: String, _ password: String) -> String {
    "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
}

func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

func errorBody(_ response: TestResponse) -> APIError.Body.Detail? {
    try? JSONDecoder().decode(APIError.Body.self, from: Data(response.body.readableBytesView)).error
}

let createIManager = #"{"name":"iManager","template":"Generic_IP_Service","variables":{"RESOURCE_IP":"198.18.0.100"}}"#

@Suite("REST API")
struct APITests {
    @Test("every route of the table has a handler, and every documented route answers")
    func routesMatchDocument() async throws {
        let fixture = try await APIFixture()
        #expect(Set(APIRouterBuilder.routes.map(\.key)).count == APIRouterBuilder.routes.count)
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var documented: [(String, String)] = []
        for (path, operations) in paths {
            for method in operations.keys { documented.append((method.uppercased(), path)) }
        }
        #expect(documented.count == APIRouterBuilder.routes.count)
        let routes = documented
        try await fixture.test(local: true) { client in
            for (method, path) in routes where path != "/v1/events/stream" {
                let uri = path.replacingOccurrences(of: "{name}", with: "nothing_here")
                try await client.execute(uri: uri, method: HTTPRequest.Method(method)!, body: body("{}")) { response in
                    // A 404 must be ours (naming the field), never the router's "no such route".
                    #expect(response.status != .methodNotAllowed, "\(method) \(path)")
                    if response.status == .notFound {
                        #expect(["name", "node"].contains(errorBody(response)?.field ?? ""), "\(method) \(path)")
                    }
                    // `/here` answers 503 where the resource does not run: for load balancers.
                    #expect(
                        response.status.code < 500 || path.hasSuffix("/here"), "\(method) \(path): \(response.status)")
                }
            }
            try await client.execute(uri: "/v1/no-such-thing", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("health for load balancers: /healthz follows the node's standing, /here is 200 only on the holder")
    func health() async throws {
        let fixture = try await APIFixture()
        let standing = NIOLockedValueBox(true)
        let layout = fixture.layout
        _ = try await fixture.builder.control.createResource(
            CreateResourceRequest(
                name: "iManager", template: "Generic_IP_Service", variables: ["RESOURCE_IP": "198.18.0.100"]),
            user: "admin")
        func answers(_ node: NodeName) async throws -> (healthz: HTTPResponse.Status, here: HTTPResponse.Status) {
            let builder = APIRouterBuilder(
                control: ClusterControl(
                    store: fixture.store.client(node.rawValue), layout: layout, node: node, logDirectory: nil),
                health: { standing.withLockedValue { $0 } })
            return try await Application(router: builder.router(local: false)).test(.router) { client in
                let healthz = try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(!String(buffer: response.body).contains("version"), "internal detail")
                    return response.status
                }
                let here = try await client.execute(uri: "/v1/resources/iManager/here", method: .get) { $0.status }
                return (healthz, here)
            }
        }
        #expect(try await answers("n1") == (.ok, .serviceUnavailable), "offline: held nowhere")
        try await fixture.place("iManager", on: "n2", generation: 2, state: .loading)
        #expect(try await answers("n2") == (.ok, .serviceUnavailable), "still loading")
        try await fixture.place("iManager", on: "n2", generation: 2, state: .running)
        #expect(try await answers("n2") == (.ok, .ok))
        #expect(try await answers("n1") == (.ok, .serviceUnavailable))
        standing.withLockedValue { $0 = false }
        #expect(try await answers("n2") == (.serviceUnavailable, .serviceUnavailable), "a fenced node says so")
        try await fixture.test { client in
            try await client.execute(uri: "/v1/resources/bad%20name/here", method: .get) { response in
                #expect(response.status == .badRequest && errorBody(response)?.field == "name")
            }
            try await client.execute(uri: "/v1/resources/nothere/here", method: .get) {
                #expect($0.status == .serviceUnavailable)
            }
        }
    }

    @Test("the scrape token reads /metrics and nothing else; a wrong one reads nothing")
    func scrapeToken() async throws {
        let fixture = try await APIFixture()
        let token = String(repeating: "7f", count: 20)
        let builder = APIRouterBuilder(control: fixture.builder.control, metricsToken: token)
        try await Application(router: builder.router(local: false)).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                #expect($0.status == .ok)
            }
            for uri in ["/v1/cluster", "/v1/users", "/"] {
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .unauthorized || $0.status == .seeOther, "\(uri): \($0.status)")
                }
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(token)x"]) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    @Test("API times come with their RFC 3339 form: the same instant as the milliseconds")
    func rfc3339Times() async throws {
        let fixture = try await APIFixture()
        _ = try await fixture.builder.control.createResource(
            CreateResourceRequest(
                name: "iManager", template: "Generic_IP_Service", variables: ["RESOURCE_IP": "198.18.0.100"]),
            user: "admin")
        let page = try await fixture.test(local: true) { client in
            try await client.execute(uri: "/v1/events", method: .get) {
                try JSONDecoder().decode(EventPage.self, from: Data(buffer: $0.body))
            }
        }
        let event = try #require(page.events.first)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(event.timeRFC3339.flatMap { formatter.date(from: $0) })
        #expect(Int64((parsed.timeIntervalSince1970 * 1000).rounded()) == event.time)
        #expect(event.timeRFC3339?.hasSuffix("Z") == true)
        #expect(rfc3339(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        // The milliseconds are the integer's (a Double of 1,796,000,000.622 reads back as .621…).
        #expect(rfc3339(milliseconds: 1_796_000_000_622) == "2026-11-30T00:53:20.622Z")
        #expect(rfc3339(milliseconds: 1_796_000_000_007) == "2026-11-30T00:53:20.007Z")
        #expect(rfc3339(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(rfc3339(seconds: 1_796_000_000) == "2026-11-30T00:53:20Z")
    }

    @Test("without credentials every call but /healthz is 401; bad tokens and passwords too")
    func unauthenticated() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            for route in APIRouterBuilder.routes
            where route.path != "/healthz" && !route.path.hasSuffix("/here") && route.key != "POST /v1/sessions" {
                let uri = route.path.replacingOccurrences(of: "{name}", with: "iManager")
                try await client.execute(uri: uri, method: route.method) { response in
                    #expect(response.status == .unauthorized, "\(route.key)")
                    #expect(response.headers[.wwwAuthenticate] != nil)
                }
            }
            let wrong: [String] = [
                "Bearer " + String(repeating: "a", count: 64), "Bearer short", basic("admin", "wrong-password"),
                basic("nobody", "x"),
                "Basic !!!notbase64", "Digest whatever",
            ]
            for header in wrong {
                try await client.execute(uri: "/v1/cluster", method: .get, headers: [.authorization: header]) {
                    #expect($0.status == .unauthorized, "\(header)")
                }
            }
        }
    }

    @Test("an observer reads but every change is 403; an admin changes")
    func roles() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let observer: HTTPFields = [.authorization: basic("watcher", "watcher-secret")]
            try await client.execute(uri: "/v1/cluster", method: .get, headers: observer) { #expect($0.status == .ok) }
            let before = try await fixture.contents()
            for route in APIRouterBuilder.routes where route.method != .get && route.path != "/v1/sessions" {
                let uri = route.path.replacingOccurrences(of: "{name}", with: "iManager")
                try await client.execute(uri: uri, method: route.method, headers: observer, body: body(createIManager))
                { response in
                    #expect(response.status == .forbidden, "\(route.key)")
                    #expect(errorBody(response)?.field == "user")
                }
            }
            #expect(try await fixture.contents() == before)
            let admin: HTTPFields = [.authorization: basic("admin", "admin-secret")]
            try await client.execute(uri: "/v1/resources", method: .post, headers: admin, body: body(createIManager)) {
                #expect($0.status == .created)
            }
        }
        let events = try await fixture.events()
        #expect(events.contains { $0.event.message == "admin created resource iManager from Generic_IP_Service" })
    }

    @Test("a session made on one node's API works on another's, and ends at logout")
    func sessionsLiveInTheStore() async throws {
        let first = try await APIFixture(node: "n1")
        let second = APIRouterBuilder(
            control: ClusterControl(
                store: first.store.client("n2"), layout: first.layout, node: "n2", logDirectory: nil))
        let token = try await first.test { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, body: body(#"{"user":"admin","password":"wrong-one"}"#)
            ) {
                #expect($0.status == .unauthorized)
            }
            return try await client.execute(
                uri: "/v1/sessions", method: .post, body: body(#"{"user":"admin","password":"admin-secret"}"#)
            ) { response in
                #expect(response.status == .created)
                return try JSONDecoder().decode(SessionGrant.self, from: Data(response.body.readableBytesView)).token
            }
        }
        let stored = try await first.store.client("check").range(prefix: first.layout.prefix + "sessions/").keyValues
        #expect(stored.count == 1)
        #expect(
            stored.allSatisfy { !$0.key.contains(token) && !String(decoding: $0.value, as: UTF8.self).contains(token) })
        let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
        try await Application(router: second.router(local: false)).test(.router) { client in
            try await client.execute(uri: "/v1/cluster", method: .get, headers: bearer) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/sessions", method: .delete, headers: bearer) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/v1/cluster", method: .get, headers: bearer) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    /// Logs `user` in; returns its bearer header.
    func login(_ client: any TestClientProtocol, _ user: String, _ password: String) async throws -> HTTPFields {
        try await client.execute(
            uri: "/v1/sessions", method: .post, body: body(#"{"user":"\#(user)","password":"\#(password)"}"#)
        ) { response in
            #expect(response.status == .created)
            let token = try JSONDecoder().decode(SessionGrant.self, from: Data(response.body.readableBytesView)).token
            return [.authorization: "Bearer \(token)"]
        }
    }

    @Test("deleting a user, or changing their role or password, revokes their tokens at once")
    func revocation() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let admin: HTTPFields = [.authorization: basic("admin", "admin-secret")]
            for change in [
                #"{"password":"watcher-secret","role":"admin"}"#, #"{"password":"another-secret","role":"observer"}"#,
                nil,
            ] {
                let token = try await login(client, "watcher", "watcher-secret")
                try await client.execute(uri: "/v1/cluster", method: .get, headers: token) { #expect($0.status == .ok) }
                if let change {
                    try await client.execute(uri: "/v1/users/watcher", method: .put, headers: admin, body: body(change))
                    {
                        #expect($0.status == .ok || $0.status == .noContent || $0.status == .created)
                    }
                } else {
                    try await client.execute(uri: "/v1/users/watcher", method: .delete, headers: admin) {
                        #expect($0.status == .ok || $0.status == .noContent)
                    }
                }
                try await client.execute(uri: "/v1/cluster", method: .get, headers: token) {
                    #expect($0.status == .unauthorized, "a token survived \(change ?? "deletion")")
                }
                // Back to the fixture's watcher for the next round.
                try await fixture.builder.authenticator.setUser(
                    "watcher", UserRequest(password: "watcher-secret", role: .observer))
            }
        }
        let sessions = try await fixture.store.client("check").range(prefix: fixture.layout.prefix + "sessions/")
        #expect(sessions.keyValues.isEmpty, "revoked sessions stayed in the store")
    }

    @Test("observers see webhook URLs redacted, in the settings and in the event log; admins see them whole")
    func secretsRedacted() async throws {
        let fixture = try await APIFixture()
        let secret = "https://hooks.example:8443/services/T0/B0/s3cr3t-token?key=abc"
        _ = try await fixture.builder.control.set("webhooks", secret, user: "admin")
        try await fixture.test { client in
            for (user, password, whole) in [("admin", "admin-secret", true), ("watcher", "watcher-secret", false)] {
                try await client.execute(
                    uri: "/v1/settings", method: .get, headers: [.authorization: basic(user, password)]
                ) { response in
                    let settings = try JSONDecoder().decode(
                        ClusterSettings.self, from: Data(response.body.readableBytesView))
                    #expect(settings.notification.webhooks == [whole ? secret : "https://hooks.example:8443/…"])
                }
            }
        }
        let events = try await fixture.events()
        #expect(!events.contains { $0.event.message.contains("s3cr3t") }, "the token reached the event log")
    }

    @Test("a store failure is a 503 that names no internal address or error text")
    func storeErrorsHidden() async throws {
        let fixture = try await APIFixture()
        fixture.store.partition("n1")
        try await fixture.test { client in
            try await client.execute(
                uri: "/v1/cluster", method: .get, headers: [.authorization: basic("admin", "admin-secret")]
            ) { response in
                #expect(response.status == .serviceUnavailable)
                let text = String(buffer: response.body)
                let error = try JSONDecoder().decode(APIErrorBody.self, from: Data(response.body.readableBytesView))
                #expect(
                    error.error.value == "" && error.error.reason == "the coordination store did not answer; retry",
                    "\(text)")
            }
        }
    }

    @Test("a password longer than bcrypt's 72 bytes, or with a NUL, is refused, not cut")
    func passwordLimits() async throws {
        let fixture = try await APIFixture()
        for password in [String(repeating: "x", count: 73), "eight\u{0}chars", "short"] {
            await #expect(throws: APIError.self) {
                try await fixture.builder.authenticator.setUser(
                    "someone", UserRequest(password: password, role: .observer))
            }
        }
        try await fixture.builder.authenticator.setUser(
            "someone", UserRequest(password: String(repeating: "x", count: 72), role: .observer))
    }

    @Test("users are stored with salted bcrypt hashes, never the password")
    func passwordsAreHashed() async throws {
        let fixture = try await APIFixture()
        let kv = try #require(try await fixture.store.client("check").get(fixture.layout.user("admin")))
        let text = String(decoding: kv.value, as: UTF8.self)
        #expect(!text.contains("admin-secret"))
        let record = try ModelCodec.decode(UserRecord.self, from: kv.value)
        #expect(record.passwordHash.hasPrefix("$2b$11$"))
        try await fixture.builder.authenticator.setUser("other", UserRequest(password: "admin-secret", role: .admin))
        let other = try ModelCodec.decode(
            UserRecord.self,
            from: try #require(try await fixture.store.client("check").get(fixture.layout.user("other"))).value)
        #expect(other.passwordHash != record.passwordHash)
    }

    @Test("resource lifecycle: create, read, command, replace, delete only when offline")
    func resourceLifecycle() async throws {
        let fixture = try await APIFixture()
        try await fixture.test(local: true) { client in
            try await client.execute(uri: "/v1/resources", method: .post, body: body(createIManager)) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/v1/resources", method: .post, body: body(createIManager)) { response in
                #expect(response.status == .conflict)
                #expect(errorBody(response)?.field == "name")
            }
            var definition = Data()
            try await client.execute(uri: "/v1/resources/iManager", method: .get) { response in
                #expect(response.status == .ok)
                let detail = try JSONDecoder().decode(ResourceDetail.self, from: Data(response.body.readableBytesView))
                #expect(detail.state.state == .offline)
                definition = try JSONEncoder().encode(detail.definition)
            }
            try await client.execute(uri: "/v1/resources/iManager/online", method: .post, body: body(#"{"node":"n2"}"#))
            { response in
                #expect(response.status == .accepted)
                let receipt = try JSONDecoder().decode(CommandReceipt.self, from: Data(response.body.readableBytesView))
                #expect(receipt.verb == "online n2")
            }
            let commands = try await fixture.store.client("check").range(prefix: fixture.layout.prefix + "commands/")
                .keyValues
            #expect(commands.count == 1)
            #expect(try ModelCodec.decode(AdminCommand.self, from: commands[0].value).user == "root@local")
            var text = String(decoding: definition, as: UTF8.self)
            text = text.replacingOccurrences(of: "\"priority\":0", with: "\"priority\":7")
            try await client.execute(uri: "/v1/resources/iManager", method: .put, body: body(text)) { response in
                #expect(response.status == .ok)
                let spec = try JSONDecoder().decode(ResourceSpec.self, from: Data(response.body.readableBytesView))
                #expect(spec.priority == 7)
            }
            // Running on n2: delete is refused, nothing removed.
            let check = fixture.store.client("check")
            let layout = fixture.layout
            try await fixture.place("iManager", on: "n2", generation: 2, state: .running)
            try await client.execute(uri: "/v1/resources/iManager", method: .delete) { response in
                #expect(response.status == .conflict)
                #expect(errorBody(response)?.reason.contains("take it offline first") == true)
            }
            #expect(try await check.get(layout.resource("iManager")) != nil)
            try await fixture.place("iManager", on: "n2", generation: 3, state: .offline, offline: true)
            try await client.execute(uri: "/v1/resources/iManager", method: .delete) {
                #expect($0.status == .noContent)
            }
            #expect(try await check.get(layout.resource("iManager")) == nil)
            #expect(try await check.get(layout.assignment("iManager")) == nil)
        }
    }

    @Test("import: all definitions in one transaction; an existing name or a bad one creates nothing")
    func importAllOrNothing() async throws {
        let fixture = try await APIFixture()
        @Sendable func spec(_ name: String, _ ip: String) throws -> ResourceSpec {
            try ResourceTemplate.named("Generic_IP_Service")!.instantiate(
                name: try ResourceName(validating: name), variables: ["RESOURCE_IP": ip])
        }
        @Sendable func request(_ specs: [ResourceSpec], replace: Bool = false) -> ByteBuffer {
            ByteBuffer(bytes: ModelCodec.encode(ImportRequest(resources: specs, replace: replace)))
        }
        try await fixture.test(local: true) { client in
            try await client.execute(uri: "/v1/resources", method: .post, body: body(createIManager)) {
                #expect($0.status == .created)
            }
            let before = try await fixture.contents()
            // iManager exists: refused, and web1 (new) is not created either.
            let clash = [try spec("web1", "198.18.0.101"), try spec("iManager", "198.18.0.100")]
            try await client.execute(uri: "/v1/resources/import", method: .post, body: request(clash)) { response in
                #expect(response.status == .conflict)
                #expect(errorBody(response)?.field == "resources[1].name")
            }
            // A definition that does not validate names its index and field.
            var bad = try spec("web2", "198.18.0.102")
            bad.variables["RESOURCE_IP"] = "198.18.0.300"
            try await client.execute(
                uri: "/v1/resources/import", method: .post, body: request([try spec("web1", "198.18.0.101"), bad])
            ) { response in
                #expect(response.status == .badRequest)
                #expect(errorBody(response)?.field == "resources[1].variables.RESOURCE_IP")
            }
            #expect(try await fixture.contents() == before, "a refused import wrote something")
            // With replace: web1 created, iManager replaced, in one go.
            try await client.execute(uri: "/v1/resources/import", method: .post, body: request(clash, replace: true)) {
                response in
                #expect(response.status == .ok)
                let result = try JSONDecoder().decode(ImportResult.self, from: Data(response.body.readableBytesView))
                #expect(result.created == ["web1"] && result.replaced == ["iManager"])
            }
            let check = fixture.store.client("check")
            #expect(try await check.get(fixture.layout.resource("web1")) != nil)
        }
        // Observers may not import.
        try await fixture.test { client in
            try await client.execute(
                uri: "/v1/resources/import", method: .post,
                headers: [.authorization: basic("watcher", "watcher-secret")],
                body: request([try spec("web9", "198.18.0.109")])
            ) { #expect($0.status == .forbidden) }
        }
    }

    @Test("NCS verbs: rename only offline, monitor stop/start/status, stats clear, restart at least 60 s")
    func ncsVerbs() async throws {
        let fixture = try await APIFixture()
        let check = fixture.store.client("check")
        let layout = fixture.layout
        try await fixture.test(local: true) { client in
            try await client.execute(uri: "/v1/resources", method: .post, body: body(createIManager)) {
                #expect($0.status == .created)
            }
            // Monitoring: suspended and resumed through its own key; the view sees it.
            try await client.execute(
                uri: "/v1/resources/iManager/monitor", method: .post, body: body(#"{"action":"stop"}"#)
            ) { response in
                #expect(response.status == .ok)
                let status = try JSONDecoder().decode(MonitorStatus.self, from: Data(response.body.readableBytesView))
                #expect(status.suspended && status.by == "root@local")
            }
            #expect(layout.view(of: try await check.range(prefix: layout.prefix)).suspendedMonitors == ["iManager"])
            try await client.execute(
                uri: "/v1/resources/iManager/monitor", method: .post, body: body(#"{"action":"pause"}"#)
            ) { #expect($0.status == .badRequest) }
            // Rename: refused while running, done offline; the suspension and the assignment follow.
            try await fixture.place("iManager", on: "n2", generation: 2, state: .running)
            try await client.execute(
                uri: "/v1/resources/iManager/rename", method: .post, body: body(#"{"to":"console"}"#)
            ) { response in
                #expect(response.status == .conflict)
                #expect(errorBody(response)?.reason.contains("take it offline first") == true)
            }
            try await fixture.place("iManager", on: "n2", generation: 3, state: .offline, offline: true)
            try await client.execute(
                uri: "/v1/resources/iManager/rename", method: .post, body: body(#"{"to":"console"}"#)
            ) { #expect($0.status == .ok) }
            let view = layout.view(of: try await check.range(prefix: layout.prefix))
            #expect(view.resources["iManager"] == nil && view.resources["console"]?.name == "console")
            #expect(view.assignments["console"]?.value.generation == 3)
            #expect(view.assignments["console"]?.value.placement == .offline)
            #expect(view.statuses["iManager"] == nil && view.suspendedMonitors == ["console"])
            try await client.execute(
                uri: "/v1/resources/console/monitor", method: .post, body: body(#"{"action":"start"}"#)
            ) { #expect($0.status == .ok) }
            #expect(layout.view(of: try await check.range(prefix: layout.prefix)).suspendedMonitors.isEmpty)
            // Stats: clear takes the current counters as zero.
            _ = try await check.put(
                layout.member("n1"),
                ModelCodec.encode(
                    MemberRecord(node: "n1", heartbeat: 40, version: "t", wallMilliseconds: 1_700_000_000_000)))
            try await client.execute(uri: "/v1/stats/clear", method: .post) { response in
                #expect(response.status == .ok)
                let stats = try JSONDecoder().decode(ClusterStats.self, from: Data(response.body.readableBytesView))
                #expect(stats.members.first?.heartbeatsSinceClear == 0 && stats.members.first?.heartbeat == 40)
                #expect(stats.members.first?.lastHeartbeatTime == 1_700_000_000_000 && stats.clearedAt != nil)
            }
            // Restart: below 60 s refused; otherwise a standby record per node that rejoins by itself.
            try await client.execute(uri: "/v1/cluster/restart", method: .post, body: body(#"{"seconds":30}"#)) {
                #expect($0.status == .badRequest)
            }
            #expect(try await check.get(layout.standby("n1")) == nil)
            try await client.execute(uri: "/v1/cluster/restart", method: .post, body: body(#"{"seconds":90}"#)) {
                #expect($0.status == .noContent)
            }
            for node in ["n1", "n2", "n3"] {
                let entry = try #require(try await check.get(layout.standby(try NodeName(validating: node))))
                #expect(try ModelCodec.decode(StandbyRecord.self, from: entry.value).rejoinAfter == .seconds(90))
            }
        }
    }

    @Test("settings: set quorum and tolerance, refuse live heartbeat changes, maintenance with expiry")
    func settings() async throws {
        let fixture = try await APIFixture()
        try await fixture.test(local: true) { client in
            try await client.execute(
                uri: "/v1/settings/set", method: .post, body: body(#"{"parameter":"QUORUM","value":"2"}"#)
            ) {
                #expect($0.status == .ok)
            }
            try await client.execute(
                uri: "/v1/settings/set", method: .post, body: body(#"{"parameter":"tolerance","value":"1s"}"#)
            ) { response in
                // Too short for two heartbeats before the self-fence.
                #expect(response.status == .badRequest)
                #expect(errorBody(response)?.field == "timing.heartbeat")
            }
            try await client.execute(
                uri: "/v1/settings/set", method: .post, body: body(#"{"parameter":"heartbeat","value":"100ms"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(errorBody(response)?.field == "parameter")
            }
            try await client.execute(
                uri: "/v1/settings/set", method: .post, body: body(#"{"parameter":"Tolerance","value":"3s"}"#)
            ) {
                #expect($0.status == .ok)
            }
            try await client.execute(
                uri: "/v1/settings/set", method: .post, body: body(#"{"parameter":"quorum","value":"99"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(errorBody(response)?.field == "quorum.nodeCount")
            }
            let until = ClusterControl.wallMilliseconds() + 60_000
            try await client.execute(
                uri: "/v1/cluster/maintenance", method: .post, body: body(#"{"enabled":true,"until":\#(until)}"#)
            ) {
                #expect($0.status == .ok)
            }
        }
        let settings = try await fixture.builder.control.settings().value
        #expect(settings.quorum.nodeCount == 2)
        #expect(settings.maintenance.enabled)
        var expected = TimingSettings()
        expected.tolerance = .seconds(3)
        #expect(settings.timing == expected)
    }

    @Test("events page by cursor, oldest first")
    func eventPages() async throws {
        let fixture = try await APIFixture()
        for index in 0..<5 { await fixture.builder.control.record(user: "t", resource: nil, "event \(index)") }
        try await fixture.test(local: true) { client in
            var cursor = ""
            try await client.execute(uri: "/v1/events?limit=2", method: .get) { response in
                let page = try JSONDecoder().decode(EventPage.self, from: Data(response.body.readableBytesView))
                #expect(page.events.map(\.message) == ["event 3", "event 4"])
            }
            try await client.execute(uri: "/v1/events?limit=3&after=/vigil/lab/events/0", method: .get) { response in
                let page = try JSONDecoder().decode(EventPage.self, from: Data(response.body.readableBytesView))
                #expect(page.events.map(\.message) == ["event 0", "event 1", "event 2"])
                cursor = page.next ?? ""
            }
            try await client.execute(uri: "/v1/events?limit=3&after=\(cursor)", method: .get) { response in
                let page = try JSONDecoder().decode(EventPage.self, from: Data(response.body.readableBytesView))
                #expect(page.events.map(\.message) == ["event 3", "event 4"])
            }
            try await client.execute(uri: "/v1/events?limit=0", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(errorBody(response)?.field == "limit")
            }
            for bad in ["12:x", "-1", "1:2:3", ""] {
                try await client.execute(
                    uri: "/v1/events/stream", method: .get, headers: [HTTPField.Name("Last-Event-ID")!: bad]
                ) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect(errorBody(response)?.field == "Last-Event-ID")
                }
            }
        }
    }
}

@Suite("API shapes")
struct APIShapeTests {
    @Test("the cluster status says whether frozen-agent protection (the watchdog) is on")
    func watchdogShown() {
        var view = ClusterView()
        #expect(ClusterStatus(view: view, cluster: "c").watchdogTimeoutMilliseconds == nil)
        view.settings.timing.watchdogTimeout = .seconds(1)
        #expect(ClusterStatus(view: view, cluster: "c").watchdogTimeoutMilliseconds == 1000)
    }
}

@Suite("Event stream positions")
struct EventStreamPositionTests {
    /// One transaction of the event log can hold several events (group commit): the stream's ids
    /// tell them apart, and a resume from one of them skips exactly what was sent.
    @Test("ids are revision or revision:index; events of one revision are numbered in order")
    func numbering() {
        var numbering = EventStreamNumbering()
        let ids = [5, 5, 5, 7, 8, 8].map { numbering.next(at: Int64($0)).description }
        #expect(ids == ["5", "5:1", "5:2", "7", "8", "8:1"])
        #expect(EventStreamPosition("12") == EventStreamPosition(revision: 12, index: 0))
        #expect(EventStreamPosition("12:3") == EventStreamPosition(revision: 12, index: 3))
        for bad in ["", "x", "-1", "1:", ":1", "1:-2", "1:2:3", "1.5"] {
            #expect(EventStreamPosition(bad) == nil, "\(bad)")
        }
        let resumeAfter = EventStreamPosition("5:1")!
        var again = EventStreamNumbering()
        let sent = [5, 5, 5, 7].map { again.next(at: Int64($0)) }.filter { $0 > resumeAfter }.map(\.description)
        #expect(sent == ["5:2", "7"])
    }
}
