import ClusterModel
import Foundation
import NodeAgent
import Testing

@Suite("Agent configuration file")
struct AgentConfigurationTests {
    let good = """
        node: n1
        cluster: demo
        profile: fast
        store:
          managed: true
          dataDirectory: /var/lib/vigil/etcd
          members:
            - { node: n1, peerURL: "https://198.18.0.11:2380", clientURL: "https://198.18.0.11:2379" }
            - { node: n2, peerURL: "https://198.18.0.12:2380", clientURL: "https://198.18.0.12:2379" }
        """

    @Test("a managed configuration gives the etcd member and the store endpoints")
    func managed() throws {
        let configuration = try AgentConfiguration.parse(yaml: good)
        #expect(configuration.node == "n1")
        #expect(configuration.timing.tolerance == .milliseconds(800))
        #expect(configuration.storeEndpoints == ["https://198.18.0.11:2379", "https://198.18.0.12:2379"])
        #expect(configuration.managedEtcd.arguments.contains("--initial-cluster"))
        #expect(configuration.logDirectory == "/var/log/vigil")
        // Closed: TLS for clients and peers, certificates checked against the cluster CA.
        let arguments = configuration.managedEtcd.arguments
        for flag in ["--client-cert-auth", "--peer-client-cert-auth"] { #expect(arguments.contains(flag)) }
        #expect(arguments.firstIndex(of: "--trusted-ca-file").map { arguments[$0 + 1] } == "/etc/vigil/pki/ca.pem")
        #expect(configuration.ownAddresses == ["198.18.0.11"])
        #expect(configuration.storeTLS.certificate == "/etc/vigil/pki/node.pem")
    }

    @Test("a managed store over http:// is refused: it would be open to the network")
    func openStoreRefused() {
        #expect {
            try AgentConfiguration.parse(yaml: good.replacingOccurrences(of: "https://", with: "http://"))
        } throws: { error in
            (error as? ValidationError)?.field == "store.members[0].peerURL"
                && "\(error)".contains("open the cluster's store to the network")
        }
    }

    @Test("an old open cluster runs only with store.insecure; while moving to TLS it serves both URL sets")
    func openAndMoving() throws {
        let open = good.replacingOccurrences(of: "https://", with: "http://").replacingOccurrences(
            of: "  managed: true", with: "  managed: true\n  insecure: true")
        let insecure = try AgentConfiguration.parse(yaml: open)
        #expect(!insecure.storeUsesTLS && insecure.managedEtcd.tls == nil && insecure.storeTLS.ca == nil)
        let moving = try AgentConfiguration.parse(
            yaml: good.replacingOccurrences(
                of: #"clientURL: "https://198.18.0.11:2379" }"#,
                with:
                    #"clientURL: "https://198.18.0.11:2379", openPeerURL: "http://198.18.0.11:2390", openClientURL: "http://198.18.0.11:2389" }"#
            ))
        let arguments = moving.managedEtcd.arguments
        #expect(
            arguments.firstIndex(of: "--listen-peer-urls").map { arguments[$0 + 1] }
                == "https://198.18.0.11:2380,http://198.18.0.11:2390")
        #expect(moving.storeEndpoints.last == "http://198.18.0.11:2389")
        #expect(arguments.contains("--client-cert-auth"))
        #expect {
            try AgentConfiguration.parse(
                yaml: good.replacingOccurrences(
                    of: #"clientURL: "https://198.18.0.11:2379" }"#,
                    with: #"clientURL: "https://198.18.0.11:2379", openPeerURL: "https://x:1" }"#))
        } throws: { ($0 as? ValidationError)?.field == "store.members[0].openPeerURL" }
    }

    @Test("each node calls its own etcd member first; external nodes spread over the endpoints")
    func endpointOrder() throws {
        let second = try AgentConfiguration.parse(
            yaml: good.replacingOccurrences(of: "node: n1\ncluster", with: "node: n2\ncluster"))
        #expect(second.storeEndpoints == ["https://198.18.0.12:2379", "https://198.18.0.11:2379"])
        let endpoints = ["https://10.1.1.1:2379", "https://10.1.1.2:2379", "https://10.1.1.3:2379"]
        var firsts: [String: Int] = [:]
        for index in 1...32 {
            let configuration = try AgentConfiguration.parse(
                yaml: """
                    node: n\(index)
                    cluster: demo
                    store:
                      managed: false
                      endpoints: ["\(endpoints.joined(separator: "\", \""))"]
                    """)
            let order = configuration.storeEndpoints
            #expect(order.sorted() == endpoints)
            // A rotation: the order of the list is kept.
            let start = endpoints.firstIndex(of: order[0])!
            #expect(order == Array(endpoints[start...] + endpoints[..<start]))
            firsts[order[0], default: 0] += 1
        }
        // 32 nodes over 3 endpoints: every endpoint is some nodes' first, none most nodes'.
        #expect(firsts.count == 3 && firsts.values.allSatisfy { $0 >= 5 && $0 <= 17 })
    }

    @Test("an existing etcd cluster is used through its endpoints")
    func external() throws {
        let configuration = try AgentConfiguration.parse(
            yaml: """
                node: n1
                cluster: demo
                store:
                  managed: false
                  endpoints: ["http://10.1.1.1:2379"]
                """)
        #expect(configuration.storeEndpoints == ["http://10.1.1.1:2379"])
    }

    @Test(
        "a bad file gets an error naming the key",
        arguments: [
            ("node: n1\ncluster: demo\nstore: { managed: true, members: [] }\n", "store.members"),
            ("node: n1\ncluster: demo\nstore: { managed: false }\n", "store.endpoints"),
            ("node: n1\ncluster: demo\nstore: { managed: false, endpoints: [\"ftp://x\"] }\n", "store.endpoints[0]"),
            ("node: 'n 1'\ncluster: demo\nstore: { managed: false, endpoints: [\"http://x:1\"] }\n", "node"),
            (
                "node: n1\ncluster: demo\ncolour: red\nstore: { managed: false, endpoints: [\"http://x:1\"] }\n",
                "colour"
            ),
            ("node: n1\nstore: { managed: false, endpoints: [\"http://x:1\"] }\n", "cluster"),
            (
                "node: n1\ncluster: demo\nprofile: turbo\nstore: { managed: false, endpoints: [\"http://x:1\"] }\n",
                "profile"
            ),
            (
                "node: n1\ncluster: demo\nstore:\n  members:\n    - { node: n1, peerURL: \"http://a\", clientURL: \"http://a:1\" }\n",
                "store.members[0].peerURL"
            ),
            (
                "node: n1\ncluster: demo\nwatchdogDevice: /tmp/wd\nstore: { managed: false, endpoints: [\"http://x:1\"] }\n",
                "watchdogTimeout"
            ),
        ])
    func bad(yaml: String, field: String) {
        #expect {
            try AgentConfiguration.parse(yaml: yaml)
        } throws: { error in
            (error as? ValidationError)?.field == field
        }
    }

    @Test("the reboot command: systemctl's by default; an own one must be absolute and root's alone")
    func rebootCommand() throws {
        #expect(try AgentConfiguration.parse(yaml: good).rebootCommand == ["/usr/bin/systemctl", "reboot", "--force"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-reboot-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = directory + "/fake-reboot"
        _ = FileManager.default.createFile(atPath: program, contents: Data("#!/bin/sh\n".utf8))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program)
        let configured = try AgentConfiguration.parse(yaml: good + "\nrebootCommand: [\"\(program)\", now]\n")
        #expect(configured.rebootCommand == [program, "now"])
        for (command, reason) in [
            ("[reboot]", "absolute path"), ("[]", "absolute path"), ("[\"\(directory)/missing\"]", "not an executable"),
        ] {
            #expect {
                try AgentConfiguration.parse(yaml: good + "\nrebootCommand: \(command)\n")
            } throws: { error in
                (error as? ValidationError)?.field == "rebootCommand" && "\(error)".contains(reason)
            }
        }
        // Writable by others: anyone could make root run anything.
        try FileManager.default.setAttributes([.posixPermissions: 0o757], ofItemAtPath: program)
        #expect {
            try AgentConfiguration.parse(yaml: good + "\nrebootCommand: [\"\(program)\"]\n")
        } throws: { error in
            "\(error)".contains("writable by nobody else")
        }
    }

    @Test("a missing file is reported with its path")
    func missing() {
        #expect {
            try AgentConfiguration.load(path: "/nonexistent/vigil.yaml")
        } throws: { ($0 as? ValidationError)?.value == "/nonexistent/vigil.yaml" }
    }
}

@Suite("The scrape token file")
struct MetricsTokenFileTests {
    @Test("a root-only file with one long token is read; others' access, short or missing tokens are refused by field")
    func tokenFile() throws {
        let path = NSTemporaryDirectory() + "vigil-token-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var api = AgentConfiguration.API()
        #expect(try api.metricsToken() == nil)
        api.metricsTokenFile = path
        let token = String(repeating: "ab", count: 20)
        for (mode, text, accepted) in [
            (0o600, token + "\n", true), (0o640, token, true), (0o644, token, false), (0o600, "short", false),
            (0o600, token + " " + token, false),
        ] {
            try? FileManager.default.removeItem(atPath: path)
            _ = FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
            if accepted {
                #expect(try api.metricsToken() == token, "mode \(String(mode, radix: 8))")
            } else {
                #expect(throws: ValidationError.self) { try api.metricsToken() }
                do { _ = try api.metricsToken() } catch { #expect(error.field == "api.metricsTokenFile") }
            }
        }
        try? FileManager.default.removeItem(atPath: path)
        #expect(throws: ValidationError.self) { try api.metricsToken() }
    }
}
