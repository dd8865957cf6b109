import ClusterClient
import ClusterModel
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The browser console on the API's HTTPS listener (issue 11; this is its first part): `GET /`,
/// `GET /login`, `POST /login` (form fields `user`, `password`), `POST /logout`, `/console.css`.
///
/// A login is an API session (the same store record, lease and revocation): the cookie holds the
/// session's token only (`HttpOnly`, `Secure`, `SameSite=Strict`), so any node serves the page
/// and a failover costs no new login. Every form carries a CSRF token derived from the session
/// token; pages are rendered on the server (HTML-escaped Mustache) with no inline script or
/// style, under a strict Content-Security-Policy.
struct Console: Sendable {
    let control: ClusterControl
    let authenticator: Authenticator
    let templates: Templates

    static let cookie = "vigil_session"
    /// Paths the console answers; the API's authentication middleware lets them through to
    /// the console's own cookie check.
    static let paths: Set<String> = ["/", "/login", "/logout", "/console.css", "/console.js"]

    init(control: ClusterControl, authenticator: Authenticator) {
        self.control = control
        self.authenticator = authenticator
        // The templates are constants of this file: a parse error is a programming error.
        do { self.templates = try Templates() } catch { preconditionFailure("console templates: \(error)") }
    }

    struct Templates: Sendable {
        let login: MustacheTemplate
        let cluster: MustacheTemplate

        init() throws {
            login = try MustacheTemplate(string: Console.page(body: Console.loginBody))
            cluster = try MustacheTemplate(string: Console.page(body: Console.clusterBody))
        }
    }

    func register(on router: Router<APIRequestContext>) {
        router.get("/") { request, context in try await self.home(request, context) }
        router.get("/login") { _, _ in self.html(self.templates.login.render(LoginPage(error: nil))) }
        router.post("/login") { request, context in
            try Self.sameOrigin(request)
            return try await self.login(request, context)
        }
        router.post("/logout") { request, context in
            try Self.sameOrigin(request)
            return try await self.logout(request, context)
        }
        router.get("/console.css") { _, _ in Self.asset(Self.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/console.js") { _, _ in Self.asset(Self.script, type: "text/javascript; charset=utf-8") }
    }

    // MARK: Routes

    func home(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let (identity, token) = try await session(request, context) else { return Self.redirect("/login") }
        let status = try await control.status()
        let page = ClusterPage(
            cluster: status.name, user: identity.user, role: identity.role.rawValue, epoch: status.epoch,
            master: status.master ?? "none", node: status.thisNode ?? "",
            maintenance: status.maintenance.enabled,
            nodes: status.nodes.map {
                NodeRow(name: $0.name, state: $0.member ? ($0.master ? "member, master" : "member") : "not a member")
            },
            resources: status.resources.map {
                ResourceRow(
                    name: $0.name, state: "\($0.state)", node: $0.nodes.joined(separator: ", "), lives: $0.incarnation)
            },
            csrf: Self.csrf(token: token), revision: status.revision)
        return html(templates.cluster.render(page))
    }

    func login(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let form = try await Self.form(request, context)
        guard let user = form["user"], !user.isEmpty, let password = form["password"] else {
            return html(
                templates.login.render(LoginPage(error: "field 'user' and 'password': both are needed")), .badRequest)
        }
        guard
            let identity = try await authenticator.verify(user: user, password: password, source: context.sourceAddress)
        else {
            return html(templates.login.render(LoginPage(error: "unknown user or wrong password")), .unauthorized)
        }
        let grant = try await authenticator.login(identity)
        var response = Self.redirect("/")
        response.headers[.setCookie] =
            "\(Self.cookie)=\(grant.token); Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=\(Authenticator.sessionSeconds)"
        return response
    }

    func logout(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let token = Self.token(request) else { return Self.redirect("/login") }
        let form = try await Self.form(request, context)
        guard form["csrf"] == Self.csrf(token: token) else {
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
    /// never appears in a page).
    static func csrf(token: String) -> String {
        Authenticator.hash(token: "csrf:" + token)
    }

    static func form(_ request: Request, _ context: APIRequestContext) async throws -> [String: String] {
        guard request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true else {
            throw APIError(
                .unsupportedMediaType, field: "Content-Type", value: request.headers[.contentType] ?? "",
                reason: "a form (application/x-www-form-urlencoded)")
        }
        let body = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
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
                status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
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

    // MARK: Pages

    struct LoginPage { var error: String? }
    struct NodeRow { var name: String, state: String }
    struct ResourceRow { var name: String, state: String, node: String, lives: Int }
    struct ClusterPage {
        var cluster: String, user: String, role: String, epoch: UInt64, master: String, node: String
        var maintenance: Bool, nodes: [NodeRow], resources: [ResourceRow], csrf: String, revision: Int64
    }

    static func page(body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Vigil</title><link rel="stylesheet" href="/console.css"></head>
        <body>
        \(body)
        </body>
        </html>
        """
    }

    static let loginBody = """
        <main class="login">
        <h1>Vigil</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/login">
        <label for="user">User</label><input id="user" name="user" autocomplete="username" required>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit">Log in</button>
        </form>
        </main>
        """

    static let clusterBody = """
        <header><h1>Cluster {{cluster}}</h1>
        <form method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}">
        <span>{{user}} ({{role}})</span> <button type="submit">Log out</button></form></header>
        <div id="banner" class="banner" role="status" aria-live="assertive" hidden></div>
        <main id="console" data-revision="{{revision}}" data-role="{{role}}" data-csrf="{{csrf}}">
        <p id="action-status" role="status" aria-live="polite"></p>
        <p>Epoch <span id="epoch">{{epoch}}</span>, master <span id="master">{{master}}</span>, served by
        <span id="served-by">{{node}}</span>{{#maintenance}}, <strong>maintenance on</strong>{{/maintenance}}.</p>
        <h2>Nodes</h2>
        <table><thead><tr><th scope="col">Node</th><th scope="col">State</th></tr></thead><tbody id="nodes">
        {{#nodes}}<tr><td>{{name}}</td><td>{{state}}</td></tr>{{/nodes}}
        </tbody></table>
        <h2>Resources</h2>
        <table aria-live="polite"><thead><tr><th scope="col">Resource</th><th scope="col">State</th>
        <th scope="col">Node</th><th scope="col">Lives</th><th scope="col">Actions</th></tr></thead>
        <tbody id="resources">
        {{#resources}}<tr><td>{{name}}</td><td>{{state}}</td><td>{{node}}</td><td>{{lives}}</td><td></td></tr>{{/resources}}
        </tbody></table>
        <h2>Events</h2>
        <ol id="events" class="events" aria-live="polite"></ol>
        </main>
        <script src="/console.js" defer></script>
        """

    static let stylesheet = """
        :root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --line: #d0d7de; --accent: #0a5cc2; }
        @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --line: #30363d; --accent: #4c9aff; } }
        body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto;
               max-width: 60rem; padding: 1rem; }
        header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: .5rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .4rem; border-bottom: 1px solid var(--line); }
        label { display: block; margin-top: .75rem; }
        input, button { font: inherit; padding: .4rem; }
        button { margin-top: .75rem; margin-right: .25rem; }
        td button { margin-top: 0; }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .error { color: #c0392b; }
        .banner { position: sticky; top: 0; padding: .5rem; background: #b35900; color: #fff; }
        .events { padding-left: 1.2rem; font-size: .9rem; }
        """

    /// The page's live part: server-sent events from the store (the id is the store revision, so a
    /// reconnect to any node resumes where it stopped), the state refetched on each event, a
    /// banner while the connection is down. Text goes in with `textContent` only.
    static let script = """
        "use strict";
        (function () {
          const root = document.getElementById("console");
          if (!root) { return; }
          const banner = document.getElementById("banner");
          const rows = document.getElementById("resources");
          const events = document.getElementById("events");
          let lastRevision = Number(root.dataset.revision);
          let source = null;
          let lastHeard = Date.now();
          let retryDelay = 500;

          function showBanner(text) {
            if (text !== "" && banner.hidden) { banner.dataset.shown = String(Number(banner.dataset.shown || "0") + 1); }
            banner.textContent = text;
            banner.hidden = text === "";
          }
          function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
          const admin = root.dataset.role === "admin";
          const actionStatus = document.getElementById("action-status");

          // A command with an idempotency key, sent again (to whichever node answers) until a
          // definite answer: a retry after a failover returns the first receipt, never a second move.
          async function command(name, verb, body, question) {
            if (!window.confirm(question)) { return; }
            const key = window.crypto.randomUUID();
            let delay = 500;
            for (let attempt = 1; attempt <= 20; attempt += 1) {
              actionStatus.dataset.attempts = String(attempt);
              try {
                // A dead node never answers: each attempt gives up after 5 s.
                const response = await fetch("/v1/resources/" + encodeURIComponent(name) + "/" + verb, {
                  method: "POST", credentials: "same-origin", signal: AbortSignal.timeout(5000),
                  headers: { "Content-Type": "application/json", "Idempotency-Key": key, "X-CSRF-Token": root.dataset.csrf },
                  body: JSON.stringify(body)
                });
                if (response.status < 500) {
                  const answer = await response.json();
                  actionStatus.textContent = response.ok ? verb + " " + name + ": sent (command " + answer.id + ")"
                    : verb + " " + name + ": " + (answer.error ? answer.error.reason : String(response.status));
                  return;
                }
              } catch (error) { /* the node went away: try again */ }
              actionStatus.textContent = verb + " " + name + ": retrying…";
              await new Promise(function (resolve) { setTimeout(resolve, delay); });
              delay = Math.min(delay * 2, 4000);
            }
            actionStatus.textContent = verb + " " + name + ": no answer; see the event log before trying again";
          }

          function button(label, action) {
            const element = document.createElement("button");
            element.type = "button";
            element.textContent = label;
            element.addEventListener("click", action);
            return element;
          }

          function actions(resource) {
            const td = document.createElement("td");
            if (!admin) { return td; }
            const name = resource.name;
            td.append(
              button("Online", function () { command(name, "online", {}, "Load " + name + " on its most preferred node?"); }),
              button("Offline", function () { command(name, "offline", {}, "Unload " + name + " and keep it offline?"); }),
              button("Migrate", function () { command(name, "migrate", { to: "next" }, "Move " + name + " to the next preferred node?"); })
            );
            return td;
          }

          async function refresh() {
            try {
              const response = await fetch("/v1/cluster", { credentials: "same-origin", signal: AbortSignal.timeout(5000) });
              if (response.status === 401) { window.location.assign("/login"); return; }
              if (!response.ok) { return; }
              const status = await response.json();
              const body = document.createDocumentFragment();
              for (const resource of status.resources) {
                const row = document.createElement("tr");
                row.append(cell(resource.name), cell(resource.state), cell(resource.nodes.join(", ")),
                  cell(String(resource.incarnation)), actions(resource));
                body.append(row);
              }
              rows.replaceChildren(body);
              const nodes = document.createDocumentFragment();
              for (const node of status.nodes) {
                const row = document.createElement("tr");
                row.append(cell(node.name), cell(node.member ? (node.master ? "member, master" : "member") : "not a member"));
                nodes.append(row);
              }
              document.getElementById("nodes").replaceChildren(nodes);
              document.getElementById("served-by").textContent = status.thisNode || "";
              document.getElementById("epoch").textContent = String(status.epoch);
              document.getElementById("master").textContent = status.master || "none";
            } catch (error) { showBanner("Reconnecting…"); }
          }

          function connect() {
            source = new EventSource("/v1/events/stream?from=" + String(lastRevision + 1));
            source.onopen = function () { lastHeard = Date.now(); retryDelay = 500; showBanner(""); refresh(); };
            source.onerror = function () { showBanner("Reconnecting…"); };
            source.addEventListener("ping", function () { lastHeard = Date.now(); });
            source.addEventListener("reset", function () { window.location.reload(); });
            source.onmessage = function (message) {
              lastHeard = Date.now();
              const revision = Number(message.lastEventId);
              if (revision <= lastRevision) { return; }
              lastRevision = revision;
              const entry = JSON.parse(message.data);
              const item = document.createElement("li");
              item.dataset.revision = String(revision);
              item.textContent = entry.node + " " + entry.kind + (entry.resource ? " " + entry.resource : "") + ": " + entry.message;
              events.prepend(item);
              while (events.children.length > 100) { events.lastElementChild.remove(); }
              refresh();
            };
          }

          // A node that died sends nothing, not even an error: silence past 5 s means reconnect
          // (to whichever node holds the address now), from the last revision seen.
          setInterval(function () {
            if (Date.now() - lastHeard < 5000) { return; }
            showBanner("Reconnecting…");
            source.close();
            lastHeard = Date.now() + retryDelay;
            retryDelay = Math.min(retryDelay * 2, 8000);
            connect();
          }, 1000);
          connect();
        })();
        """
}
