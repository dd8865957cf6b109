import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// MARK: Membership

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "This node (or NODE) joins the cluster again after leave or down.",
        discussion: "Example: vigil join; vigil join n2")
    @OptionGroup var connection: Connection
    @Argument(help: "Default: the node whose agent answers.") var node: String?
    func run() async throws { try await membership(connection, node, "join") }
}

struct Leave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
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
                print(
                    "\(target) \(verb == "join" ? "joined" : "left") the cluster (epoch \(status.epoch); members \(status.members.joined(separator: " ")))"
                )
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError(message: "\(target) did not \(verb) within 30 s (vigil events says why)", code: Exit.timedOut)
    }
}

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Every node leaves the cluster: all resources are unloaded. Each node returns with vigil join.")
    @OptionGroup var connection: Connection
    @Flag(help: "Do not ask for confirmation.") var yes = false
    func run() async throws {
        if !yes { try confirm("This unloads every resource on every node.", by: "down") }
        try await withClient(connection) { client in
            _ = try await client.send(.POST, "/v1/cluster/down", body: [String: String]())
            print("cluster going down: every node leaves (vigil join on each brings it back)")
        }
    }
}

/// Asks the administrator to type `word` before a cluster-wide change (`down`, `restart`).
func confirm(_ what: String, by word: String) throws {
    print("\(what) Type '\(word)' to go on: ", terminator: "")
    guard readLine() == word else { throw CLIError(message: "not confirmed; nothing changed", code: Exit.failed) }
}
