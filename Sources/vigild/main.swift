import ClusterModel

#if canImport(Glibc)
import Glibc
#endif

// The node agent. The brain, the store protocol and the simulation exist; the services that run
// them against etcd, scripts and addresses arrive with "(3 of 4) The node agent end to end".
let usage = """
    vigild \(VigilVersion.current) — the Vigil node agent

    usage: vigild [--config /etc/vigil/vigil.yaml]
           vigild --version

    Not yet runnable: the agent's services (heartbeat, store watcher, brain driver,
    script runner, address manager) are being built. Try the simulated cluster:
      swift run vigil-sim
    """

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--version") {
    print(VigilVersion.current)
} else {
    print(usage)
    if !arguments.contains("--help") && !arguments.contains("-h") {
        // Exit non-zero so no init system mistakes this build for a running agent.
        exit(2)
    }
}
