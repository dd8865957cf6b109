import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// MARK: Reading

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show resources: state, node, lives, up since.", discussion: "Example: vigil status iManager")
    @OptionGroup var connection: Connection
    @Argument(help: "Show only this resource.") var resource: String?

    func run() async throws {
        try await withClient(connection) { client in
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            var resources = status.resources
            if let resource {
                resources = resources.filter { $0.name == resource }
                guard !resources.isEmpty else {
                    throw CLIError(message: "no such resource: \(resource)", code: Exit.notFound)
                }
            }
            if connection.json {
                if resource != nil { printJSON(resources[0]) } else { printJSON(status) }
                return
            }
            let master = status.master.map { "\($0) (term \(status.masterTerm ?? 0))" } ?? "-"
            print(
                "Cluster \(status.name)  epoch \(status.epoch)  master \(master)  members \(status.members.joined(separator: " "))"
            )
            if status.watchdogTimeoutMilliseconds == nil {
                print("Frozen-agent protection: off (no watchdog; docs/design/0004, 0013)")
            }
            if status.maintenance.enabled {
                print(
                    "MAINTENANCE is on"
                        + (status.maintenance.untilWallMilliseconds.map { " until \(formatTime($0))" } ?? ""))
            }
            print("")
            printTable(
                ["RESOURCE", "STATE", "NODE", "LIVES", "UP SINCE"],
                resources.map {
                    [
                        $0.name, $0.state.description, $0.nodes.isEmpty ? "-" : $0.nodes.joined(separator: ","),
                        String($0.incarnation), formatTime($0.upSince),
                    ]
                })
            for problem in status.problems { print("problem: \(problem)") }
        }
    }
}

struct View: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view",
        abstract: "This node, the epoch, the master and the members (NCS `cluster view`).")
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withClient(connection) { client in
            let status = try await client.get(ClusterStatus.self, "/v1/cluster")
            // The whole view: this node, the epoch, the master, the members and the nodes.
            if connection.json { return printJSON(ClusterViewJSON(status)) }
            print("Node    \(status.thisNode ?? "-")")
            print("Cluster \(status.name)")
            print("Epoch   \(status.epoch)")
            print("Master  \(status.master ?? "-")")
            print("Members \(status.members.joined(separator: " "))")
            print("")
            printTable(
                ["NODE", "MEMBER", "HEARTBEAT", "RESOURCES"],
                status.nodes.map {
                    [
                        $0.name + ($0.master ? " (master)" : ""), $0.member ? "yes" : $0.standby ? "no (left)" : "no",
                        $0.heartbeat.map(String.init) ?? "-",
                        $0.resources.joined(separator: " "),
                    ]
                })
        }
    }
}

struct Resources: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resources", abstract: "List every resource with its template and state.")
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withClient(connection) { client in
            let resources = try await client.get([ResourceState].self, "/v1/resources")
            if connection.json { return printJSON(resources) }
            printTable(
                ["RESOURCE", "TEMPLATE", "STATE", "NODE", "REASON"],
                resources.map {
                    [
                        $0.name, $0.template ?? "-", $0.state.description,
                        $0.nodes.isEmpty ? "-" : $0.nodes.joined(separator: ","),
                        $0.reason ?? "-",
                    ]
                })
        }
    }
}

/// `vigil view --json`: what the table shows, as one object.
struct ClusterViewJSON: Encodable {
    var node: String?
    var cluster: String
    var epoch: UInt64
    var master: String?
    var members: [String]
    var nodes: [NodeState]

    init(_ status: ClusterStatus) {
        node = status.thisNode
        cluster = status.name
        epoch = status.epoch
        master = status.master
        members = status.members
        nodes = status.nodes
    }
}
