import CoreMetrics
import Prometheus

/// Every metric Vigil reports, with its help text (`# HELP`) and histogram buckets: the code
/// records through swift-metrics; this factory puts them in the Prometheus registry with their
/// description. `MetricsTests` checks the output with Debian's `promtool check metrics`.
public enum MetricsCatalogue {
    public static let help: [String: String] = [
        "vigil_build_info": "Always 1; the version of this vigild in its label",
        "vigil_is_master": "1 while this node is the cluster master",
        "vigil_epoch": "The cluster's membership epoch as this node sees it",
        "vigil_members": "Members of the cluster as this node sees it",
        "vigil_in_good_standing": "1 while this node is a member whose heartbeats the store acknowledges in time",
        "vigil_resources": "Resources by state (NCS names), as this node sees the cluster",
        "vigil_resource_state": "1 for the resource's current state (NCS names), 0 for the others",
        "vigil_resource_up": "1 while the resource is Running (on any node)",
        "vigil_failovers_total": "Resources this node, as master, moved off a failed or departed node",
        "vigil_self_fences_total": "Times this node fenced itself (addresses removed, scripts killed)",
        "vigil_fence_deadline_total": "Self-fences the fence thread carried out at its deadline",
        "vigil_address_removal_failures_total": "Addresses a fence could not remove",
        "vigil_held_record_failures_total": "Failed writes of the local record of held resources",
        "vigil_heartbeat_round_trip_seconds": "Heartbeat writes from send to the store's acknowledgement",
        "vigil_script_duration_seconds": "Run time of load, unload and monitor scripts on this node",
        "vigil_script_failures_total": "Scripts that failed on this node (exit code, timeout, signal)",
        "vigil_store_last_contact_seconds": "Seconds since this node's last successful call to the store",
        "vigil_store_errors_total": "Store calls that failed, by kind",
        "vigil_password_checks_total": "Password checks (bcrypt) started",
        "vigil_password_checks_refused_total": "Password checks refused because the hashing queue was full",
        "vigil_login_failures_total": "Failed logins (wrong password, unknown user, bad token)",
        "vigil_login_throttled_total": "Requests refused with 429 by login throttling",
    ]

    /// Heartbeats take 1–100 ms on a healthy network; scripts up to their timeouts (at most 60 min).
    public static let durationBuckets: [String: [Duration]] = [
        "vigil_heartbeat_round_trip_seconds": [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2000].map {
            .milliseconds($0)
        },
        "vigil_script_duration_seconds": [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600].map {
            .milliseconds(Int64($0 * 1000))
        },
    ]
    static let defaultDurationBuckets: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].map {
        .milliseconds(Int64($0 * 1000))
    }
    static let defaultValueBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

    static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }
}

/// swift-metrics into the Prometheus registry, with the catalogue's help texts and buckets.
public struct VigilMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: MetricsCatalogue.descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
        -> any FloatingPointCounterHandler
    {
        registry.makeCounter(descriptor: MetricsCatalogue.descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else {
            return registry.makeGauge(descriptor: MetricsCatalogue.descriptor(label), labels: dimensions)
        }
        return registry.makeValueHistogram(
            descriptor: MetricsCatalogue.descriptor(label), labels: dimensions,
            buckets: MetricsCatalogue.defaultValueBuckets)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: MetricsCatalogue.descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: MetricsCatalogue.descriptor(label), labels: dimensions,
            buckets: MetricsCatalogue.durationBuckets[label] ?? MetricsCatalogue.defaultDurationBuckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        switch handler {
        case let gauge as Prometheus.Gauge: registry.unregisterGauge(gauge)
        case let histogram as Histogram<Double>: registry.unregisterValueHistogram(histogram)
        default: break
        }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}
