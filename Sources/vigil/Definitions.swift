import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation

// MARK: Definitions

struct Resource: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resource",
        abstract: "Manage resource definitions.",
        subcommands: [Create.self, Show.self, Edit.self, Delete.self, Scripts.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a resource from a template.",
            discussion:
                "Example: vigil resource create iManager --template Generic_IP_Service --set RESOURCE_IP=198.18.0.100")
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
                guard parts.count == 2 else {
                    throw ValidationError("--set: value '\(assignment)': expected VARIABLE=value")
                }
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
            func mode<T: RawRepresentable>(_ text: String?, _ type: T.Type, _ option: String) throws -> T?
            where T.RawValue == String {
                guard let text else { return nil }
                guard let value = T(rawValue: text.uppercased()) else {
                    throw ValidationError("\(option): value '\(text)': not a known mode")
                }
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
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Print a resource definition as JSON.")
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
            commandName: "edit",
            abstract:
                "Change a definition: in $VISUAL, $EDITOR or sensible-editor, or from --file. Used at the resource's next load.",
            discussion:
                "Example: vigil resource show iManager > r.json; edit r.json; vigil resource edit iManager --file r.json"
        )
        @OptionGroup var connection: Connection
        @Argument var name: String
        @Option(help: "A JSON definition to apply (as printed by `vigil resource show`).") var file: String?

        /// The editor a Debian admin expects: $VISUAL, then $EDITOR, then sensible-editor (vi
        /// where Debian's is missing).
        static func editor(
            environment: [String: String] = ProcessInfo.processInfo.environment,
            exists: (String) -> Bool = { FileManager.default.isExecutableFile(atPath: $0) }
        ) -> String {
            for name in ["VISUAL", "EDITOR"] {
                if let value = environment[name], !value.trimmingCharacters(in: .whitespaces).isEmpty { return value }
            }
            return exists("/usr/bin/sensible-editor") ? "/usr/bin/sensible-editor" : "vi"
        }

        func run() async throws {
            try await withClient(connection) { client in
                let text: String
                // Edited in an editor: saved only if nobody changed the definition meanwhile.
                var revision: Int64?
                if let file {
                    guard let read = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw CLIError(message: "--file: value '\(file)': cannot read this file", code: Exit.badInput)
                    }
                    text = read
                } else {
                    let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(name))")
                    revision = detail.revision
                    let path = NSTemporaryDirectory() + "vigil-\(name)-\(getpid()).json"
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    _ = FileManager.default.createFile(
                        atPath: path, contents: try encoder.encode(detail.definition),
                        attributes: [.posixPermissions: 0o600])
                    defer { try? FileManager.default.removeItem(atPath: path) }
                    let editor = Self.editor()
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/bin/sh")
                    process.arguments = ["-c", "\(editor) \"$1\"", "sh", path]
                    try process.run()
                    process.waitUntilExit()
                    guard process.terminationStatus == 0,
                        let edited = try? String(contentsOfFile: path, encoding: .utf8)
                    else {
                        throw CLIError(message: "the editor failed; nothing changed", code: Exit.failed)
                    }
                    text = edited
                }
                // Sent as written: the agent checks it and names any bad field.
                let spec = try client.decode(
                    ResourceSpec.self,
                    try await client.send(
                        .PUT, "/v1/resources/\(escapePath(name))", raw: Array(text.utf8),
                        headers: revision.map { [("If-Match", "\"\($0)\"")] } ?? []))
                if connection.json { return printJSON(spec) }
                print("changed \(spec.name) (used at its next load)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an offline resource.")
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
        static let configuration = CommandConfiguration(
            commandName: "scripts",
            abstract: "Show a resource's scripts and their last output on this node.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                let detail = try await client.get(ResourceDetail.self, "/v1/resources/\(escapePath(name))")
                let outputs = try await client.get([ScriptOutput].self, "/v1/resources/\(escapePath(name))/output")
                if connection.json { return printJSON(outputs) }
                let definition = detail.definition
                var scripts = [
                    ("load", definition.load.body, definition.load.timeout),
                    ("unload", definition.unload.body, definition.unload.timeout),
                ]
                if let monitor = definition.monitor {
                    scripts.append(("monitor", monitor.script.body, monitor.script.timeout))
                }
                for (action, body, timeout) in scripts {
                    print("=== \(action) script (timeout \(timeout))")
                    print(body.hasSuffix("\n") ? String(body.dropLast()) : body)
                    if let output = outputs.first(where: { $0.action == action }) {
                        print(
                            "--- last output on \(output.node) at \(formatTime(output.modified))\(output.truncated ? " (last 64 KiB)" : "")"
                        )
                        print(output.output.isEmpty ? "(none)" : output.output)
                    }
                }
            }
        }
    }
}

struct Template: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "List the templates, or show one with its scripts.", subcommands: [List.self, Show.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the templates.")
        @OptionGroup var connection: Connection
        func run() async throws {
            try await withClient(connection) { client in
                let templates = try await client.get([ResourceTemplate].self, "/v1/templates")
                if connection.json { return printJSON(templates) }
                printTable(
                    ["TEMPLATE", "VARIABLES", "SUMMARY"],
                    templates.map { [$0.name, $0.variables.joined(separator: ","), $0.summary] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a template's scripts.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await withClient(connection) { client in
                let template = try await client.get(ResourceTemplate.self, "/v1/templates/\(escapePath(name))")
                if connection.json { return printJSON(template) }
                print("\(template.name): \(template.summary)\nvariables: \(template.variables.joined(separator: ", "))")
                print("=== load\n\(template.load)\n=== unload\n\(template.unload)")
                if let monitor = template.monitor {
                    print("=== monitor (every \(template.monitorInterval))\n\(monitor)")
                }
            }
        }
    }
}
