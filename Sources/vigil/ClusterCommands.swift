import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// MARK: Cluster

struct Maintenance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Cluster-wide maintenance: placement frozen (no failover) until off or --until.",
        discussion:
            "Examples: vigil maintenance on --until 30m; vigil maintenance on --until 2026-11-25T18:00:00Z; vigil maintenance off"
    )
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
                throw ValidationError(
                    "--until: value '\(until)': a duration such as 30m or an ISO 8601 time such as 2026-11-25T18:00:00Z"
                )
            }
        }
        try await withClient(connection) { client in
            let settings = try await client.post(
                ClusterSettings.self, "/v1/cluster/maintenance", MaintenanceRequest(enabled: mode == "on", until: end))
            if connection.json { return printJSON(settings.maintenance) }
            print(
                "maintenance \(settings.maintenance.enabled ? "on" : "off")"
                    + (settings.maintenance.untilWallMilliseconds.map { " until \(formatTime($0))" } ?? ""))
        }
    }
}

struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show configuration: basic, protocol, quorum, notification, priority or all.")
    @OptionGroup var connection: Connection
    @Argument(help: "basic | protocol | quorum | notification | priority | all") var section = "all"

    func run() async throws {
        let sections = ["basic", "protocol", "quorum", "notification", "priority", "all"]
        guard sections.contains(section) else {
            throw ValidationError("SECTION: value '\(section)': one of \(sections.joined(separator: ", "))")
        }
        try await withClient(connection) { client in
            let settings = try await client.get(ClusterSettings.self, "/v1/settings")
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            let all = section == "all"
            if connection.json {
                // The section asked for, as JSON (all: every section).
                let priorities = all || section == "priority" ? try await Self.priorities(client) : nil
                return printJSON(
                    InfoJSON(
                        cluster: all || section == "basic" ? status.name : nil,
                        nodes: all || section == "basic" ? status.nodes.map(\.name) : nil,
                        quorum: all || section == "basic" || section == "quorum" ? settings.quorum : nil,
                        timing: all || section == "protocol" ? settings.timing : nil,
                        notification: all || section == "notification" ? settings.notification : nil,
                        priorities: priorities))
            }
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
                print(
                    "E-mail addresses  \(notification.emailAddresses.isEmpty ? "-" : notification.emailAddresses.joined(separator: " "))"
                )
                print("SMTP relay        \(notification.smtpRelay ?? "-") (sender \(notification.sender))")
                print(
                    "Webhooks          \(notification.webhooks.isEmpty ? "-" : notification.webhooks.joined(separator: " "))"
                )
            }
            if all || section == "priority" {
                print("Priority (loaded first to last):")
                for entry in try await Self.priorities(client) { print("  \(entry.priority)  \(entry.resource)") }
            }
        }
    }

    struct Priority: Encodable {
        var resource: String
        var priority: Int
    }

    /// Resources in load order: highest priority first, then by name.
    static func priorities(_ client: APIClient) async throws -> [Priority] {
        let resources = try await client.get([ResourceState].self, "/v1/resources")
        var rows: [Priority] = []
        for resource in resources {
            let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(resource.name))")
            rows.append(Priority(resource: resource.name, priority: detail.definition.priority))
        }
        return rows.sorted { ($0.priority, $1.resource) > ($1.priority, $0.resource) }
    }

    /// `vigil info SECTION --json`: only the section's fields (nil ones are left out).
    struct InfoJSON: Encodable {
        var cluster: String?
        var nodes: [String]?
        var quorum: QuorumSettings?
        var timing: TimingSettings?
        var notification: NotificationSettings?
        var priorities: [Priority]?
    }
}

struct SetParameter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a cluster parameter (NCS `cluster set`).",
        discussion: """
            Parameters: quorum N, quorumwait 60s, tolerance 3s (changes live, see docs/design/0011),
            enableemail off|critical|verbose, emailaddresses "a@x b@y", smtprelay host:port,
            emailsender vigil@host, webhooks "https://…". The heartbeat and the etcd timings come from
            the timing profile in vigil.yaml (heartbeat, masterwatchdog, slavewatchdog and profile are
            refused here).
            Example: vigil set tolerance 4s
            """)
    @OptionGroup var connection: Connection
    @Argument var parameter: String
    @Argument var value: String

    func run() async throws {
        try await withClient(connection) { client in
            let settings = try await client.post(
                ClusterSettings.self, "/v1/settings/set", SetRequest(parameter: parameter, value: value))
            if connection.json { return printJSON(settings) }
            print("\(parameter.lowercased()) set to \(value)")
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract:
            "Heartbeat counters per member, last heartbeats, evictions, events, resources; clear resets the counters.",
        discussion: "Examples: vigil stats; vigil stats display; vigil stats clear")
    @OptionGroup var connection: Connection
    @Argument(help: "display (the default) or clear") var action = "display"

    func run() async throws {
        guard ["display", "clear"].contains(action) else {
            throw ValidationError("ACTION: value '\(action)': display or clear")
        }
        try await withClient(connection) { client in
            let stats =
                action == "clear"
                ? try await client.post(ClusterStats.self, "/v1/stats/clear", [String: String]())
                : try await client.get(ClusterStats.self, "/v1/stats")
            if connection.json { return printJSON(stats) }
            print(
                "Epoch \(stats.epoch)  store revision \(stats.revision)"
                    + (stats.clearedAt.map { "  counters since \(formatTime($0))" } ?? ""))
            printTable(
                ["MEMBER", "HEARTBEATS", "LAST HEARTBEAT", "REVISIONS AGO", "EVICTIONS"],
                stats.members.map {
                    [
                        $0.node, String($0.heartbeatsSinceClear), formatTime($0.lastHeartbeatTime),
                        String(stats.revision - $0.lastHeartbeatRevision), String($0.evictions),
                    ]
                })
            print("")
            print(
                "Events: \(stats.events) ("
                    + stats.eventsByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                        separator: ", ") + ")")
            print(
                "Resources: "
                    + stats.resourcesByState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                        separator: ", "))
        }
    }
}

/// NCS's `cluster restart [SECONDS]`.
struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Every node leaves the cluster and rejoins by itself after SECONDS (at least 60, as NCS).",
        discussion: """
            Resources are unloaded everywhere meanwhile; those with start mode AUTO load again once
            the nodes are back. Example: vigil restart 90
            """)
    @OptionGroup var connection: Connection
    @Argument(help: "Seconds each node stays out (60 to 86400).") var seconds = 60
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        guard (60...86_400).contains(seconds) else {
            throw ValidationError("SECONDS: value '\(seconds)': 60 to 86400 (NCS waits at least 60 s)")
        }
        if !yes { try confirm("This unloads every resource on every node for \(seconds) s.", by: "restart") }
        try await withClient(connection) { client in
            _ = try await client.send(.POST, "/v1/cluster/restart", body: RestartRequest(seconds: seconds))
            print("every node leaves now and rejoins after \(seconds) s (vigil view shows it)")
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the cluster event log (newest last); -f follows it.")
    @OptionGroup var connection: Connection
    @Option(name: .shortAndLong, help: "How many of the newest events.") var last = 50
    @Flag(name: .shortAndLong, help: "Keep printing new events until Ctrl-C.") var follow = false

    static func line(_ event: EventEntry) -> String {
        var text = "\(formatTime(event.time, milliseconds: true))  \(event.node)  \(event.kind)  "
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
            for event in page.events {
                print(connection.json ? String(decoding: ModelCodec.encode(event), as: UTF8.self) : Events.line(event))
            }
            guard follow else { return }
            fflush(nil)  // the page is out before waiting on the stream (stdout may be a file)
            try await client.lines("/v1/events/stream?from=\(page.revision + 1)") { line in
                guard line.hasPrefix("data: "),
                    let event = try? JSONDecoder().decode(EventEntry.self, from: Data(line.dropFirst(6).utf8))
                else { return }
                print(connection.json ? String(line.dropFirst(6)) : Events.line(event))
                fflush(nil)
            }
        }
    }
}
