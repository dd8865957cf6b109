// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigild", targets: ["vigild"]),
        .executable(name: "vigil", targets: ["vigil"]),
    ],
    targets: [
        // Leaf: names, specifications, settings, states, the store key layout. No dependencies.
        .target(name: "ClusterModel"),
        // PURE: the cluster brain. Imports ClusterModel only (checked by scripts/check-brain-purity).
        .target(name: "ClusterBrain", dependencies: ["ClusterModel"]),
        // The coordination store protocol and its value types.
        .target(name: "CoordinationStore"),
        // Deterministic in-memory store: etcd semantics, injected time, fault injection.
        .target(name: "InMemoryStore", dependencies: ["CoordinationStore"]),
        // The agent's drivers. For now: how the brain's directives become store transactions.
        .target(name: "NodeAgent", dependencies: ["ClusterModel", "ClusterBrain", "CoordinationStore"]),
        // Not shipped: deterministic simulation, invariant checkers, golden scenario runner.
        .target(
            name: "ClusterTestKit",
            dependencies: ["ClusterModel", "ClusterBrain", "CoordinationStore", "InMemoryStore", "NodeAgent"]
        ),
        .executableTarget(name: "vigild", dependencies: ["ClusterModel"]),
        .executableTarget(name: "vigil", dependencies: ["ClusterModel"]),
        // Developer tool: runs simulated scenarios (the demo until the agent exists). Not shipped.
        .executableTarget(name: "vigil-sim", dependencies: ["ClusterTestKit", "ClusterModel", "ClusterBrain"]),
        .testTarget(name: "ClusterModelTests", dependencies: ["ClusterModel"]),
        .testTarget(name: "ClusterBrainTests", dependencies: ["ClusterBrain", "ClusterModel"]),
        .testTarget(name: "InMemoryStoreTests", dependencies: ["InMemoryStore", "CoordinationStore", "ClusterTestKit"]),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["ClusterTestKit", "ClusterBrain", "ClusterModel"],
            exclude: ["testdata"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
