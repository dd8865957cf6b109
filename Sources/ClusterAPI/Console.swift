import ClusterClient
import ClusterModel
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The browser console on the API's HTTPS listener (issue 11, docs/design/0016): the pages in
/// `Console.routes`, server-rendered (HTML-escaped Mustache, `ConsolePages.swift`) with one
/// stylesheet and one plain script (`ConsoleAssets.swift`).
///
/// A login is an API session (the same store record, lease and revocation): the cookie holds the
/// session's token only (`HttpOnly`, `Secure`, `SameSite=Strict`), so any node serves the page
/// and a failover costs no new login. Pages only read; every change is a call of the JSON API
/// made by the page's script with the cookie and the page's CSRF token, so the console and the
/// API share one authorisation path, one set of error rules and one audit trail.
struct Console: Sendable {
    let control: ClusterControl
    let authenticator: Authenticator
    let templates: Templates

    static let cookie = "vigil_session"

    /// The console's routes (`ConsoleTests` checks each answers as documented).
    static let routes: [(method: HTTPRequest.Method, path: String, summary: String)] = [
        (.get, "/", "Cluster: nodes, resources, live events"),
        (.get, "/login", "Login form"),
        (.post, "/login", "Log in (form fields user, password): sets the session cookie, redirects to /"),
        (.post, "/logout", "Log out (form field csrf): ends the session everywhere"),
        (.get, "/resources/{name}", "A resource: definition, scripts with an editor, output, events"),
        (.get, "/events", "Event log with filters (node, resource, kind, severity, text) and live follow"),
        (.get, "/create", "Create a resource from a template (admins)"),
        (.get, "/users", "Users and roles (admins)"),
        (.get, "/console.css", "Stylesheet"),
        (.get, "/console.js", "The pages' script"),
    ]

    /// Whether the console answers `path` itself (the API's authentication middleware lets these
    /// through to the console's own cookie check).
    static func answers(_ path: String) -> Bool {
        routes.contains { route in
            guard let brace = route.path.firstIndex(of: "{") else { return route.path == path }
            // "/resources/{name}": the prefix, then one path segment.
            let prefix = route.path[..<brace]
            return path.hasPrefix(prefix) && !path.dropFirst(prefix.count).contains("/")
        }
    }

    init(control: ClusterControl, authenticator: Authenticator) {
        self.control = control
        self.authenticator = authenticator
        // The templates are constants of this module: a parse error is a programming error.
        do { self.templates = try Templates() } catch { preconditionFailure("console templates: \(error)") }
    }

    func register(on router: Router<APIRequestContext>) {
        router.get("/") { request, context in
            try await self.page(request, context) { chrome, status in self.clusterPage(chrome, status) }
        }
        router.get("/resources/:name") { request, context in
            try await self.page(request, context) {
                try await self.resourcePage($0, $1, name: context.parameters.require("name"))
            }
        }
        router.get("/events") { request, context in
            try await self.page(request, context) { chrome, _ in
                try await self.eventsPage(chrome, query: request.uri.queryParameters)
            }
        }
        router.get("/create") { request, context in
            try await self.page(request, context, adminOnly: true) { chrome, status in
                self.createPage(chrome, status)
            }
        }
        router.get("/users") { request, context in
            try await self.page(request, context, adminOnly: true) { chrome, _ in try await self.usersPage(chrome) }
        }
        router.get("/login") { _, _ in self.html(self.templates.login.render(LoginPage(error: nil))) }
        router.post("/login") { request, context in
            try Self.sameOrigin(request)
            return try await self.login(request, context)
        }
        router.post("/logout") { request, context in
            try Self.sameOrigin(request)
            return try await self.logout(request, context)
        }
        router.get("/console.css") { _, _ in Self.asset(ConsoleAssets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/console.js") { _, _ in Self.asset(ConsoleAssets.script, type: "text/javascript; charset=utf-8") }
    }

    // MARK: Pages

    /// A page for a logged-in user: without a valid session the login page; an observer asking
    /// for an admin page gets 403; bad input gets the page's error with the field named.
    func page(
        _ request: Request, _ context: APIRequestContext, adminOnly: Bool = false,
        render: (Chrome, ClusterStatus) async throws -> String
    ) async throws -> Response {
        guard let (identity, token) = try await session(request, context) else { return Self.redirect("/login") }
        let status = try await control.status()
        let chrome = Chrome(
            cluster: status.name, user: identity.user, role: identity.role.rawValue,
            admin: identity.role == .admin, csrf: Self.csrf(token: token), revision: status.revision,
            path: request.uri.path)
        guard !adminOnly || chrome.admin else {
            return html(
                templates.problem.render(
                    ProblemPage(
                        chrome: chrome, status: 403, field: "user",
                        value: identity.user, reason: "this page is for admins; role observer may read, not change")),
                .forbidden)
        }
        do {
            return html(try await render(chrome, status))
        } catch let error as APIError where error.status != .serviceUnavailable {
            return html(
                templates.problem.render(
                    ProblemPage(
                        chrome: chrome, status: Int(error.status.code), field: error.field, value: error.value,
                        reason: error.reason)), error.status)
        } catch let error as ValidationError {
            return html(
                templates.problem.render(
                    ProblemPage(
                        chrome: chrome, status: 400, field: error.field, value: error.value,
                        reason: error.reason)), .badRequest)
        }
    }

    func clusterPage(_ chrome: Chrome, _ status: ClusterStatus) -> String {
        templates.cluster.render(ClusterPage(chrome: chrome, status: status))
    }

    func resourcePage(_ chrome: Chrome, _ status: ClusterStatus, name: String) async throws -> String {
        let detail = try await control.resource(name)
        let events = try await control.events(after: nil, limit: 2000).events.filter { $0.resource == name }
        let output = try await control.scriptOutput(name)
        return templates.resource.render(
            ResourcePage(
                chrome: chrome, detail: detail, nodes: status.nodes.map(\.name), events: events.suffix(50).reversed(),
                output: output))
    }

    func eventsPage(_ chrome: Chrome, query: Parameters) async throws -> String {
        let filter = try EventFilter(query: query)
        let page = try await control.events(after: nil, limit: 2000)
        let events = page.events.filter(filter.matches).suffix(500).reversed()
        return templates.events.render(EventsPage(chrome: chrome, filter: filter, events: Array(events)))
    }

    func createPage(_ chrome: Chrome, _ status: ClusterStatus) -> String {
        templates.create.render(CreatePage(chrome: chrome, nodes: status.nodes.map(\.name)))
    }

    func usersPage(_ chrome: Chrome) async throws -> String {
        templates.users.render(UsersPage(chrome: chrome, users: try await authenticator.users()))
    }

    // MARK: Login and logout

    struct LoginForm: Decodable { var user: String, password: String }
    struct LogoutForm: Decodable { var csrf: String }

    func login(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let form: LoginForm
        do {
            form = try await Self.form(LoginForm.self, request, context)
        } catch let error as APIError where error.status == .badRequest {
            return html(templates.login.render(LoginPage(error: error.description)), .badRequest)
        }
        guard !form.user.isEmpty else {
            return html(templates.login.render(LoginPage(error: "field 'user': a user name is needed")), .badRequest)
        }
        guard
            let identity = try await authenticator.verify(
                user: form.user, password: form.password, source: context.sourceAddress)
        else {
            return html(templates.login.render(LoginPage(error: "unknown user or wrong password")), .unauthorized)
        }
        let grant = try await authenticator.login(identity)
        var response = Self.redirect("/")
        // No Max-Age: the cookie lasts as long as the browser; the session's lease decides.
        response.headers[.setCookie] = "\(Self.cookie)=\(grant.token); Path=/; HttpOnly; Secure; SameSite=Strict"
        return response
    }

    func logout(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let token = Self.token(request) else { return Self.redirect("/login") }
        let form = try await Self.form(LogoutForm.self, request, context)
        guard form.csrf == Self.csrf(token: token) else {
            throw APIError(.forbidden, field: "csrf", reason: "the form's CSRF token does not match this session")
        }
        try await authenticator.logout(authorization: "Bearer \(token)")
        var response = Self.redirect("/login")
        response.headers[.setCookie] = "\(Self.cookie)=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
        return response
    }

    /// A form posted from another site (login CSRF: logging the victim in as the attacker) is
    /// refused: browsers send `Origin` with every POST, and it must name this host ("null", sent
    /// under a no-referrer policy, is refused too; the console's pages use `same-origin`).
    static func sameOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        let host = request.head.authority ?? ""
        guard let parsed = URLComponents(string: origin), let originHost = parsed.host,
            originHost + (parsed.port.map { ":\($0)" } ?? "") == host || originHost == host
        else {
            throw APIError(.forbidden, field: "Origin", value: origin, reason: "a form from another site")
        }
    }

    /// A URL-encoded form (at most 64 KiB), decoded strictly: a missing field is named.
    static func form<Form: Decodable>(_ type: Form.Type, _ request: Request, _ context: APIRequestContext)
        async throws -> Form
    {
        guard request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true else {
            throw APIError(
                .unsupportedMediaType, field: "Content-Type", value: request.headers[.contentType] ?? "",
                reason: "a form (application/x-www-form-urlencoded)")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw APIError(
                .contentTooLarge, field: "body", value: "more than 65536 bytes", reason: "the form is too large")
        }
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body))
        } catch let error as DecodingError {
            throw APIError(ValidationError(decodingError: error))
        } catch {
            throw APIError(.badRequest, field: "body", reason: "not a URL-encoded form")
        }
    }

    // MARK: Sessions

    /// The session the cookie names, through the API's own authorisation path (revoked users and
    /// changed roles included); nil without a valid one.
    func session(_ request: Request, _ context: APIRequestContext) async throws -> (Identity, String)? {
        guard let token = Self.token(request),
            let identity = try await authenticator.identify(
                authorization: "Bearer \(token)", source: context.sourceAddress)
        else { return nil }
        return (identity, token)
    }

    static func token(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == cookie, parts[1].count == 64 { return String(parts[1]) }
            }
        }
        return nil
    }

    /// The CSRF token of a session: a hash of its token under a fixed label (the token itself
    /// never appears in a page; the token is 256 random bits, so the hash cannot be guessed).
    static func csrf(token: String) -> String {
        Authenticator.hash(token: "csrf:" + token)
    }

    // MARK: Responses

    func html(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Self.secured(
            Response(
                status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: text))))
    }

    static func asset(_ text: String, type: String) -> Response {
        secured(
            Response(
                status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: text))))
    }

    static func redirect(_ location: String) -> Response {
        secured(Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"]))
    }

    /// No inline script or style, no framing, HTTPS only.
    static func secured(_ response: Response) -> Response {
        var response = response
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return response
    }
}

/// The event log page's filters (query parameters), checked like any API input.
struct EventFilter: Sendable {
    var node = "", resource = "", kind = "", severity = "", text = ""

    init() {}

    init(query: Parameters) throws {
        func value(_ name: String) -> String { query[Substring(name)].map(String.init) ?? "" }
        node = value("node")
        resource = value("resource")
        kind = value("kind")
        severity = value("severity")
        text = value("text")
        if !node.isEmpty { _ = try NodeName(validating: node, field: "node") }
        if !resource.isEmpty { _ = try ResourceName(validating: resource, field: "resource") }
        if !kind.isEmpty, ClusterEvent.Kind(rawValue: kind) == nil {
            throw ValidationError(
                field: "kind", value: kind,
                reason: "one of \(ClusterEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if !severity.isEmpty, ClusterEvent.Severity(rawValue: severity) == nil {
            throw ValidationError(field: "severity", value: severity, reason: "info, warning or critical")
        }
        guard text.count <= 200 else {
            throw ValidationError(field: "text", value: String(text.prefix(40)) + "…", reason: "at most 200 characters")
        }
    }

    func matches(_ event: EventEntry) -> Bool {
        (node.isEmpty || event.node == node) && (resource.isEmpty || event.resource == resource)
            && (kind.isEmpty || event.kind == kind) && (severity.isEmpty || event.severity == severity)
            && (text.isEmpty || event.message.localizedCaseInsensitiveContains(text))
    }
}
