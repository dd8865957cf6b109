// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigild", targets: ["vigild"]),
        .executable(name: "vigil", targets: ["vigil"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Leaf: names, specifications, settings, states, the store key layout. No dependencies.
        .target(name: "ClusterModel"),
        // PURE: the cluster brain. Imports ClusterModel only (checked by scripts/check-brain-purity).
        .target(name: "ClusterBrain", dependencies: ["ClusterModel"]),
        // The coordination store protocol and its value types.
        .target(name: "CoordinationStore"),
        // Deterministic in-memory store: etcd semantics, injected time, fault injection.
        .target(
            name: "InMemoryStore",
            dependencies: ["CoordinationStore", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // etcd v3 client over the JSON gateway (HTTP/1.1), behind the CoordinationStore protocol.
        .target(
            name: "EtcdStore",
            dependencies: [
                "CoordinationStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The agent's drivers. For now: how the brain's directives become store transactions.
        .target(
            name: "NodeAgent",
            dependencies: [
                "ClusterModel", "ClusterBrain", "CoordinationStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Reading other tools' configurations (NCS scripts and policies, keepalived.conf, a Pacemaker
        // CIB) into resource definitions: pure, no I/O (`vigil import`).
        .target(name: "ClusterImport", dependencies: ["ClusterModel", "ClusterClient"]),
        // The cluster's certificate authority: node keys and certificates, join bundles, checks at start.
        .target(
            name: "ClusterPKI",
            dependencies: [
                "ClusterModel",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The API's JSON shapes, shared by the server and the CLI (no Hummingbird, no agent).
        .target(name: "ClusterClient", dependencies: ["ClusterModel"]),
        // The REST API /v1 (Hummingbird): routes, authentication, OpenAPI document, cluster operations.
        .target(
            name: "ClusterAPI",
            dependencies: [
                "ClusterModel", "ClusterClient", "CoordinationStore", "NodeAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Not shipped: deterministic simulation, invariant checkers, golden scenario runner.
        .target(
            name: "ClusterTestKit",
            dependencies: ["ClusterModel", "ClusterBrain", "CoordinationStore", "InMemoryStore", "NodeAgent"]
        ),
        .executableTarget(
            name: "vigild",
            dependencies: [
                "ClusterModel", "NodeAgent", "EtcdStore", "ClusterAPI", "ClusterPKI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The CLI: the API's shapes and an HTTP client; it links neither Hummingbird nor the agent.
        .executableTarget(
            name: "vigil",
            dependencies: [
                "ClusterModel", "ClusterClient", "ClusterPKI", "ClusterImport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Developer tool: runs simulated scenarios (the demo until the agent exists). Not shipped.
        .executableTarget(name: "vigil-sim", dependencies: ["ClusterTestKit", "ClusterModel", "ClusterBrain"]),
        // Benchmarks: figures for docs/, not pass/fail tests.
        .executableTarget(
            name: "vigil-bench",
            dependencies: ["ClusterTestKit", "EtcdStore", "CoordinationStore", "ClusterModel", "ClusterBrain"],
            path: "bench/vigil-bench"),
        .testTarget(name: "ClusterModelTests", dependencies: ["ClusterModel"]),
        .testTarget(
            name: "VigilCLITests",
            dependencies: ["vigil", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "ClusterImportTests", dependencies: ["ClusterImport", "ClusterModel"], exclude: ["testdata"]),
        .testTarget(name: "ClusterPKITests", dependencies: ["ClusterPKI", "ClusterModel"]),
        .testTarget(
            name: "NodeAgentTests",
            dependencies: [
                "NodeAgent", "ClusterModel", "ClusterBrain", "CoordinationStore", "InMemoryStore", "ClusterTestKit",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .testTarget(name: "ClusterBrainTests", dependencies: ["ClusterBrain", "ClusterModel"]),
        .testTarget(
            name: "InMemoryStoreTests",
            dependencies: [
                "InMemoryStore", "CoordinationStore", "ClusterTestKit",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .testTarget(
            name: "EtcdIntegrationTests",
            dependencies: [
                "EtcdStore", "CoordinationStore", "ClusterTestKit", "NodeAgent", "ClusterModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "ClusterAPITests",
            dependencies: [
                "ClusterAPI", "ClusterClient", "ClusterModel", "CoordinationStore", "InMemoryStore", "ClusterTestKit",
                "NodeAgent",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["ClusterTestKit", "ClusterBrain", "ClusterModel"],
            exclude: ["testdata"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Our own code builds with warnings as errors (dependencies keep their warnings).
for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
