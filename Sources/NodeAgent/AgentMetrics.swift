import ClusterBrain
import ClusterModel
import Metrics
import NIOConcurrencyHelpers

/// What the agent reports to `/metrics` (swift-metrics; `vigild` bootstraps the Prometheus backend).
struct AgentMetrics: Sendable {
    let failovers = Counter(label: "vigil_failovers_total")
    let selfFences = Counter(label: "vigil_self_fences_total")
    let heldRecordFailures = Counter(label: "vigil_held_record_failures_total")
    let isMaster = Gauge(label: "vigil_is_master")
    let epoch = Gauge(label: "vigil_epoch")
    let members = Gauge(label: "vigil_members")

    func scriptDuration(_ action: ScriptAction) -> Timer {
        Timer(
            label: "vigil_script_duration_seconds", dimensions: [("action", action.rawValue)],
            preferredDisplayUnit: .seconds)
    }

    func scriptFailures(_ action: ScriptAction) -> Counter {
        Counter(label: "vigil_script_failures_total", dimensions: [("action", action.rawValue)])
    }

    /// The master's assignment is a failover when it moves a resource off a failed or departed node.
    func recordAssignment(_ assignment: Assignment) {
        if assignment.failover { failovers.increment() }
    }

    /// The state last reported per resource: only changes touch the registry (a view arrives
    /// with every heartbeat; a cluster has up to thousands of resources).
    let reported = NIOLockedValueBox<[ResourceName: String]>([:])

    /// The state names of `vigil_resource_state` (all Alert kinds are one).
    static let stateLabels: [String] = {
        var labels: [String] = []
        for state in ResourceStateName.allCases where !labels.contains(state.metricLabel) {
            labels.append(state.metricLabel)
        }
        return labels
    }()

    /// `vigil_resource_state{resource,state}` (1 for the current state, 0 for the others) and
    /// `vigil_resource_up{resource}`; series of deleted resources are removed.
    func recordResources(_ view: ClusterView) {
        var current: [ResourceName: String] = [:]
        for name in view.resources.keys { current[name] = view.stateName(of: name).metricLabel }
        let previous = reported.withLockedValue { reported in
            defer { reported = current }
            return reported
        }
        for (name, state) in current where previous[name] != state {
            for label in Self.stateLabels {
                Gauge(label: "vigil_resource_state", dimensions: [("resource", name.rawValue), ("state", label)])
                    .record(label == state ? 1 : 0)
            }
            Gauge(label: "vigil_resource_up", dimensions: [("resource", name.rawValue)]).record(
                state == "Running" ? 1 : 0)
        }
        for name in previous.keys where current[name] == nil {
            for label in Self.stateLabels {
                Gauge(label: "vigil_resource_state", dimensions: [("resource", name.rawValue), ("state", label)])
                    .destroy()
            }
            Gauge(label: "vigil_resource_up", dimensions: [("resource", name.rawValue)]).destroy()
        }
    }

    /// Resources by state as this node sees the cluster, membership, epoch, mastership.
    func recordView(_ view: ClusterView, node: NodeName) {
        recordResources(view)
        var counts: [String: Int] = [:]
        for state in ResourceStateName.allCases where state != .loading { counts[state.metricLabel] = 0 }
        for name in view.resources.keys {
            let state = view.assignments[name].map { $0.value.placement.stateName } ?? .offline
            counts[state.metricLabel, default: 0] += 1
        }
        for (state, count) in counts {
            Gauge(label: "vigil_resources", dimensions: [("state", state)]).record(count)
        }
        epoch.record(Int64(view.epoch))
        members.record(view.members.count)
        isMaster.record(view.master.map { $0.value.node == node && !$0.value.resigned } == true ? 1 : 0)
    }
}
