import ClusterModel

let usage = """
    vigil \(VigilVersion.current) — administer a Vigil cluster (verbs follow NCS's `cluster` command)

    usage: vigil status [RES] | view | resources | online RES [NODE] | offline RES
                 | migrate RES NODE|--most|--next|--list | alert RES yes|no | join | leave
                 | maintenance on|off | info | set PARAM VALUE | stats | events [-f]
           vigil --version

    The CLI needs a running vigild; until then, watch a simulated cluster fail over:
      swift run vigil-sim
    """

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--version") {
    print(VigilVersion.current)
} else {
    print(usage)
}
