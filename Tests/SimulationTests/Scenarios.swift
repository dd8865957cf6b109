import ClusterBrain
import ClusterModel
import ClusterTestKit
import Testing

/// A golden scenario: a readable story of NCS behaviour, replayed on the simulated cluster.
struct Scenario: Sendable, CustomTestStringConvertible {
    let name: String
    let nodes: [NodeName]
    let resources: [ResourceSpec]
    var cluster = ClusterSettings()
    var startNodes: [NodeName]? = nil
    /// Drives the cluster and checks what must hold; failures are returned as text.
    let script: @Sendable (Simulation, inout [String]) -> Void

    var testDescription: String { name }

    /// Fixed latencies so the golden timeline is easy to read.
    func simulation() -> Simulation {
        var settings = SimulationSettings(nodes: nodes, resources: resources, cluster: cluster, seed: 7)
        settings.storeLatency = 1...1
        settings.watchLatency = 2...2
        settings.loadDuration = 100...100
        settings.unloadDuration = 50...50
        settings.monitorDuration = 10...10
        settings.startNodes = startNodes
        return Simulation(settings)
    }
}

let three: [NodeName] = ["n1", "n2", "n3"]

func ipService(
    _ name: ResourceName = "iManager", ip: String = "198.18.0.100", preferred: [NodeName] = [],
    _ change: (inout ResourceSpec) -> Void = { _ in }
) -> ResourceSpec {
    var spec = ResourceSpec(
        name: name, template: "Generic_IP_Service",
        load: ScriptSpec(
            body: ". /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress \(ip)\nexit 0",
            timeout: .seconds(60)),
        unload: ScriptSpec(
            body: ". /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress \(ip)\nexit 0",
            timeout: .seconds(60)),
        variables: ["RESOURCE_IP": ip], preferredNodes: preferred)
    change(&spec)
    return spec
}

/// Checks used inside scenarios.
func expect(_ condition: Bool, _ message: @autoclosure () -> String, _ failures: inout [String]) {
    if !condition { failures.append(message()) }
}

func placement(_ sim: Simulation, _ resource: ResourceName) -> Placement? { sim.assignment(resource)?.placement }

/// Runs until `resource` is Running on `node` (within `limit` ms), recording a failure otherwise.
func settle(
    _ sim: Simulation, _ resource: ResourceName, on node: NodeName, within limit: Int64 = 10_000,
    _ failures: inout [String]
) {
    let ok = sim.run(until: { $0.runningOn(resource) == [node] && $0.holders(resource).count <= 1 }, limit: limit)
    expect(
        ok,
        "\(resource) not Running on \(node) within \(limit)ms; running on \(sim.runningOn(resource)), placement \(String(describing: placement(sim, resource)))",
        &failures)
}

func settle(
    _ sim: Simulation, _ resource: ResourceName, placement wanted: Placement, within limit: Int64 = 10_000,
    _ failures: inout [String]
) {
    let ok = sim.run(until: { placement($0, resource) == wanted }, limit: limit)
    expect(
        ok,
        "\(resource) did not reach \(wanted) within \(limit)ms (is \(String(describing: placement(sim, resource))))",
        &failures)
}

let scenarios: [Scenario] = [
    Scenario(
        name: "01_cluster_start_quorum_wait", nodes: three, resources: [ipService()],
        cluster: ClusterSettings(quorum: QuorumSettings(nodeCount: 2, timeout: .seconds(30))), startNodes: ["n1"]
    ) { sim, f in
        sim.run(for: 3000)
        sim.snapshot("one node up, quorum is two")
        expect(placement(sim, "iManager") == .quorumWait, "not waiting for quorum", &f)
        sim.startAgent(at: "n2")
        settle(sim, "iManager", on: "n1", &f)
        sim.snapshot("second node joined")
    },
    Scenario(
        name: "02_quorum_timeout", nodes: three, resources: [ipService()],
        cluster: ClusterSettings(quorum: QuorumSettings(nodeCount: 3, timeout: .seconds(5))), startNodes: ["n2"]
    ) { sim, f in
        sim.run(for: 4000)
        expect(placement(sim, "iManager") == .quorumWait, "loaded before the quorum timeout", &f)
        settle(sim, "iManager", on: "n2", within: 3000, &f)
        sim.snapshot("quorum timeout passed")
    },
    Scenario(
        name: "03_node_failure_failover_auto", nodes: three, resources: [ipService(preferred: ["n2", "n3", "n1"])]
    ) { sim, f in
        settle(sim, "iManager", on: "n2", &f)
        sim.snapshot("running on n2")
        sim.crash("n2")
        settle(sim, "iManager", on: "n3", within: 3000, &f)
        sim.snapshot("after n2 crashed")
    },
    Scenario(
        name: "04_failover_manual_alert", nodes: three,
        resources: [ipService(preferred: ["n2", "n3"]) { $0.policies.failoverMode = .manual }]
    ) { sim, f in
        settle(sim, "iManager", on: "n2", &f)
        sim.crash("n2")
        settle(sim, "iManager", placement: .alert(.failover, on: nil, proposed: "n3"), &f)
        sim.snapshot("failover alert")
        sim.command("iManager", .alert(answer: true))
        settle(sim, "iManager", on: "n3", &f)
        sim.snapshot("alert answered yes")
    },
    Scenario(
        name: "05_failback_auto", nodes: three,
        resources: [ipService(preferred: ["n1", "n2"]) { $0.policies.failbackMode = .auto }]
    ) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.crash("n1", bootAfter: 5000)
        settle(sim, "iManager", on: "n2", &f)
        sim.snapshot("failed over to n2")
        settle(sim, "iManager", on: "n1", within: 15_000, &f)
        sim.snapshot("failed back to n1")
    },
    Scenario(
        name: "06_failback_manual", nodes: three,
        resources: [ipService(preferred: ["n1", "n2"]) { $0.policies.failbackMode = .manual }]
    ) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.crash("n1", bootAfter: 5000)
        settle(sim, "iManager", on: "n2", &f)
        settle(sim, "iManager", placement: .alert(.failback, on: "n2", proposed: "n1"), within: 15_000, &f)
        expect(sim.runningOn("iManager") == ["n2"], "stopped during the failback alert", &f)
        sim.snapshot("failback alert while running on n2")
        sim.command("iManager", .alert(answer: false))
        sim.run(for: 2000)
        expect(sim.runningOn("iManager") == ["n2"], "moved though the alert was answered no", &f)
        sim.snapshot("answered no: stays on n2")
    },
    Scenario(name: "07_failback_disable", nodes: three, resources: [ipService(preferred: ["n1", "n2"])]) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.crash("n1", bootAfter: 3000)
        settle(sim, "iManager", on: "n2", &f)
        sim.run(for: 10_000)
        expect(sim.members.contains("n1"), "n1 did not rejoin", &f)
        expect(sim.runningOn("iManager") == ["n2"], "failed back though failback is DISABLE", &f)
        sim.snapshot("n1 back, resource stays on n2")
    },
    Scenario(name: "08_offline_online", nodes: three, resources: [ipService()]) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.command("iManager", .offline)
        settle(sim, "iManager", placement: .offline, &f)
        expect(sim.holders("iManager").isEmpty, "still held after offline", &f)
        sim.snapshot("offline")
        sim.command("iManager", .online(node: "n3"))
        settle(sim, "iManager", on: "n3", &f)
        sim.command("iManager", .online(node: nil))
        sim.run(for: 500)
        sim.snapshot("online on n3; a second online is refused")
    },
    Scenario(name: "09_migrate_node_most_next", nodes: three, resources: [ipService(preferred: ["n1", "n2", "n3"])]) {
        sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.command("iManager", .migrate(.node("n3")))
        settle(sim, "iManager", on: "n3", &f)
        sim.command("iManager", .migrate(.next))
        settle(sim, "iManager", on: "n1", &f)
        sim.command("iManager", .migrate(.next))
        settle(sim, "iManager", on: "n2", &f)
        sim.command("iManager", .migrate(.most))
        settle(sim, "iManager", on: "n1", &f)
        sim.command("iManager", .migrate(.most))
        sim.run(for: 500)
        sim.snapshot("after n3, next, next, most, most (refused)")
    },
    Scenario(
        name: "10_start_manual_alert", nodes: three,
        resources: [
            ipService { $0.policies.startMode = .manual },
            ipService("Other", ip: "198.18.0.101") { $0.policies.startMode = .manual },
        ]
    ) { sim, f in
        settle(sim, "iManager", placement: .alert(.start, on: nil, proposed: "n1"), &f)
        sim.snapshot("start alerts")
        sim.command("iManager", .alert(answer: true))
        sim.command("Other", .alert(answer: false))
        settle(sim, "iManager", on: "n1", &f)
        settle(sim, "Other", placement: .offline, &f)
        sim.snapshot("yes and no")
    },
    Scenario(name: "11_maintenance", nodes: three, resources: [ipService(preferred: ["n2", "n3"])]) { sim, f in
        settle(sim, "iManager", on: "n2", &f)
        sim.updateSettings { $0.maintenance = MaintenanceSettings(enabled: true) }
        sim.run(for: 500)
        sim.crash("n2")
        sim.run(for: 6000)
        expect(sim.members.contains("n2"), "evicted during maintenance", &f)
        expect(placement(sim, "iManager") == .node("n2"), "failed over during maintenance", &f)
        sim.snapshot("maintenance: n2 down, nothing moves")
        sim.updateSettings { $0.maintenance = MaintenanceSettings(enabled: false) }
        settle(sim, "iManager", on: "n3", within: 4000, &f)
        sim.snapshot("maintenance off: failover")
    },
    Scenario(
        name: "12_follows_master", nodes: three, resources: [ipService("MasterIP") { $0.policies.followsMaster = true }]
    ) { sim, f in
        sim.run(for: 1000)
        guard let master = sim.master else { return expect(false, "no master", &f) }
        settle(sim, "MasterIP", on: master, &f)
        sim.crash(master)
        sim.run(until: { $0.master != nil && $0.master != master }, limit: 5000)
        guard let next = sim.master, next != master else { return expect(false, "no new master", &f) }
        settle(sim, "MasterIP", on: next, &f)
        sim.snapshot("master IP followed the new master")
    },
    Scenario(
        name: "13_exclusion_groups", nodes: three,
        resources: [
            ipService("DB_A", ip: "198.18.0.110", preferred: ["n1", "n2"]) { $0.exclusionGroups = ["db"] },
            ipService("DB_B", ip: "198.18.0.111", preferred: ["n1", "n2"]) { $0.exclusionGroups = ["db"] },
        ]
    ) { sim, f in
        sim.run(for: 1500)
        expect(Set(sim.runningOn("DB_A") + sim.runningOn("DB_B")) == ["n1", "n2"], "both on one node", &f)
        sim.snapshot("one per node")
        sim.crash("n2")
        sim.run(for: 4000)
        let stuck = sim.runningOn("DB_A").isEmpty ? "DB_A" : "DB_B"
        expect(
            placement(sim, ResourceName(stringLiteral: stuck)) == .unassigned, "group member placed on the same node",
            &f)
        sim.snapshot("n2 failed: its group member stays Unassigned rather than join n1")
    },
    Scenario(
        name: "14_priority_order", nodes: three,
        resources: [
            ipService("Low", ip: "198.18.0.120", preferred: ["n2", "n1"]) { $0.priority = 1 },
            ipService("High", ip: "198.18.0.121", preferred: ["n2", "n1"]) { $0.priority = 9 },
            ipService("Mid", ip: "198.18.0.122", preferred: ["n2", "n1"]) { $0.priority = 5 },
        ]
    ) { sim, f in
        settle(sim, "Low", on: "n2", &f)
        sim.crash("n2")
        settle(sim, "Low", on: "n1", within: 4000, &f)
        sim.snapshot("all three failed over to n1, loaded High, Mid, Low")
    },
    Scenario(
        name: "15_monitor_restart_then_comatose", nodes: three,
        resources: [
            ipService {
                $0.monitor = MonitorSpec(
                    script: ScriptSpec(body: "status_secondary_ipaddress 198.18.0.100", timeout: .seconds(5)),
                    interval: .seconds(5), maxLocalFailures: 1, window: .minutes(5), action: .comatose)
            }
        ]
    ) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.injectScriptFault(.fail(1), node: "n1", resource: "iManager", action: .monitor)
        sim.run(for: 6000)
        expect(sim.runningOn("iManager") == ["n1"], "local restart did not bring it back on n1", &f)
        sim.snapshot("first failure: restarted on n1")
        sim.injectScriptFault(.fail(1), node: "n1", resource: "iManager", action: .monitor)
        settle(sim, "iManager", placement: .comatose("n1"), &f)
        sim.snapshot("second failure in the window: comatose")
        sim.command("iManager", .offline)
        settle(sim, "iManager", placement: .offline, &f)
        sim.command("iManager", .online(node: nil))
        settle(sim, "iManager", on: "n1", &f)
        sim.snapshot("offline, then online again")
    },
    Scenario(
        name: "16_monitor_migrate", nodes: three,
        resources: [
            ipService(preferred: ["n1", "n2", "n3"]) {
                $0.policies.failbackMode = .auto
                $0.monitor = MonitorSpec(
                    script: ScriptSpec(body: "status_secondary_ipaddress 198.18.0.100", timeout: .seconds(5)),
                    interval: .seconds(5), maxLocalFailures: 0, window: .minutes(5), action: .migrate)
            }
        ]
    ) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.injectScriptFault(.fail(1), node: "n1", resource: "iManager", action: .monitor)
        settle(sim, "iManager", on: "n2", &f)
        sim.run(for: 6000)
        expect(sim.runningOn("iManager") == ["n2"], "a monitor-driven move failed back", &f)
        sim.snapshot("moved to the next node, no failback")
    },
    Scenario(name: "17_load_failure_comatose", nodes: three, resources: [ipService()]) { sim, f in
        sim.injectScriptFault(.fail(3), node: "n1", resource: "iManager", action: .load)
        settle(sim, "iManager", placement: .comatose("n1"), &f)
        sim.snapshot("load failed: comatose")
        sim.command("iManager", .online(node: "n2"))
        sim.run(for: 500)
        expect(placement(sim, "iManager") == .comatose("n1"), "online accepted while comatose", &f)
        sim.command("iManager", .offline)
        settle(sim, "iManager", placement: .offline, &f)
        sim.command("iManager", .online(node: "n2"))
        settle(sim, "iManager", on: "n2", &f)
        sim.snapshot("offline, then online on n2")
    },
    Scenario(name: "18_load_hang_timeout", nodes: three, resources: [ipService { $0.load.timeout = .seconds(3) }]) {
        sim, f in
        sim.injectScriptFault(.hang, node: "n1", resource: "iManager", action: .load)
        settle(sim, "iManager", placement: .comatose("n1"), &f)
        sim.snapshot("load hung: killed at its 3s timeout, comatose")
    },
    Scenario(
        name: "19_everywhere", nodes: three, resources: [ResourceSpec(name: "Tomcat", mode: .everywhere), ipService()]
    ) { sim, f in
        sim.run(for: 1500)
        expect(sim.runningOn("Tomcat") == three, "service not on every node", &f)
        sim.crash("n3")
        sim.run(for: 3000)
        expect(sim.runningOn("Tomcat") == ["n1", "n2"], "service not on the survivors", &f)
        sim.snapshot("Active/Active: the service everywhere, only the IP moves")
        sim.command("Tomcat", .offline)
        sim.run(for: 1000)
        expect(sim.runningOn("Tomcat").isEmpty, "still running after offline", &f)
        sim.snapshot("service offline everywhere")
    },
    Scenario(name: "20_master_crash", nodes: three, resources: [ipService(preferred: ["n1", "n2", "n3"])]) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        expect(sim.master == "n1", "n1 is not master", &f)
        sim.crash("n1")
        settle(sim, "iManager", on: "n2", within: 3000, &f)
        sim.snapshot("the master and the resource's node crashed together: one tolerance, not two")
    },
    Scenario(name: "21_partition_self_fence", nodes: three, resources: [ipService(preferred: ["n2", "n3"])]) { sim, f in
        settle(sim, "iManager", on: "n2", &f)
        sim.partition("n2", for: 6000)
        settle(sim, "iManager", on: "n3", within: 3000, &f)
        sim.snapshot("n2 cut off: it fenced itself before n3 loaded")
        sim.run(for: 5000)
        expect(sim.runningOn("iManager") == ["n3"], "moved back after the partition healed", &f)
        sim.snapshot("partition healed: n2 rejoined, resource stays on n3")
    },
    Scenario(name: "22_graceful_stop", nodes: three, resources: [ipService(preferred: ["n1", "n2"])]) { sim, f in
        settle(sim, "iManager", on: "n1", &f)
        sim.stopAgent("n1")
        settle(sim, "iManager", on: "n2", within: 1000, &f)
        sim.snapshot("n1 stopped gracefully: handed over at once, no tolerance wait")
    },
    Scenario(name: "23_agent_restart_adopts", nodes: three, resources: [ipService(preferred: ["n2", "n3"])]) { sim, f in
        settle(sim, "iManager", on: "n2", &f)
        let generation = sim.assignment("iManager")?.generation
        sim.restartAgent("n2", after: 300)
        sim.run(for: 3000)
        expect(sim.runningOn("iManager") == ["n2"], "not adopted", &f)
        expect(sim.assignment("iManager")?.generation == generation, "the resource was bounced", &f)
        sim.snapshot("agent restarted: resource adopted, not bounced")
    },
    Scenario(
        name: "24_frozen_agent_watchdog", nodes: three, resources: [ipService(preferred: ["n2", "n3"])],
        cluster: ClusterSettings(
            timing: {
                var t = TimingSettings()
                t.watchdogTimeout = .seconds(1)
                return t
            }())
    ) { sim, f in
        settle(sim, "iManager", on: "n2", &f)
        sim.pause("n2", for: 5000)
        settle(sim, "iManager", on: "n3", within: 4000, &f)
        sim.snapshot("n2 frozen: the watchdog reset it before n3 loaded")
    },
]
