import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// MARK: Access

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "API and console users.", subcommands: [Add.self, List.self, Delete.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Create or change a user; the password is read from stdin (or VIGIL_NEW_PASSWORD).",
            discussion: "Example: echo 'long secret' | vigil user add alice --role observer")
        @OptionGroup var connection: Connection
        @Argument var name: String
        @Option(help: "admin or observer.") var role = "admin"
        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role: value '\(role)': admin or observer")
            }
            let password =
                try ProcessInfo.processInfo.environment["VIGIL_NEW_PASSWORD"] ?? User.readPasswordLine(for: name)
            try await withClient(connection) { client in
                _ = try await client.send(
                    .PUT, "/v1/users/\(escapePath(name))", body: UserRequest(password: password, role: role))
                print("user \(name) set (role \(role.rawValue))")
            }
        }
    }

    /// On a terminal: asked twice without echo; otherwise the first line of stdin.
    static func readPasswordLine(for name: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else { return readLine(strippingNewline: true) ?? "" }
        let first = try Connection.askPassword(prompt: "new password for \(name): ")
        let again = try Connection.askPassword(prompt: "again: ")
        guard first == again else {
            throw CLIError(message: "password: the two entries differ; nothing changed", code: Exit.badInput)
        }
        return first
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List users.")
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
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a user.")
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
        commandName: "login",
        abstract: "Log in to a remote agent and print a bearer token (for VIGIL_TOKEN).",
        discussion: "Example: export VIGIL_TOKEN=$(vigil login --host https://198.18.0.11:7410 --user admin --insecure)"
    )
    @OptionGroup var connection: Connection
    func run() async throws {
        guard let user = connection.user else { throw ValidationError("--user is needed") }
        let password = try ProcessInfo.processInfo.environment["VIGIL_PASSWORD"] ?? Connection.askPassword(for: user)
        var anonymous = connection
        anonymous.user = nil
        anonymous.token = nil
        try await withClient(anonymous) { client in
            let grant = try await client.post(
                SessionGrant.self, "/v1/sessions", LoginRequest(user: user, password: password))
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
