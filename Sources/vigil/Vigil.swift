import ArgumentParser
import ClusterModel
import CoordinationStore
import EtcdStore
import Foundation
import NodeAgent

// The minimal `vigil` CLI (issue "(3 of 4)"): it reads and writes the store directly with the
// node's configuration. The full CLI over the authenticated API comes with "(4 of 4)".

struct Connection: ParsableArguments {
    @Option(help: "The node's configuration file (store endpoints, cluster name).")
    var config = "/etc/vigil/vigil.yaml"

    func open() async throws -> (EtcdStore, KeyLayout, () async -> Void) {
        let configuration = try AgentConfiguration.load(path: config)
        let etcd = EtcdConfiguration(endpoints: configuration.storeEndpoints, requestTimeout: .seconds(3))
        let client = EtcdStore.makeHTTPClient(for: etcd)
        return (EtcdStore(configuration: etcd, client: client), KeyLayout(cluster: configuration.cluster), { try? await client.shutdown() })
    }
}

func readView(_ store: EtcdStore, _ layout: KeyLayout) async throws -> ClusterView {
    let range = try await store.range(prefix: layout.prefix)
    return layout.view(
        from: range.keyValues.map { StoredEntry(key: $0.key, value: $0.value, createRevision: $0.createRevision, modRevision: $0.modRevision) },
        revision: range.revision)
}

/// NCS-style state of a resource as the cluster sees it: the placement, refined by the holder's status.
func state(_ view: ClusterView, _ name: ResourceName) -> (state: String, node: String, generation: UInt64, lives: Int) {
    guard let assignment = view.assignments[name]?.value else { return ("Offline", "-", 0, 0) }
    let lives = view.statuses[name]?.values.map(\.value.incarnation).max() ?? 0
    if assignment.placement == .everywhere {
        let running = view.statuses[name]?.values.filter { $0.value.state == .running && $0.value.generation == assignment.generation }.map(\.value.node.rawValue).sorted() ?? []
        return (running.isEmpty ? "Loading" : "Running", running.isEmpty ? "-" : running.joined(separator: ","), assignment.generation, lives)
    }
    guard let holder = assignment.placement.holder else {
        return (assignment.placement.stateName, "-", assignment.generation, lives)
    }
    let status = view.status(of: name, on: holder)?.value
    var text = assignment.placement.stateName
    if case .node = assignment.placement {
        text = status?.generation == assignment.generation ? status!.state.rawValue : "Loading"
    }
    return (text, holder.rawValue, assignment.generation, lives)
}

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil", abstract: "Administer a Vigil cluster (verbs follow NCS's `cluster` command).",
        version: VigilVersion.current,
        subcommands: [
            Status.self, Online.self, Offline.self, Migrate.self, Alert.self, Events.self, Resource.self, Template.self,
        ])
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the cluster and its resources.")
    @OptionGroup var connection: Connection
    @Argument(help: "Show only this resource.") var resource: String?

    func run() async throws {
        let (store, layout, close) = try await connection.open()
        let view: ClusterView
        do {
            view = try await readView(store, layout)
        } catch {
            await close()
            throw error
        }
        let master = view.master.map { $0.value.resigned ? "-" : "\($0.value.node) (term \($0.value.term))" } ?? "-"
        print("Cluster \(layout.cluster)  epoch \(view.epoch)  master \(master)")
        print("Members: \(view.members.keys.sorted().map(\.rawValue).joined(separator: " "))")
        print("")
        let header = ["RESOURCE", "STATE", "NODE", "GEN", "LIVES"]
        var rows: [[String]] = []
        for name in view.resources.keys.sorted() where resource == nil || resource == name.rawValue {
            let s = state(view, name)
            rows.append([name.rawValue, s.state, s.node, String(s.generation), String(s.lives)])
        }
        let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print(zip(row, widths).map { $0.padding(toLength: $1 + 2, withPad: " ", startingAt: 0) }.joined())
        }
        await close()
    }
}

/// Writes an admin command for the master and, unless `noWait`, waits until the resource settles.
func command(_ connection: Connection, _ resource: String, _ verb: AdminCommand.Verb, noWait: Bool) async throws {
    let (store, layout, close) = try await connection.open()
    let name = try ResourceName(validating: resource, field: "RESOURCE")
    let view = try await readView(store, layout)
    guard view.resources[name] != nil else {
        await close()
        throw ClusterModel.ValidationError(field: "RESOURCE", value: resource, reason: "no such resource (vigil status lists them)")
    }
    let before = view.assignments[name]?.value.generation ?? 0
    let id = "\(Int64(Date().timeIntervalSince1970 * 1000))-\(UInt16.random(in: 0...UInt16.max))"
    let user = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "root"
    try await store.put(layout.command(id), ModelCodec.encode(AdminCommand(id: id, resource: name, verb: verb, user: user)))
    guard !noWait else {
        await close()
        return
    }
    let deadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
        let view = try await readView(store, layout)
        let handled = view.commands[id] == nil
        let s = state(view, name)
        if handled, view.assignments[name]?.value.generation == before {
            await close()
            print("\(name): refused (see the event log); state \(s.state) on \(s.node)")
            throw ExitCode(3)
        }
        if handled, ["Running", "Offline", "Comatose", "Unassigned"].contains(s.state) || s.state.hasPrefix("Alert") {
            print("\(name): \(s.state)\(s.node == "-" ? "" : " on \(s.node)") (generation \(s.generation))")
            await close()
            throw s.state == "Comatose" ? ExitCode(4) : ExitCode.success
        }
    }
    await close()
    print("\(name): did not settle within 120 s")
    throw ExitCode(5)
}

struct Online: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a resource (on NODE, or the most preferred member).")
    @OptionGroup var connection: Connection
    @Argument var resource: String
    @Argument var node: String?
    @Flag(help: "Return at once.") var noWait = false
    func run() async throws {
        try await command(connection, resource, .online(node: try node.map { try NodeName(validating: $0, field: "NODE") }), noWait: noWait)
    }
}

struct Offline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unload a resource; it stays offline.")
    @OptionGroup var connection: Connection
    @Argument var resource: String
    @Flag(help: "Return at once.") var noWait = false
    func run() async throws { try await command(connection, resource, .offline, noWait: noWait) }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move a running resource: to NODE, --most or --next.")
    @OptionGroup var connection: Connection
    @Argument var resource: String
    @Argument var node: String?
    @Flag var most = false
    @Flag var next = false
    @Flag(help: "Return at once.") var noWait = false
    func run() async throws {
        let target: AdminCommand.MigrateTarget
        if most {
            target = .most
        } else if next {
            target = .next
        } else if let node {
            target = .node(try NodeName(validating: node, field: "NODE"))
        } else {
            throw ClusterModel.ValidationError(.missingField, field: "NODE", value: "", reason: "give a node, --most or --next")
        }
        try await command(connection, resource, .migrate(target), noWait: noWait)
    }
}

struct Alert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer a start, failover or failback alert.")
    @OptionGroup var connection: Connection
    @Argument var resource: String
    @Argument(help: "yes or no") var answer: String
    func run() async throws {
        guard ["yes", "no"].contains(answer) else {
            throw ClusterModel.ValidationError(field: "ANSWER", value: answer, reason: "yes or no")
        }
        try await command(connection, resource, .alert(answer: answer == "yes"), noWait: false)
    }
}

struct Resource: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage resource definitions.", subcommands: [Create.self, Show.self])

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
        @Option(help: "Load script timeout, e.g. 60s.") var loadTimeout: String?

        func run() async throws {
            guard let template = ResourceTemplate.named(template) else {
                throw ClusterModel.ValidationError(field: "--template", value: template, reason: "known: \(ResourceTemplate.builtIn.map(\.name).joined(separator: ", "))")
            }
            var values: [String: String] = [:]
            for assignment in variables {
                let parts = assignment.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ClusterModel.ValidationError(field: "--set", value: assignment, reason: "expected VARIABLE=value") }
                values[String(parts[0])] = String(parts[1])
            }
            var spec = try template.instantiate(name: try ResourceName(validating: name, field: "NAME"), variables: values)
            if let preferred {
                spec.preferredNodes = try preferred.split(separator: ",").map { try NodeName(validating: String($0), field: "--preferred") }
            }
            if let loadScript { spec.load.body = try String(contentsOfFile: loadScript, encoding: .utf8) }
            if let unloadScript { spec.unload.body = try String(contentsOfFile: unloadScript, encoding: .utf8) }
            if let loadTimeout { spec.load.timeout = try Span(parsing: loadTimeout, field: "--load-timeout") }
            try spec.validate()
            let (store, layout, close) = try await connection.open()
            let key = layout.resource(spec.name)
            let result = try await store.transaction(Transaction(compare: [.absent(key)], success: [.put(key: key, value: ModelCodec.encode(spec))]))
            await close()
            guard result.succeeded else { throw ClusterModel.ValidationError(.conflict, field: "NAME", value: name, reason: "a resource of that name exists") }
            print("created \(spec.name) from \(template.name)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a resource definition as JSON.")
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            let (store, layout, close) = try await connection.open()
            let kv = try await store.get(layout.resource(try ResourceName(validating: name, field: "NAME")))
            await close()
            guard let kv else { throw ClusterModel.ValidationError(field: "NAME", value: name, reason: "no such resource") }
            print(String(decoding: kv.value, as: UTF8.self))
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the cluster event log (newest last); -f follows it.")
    @OptionGroup var connection: Connection
    @Option(name: .shortAndLong, help: "How many of the newest events.") var last = 50
    @Flag(name: .shortAndLong, help: "Keep printing new events until Ctrl-C.") var follow = false

    static func line(_ stored: StoredEvent) -> String {
        let time = Date(timeIntervalSince1970: Double(stored.time) / 1000)
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        var text = "\(formatter.string(from: time))  \(stored.event.node)  \(stored.event.kind.rawValue)  "
        text += stored.event.resource.map { "\($0): " } ?? ""
        text += stored.event.message
        for output in stored.output ?? [] { text += "\n      | " + output }
        return text
    }

    func run() async throws {
        let (store, layout, close) = try await connection.open()
        let range = try await store.range(prefix: layout.eventsPrefix)
        for kv in range.keyValues.suffix(last) {
            if let stored = try? ModelCodec.decode(StoredEvent.self, from: kv.value) { print(Events.line(stored)) }
        }
        if follow {
            for try await batch in store.watch(prefix: layout.eventsPrefix, fromRevision: range.revision + 1) {
                for event in batch where event.kind == .put {
                    if let stored = try? ModelCodec.decode(StoredEvent.self, from: event.keyValue.value) { print(Events.line(stored)) }
                }
            }
        }
        await close()
    }
}

struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the templates and their scripts.")
    func run() {
        for template in ResourceTemplate.builtIn {
            print("\(template.name): \(template.summary)\n  variables: \(template.variables.joined(separator: ", "))\n  load:\n\(template.load.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))\n")
        }
    }
}

extension ClusterModel.ValidationError: LocalizedError {
    public var errorDescription: String? { description }
}


