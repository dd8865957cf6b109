import ClusterAPI
import ClusterClient
import ClusterModel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's first part: login with a store session in a cookie, the cluster page, logout
/// with a CSRF token, strict headers; the same authorisation as the API (revocation included).
@Suite("Browser console: login, cluster page, logout")
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
                page.contains("Cluster lab") && page.contains("<td>iManager</td>") && page.contains("admin (admin)"))
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
}
