import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// MARK: Resource commands

/// Options of the verbs that wait for the resource to settle.
struct Waiting: ParsableArguments {
    @Flag(help: "Return as soon as the master has the command.") var noWait = false
    @Option(help: "Seconds to wait for the resource to settle.") var timeout = 120
}

/// Sends a command and, unless told not to, waits for its result with a progress line per change.
func runCommand(_ connection: Connection, _ waiting: Waiting, _ resource: String, path: String, body: some Encodable)
    async throws
{
    try await withClient(connection) { client in
        let receipt = try await client.post(CommandReceipt.self, "/v1/resources/\(escapePath(resource))/\(path)", body)
        if waiting.noWait {
            if connection.json {
                printJSON(receipt)
            } else {
                print("\(resource): \(receipt.verb) sent (command \(receipt.id))")
            }
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
                throw CLIError(
                    message: "\(resource): refused by the master (vigil events says why); \(line)", code: Exit.refused)
            }
            if handled, state.settled {
                if connection.json {
                    printJSON(state)
                } else {
                    print("\(resource): \(line) (generation \(state.generation))")
                }
                if state.state == .comatose {
                    throw CLIError(
                        message:
                            "\(resource): Comatose — see `vigil resource scripts \(resource)`; offline it before online",
                        code: Exit.comatose)
                }
                return
            }
            if line != last, !connection.json {
                FileHandle.standardError.write(Data("\(resource): \(line) …\n".utf8))
                last = line
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError(
            message: "\(resource): did not settle within \(waiting.timeout) s (last: \(last))", code: Exit.timedOut)
    }
}

struct Online: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "online",
        abstract: "Load a resource (on NODE, or the most preferred member).",
        discussion: "Example: vigil online iManager n2")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    @Argument var node: String?
    func run() async throws {
        try await runCommand(connection, waiting, resource, path: "online", body: OnlineRequest(node: node))
    }
}

struct Offline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offline", abstract: "Unload a resource; it stays offline.")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    func run() async throws {
        try await runCommand(connection, waiting, resource, path: "offline", body: [String: String]())
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
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
                let preferred =
                    detail.definition.preferredNodes.isEmpty
                    ? status.nodes.map(\.name) : detail.definition.preferredNodes.map(\.rawValue)
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
    static let configuration = CommandConfiguration(
        commandName: "alert", abstract: "Answer a start, failover or failback alert: yes or no.")
    @OptionGroup var connection: Connection
    @OptionGroup var waiting: Waiting
    @Argument var resource: String
    @Argument(help: "yes or no") var answer: String
    func run() async throws {
        guard ["yes", "no"].contains(answer) else { throw ValidationError("ANSWER: value '\(answer)': yes or no") }
        try await runCommand(connection, waiting, resource, path: "alert", body: AlertRequest(answer: answer))
    }
}

/// NCS's `cluster monitor RES start|stop|status`.
struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Suspend (stop) or resume (start) a resource's monitoring, or show it (status).",
        discussion: "Example: vigil monitor iManager stop; … maintenance of the service …; vigil monitor iManager start"
    )
    @OptionGroup var connection: Connection
    @Argument var resource: String
    @Argument(help: "start | stop | status") var action = "status"

    func run() async throws {
        guard ["start", "stop", "status"].contains(action) else {
            throw ValidationError("ACTION: value '\(action)': start, stop or status")
        }
        try await withClient(connection) { client in
            let path = "/v1/resources/\(escapePath(resource))/monitor"
            let status =
                action == "status"
                ? try await client.get(MonitorStatus.self, path)
                : try await client.post(MonitorStatus.self, path, MonitorRequest(action: action))
            if connection.json { return printJSON(status) }
            guard status.hasMonitor else { return print("\(status.resource): no monitor script") }
            if status.suspended {
                print(
                    "\(status.resource): monitoring suspended"
                        + (status.by.map { " by \($0)" } ?? "")
                        + (status.since.map { " since \(formatTime($0))" } ?? ""))
            } else {
                print("\(status.resource): monitoring active, every \(status.interval ?? "?")")
            }
        }
    }
}

/// NCS's `cluster rename OLD NEW`.
struct Rename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rename",
        abstract: "Rename an offline resource (its definition, policies and scripts keep).",
        discussion: "Example: vigil offline web; vigil rename web web_console")
    @OptionGroup var connection: Connection
    @Argument var old: String
    @Argument var new: String

    func run() async throws {
        try await withClient(connection) { client in
            let spec = try await client.post(
                ResourceSpec.self, "/v1/resources/\(escapePath(old))/rename", RenameRequest(to: new))
            if connection.json { return printJSON(spec) }
            print("renamed \(old) to \(spec.name)")
        }
    }
}
