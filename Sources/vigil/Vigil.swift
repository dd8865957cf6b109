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
            Leave.self, Down.self,
            Maintenance.self,
            Info.self, SetParameter.self, Stats.self, Events.self, Resource.self, Template.self, User.self, Login.self,
            Import.self, PKI.self, AnnounceAddress.self,
        ])

    /// As ArgumentParser's, except that a refused argument exits 2 ("bad input", as the exit
    /// codes above say) instead of its 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
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
