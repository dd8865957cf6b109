import ArgumentParser
import ClusterClient
import ClusterImport
import ClusterModel
import Foundation

// MARK: Import

/// `vigil import ncs|keepalived|pacemaker`: resources from the configuration an administrator
/// already has. The file is read here (on the admin's machine); the definitions go to the cluster
/// in one request, created all together or not at all.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Create resources from an NCS script directory, keepalived.conf files or a Pacemaker CIB.",
        discussion: """
            Every import first checks everything: a problem anywhere (file:line: reason) creates nothing.
            What Vigil does not take over is listed, never dropped silently. --dry-run shows the plan.

            Examples:
              vigil import ncs /var/opt/novell/ncs --dry-run
              vigil import keepalived n1=/srv/n1/keepalived.conf n2=/srv/n2/keepalived.conf
              cibadmin --query > cib.xml; vigil import pacemaker cib.xml
            """,
        subcommands: [NCS.self, Keepalived.self, Pacemaker.self])

    struct Options: ParsableArguments {
        @Flag(help: "Print what would be created and what is left out; change nothing.") var dryRun = false
        @Flag(help: "Replace resources that already exist (their new definition is used at their next load).")
        var replace = false
    }

    struct NCS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ncs",
            abstract: "RES.load/RES.unload/RES.monitor scripts (byte for byte) and ncs-policies.conf from DIR.",
            discussion: """
                ncs-policies.conf holds what NCS keeps in eDirectory, a [RESOURCE] section each:
                start_mode, failover_mode (AUTO|MANUAL), failback_mode (AUTO|MANUAL|DISABLE),
                preferred_nodes (in order), load_timeout, unload_timeout, monitor_interval,
                monitor_timeout, priority, follows_master, ignore_quorum (yes|no).
                Example: /usr/share/doc/vigil/examples/ncs-policies.conf (docs/import/ in the source).
                """)
        @OptionGroup var connection: Connection
        @OptionGroup var options: Options
        @Argument(help: "The directory of scripts.") var directory: String

        func run() async throws {
            let plan = try planned {
                () throws(ImportFailure) in
                try NCSImport.plan(directory: directory, files: try NCSImport.files(inDirectory: directory).get())
            }
            try await apply(plan, connection, options)
        }
    }

    struct Keepalived: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keepalived",
            abstract: "vrrp_instance addresses from each node's keepalived.conf, as NODE=FILE.",
            discussion: """
                Give every node's file: the instance's priority orders the nodes (preferred nodes).
                FILE alone takes the node name from global_defs { router_id }.
                """)
        @OptionGroup var connection: Connection
        @OptionGroup var options: Options
        @Argument(help: "NODE=FILE, one per node.") var files: [String]

        func run() async throws {
            var nodeFiles: [KeepalivedImport.NodeFile] = []
            for argument in files {
                var node: String?
                var path = argument
                if let equals = argument.firstIndex(of: "="), !argument[..<equals].contains("/") {
                    node = String(argument[..<equals])
                    path = String(argument[argument.index(after: equals)...])
                }
                nodeFiles.append(KeepalivedImport.NodeFile(node: node, source: try readSource(path)))
            }
            let plan = try planned { () throws(ImportFailure) in try KeepalivedImport.plan(nodeFiles) }
            try await apply(plan, connection, options)
        }
    }

    struct Pacemaker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pacemaker",
            abstract: "IPaddr2 primitives, groups, location scores and stickiness from a CIB (cibadmin --query).")
        @OptionGroup var connection: Connection
        @OptionGroup var options: Options
        @Argument(help: "The CIB XML file.") var file: String

        func run() async throws {
            let source = try readSource(file)
            let plan = try planned { () throws(ImportFailure) in try PacemakerImport.plan(source) }
            try await apply(plan, connection, options)
        }
    }
}

/// A file as an import source (at most 4 MiB of UTF-8), or exit 2 naming it.
func readSource(_ path: String) throws -> ImportSource {
    switch ImportSource.read(path, limit: 4 << 20) {
    case .success(let source): return source
    case .failure(let problem): throw importRefused(ImportFailure(problems: [problem]))
    }
}

/// The plan, or every problem on stderr and exit 2 (bad input): nothing is created.
func planned(_ make: () throws(ImportFailure) -> ImportPlan) throws -> ImportPlan {
    do { return try make() } catch { throw importRefused(error) }
}

func importRefused(_ failure: ImportFailure) -> ExitCode {
    FileHandle.standardError.write(Data("vigil import: nothing created:\n\(failure)\n".utf8))
    return ExitCode(Exit.badInput)
}

/// Shows the plan (marking names that exist) and, unless a dry run, creates everything in one request.
func apply(_ plan: ImportPlan, _ connection: Connection, _ options: Import.Options) async throws {
    guard !plan.resources.isEmpty else {
        print(plan.render(), terminator: "")
        throw CLIError(message: "import: nothing to create", code: Exit.refused)
    }
    let names = plan.resources.map(\.spec.name.rawValue)
    if options.dryRun, connection.json {
        return printJSON(ImportRequest(resources: plan.resources.map(\.spec), replace: options.replace))
    }
    if options.dryRun {
        // Mark what exists if the cluster answers; a dry run also works away from it.
        var existing: Set<String>?
        if let client = try? connection.client() {
            if (try? await client.logIn()) != nil,
                let resources = try? await client.get([ResourceState].self, "/v1/resources")
            {
                existing = Set(resources.map(\.name))
            }
            await client.logOut()
            await client.close()
        }
        print(plan.render(existing: existing ?? [], replace: options.replace), terminator: "")
        if existing == nil { print("(the cluster was not reached: existing resources were not checked)") }
        if let existing, !options.replace, !existing.isDisjoint(with: names) {
            print(
                "(an import without --replace would refuse: \(existing.intersection(names).sorted().joined(separator: ", ")) exist)"
            )
        }
        return
    }
    try await withClient(connection) { client in
        let result = try await client.post(
            ImportResult.self, "/v1/resources/import",
            ImportRequest(resources: plan.resources.map(\.spec), replace: options.replace))
        if connection.json { return printJSON(result) }
        print(plan.render(existing: Set(result.replaced), replace: true), terminator: "")
        print(
            "imported: \(result.created.count) created\(result.replaced.isEmpty ? "" : ", \(result.replaced.count) replaced"); "
                + "start mode AUTO loads them now, MANUAL waits for `vigil online NAME`; replaced ones take effect at their next load"
        )
    }
}
