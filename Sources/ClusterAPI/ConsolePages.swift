import ClusterClient
import ClusterModel
import Foundation
import Mustache

// The console's pages: what each shows (plain structs, rendered by swift-mustache, which
// HTML-escapes every `{{value}}`) and their templates. Pages only read; the buttons and forms
// are wired by `/console.js` to the JSON API.

extension Console {
    struct Templates: Sendable {
        let login, problem, cluster, resource, events, create, users: MustacheTemplate

        init() throws {
            login = try MustacheTemplate(string: Console.document(title: "Log in", body: Console.loginBody))
            problem = try MustacheTemplate(string: Console.layout(page: "problem", body: Console.problemBody))
            cluster = try MustacheTemplate(string: Console.layout(page: "cluster", body: Console.clusterBody))
            resource = try MustacheTemplate(
                string: Console.layout(
                    page: "resource", extra: #"data-resource="{{name}}""#, body: Console.resourceBody))
            events = try MustacheTemplate(
                string: Console.layout(
                    page: "events",
                    extra:
                        #"data-filter-node="{{node}}" data-filter-resource="{{resource}}" data-filter-kind="{{kind}}" data-filter-severity="{{severity}}" data-filter-text="{{text}}""#,
                    body: Console.eventsBody))
            create = try MustacheTemplate(string: Console.layout(page: "create", body: Console.createBody))
            users = try MustacheTemplate(string: Console.layout(page: "users", body: Console.usersBody))
        }
    }

    // MARK: What the pages show

    /// What every page of a logged-in user shows around its content.
    struct Chrome: Sendable {
        struct Link: Sendable { var href: String, label: String, current: Bool }
        var cluster: String, user: String, role: String, admin: Bool, csrf: String, revision: Int64
        var links: [Link]

        init(
            cluster: String, user: String, role: String, admin: Bool, csrf: String, revision: Int64, path: String
        ) {
            self.cluster = cluster
            self.user = user
            self.role = role
            self.admin = admin
            self.csrf = csrf
            self.revision = revision
            var links = [("/", "Cluster"), ("/events", "Events")]
            if admin { links += [("/create", "New resource"), ("/users", "Users")] }
            self.links = links.map { Link(href: $0.0, label: $0.1, current: $0.0 == path) }
        }
    }

    struct LoginPage { var error: String? }

    struct ProblemPage {
        var chrome: Chrome
        var title = "Refused"
        var status: Int, field: String, value: String, reason: String
    }

    struct ClusterPage {
        struct Node { var name: String, state: String, resources: String }
        struct Resource { var name: String, state: String, node: String, lives: Int, upSince: String }
        var chrome: Chrome
        var title: String
        var cluster: String, epoch: UInt64, master: String, node: String, quorum: String, maintenance: String
        var nodes: [Node], resources: [Resource]

        init(chrome: Chrome, status: ClusterStatus) {
            self.chrome = chrome
            title = "Cluster \(status.name)"
            cluster = status.name
            epoch = status.epoch
            master = status.master ?? "none"
            node = status.thisNode ?? ""
            quorum = Console.quorumText(status)
            maintenance = Console.maintenanceText(status.maintenance)
            nodes = status.nodes.map {
                Node(name: $0.name, state: Console.nodeState($0), resources: $0.resources.joined(separator: ", "))
            }
            resources = status.resources.map {
                Resource(
                    name: $0.name, state: "\($0.state)", node: $0.nodes.joined(separator: ", "), lives: $0.incarnation,
                    upSince: $0.upSince.map(Console.time) ?? "")
            }
        }
    }

    struct ResourcePage {
        struct Fact { var label: String, value: String }
        struct Script { var action: String, body: String, timeout: String }
        struct Output { var action: String, output: String, modified: String? }
        struct Event { var time: String, text: String }
        struct Name { var name: String }
        var chrome: Chrome
        var title: String
        var admin: Bool
        var name: String, state: String, node: String, lives: Int, upSince: String, lastResult: String, pending: String
        var facts: [Fact], variables: [Fact], preferred: [Name], hasPreferred: Bool, nodes: [Name], scripts: [Script]
        var definitionJSON: String, definitionRevision: Int64
        var servedBy: String?, output: [Output], events: [Event]

        init(
            chrome: Chrome, detail: ResourceDetail, nodes: [String], events: [EventEntry], output: [ScriptOutput]
        ) {
            let spec = detail.definition
            let state = detail.state
            self.chrome = chrome
            admin = chrome.admin
            name = spec.name.rawValue
            title = "Resource \(name)"
            self.state = "\(state.state)"
            node = state.nodes.joined(separator: ", ")
            lives = state.incarnation
            upSince = state.upSince.map(Console.time) ?? ""
            lastResult = state.lastResult ?? ""
            pending = state.pendingCommands.isEmpty ? "none" : "\(state.pendingCommands.count)"
            let policies = spec.policies
            facts = [
                Fact(label: "Template", value: spec.template ?? "none"),
                Fact(label: "Mode", value: spec.mode.rawValue),
                Fact(label: "Start mode", value: policies.startMode.rawValue),
                Fact(label: "Failover mode", value: policies.failoverMode.rawValue),
                Fact(label: "Failback mode", value: policies.failbackMode.rawValue),
                Fact(label: "Follows the master", value: policies.followsMaster ? "yes" : "no"),
                Fact(label: "Ignores quorum", value: policies.ignoreQuorum ? "yes" : "no"),
                Fact(label: "Priority", value: "\(spec.priority)"),
                Fact(
                    label: "Exclusion groups",
                    value: spec.exclusionGroups.isEmpty ? "none" : spec.exclusionGroups.joined(separator: ", ")),
                Fact(
                    label: "Monitor",
                    value: spec.monitor.map {
                        "every \($0.interval), \($0.maxLocalFailures) local restarts in \($0.window), then \($0.action.rawValue)"
                    } ?? "none"),
            ]
            variables = spec.variables.keys.sorted().map { Fact(label: $0, value: spec.variables[$0] ?? "") }
            preferred = spec.preferredNodes.map { Name(name: $0.rawValue) }
            hasPreferred = !preferred.isEmpty
            self.nodes = nodes.map { Name(name: $0) }
            scripts =
                [
                    Script(action: "load", body: spec.load.body, timeout: "\(spec.load.timeout)"),
                    Script(action: "unload", body: spec.unload.body, timeout: "\(spec.unload.timeout)"),
                ]
                + (spec.monitor.map {
                    [Script(action: "monitor", body: $0.script.body, timeout: "\($0.script.timeout)")]
                } ?? [])
            definitionJSON = String(decoding: ModelCodec.encode(spec), as: UTF8.self)
            definitionRevision = detail.revision ?? 0
            servedBy = output.first?.node
            self.output = output.map {
                Output(action: $0.action, output: $0.output, modified: $0.modified.map(Console.time))
            }
            self.events = events.map { Event(time: Console.time($0.time), text: Console.eventText($0)) }
        }
    }

    struct EventsPage {
        struct Choice { var value: String, selected: Bool }
        struct Event { var time: String, text: String }
        var chrome: Chrome
        var title = "Events"
        var node: String, resource: String, kind: String, severity: String, text: String
        var kinds: [Choice], severities: [Choice], events: [Event]

        init(chrome: Chrome, filter: EventFilter, events: [EventEntry]) {
            self.chrome = chrome
            node = filter.node
            resource = filter.resource
            kind = filter.kind
            severity = filter.severity
            text = filter.text
            kinds = ClusterEvent.Kind.allCases.map { Choice(value: $0.rawValue, selected: $0.rawValue == filter.kind) }
            severities = ClusterEvent.Severity.allCases.map {
                Choice(value: $0.rawValue, selected: $0.rawValue == filter.severity)
            }
            self.events = events.map { Event(time: Console.time($0.time), text: Console.eventText($0)) }
        }
    }

    struct CreatePage {
        struct Template { var name: String, summary: String }
        struct Variable { var name: String, templates: String }
        struct Name { var name: String }
        var chrome: Chrome
        var title = "New resource"
        var templates: [Template], variables: [Variable], nodes: [Name]

        init(chrome: Chrome, nodes: [String]) {
            self.chrome = chrome
            templates = ResourceTemplate.builtIn.map { Template(name: $0.name, summary: $0.summary) }
            var seen: [String] = []
            for template in ResourceTemplate.builtIn {
                for variable in template.variables where !seen.contains(variable) { seen.append(variable) }
            }
            variables = seen.map { variable in
                Variable(
                    name: variable,
                    templates: ResourceTemplate.builtIn.filter { $0.variables.contains(variable) }.map(\.name)
                        .joined(separator: " "))
            }
            self.nodes = nodes.map { Name(name: $0) }
        }
    }

    struct UsersPage {
        var chrome: Chrome
        var title = "Users"
        var users: [UserSummary]
    }

    // MARK: Text shared by the pages and the script

    /// `2026-12-03 02:13:53 UTC` (the script writes times the same way).
    static func time(_ milliseconds: Int64) -> String {
        let text = ClusterControl.isoTime(milliseconds)
        return text.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    static func eventText(_ event: EventEntry) -> String {
        "\(event.node) \(event.kind)\(event.severity == "info" ? "" : " [\(event.severity)]")"
            + "\(event.resource.map { " " + $0 } ?? ""): \(event.message)"
    }

    static func nodeState(_ node: NodeState) -> String {
        if node.standby { return node.member ? "leaving" : "left (until join)" }
        return node.member ? (node.master ? "member, master" : "member") : "not a member"
    }

    static func quorumText(_ status: ClusterStatus) -> String {
        "\(status.members.count) member\(status.members.count == 1 ? "" : "s"), \(status.quorum ?? 1) needed to start resources"
    }

    static func maintenanceText(_ maintenance: MaintenanceSettings) -> String {
        guard maintenance.enabled else { return "off" }
        return maintenance.untilWallMilliseconds.map { "on until \(time($0))" } ?? "on"
    }

    // MARK: Templates

    /// A page without the logged-in chrome (the login form).
    static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · Vigil</title><link rel="stylesheet" href="/console.css"></head>
        <body>
        \(body)
        </body>
        </html>
        """
    }

    /// A logged-in page: skip link, navigation, user and logout, the reconnecting banner, a live
    /// region for announcements; `main` carries what the script needs (page, revision, role, CSRF).
    static func layout(page: String, extra: String = "", body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Vigil</title><link rel="stylesheet" href="/console.css"></head>
        <body>
        {{#chrome}}
        <a class="skip" href="#console">Skip to content</a>
        <header>
        <nav aria-label="Console"><ul>{{#links}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/links}}</ul></nav>
        <form method="post" action="/logout" class="who"><input type="hidden" name="csrf" value="{{csrf}}">
        <span>{{user}} ({{role}})</span> <button type="submit">Log out</button></form>
        </header>
        <div id="banner" class="banner" role="status" aria-live="assertive" hidden></div>
        <p id="announce" class="visually-hidden" aria-live="polite"></p>
        <main id="console" data-page="\(page)" data-revision="{{revision}}" data-role="{{role}}" data-csrf="{{csrf}}" \(extra)>
        {{/chrome}}
        \(body)
        </main>
        <script src="/console.js" defer></script>
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

    static let problemBody = """
        <h1>Refused</h1>
        <p class="error" role="alert">{{status}}: field '{{field}}': value '{{value}}': {{reason}}</p>
        <p><a href="/">Back to the cluster</a></p>
        """

    static let clusterBody = """
        <h1>Cluster {{cluster}}</h1>
        <p id="action-status" role="status" aria-live="polite"></p>
        <dl class="facts">
        <dt>Epoch</dt><dd id="epoch">{{epoch}}</dd>
        <dt>Master</dt><dd id="master">{{master}}</dd>
        <dt>Quorum</dt><dd id="quorum">{{quorum}}</dd>
        <dt>Maintenance</dt><dd id="maintenance">{{maintenance}}</dd>
        <dt>Served by</dt><dd id="served-by">{{node}}</dd>
        </dl>
        <div id="cluster-actions" class="actions"></div>
        <h2>Nodes</h2>
        <div class="scroll"><table><thead><tr><th scope="col">Node</th><th scope="col">State</th>
        <th scope="col">Resources</th><th scope="col">Actions</th></tr></thead><tbody id="nodes">
        {{#nodes}}<tr><td>{{name}}</td><td>{{state}}</td><td>{{resources}}</td><td></td></tr>{{/nodes}}
        </tbody></table></div>
        <h2>Resources</h2>
        <div class="scroll"><table><thead><tr><th scope="col">Resource</th><th scope="col">State</th>
        <th scope="col">Node</th><th scope="col">Lives</th><th scope="col">Up since</th><th scope="col">Actions</th></tr></thead>
        <tbody id="resources">
        {{#resources}}<tr><td><a href="/resources/{{name}}">{{name}}</a></td><td>{{state}}</td><td>{{node}}</td><td>{{lives}}</td><td>{{upSince}}</td><td></td></tr>{{/resources}}
        </tbody></table></div>
        <h2>Events</h2>
        <ol id="events" class="events"></ol>
        """

    static let resourceBody = """
        <h1>Resource {{name}}</h1>
        <p id="action-status" role="status" aria-live="polite"></p>
        <dl class="facts">
        <dt>State</dt><dd id="state">{{state}}</dd>
        <dt>Node</dt><dd id="where">{{node}}</dd>
        <dt>Lives</dt><dd id="lives">{{lives}}</dd>
        <dt>Up since</dt><dd id="up-since">{{upSince}}</dd>
        <dt>Last result</dt><dd id="last-result">{{lastResult}}</dd>
        <dt>Pending commands</dt><dd id="pending">{{pending}}</dd>
        </dl>
        {{#admin}}
        <h2 id="actions-title">Actions</h2>
        <div class="actions" role="group" aria-labelledby="actions-title">
        <label for="target">Target node</label>
        <select id="target"><option value="next">next preferred</option><option value="most">most preferred</option>
        {{#nodes}}<option value="{{name}}">{{name}}</option>{{/nodes}}</select>
        <button type="button" data-action="online">Online</button>
        <button type="button" data-action="offline">Offline</button>
        <button type="button" data-action="migrate">Migrate</button>
        <button type="button" data-action="alert-yes">Alert: yes</button>
        <button type="button" data-action="alert-no">Alert: no</button>
        </div>
        {{/admin}}
        <h2>Definition</h2>
        <dl class="facts">{{#facts}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/facts}}</dl>
        <h3>Variables</h3>
        <dl class="facts">{{#variables}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/variables}}</dl>
        {{^variables}}<p>None.</p>{{/variables}}
        <h3>Preferred nodes</h3>
        {{#hasPreferred}}<ol>{{#preferred}}<li>{{name}}</li>{{/preferred}}</ol>{{/hasPreferred}}
        {{^preferred}}<p>Every node, in cluster order.</p>{{/preferred}}
        <h2>Scripts</h2>
        <form id="editor" data-definition="{{definitionJSON}}" data-definition-revision="{{definitionRevision}}">
        <p>A saved definition takes effect at the resource's next load.</p>
        {{#scripts}}<label for="script-{{action}}">{{action}} script (timeout {{timeout}})</label>
        <textarea id="script-{{action}}" name="{{action}}" rows="8" spellcheck="false"{{^admin}} readonly{{/admin}}>{{body}}</textarea>
        {{/scripts}}
        {{#admin}}<button type="submit">Save scripts</button>{{/admin}}
        <p id="edit-status" role="status" aria-live="polite"></p>
        </form>
        <section id="conflict" hidden aria-labelledby="conflict-title">
        <h3 id="conflict-title">The current version</h3><div id="conflict-scripts"></div>
        </section>
        <h2>Last script output{{#servedBy}} on {{servedBy}}{{/servedBy}}</h2>
        {{#output}}<h3>{{action}}{{#modified}} ({{modified}}){{/modified}}</h3><pre class="output" tabindex="0">{{output}}</pre>{{/output}}
        {{^output}}<p>No script of {{name}} ran on this node.</p>{{/output}}
        <h2>Events</h2>
        <ol id="events" class="events">{{#events}}<li><time>{{time}}</time> {{text}}</li>{{/events}}</ol>
        """

    static let eventsBody = """
        <h1>Events</h1>
        <form method="get" action="/events" class="filters">
        <div><label for="filter-node">Node</label><input id="filter-node" name="node" value="{{node}}"></div>
        <div><label for="filter-resource">Resource</label><input id="filter-resource" name="resource" value="{{resource}}"></div>
        <div><label for="filter-kind">Kind</label><select id="filter-kind" name="kind"><option value="">any</option>
        {{#kinds}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/kinds}}</select></div>
        <div><label for="filter-severity">Severity</label><select id="filter-severity" name="severity"><option value="">any</option>
        {{#severities}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/severities}}</select></div>
        <div><label for="filter-text">Text</label><input id="filter-text" name="text" value="{{text}}" maxlength="200"></div>
        <div><button type="submit">Filter</button></div>
        <div class="check"><input type="checkbox" id="follow" checked><label for="follow">Follow live</label></div>
        </form>
        <ol id="events" class="events">{{#events}}<li><time>{{time}}</time> {{text}}</li>{{/events}}</ol>
        {{^events}}<p id="no-events">No event matches.</p>{{/events}}
        """

    static let createBody = """
        <h1>New resource</h1>
        <form id="create-form">
        <label for="template">Template</label>
        <select id="template" name="template">{{#templates}}<option value="{{name}}">{{name}}: {{summary}}</option>{{/templates}}</select>
        <label for="name">Name</label>
        <input id="name" name="name" required autocomplete="off" aria-describedby="name-hint">
        <p id="name-hint" class="hint">1 to 63 letters, digits or '_'.</p>
        {{#variables}}<div class="variable" data-templates="{{templates}}"><label for="var-{{name}}">{{name}}</label>
        <input id="var-{{name}}" data-variable="{{name}}" autocomplete="off"></div>{{/variables}}
        <label for="preferred">Preferred nodes, in order</label>
        <input id="preferred" name="preferred" autocomplete="off" aria-describedby="preferred-hint">
        <p id="preferred-hint" class="hint">Comma-separated, of: {{#nodes}}{{name}} {{/nodes}}(empty: every node).</p>
        <label for="start-mode">Start mode</label>
        <select id="start-mode"><option>AUTO</option><option>MANUAL</option></select>
        <label for="failover-mode">Failover mode</label>
        <select id="failover-mode"><option>AUTO</option><option>MANUAL</option></select>
        <label for="failback-mode">Failback mode</label>
        <select id="failback-mode"><option>DISABLE</option><option>AUTO</option><option>MANUAL</option></select>
        <button type="submit">Create</button>
        <p id="action-status" role="status" aria-live="polite"></p>
        </form>
        """

    static let usersBody = """
        <h1>Users</h1>
        <p id="action-status" role="status" aria-live="polite"></p>
        <div class="scroll"><table><thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Actions</th></tr></thead>
        <tbody id="users">{{#users}}<tr><td>{{name}}</td><td>{{role}}</td><td></td></tr>{{/users}}</tbody></table></div>
        <h2>Add or change a user</h2>
        <form id="user-form">
        <label for="user-name">User</label><input id="user-name" required autocomplete="off">
        <label for="user-role">Role</label>
        <select id="user-role"><option value="observer">observer</option><option value="admin">admin</option></select>
        <label for="user-password">Password</label>
        <input id="user-password" type="password" autocomplete="new-password" required>
        <button type="submit">Save user</button>
        </form>
        """
}
