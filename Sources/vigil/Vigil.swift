import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// `vigil`: the administrator's command, with the verbs of NCS's `cluster` command. It talks to the
// local agent over its root-only Unix socket, or to any node over HTTPS (--host).

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil", abstract: "Administer a Vigil cluster (verbs follow NCS's `cluster` command).",
        discussion: """
            Examples:
              vigil status                   resources, state, node
              vigil online iManager n2       load on n2, wait for Running
              vigil migrate iManager --next  to the next preferred member
              vigil events -f                follow the event log
              vigil status --json            the same as JSON
              vigil status --host https://198.18.0.11:7410 --user admin

            Exit codes:
              0 done            1 failed              2 bad input
              3 refused         4 ended Comatose      5 did not settle
              6 no such name    7 not allowed         8 unreachable

            Completion: vigil --generate-completion-script bash
            """,
        version: VigilVersion.current,
        subcommands: [
            Status.self, View.self, Resources.self, Online.self, Offline.self, Migrate.self, Alert.self, Join.self, Leave.self, Down.self,
            Maintenance.self,
            Info.self, SetParameter.self, Stats.self, Events.self, Resource.self, Template.self, User.self, Login.self,
        ])
}

// MARK: Reading

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show resources: state, node, lives, up since.", discussion: "Example: vigil status iManager")
    @OptionGroup var connection: Connection
    @Argument(help: "Show only this resource.") var resource: String?

    func run() async throws {
        try await withClient(connection) { client in
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            var resources = status.resources
            if let resource {
                resources = resources.filter { $0.name == resource }
                guard !resources.isEmpty else { throw CLIError(message: "no such resource: \(resource)", code: Exit.notFound) }
            }
            if connection.json {
                if resource != nil { printJSON(resources[0]) } else { printJSON(status) }
                return
            }
            let master = status.master.map { "\($0) (term \(status.masterTerm ?? 0))" } ?? "-"
            print("Cluster \(status.name)  epoch \(status.epoch)  master \(master)  members \(status.members.joined(separator: " "))")
            if status.maintenance.enabled { print("MAINTENANCE is on" + (status.maintenance.untilWallMilliseconds.map { " until \(formatTime($0))" } ?? "")) }
            print("")
            printTable(
                ["RESOURCE", "STATE", "NODE", "LIVES", "UP SINCE"],
                resources.map { [$0.name, $0.state, $0.nodes.isEmpty ? "-" : $0.nodes.joined(separator: ","), String($0.incarnation), formatTime($0.upSince)] })
            for problem in status.problems { print("problem: \(problem)") }
        }
    }
}

struct View: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "This node, the epoch, the master and the members (NCS `cluster view`).")
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withClient(connection) { client in
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            if connection.json { return printJSON(status.nodes) }
            print("Node    \(status.thisNode ?? "-")")
            print("Cluster \(status.name)")
            print("Epoch   \(status.epoch)")
            print("Master  \(status.master ?? "-")")
            print("Members \(status.members.joined(separator: " "))")
            print("")
            printTable(
                ["NODE", "MEMBER", "HEARTBEAT", "RESOURCES"],
                status.nodes.map {
                    [$0.name + ($0.master ? " (master)" : ""), $0.member ? "yes" : $0.standby ? "no (left)" : "no", $0.heartbeat.map(String.init) ?? "-",
                     $0.resources.joined(separator: " ")]
                })
        }
    }
}

struct Resources: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every resource with its template and state.")
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withClient(connection) { client in
            let resources = try await client.get([ResourceState].self, "/v1/resources")
            if connection.json { return printJSON(resources) }
            printTable(["RESOURCE", "TEMPLATE", "STATE", "NODE", "REASON"], resources.map {
                [$0.name, $0.template ?? "-", $0.state, $0.nodes.isEmpty ? "-" : $0.nodes.joined(separator: ","), $0.reason ?? "-"]
            })
        }
    }
}

// MARK: Resource commands

/// Options of the verbs that wait for the resource to settle.
struct Waiting: ParsableArguments {
    @Flag(help: "Return as soon as the master has the command.") var noWait = false
    @Option(help: "Seconds to wait for the resource to settle.") var timeout = 120
}

/// Sends a command and, unless told not to, waits for its result with a progress line per change.
func runCommand(_ connection: Connection, _ waiting: Waiting, _ resource: String, path: String, body: some Encodable) async throws {
    try await withClient(connection) { client in
        let receipt = try await client.post(CommandReceipt.self, "/v1/resources/\(escapePath(resource))/\(path)", body)
        if waiting.noWait {
            if connection.json { printJSON(receipt) } else { print("\(resource): \(receipt.verb) sent (command \(receipt.id))") }
            return
        }
        let deadline = ContinuousClock.now + .seconds(max(1, waiting.timeout))
        var last = ""
        while ContinuousClock.now < deadline {
            let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(resource))")
            let state = detail.state
            let line = "\(state.state)\(state.nodes.isEmpty ? "" : " on \(state.nodes.joined(separator: ","))")"
            let handled = !state.pendingCommands.contains(receipt.id)
            if handled, state.generation == receipt.generationBefore {
                if connection.json { printJSON(state) }
                throw CLIError(message: "\(resource): refused by the master (vigil events says why); \(line)", code: Exit.refused)
            }
            if handled, state.settled {
                if connection.json { printJSON(state) } else { print("\(resource): \(line) (generation \(state.generation))") }
                if state.state == "Comatose" {
                    throw CLIError(message: "\(resource): Comatose — see `vigil resource scripts \(resource)`; offline it before online", code: Exit.comatose)
                }
                return
            }
            if line != last, !connection.json {
                FileHandle.standardError.write(Data("\(resource): \(line) …\n".utf8))
                last = line
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError(message: "\(resource): did not settle within \(waiting.timeout) s (last: \(last))", code: Exit.timedOut)
    }
}

struct Online: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a resource (on NODE, or the most preferred member).", discussion: "Example: vigil online iManager n2")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    @Argument var node: String?
    func run() async throws {
        try await runCommand(connection, waiting, resource, path: "online", body: OnlineRequest(node: node))
    }
}

struct Offline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unload a resource; it stays offline.")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    func run() async throws {
        try await runCommand(connection, waiting, resource, path: "offline", body: [String: String]())
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a running resource: to NODE, --most or --next; --list shows the preferred nodes.",
        discussion: "Examples: vigil migrate iManager n3; vigil migrate iManager --next")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    @Argument var node: String?
    @Flag(help: "To the most preferred member.") var most = false
    @Flag(help: "To the next preferred member after the current node.") var next = false
    @Flag(help: "Show the preferred nodes and which are members.") var list = false

    func run() async throws {
        if list {
            try await withClient(connection) { client in
                let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(resource))")
                let status = try await client.get(ClusterStatus.self, "/v1/cluster")
                let preferred = detail.definition.preferredNodes.isEmpty ? status.nodes.map(\.name) : detail.definition.preferredNodes.map(\.rawValue)
                if connection.json { return printJSON(preferred) }
                for (index, node) in preferred.enumerated() {
                    let member = status.members.contains(node) ? "member" : "not a member"
                    let here = detail.state.nodes.contains(node) ? "  <- running here" : ""
                    print("\(index + 1). \(node)  (\(member))\(here)")
                }
            }
            return
        }
        let target: String
        switch (node, most, next) {
        case (let node?, false, false): target = node
        case (nil, true, false): target = "most"
        case (nil, false, true): target = "next"
        default: throw ValidationError("give one of: NODE, --most, --next (or --list)")
        }
        try await runCommand(connection, waiting, resource, path: "migrate", body: MigrateRequest(to: target))
    }
}

struct Alert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer a start, failover or failback alert: yes or no.")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    @Argument(help: "yes or no") var answer: String
    func run() async throws {
        guard ["yes", "no"].contains(answer) else { throw ValidationError("ANSWER: value '\(answer)': yes or no") }
        try await runCommand(connection, waiting, resource, path: "alert", body: AlertRequest(answer: answer))
    }
}

// MARK: Cluster

struct Maintenance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cluster-wide maintenance: placement frozen (no failover) until off or --until.",
        discussion: "Examples: vigil maintenance on --until 30m; vigil maintenance on --until 2026-11-25T18:00:00Z; vigil maintenance off")
    @OptionGroup var connection: Connection
    @Argument(help: "on or off") var mode: String
    @Option(help: "When maintenance ends by itself: a duration (30m, 2h) or an ISO 8601 time.") var until: String?

    func run() async throws {
        guard ["on", "off"].contains(mode) else { throw ValidationError("MODE: value '\(mode)': on or off") }
        var end: Int64?
        if let until {
            if let span = try? Span(parsing: until, field: "--until") {
                end = Int64(Date().timeIntervalSince1970 * 1000) + span.milliseconds
            } else if let date = ISO8601DateFormatter().date(from: until) {
                end = Int64(date.timeIntervalSince1970 * 1000)
            } else {
                throw ValidationError("--until: value '\(until)': a duration such as 30m or an ISO 8601 time such as 2026-11-25T18:00:00Z")
            }
        }
        try await withClient(connection) { client in
            let settings = try await client.post(ClusterSettings.self, "/v1/cluster/maintenance", MaintenanceRequest(enabled: mode == "on", until: end))
            if connection.json { return printJSON(settings.maintenance) }
            print("maintenance \(settings.maintenance.enabled ? "on" : "off")" + (settings.maintenance.untilWallMilliseconds.map { " until \(formatTime($0))" } ?? ""))
        }
    }
}

struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show configuration: basic, protocol, quorum, notification, priority or all.")
    @OptionGroup var connection: Connection
    @Argument(help: "basic | protocol | quorum | notification | priority | all") var section = "all"

    func run() async throws {
        let sections = ["basic", "protocol", "quorum", "notification", "priority", "all"]
        guard sections.contains(section) else { throw ValidationError("SECTION: value '\(section)': one of \(sections.joined(separator: ", "))") }
        try await withClient(connection) { client in
            let settings = try await client.get(ClusterSettings.self, "/v1/settings")
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            if connection.json { return printJSON(settings) }
            let all = section == "all"
            if all || section == "basic" {
                print("Cluster name      \(status.name)")
                print("Nodes             \(status.nodes.map(\.name).joined(separator: " "))")
                print("Quorum            \(settings.quorum.nodeCount) nodes, wait \(settings.quorum.timeout)")
            }
            if all || section == "protocol" {
                let timing = settings.timing
                print("Profile           \(timing.profile.rawValue)")
                print("Heartbeat         \(timing.heartbeat)")
                print("Tolerance         \(timing.tolerance) (self-fence after \(timing.selfFenceAfter))")
                print("etcd heartbeat    \(timing.etcdHeartbeat), election \(timing.etcdElection)")
                print("Watchdog          \(timing.watchdogTimeout.map { "\($0)" } ?? "none")")
            }
            if section == "quorum" {
                print("Quorum            \(settings.quorum.nodeCount) nodes, wait \(settings.quorum.timeout)")
            }
            if all || section == "notification" {
                let notification = settings.notification
                print("Notification      \(notification.level.rawValue)")
                print("E-mail addresses  \(notification.emailAddresses.isEmpty ? "-" : notification.emailAddresses.joined(separator: " "))")
                print("SMTP relay        \(notification.smtpRelay ?? "-") (sender \(notification.sender))")
                print("Webhooks          \(notification.webhooks.isEmpty ? "-" : notification.webhooks.joined(separator: " "))")
            }
            if all || section == "priority" {
                let resources = try await client.get([ResourceState].self, "/v1/resources")
                var rows: [(Int, String)] = []
                for resource in resources {
                    let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(resource.name))")
                    rows.append((detail.definition.priority, resource.name))
                }
                print("Priority (loaded first to last):")
                for (priority, name) in rows.sorted(by: { ($0.0, $1.1) > ($1.0, $0.1) }) { print("  \(priority)  \(name)") }
            }
        }
    }
}

struct SetParameter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a cluster parameter (NCS `cluster set`).",
        discussion: """
            Parameters: quorum N, quorumwait 60s, enableemail off|critical|verbose, emailaddresses "a@x b@y",
            smtprelay host:port, emailsender vigil@host, webhooks "https://…". Protocol timings (tolerance,
            heartbeat) come from the timing profile in vigil.yaml.
            Example: vigil set quorum 2
            """)
    @OptionGroup var connection: Connection
    @Argument var parameter: String
    @Argument var value: String

    func run() async throws {
        try await withClient(connection) { client in
            let settings = try await client.post(ClusterSettings.self, "/v1/settings/set", SetRequest(parameter: parameter, value: value))
            if connection.json { return printJSON(settings) }
            print("\(parameter.lowercased()) set to \(value)")
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Heartbeat counters per member, events by kind, resources by state.")
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withClient(connection) { client in
            let stats = try await client.get(ClusterStats.self, "/v1/stats")
            if connection.json { return printJSON(stats) }
            print("Epoch \(stats.epoch)  store revision \(stats.revision)")
            printTable(["MEMBER", "HEARTBEATS", "LAST (REVISIONS AGO)"], stats.members.map {
                [$0.node, String($0.heartbeat), String(stats.revision - $0.lastHeartbeatRevision)]
            })
            print("")
            print("Events: \(stats.events) (" + stats.eventsByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
            print("Resources: " + stats.resourcesByState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the cluster event log (newest last); -f follows it.")
    @OptionGroup var connection: Connection
    @Option(name: .shortAndLong, help: "How many of the newest events.") var last = 50
    @Flag(name: .shortAndLong, help: "Keep printing new events until Ctrl-C.") var follow = false

    static func line(_ event: EventEntry) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        var text = "\(formatter.string(from: Date(timeIntervalSince1970: Double(event.time) / 1000)))  \(event.node)  \(event.kind)  "
        if event.severity != "info" { text += "\(event.severity.uppercased())  " }
        text += event.resource.map { "\($0): " } ?? ""
        text += event.message
        for output in event.output ?? [] { text += "\n      | " + output }
        return text
    }

    func run() async throws {
        guard (1...2000).contains(last) else { throw ValidationError("--last: value '\(last)': 1 to 2000") }
        try await withClient(connection) { client in
            let page = try await client.get(EventPage.self, "/v1/events?limit=\(last)")
            for event in page.events { print(connection.json ? String(decoding: ModelCodec.encode(event), as: UTF8.self) : Events.line(event)) }
            guard follow else { return }
            fflush(nil)  // the page is out before waiting on the stream (stdout may be a file)
            try await client.lines("/v1/events/stream?from=\(page.revision + 1)") { line in
                guard line.hasPrefix("data: "), let event = try? JSONDecoder().decode(EventEntry.self, from: Data(line.dropFirst(6).utf8)) else { return }
                print(connection.json ? String(line.dropFirst(6)) : Events.line(event))
                fflush(nil)
            }
        }
    }
}

// MARK: Definitions

struct Resource: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage resource definitions.", subcommands: [Create.self, Show.self, Edit.self, Delete.self, Scripts.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a resource from a template.",
            discussion: "Example: vigil resource create iManager --template Generic_IP_Service --set RESOURCE_IP=198.18.0.100")
        @OptionGroup var connection: Connection
        @Argument var name: String
        @Option var template = "Generic_IP_Service"
        @Option(name: .customLong("set"), help: "VARIABLE=value, repeatable.") var variables: [String] = []
        @Option(help: "Preferred nodes in order, comma separated.") var preferred: String?
        @Option(help: "A file with the load script (replaces the template's).") var loadScript: String?
        @Option(help: "A file with the unload script.") var unloadScript: String?
        @Option(help: "A file with the monitor script.") var monitorScript: String?
        @Option(help: "Load script timeout, e.g. 60s.") var loadTimeout: String?
        @Option(help: "Unload script timeout, e.g. 60s.") var unloadTimeout: String?
        @Option(help: "AUTO or MANUAL.") var startMode: String?
        @Option(help: "AUTO or MANUAL.") var failoverMode: String?
        @Option(help: "AUTO, MANUAL or DISABLE.") var failbackMode: String?
        @Option(help: "Load order: higher first.") var priority: Int?

        func run() async throws {
            var request = CreateResourceRequest(name: name, template: template)
            for assignment in variables {
                let parts = assignment.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--set: value '\(assignment)': expected VARIABLE=value") }
                request.variables[String(parts[0])] = String(parts[1])
            }
            request.preferredNodes = preferred.map { $0.split(separator: ",").map(String.init) }
            func read(_ path: String?, _ option: String) throws -> String? {
                guard let path else { return nil }
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ValidationError("\(option): value '\(path)': cannot read this file")
                }
                return text
            }
            request.loadScript = try read(loadScript, "--load-script")
            request.unloadScript = try read(unloadScript, "--unload-script")
            request.monitorScript = try read(monitorScript, "--monitor-script")
            request.loadTimeout = loadTimeout
            request.unloadTimeout = unloadTimeout
            func mode<T: RawRepresentable>(_ text: String?, _ type: T.Type, _ option: String) throws -> T? where T.RawValue == String {
                guard let text else { return nil }
                guard let value = T(rawValue: text.uppercased()) else { throw ValidationError("\(option): value '\(text)': not a known mode") }
                return value
            }
            request.startMode = try mode(startMode, StartMode.self, "--start-mode")
            request.failoverMode = try mode(failoverMode, StartMode.self, "--failover-mode")
            request.failbackMode = try mode(failbackMode, FailbackMode.self, "--failback-mode")
            request.priority = priority
            try await withClient(connection) { client in
                let spec = try await client.post(ResourceSpec.self, "/v1/resources", request)
                if connection.json { return printJSON(spec) }
                print("created \(spec.name) from \(spec.template ?? template)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a resource definition as JSON.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(name))")
                printJSON(connection.json ? AnyEncodable(detail) : AnyEncodable(detail.definition))
            }
        }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a definition: in $EDITOR, or from --file. Used at the resource's next load.",
            discussion: "Example: vigil resource show iManager > r.json; edit r.json; vigil resource edit iManager --file r.json")
        @OptionGroup var connection: Connection
        @Argument var name: String
        @Option(help: "A JSON definition to apply (as printed by `vigil resource show`).") var file: String?

        func run() async throws {
            try await withClient(connection) { client in
                let text: String
                if let file {
                    guard let read = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw CLIError(message: "--file: value '\(file)': cannot read this file", code: Exit.badInput)
                    }
                    text = read
                } else {
                    let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(name))")
                    let path = NSTemporaryDirectory() + "vigil-\(name)-\(getpid()).json"
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    _ = FileManager.default.createFile(atPath: path, contents: try encoder.encode(detail.definition), attributes: [.posixPermissions: 0o600])
                    defer { try? FileManager.default.removeItem(atPath: path) }
                    let editor = ProcessInfo.processInfo.environment["EDITOR"] ?? "vi"
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/bin/sh")
                    process.arguments = ["-c", "\(editor) \"$1\"", "sh", path]
                    try process.run()
                    process.waitUntilExit()
                    guard process.terminationStatus == 0, let edited = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw CLIError(message: "the editor failed; nothing changed", code: Exit.failed)
                    }
                    text = edited
                }
                // Sent as written: the agent checks it and names any bad field.
                let spec = try client.decode(ResourceSpec.self, try await client.send(.PUT, "/v1/resources/\(escapePath(name))", raw: Array(text.utf8)))
                if connection.json { return printJSON(spec) }
                print("changed \(spec.name) (used at its next load)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an offline resource.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                _ = try await client.send(.DELETE, "/v1/resources/\(escapePath(name))")
                if !connection.json { print("deleted \(name)") }
            }
        }
    }

    struct Scripts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a resource's scripts and their last output on this node.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(name))")
                let outputs = try await client.get([ScriptOutput].self, "/v1/resources/\(escapePath(name))/output")
                if connection.json { return printJSON(outputs) }
                let definition = detail.definition
                var scripts = [("load", definition.load.body, definition.load.timeout), ("unload", definition.unload.body, definition.unload.timeout)]
                if let monitor = definition.monitor { scripts.append(("monitor", monitor.script.body, monitor.script.timeout)) }
                for (action, body, timeout) in scripts {
                    print("=== \(action) script (timeout \(timeout))")
                    print(body.hasSuffix("\n") ? String(body.dropLast()) : body)
                    if let output = outputs.first(where: { $0.action == action }) {
                        print("--- last output on \(output.node) at \(formatTime(output.modified))\(output.truncated ? " (last 64 KiB)" : "")")
                        print(output.output.isEmpty ? "(none)" : output.output)
                    }
                }
            }
        }
    }
}

struct Template: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the templates, or show one with its scripts.", subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the templates.")
        @OptionGroup var connection: Connection
        func run() async throws {
            try await withClient(connection) { client in
                let templates = try await client.get([ResourceTemplate].self, "/v1/templates")
                if connection.json { return printJSON(templates) }
                printTable(["TEMPLATE", "VARIABLES", "SUMMARY"], templates.map { [$0.name, $0.variables.joined(separator: ","), $0.summary] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a template's scripts.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                let template = try await client.get(ResourceTemplate.self, "/v1/templates/\(escapePath(name))")
                if connection.json { return printJSON(template) }
                print("\(template.name): \(template.summary)\nvariables: \(template.variables.joined(separator: ", "))")
                print("=== load\n\(template.load)\n=== unload\n\(template.unload)")
                if let monitor = template.monitor { print("=== monitor (every \(template.monitorInterval))\n\(monitor)") }
            }
        }
    }
}

// MARK: Access

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "API and console users.", subcommands: [Add.self, List.self, Delete.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or change a user; the password is read from stdin (or VIGIL_NEW_PASSWORD).",
            discussion: "Example: echo 'long secret' | vigil user add alice --role observer")
        @OptionGroup var connection: Connection
        @Argument var name: String
        @Option(help: "admin or observer.") var role = "admin"
        func run() async throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role: value '\(role)': admin or observer") }
            let password = ProcessInfo.processInfo.environment["VIGIL_NEW_PASSWORD"] ?? readLine(strippingNewline: true) ?? ""
            try await withClient(connection) { client in
                _ = try await client.send(.PUT, "/v1/users/\(escapePath(name))", body: UserRequest(password: password, role: role))
                print("user \(name) set (role \(role.rawValue))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var connection: Connection
        func run() async throws {
            try await withClient(connection) { client in
                let users = try await client.get([UserSummary].self, "/v1/users")
                if connection.json { return printJSON(users) }
                printTable(["USER", "ROLE"], users.map { [$0.name, $0.role.rawValue] })
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                _ = try await client.send(.DELETE, "/v1/users/\(escapePath(name))")
                print("deleted user \(name)")
            }
        }
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log in to a remote agent and print a bearer token (for VIGIL_TOKEN).",
        discussion: "Example: export VIGIL_TOKEN=$(vigil login --host https://198.18.0.11:7410 --user admin --insecure)")
    @OptionGroup var connection: Connection
    func run() async throws {
        guard let user = connection.user else { throw ValidationError("--user is needed") }
        let password = try ProcessInfo.processInfo.environment["VIGIL_PASSWORD"] ?? Connection.askPassword(for: user)
        var anonymous = connection
        anonymous.user = nil
        anonymous.token = nil
        try await withClient(anonymous) { client in
            let grant = try await client.post(SessionGrant.self, "/v1/sessions", LoginRequest(user: user, password: password))
            if connection.json { return printJSON(grant) }
            print(grant.token)
        }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

// MARK: Membership

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "This node (or NODE) joins the cluster again after leave or down.", discussion: "Example: vigil join; vigil join n2")
    @OptionGroup var connection: Connection
    @Argument(help: "Default: the node whose agent answers.") var node: String?
    func run() async throws { try await membership(connection, node, "join") }
}

struct Leave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "This node (or NODE) hands its resources over and leaves the cluster until vigil join.",
        discussion: "The node stays out across agent restarts. Example: vigil leave")
    @OptionGroup var connection: Connection
    @Argument(help: "Default: the node whose agent answers.") var node: String?
    func run() async throws { try await membership(connection, node, "leave") }
}

/// Sends leave/join for a node and waits until its membership shows it (30 s).
func membership(_ connection: Connection, _ node: String?, _ verb: String) async throws {
    try await withClient(connection) { client in
        let before = try await client.get(ClusterStatus.self, "/v1/cluster")
        guard let target = node ?? before.thisNode else { throw CLIError(message: "give a node", code: Exit.badInput) }
        _ = try await client.send(.POST, "/v1/nodes/\(escapePath(target))/\(verb)", body: [String: String]())
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            if status.members.contains(target) == (verb == "join") {
                print("\(target) \(verb == "join" ? "joined" : "left") the cluster (epoch \(status.epoch); members \(status.members.joined(separator: " ")))")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError(message: "\(target) did not \(verb) within 30 s (vigil events says why)", code: Exit.timedOut)
    }
}

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every node leaves the cluster: all resources are unloaded. Each node returns with vigil join.")
    @OptionGroup var connection: Connection
    @Flag(help: "Do not ask for confirmation.") var yes = false
    func run() async throws {
        if !yes {
            print("This unloads every resource on every node. Type 'down' to go on: ", terminator: "")
            guard readLine() == "down" else { throw CLIError(message: "not confirmed; nothing changed", code: Exit.failed) }
        }
        try await withClient(connection) { client in
            _ = try await client.send(.POST, "/v1/cluster/down", body: [String: String]())
            print("cluster going down: every node leaves (vigil join on each brings it back)")
        }
    }
}
