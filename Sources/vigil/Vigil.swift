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
            Status.self, View.self, Resources.self, Online.self, Offline.self, Migrate.self, Alert.self, Join.self,
            Leave.self, Down.self, Restart.self,
            Maintenance.self,
            Info.self, SetParameter.self, Stats.self, Monitor.self, Rename.self, Events.self, Resource.self,
            Template.self, User.self, Login.self, Import.self, PKI.self, AnnounceAddress.self,
        ])

    /// As ArgumentParser's, except that a refused argument exits 2 ("bad input", as the exit
    /// codes above say) instead of its 64.
    static func main() async {
        do {
            var command = try parseAsRoot(NCSSpelling.rewrite(Array(CommandLine.arguments.dropFirst())))
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(Exit.badInput)
            }
            exit(withError: error)
        }
    }
}

/// NCS's own spellings of `cluster` arguments, accepted as they are written in NCS scripts and
/// runbooks: single-dash options (`cluster migrate RES -most`) and capitalised keywords
/// (`cluster stats Display`, `cluster alert RES YES`, `cluster monitor RES Stop`).
enum NCSSpelling {
    /// Per verb: NCS's single-dash option and Vigil's own.
    static let options: [String: [String: String]] = [
        "migrate": ["-most": "--most", "-next": "--next", "-list": "--list"]
    ]
    /// Per verb: where its keyword stands among the positional arguments (0: right after the verb),
    /// and the keywords NCS accepts there in any case, lowercased here. Only that position: a
    /// resource named `Stop` stays `Stop`.
    static let keywords: [String: (position: Int, words: Set<String>)] = [
        "stats": (0, ["display", "clear"]), "monitor": (1, ["start", "stop", "status"]), "alert": (1, ["yes", "no"]),
        "maintenance": (0, ["on", "off"]),
        "info": (0, ["all", "basic", "protocol", "quorum", "notification", "priority"]),
    ]

    /// Vigil's options that take a value (the value is not a positional argument).
    static let valueOptions: Set<String> = [
        "--config", "--host", "--user", "--token", "--ca-file", "--timeout", "--until",
    ]

    static func rewrite(_ arguments: [String]) -> [String] {
        guard let verb = arguments.first else { return arguments }
        let options = options[verb] ?? [:]
        var position = 0
        var skipValue = false
        return [verb]
            + arguments.dropFirst().map { argument in
                if let option = options[argument] { return option }
                if skipValue {
                    skipValue = false
                    return argument
                }
                if argument.hasPrefix("-") {
                    skipValue = valueOptions.contains(argument)
                    return argument
                }
                defer { position += 1 }
                if let keyword = keywords[verb], keyword.position == position,
                    keyword.words.contains(argument.lowercased())
                {
                    return argument.lowercased()
                }
                return argument
            }
    }
}
