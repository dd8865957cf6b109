import ClusterModel
import ClusterTestKit

let nodes: [NodeName] = ["n1", "n2", "n3"]
let ip = ResourceSpec(
    name: "iManager", template: "Generic_IP_Service",
    load: ScriptSpec(body: ". /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress 198.18.0.100\nexit 0", timeout: .seconds(60)),
    unload: ScriptSpec(body: ". /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress 198.18.0.100\nexit 0", timeout: .seconds(60)),
    variables: ["RESOURCE_IP": "198.18.0.100"])
var settings = SimulationSettings(nodes: nodes, resources: [ip], seed: 1)
let sim = Simulation(settings)
sim.run(for: 3000)
sim.snapshot("cluster formed")
if let holder = sim.holders("iManager").first {
    sim.crash(holder)
    sim.run(for: 4000)
    sim.snapshot("after crash of \(holder)")
}
for line in sim.timeline { print(line) }
print("violations: \(sim.violations.count)")
