import ClusterClient
import ClusterModel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ClusterAPI

/// The console: login with a store session in a cookie, its pages, logout with a CSRF token,
/// strict headers; the same authorisation as the API (revocation included); edits that name the
/// revision they start from.
@Suite("Browser console: login, pages, logout, edits, sessions")
struct ConsoleTests {
    func form(_ fields: String) -> (HTTPFields, ByteBuffer) {
        ([.contentType: "application/x-www-form-urlencoded"], ByteBuffer(string: fields))
    }

    /// Logs in through the console's form; returns the `vigil_session=…` cookie.
    func consoleLogin(_ client: any TestClientProtocol, _ user: String, _ password: String) async throws -> String {
        let (headers, body) = form("user=\(user)&password=\(password)")
        return try await client.execute(uri: "/login", method: .post, headers: headers, body: body) {
            try #require(cookie($0))
        }
    }

    /// The resource the pages list.
    func createIManager(_ fixture: APIFixture) async throws {
        _ = try await fixture.builder.control.createResource(
            CreateResourceRequest(
                name: "iManager", template: "Generic_IP_Service", variables: ["RESOURCE_IP": "198.18.0.100"]),
            user: "admin")
    }

    func cookie(_ response: TestResponse) -> String? {
        guard let header = response.headers[.setCookie], header.hasPrefix("vigil_session=") else { return nil }
        return String(header.split(separator: ";")[0])
    }

    @Test("no session: the console redirects to the login page; a wrong password is 401 on the form")
    func loginRequired() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
            try await client.execute(uri: "/login", method: .get) { response in
                #expect(response.status == .ok)
                let page = String(buffer: response.body)
                #expect(page.contains(#"<form method="post" action="/login">"#) && !page.contains("<script>"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(response.headers[.strictTransportSecurity] != nil)
            }
            // A login form posted from another site is refused before any password check.
            for origin in ["https://evil.example", "null"] {
                var foreign = form("user=admin&password=admin-secret").0
                foreign[.origin] = origin
                try await client.execute(
                    uri: "/login", method: .post, headers: foreign,
                    body: ByteBuffer(string: "user=admin&password=admin-secret")
                ) { #expect($0.status == .forbidden && $0.headers[.setCookie] == nil, "Origin \(origin)") }
            }
            let (headers, body) = form("user=admin&password=wrong-password")
            try await client.execute(uri: "/login", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .unauthorized && response.headers[.setCookie] == nil)
                #expect(String(buffer: response.body).contains("wrong password"))
            }
        }
    }

    @Test(
        "login sets an HttpOnly, Secure, SameSite=Strict cookie; the page shows the cluster; logout needs the CSRF token"
    )
    func session() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        try await fixture.test { client in
            let (headers, body) = form("user=admin&password=admin-secret")
            let session = try await client.execute(uri: "/login", method: .post, headers: headers, body: body) {
                response in
                #expect(response.status == .seeOther && response.headers[.location] == "/")
                let set = response.headers[.setCookie] ?? ""
                for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] { #expect(set.contains(flag)) }
                return try #require(cookie(response))
            }
            let page = try await client.execute(uri: "/", method: .get, headers: [.cookie: session]) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
            #expect(
                page.contains("Cluster lab") && page.contains(#"<a href="/resources/iManager">iManager</a>"#)
                    && page.contains("admin (admin)"))
            #expect(!page.contains(session.dropFirst("vigil_session=".count)), "the token is in the page")
            // The token works as a bearer token too: one session, one authorisation path.
            let token = String(session.dropFirst("vigil_session=".count))
            try await client.execute(uri: "/v1/cluster", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                #expect($0.status == .ok)
            }
            var logout = form("csrf=forged").0
            logout[.cookie] = session
            try await client.execute(
                uri: "/logout", method: .post, headers: logout, body: ByteBuffer(string: "csrf=forged")
            ) { #expect($0.status == .forbidden) }
            let csrf = try #require(page.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1)
            try await client.execute(
                uri: "/logout", method: .post, headers: logout, body: ByteBuffer(string: "csrf=\(csrf)")
            ) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
            try await client.execute(uri: "/", method: .get, headers: [.cookie: session]) {
                #expect($0.status == .seeOther, "the session outlived its logout")
            }
        }
    }

    @Test("the page's script calls the API with the cookie: reads freely, changes only with the CSRF header")
    func cookieCallsTheAPI() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        try await fixture.test { client in
            let session = try await consoleLogin(client, "admin", "admin-secret")
            let token = String(session.dropFirst("vigil_session=".count))
            try await client.execute(uri: "/v1/cluster", method: .get, headers: [.cookie: session]) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/console.js", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("EventSource"))
            }
            try await client.execute(uri: "/v1/resources/iManager/offline", method: .post, headers: [.cookie: session])
            {
                #expect($0.status == .forbidden, "a cookie alone changed something")
            }
            let csrf = Authenticator.hash(token: "csrf:" + token)
            try await client.execute(
                uri: "/v1/resources/iManager/offline", method: .post,
                headers: [.cookie: session, HTTPField.Name("X-CSRF-Token")!: csrf]
            ) { #expect($0.status.code < 300, "\($0.status)") }
        }
    }

    @Test("a command retried with its Idempotency-Key (after a failover, to any node) is queued once")
    func idempotentCommands() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        let second = APIRouterBuilder(
            control: ClusterControl(
                store: fixture.store.client("n2"), layout: fixture.layout, node: "n2", logDirectory: nil))
        let admin: HTTPFields = [
            .authorization: basic("admin", "admin-secret"), .contentType: "application/json",
            HTTPField.Name("Idempotency-Key")!: "3f1c2a9e-7d4b-4c1e-9a2f-5b6c7d8e9f00",
        ]
        @Sendable func migrate(_ client: any TestClientProtocol, headers: HTTPFields = admin, verb: String = "migrate")
            async throws
            -> (HTTPResponse.Status, String)
        {
            try await client.execute(
                uri: "/v1/resources/iManager/\(verb)", method: .post, headers: headers,
                body: ByteBuffer(string: verb == "migrate" ? #"{"to":"next"}"# : "{}")
            ) { ($0.status, String(buffer: $0.body)) }
        }
        let first = try await fixture.test { try await migrate($0) }
        let retry = try await Application(router: second.router(local: false)).test(.router) { try await migrate($0) }
        #expect(first.0 == .accepted && retry.0 == .accepted)
        #expect(first.1 == retry.1, "the retry got another receipt")
        let commands = try await fixture.store.client("check").range(prefix: fixture.layout.prefix + "commands/")
        #expect(commands.keyValues.count == 1, "the command was queued \(commands.keyValues.count) times")
        try await fixture.test { client in
            #expect(try await migrate(client, verb: "offline").0 == .conflict)
            var bad = admin
            bad[HTTPField.Name("Idempotency-Key")!] = "bad key!"
            let refused = try await migrate(client, headers: bad)
            #expect(refused.0 == .badRequest && refused.1.contains("Idempotency-Key"))
        }
    }

    @Test("a deleted user's open console is logged out; a cookie of another cluster's store is refused")
    func revokedAndForeign() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let session = try await consoleLogin(client, "watcher", "watcher-secret")
            try await client.execute(uri: "/", method: .get, headers: [.cookie: session]) { #expect($0.status == .ok) }
            try await fixture.builder.authenticator.deleteUser("watcher")
            try await client.execute(uri: "/", method: .get, headers: [.cookie: session]) {
                #expect($0.status == .seeOther)
            }
        }
        let other = try await APIFixture()
        let foreign = try await other.test { client in try await consoleLogin(client, "admin", "admin-secret") }
        try await fixture.test { client in
            try await client.execute(uri: "/", method: .get, headers: [.cookie: foreign]) {
                #expect($0.status == .seeOther)
            }
        }
    }

    @Test("every console route answers: pages need a session, admin pages refuse observers, assets are open")
    func routes() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        try await fixture.test { client in
            let admin = try await consoleLogin(client, "admin", "admin-secret")
            let watcher = try await consoleLogin(client, "watcher", "watcher-secret")
            var seen = 0
            for route in Console.routes where route.method == .get {
                let path = route.path.replacingOccurrences(of: "{name}", with: "iManager")
                let open = ["/login", "/console.css", "/console.js"].contains(path)
                try await client.execute(uri: path, method: .get) { response in
                    if open {
                        #expect(response.status == .ok, "\(path)")
                    } else {
                        #expect(response.status == .seeOther && response.headers[.location] == "/login", "\(path)")
                    }
                    #expect(response.headers[.contentSecurityPolicy] != nil, "\(path) without CSP")
                }
                try await client.execute(uri: path, method: .get, headers: [.cookie: admin]) {
                    #expect($0.status == .ok, "\(path) for an admin: \($0.status)")
                }
                let adminOnly = ["/create", "/users"].contains(path)
                try await client.execute(uri: path, method: .get, headers: [.cookie: watcher]) { response in
                    #expect(response.status == (adminOnly ? .forbidden : .ok), "\(path) for an observer")
                    if adminOnly { #expect(String(buffer: response.body).contains("field 'user'")) }
                }
                seen += 1
            }
            #expect(seen == Console.routes.count - 2, "POST /login and /logout are tested above")
            #expect(Console.answers("/resources/iManager") && !Console.answers("/resources/a/b"))
            try await client.execute(uri: "/resources/nothere", method: .get, headers: [.cookie: admin]) { response in
                #expect(response.status == .notFound && String(buffer: response.body).contains("field 'name'"))
            }
            try await client.execute(uri: "/resources/bad%20name", method: .get, headers: [.cookie: admin]) {
                #expect($0.status == .badRequest && String(buffer: $0.body).contains("field 'name'"))
            }
        }
    }

    @Test("the resource page shows definition and scripts; observers get it read-only, admins with the editor")
    func resourcePage() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        try await fixture.test { client in
            let admin = try await consoleLogin(client, "admin", "admin-secret")
            let watcher = try await consoleLogin(client, "watcher", "watcher-secret")
            let page = try await client.execute(uri: "/resources/iManager", method: .get, headers: [.cookie: admin]) {
                String(buffer: $0.body)
            }
            for part in [
                "Generic_IP_Service", "198.18.0.100", "add_secondary_ipaddress", "Save scripts",
                #"data-action="migrate""#,
                "Failback mode", "DISABLE", #"id="script-load""#, "data-definition-revision=",
            ] {
                #expect(page.contains(part), "the page lacks \(part)")
            }
            #expect(!page.contains("<script>"), "inline script")
            let read = try await client.execute(uri: "/resources/iManager", method: .get, headers: [.cookie: watcher]) {
                String(buffer: $0.body)
            }
            #expect(read.contains(" readonly>") && !read.contains("Save scripts") && !read.contains("data-action="))
        }
    }

    @Test("an edit from a stale revision is refused (412, If-Match named) and changes nothing; the current one saves")
    func staleEdit() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        try await fixture.test { client in
            let session = try await consoleLogin(client, "admin", "admin-secret")
            let csrf = Console.csrf(token: String(session.dropFirst("vigil_session=".count)))
            let (detail, etag) = try await client.execute(
                uri: "/v1/resources/iManager", method: .get, headers: [.cookie: session]
            ) {
                (try JSONDecoder().decode(ResourceDetail.self, from: Data(buffer: $0.body)), $0.headers[.eTag])
            }
            let revision = try #require(detail.revision)
            #expect(etag == "\"\(revision)\"")
            var mine = detail.definition
            mine.load.body += "\n# mine"
            var theirs = detail.definition
            theirs.load.body += "\n# theirs"
            func put(_ spec: ResourceSpec, ifMatch: String) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(
                    uri: "/v1/resources/iManager", method: .put,
                    headers: [
                        .cookie: session, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json",
                        .ifMatch: ifMatch,
                    ],
                    body: ByteBuffer(bytes: ModelCodec.encode(spec))
                ) { ($0.status, String(buffer: $0.body)) }
            }
            #expect(try await put(theirs, ifMatch: "\"\(revision)\"").0 == .ok)
            let before = try await fixture.contents()
            let stale = try await put(mine, ifMatch: "\"\(revision)\"")
            #expect(stale.0 == .preconditionFailed && stale.1.contains("If-Match"), "\(stale)")
            #expect(try await fixture.contents() == before, "a stale edit changed the store")
            let bad = try await put(mine, ifMatch: "W/xyz")
            #expect(bad.0 == .badRequest && bad.1.contains("If-Match"))
            let current = try await client.execute(
                uri: "/v1/resources/iManager", method: .get, headers: [.cookie: session]
            ) {
                try JSONDecoder().decode(ResourceDetail.self, from: Data(buffer: $0.body))
            }
            #expect(current.definition.load.body.hasSuffix("# theirs"))
            #expect(try await put(mine, ifMatch: "\"\(try #require(current.revision))\"").0 == .ok)
        }
    }

    @Test("the event log page filters by node, resource, kind, severity and text; a bad filter names its field")
    func eventsPage() async throws {
        let fixture = try await APIFixture()
        try await createIManager(fixture)
        try await fixture.test { client in
            let session = try await consoleLogin(client, "watcher", "watcher-secret")
            func page(_ query: String) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(uri: "/events" + query, method: .get, headers: [.cookie: session]) {
                    ($0.status, String(buffer: $0.body))
                }
            }
            let all = try await page("")
            #expect(all.0 == .ok && all.1.contains("created resource iManager"))
            let filtered = try await page("?kind=admin&resource=iManager&text=CREATED")
            #expect(filtered.0 == .ok && filtered.1.contains("created resource iManager"))
            #expect(try await page("?kind=fence").1.contains("No event matches"))
            for (query, field) in [
                ("?kind=bogus", "kind"), ("?severity=loud", "severity"), ("?node=n%201", "node"),
                ("?resource=a%2Fb", "resource"), ("?text=" + String(repeating: "x", count: 201), "text"),
            ] {
                let refused = try await page(query)
                #expect(refused.0 == .badRequest && refused.1.contains("field '\(field)'"), "\(query): \(refused.0)")
            }
        }
    }

    @Test("a session slides on an idle lease, ends 8 h after login however busy, and a form names a missing field")
    func sessionLifetime() async throws {
        let fixture = try await APIFixture()
        let authenticator = fixture.builder.authenticator
        let identity = try #require(try await authenticator.verify(user: "admin", password: "admin-secret"))
        let grant = try await authenticator.login(identity)
        #expect(grant.expiresInSeconds == Authenticator.idleSeconds)
        let key = fixture.layout.session(Authenticator.hash(token: grant.token))
        let stored = try #require(try await fixture.store.client("check").get(key))
        let lease = try #require(stored.lease)
        #expect(try await fixture.store.client("check").timeToLive(lease) <= Authenticator.idleSeconds)
        #expect(try await authenticator.identify(authorization: "Bearer \(grant.token)") != nil)
        // The same session, logged in nine hours ago: refused and removed.
        var old = try ModelCodec.decode(SessionRecord.self, from: stored.value)
        old.created -= 9 * 3600 * 1000
        _ = try await fixture.store.client("check").put(key, ModelCodec.encode(old), lease: lease)
        #expect(try await authenticator.identify(authorization: "Bearer \(grant.token)") == nil)
        #expect(try await fixture.store.client("check").get(key) == nil)
        try await fixture.test { client in
            let (headers, body) = form("user=admin")
            try await client.execute(uri: "/login", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("password"))
            }
        }
    }
}
