import ArgumentParser
import ClusterModel
import ClusterPKI
import Foundation
import Yams

/// `vigil pki`: the cluster's certificate authority, on local files (no agent needed). A new
/// cluster starts with `init` on its first node; every further node gets a bundle from `add-node`,
/// which the admin copies to it and installs (docs/design/0015).
struct PKI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki", abstract: "The cluster's certificate authority: init, add-node, install, renew, show.",
        discussion: """
            A new cluster, on its first node (n1, 198.18.0.11):
              vigil pki init --cluster prod --node n1 --address 198.18.0.11
            For each further node, on n1 (the node holding ca.key):
              vigil pki add-node n2 --address 198.18.0.12 --out /root/n2.bundle
            Copy the bundle to n2 (it holds n2's private key: scp, then delete it), and there:
              vigil pki install /root/n2.bundle
            Files: /etc/vigil/pki (0700): ca.pem, node.pem, node.key (0600), ca.key (n1 only, 0600).
            """,
        subcommands: [Init.self, AddNode.self, Install.self, Renew.self, Show.self])

    struct Location: ParsableArguments {
        @Option(help: "The PKI directory.")
        var dir = "/etc/vigil/pki"
    }

    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    static func node(_ text: String) throws -> NodeName {
        do { return try NodeName(validating: text) } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Make the cluster CA and this node's key and certificate.")
        @OptionGroup var location: Location
        @Option(help: "The cluster's name (as in vigil.yaml).") var cluster: String
        @Option(help: "This node's name.") var node: String
        @Option(help: "An IP address of this node (its store URLs' host); repeat for more.") var address: [String]
        @Option(help: "A DNS name the API is reached by; repeat for more.") var name: [String] = []

        func run() throws {
            let node = try PKI.node(node)
            try PKI.run {
                try ClusterPKI.initialize(
                    cluster: cluster, node: node, addresses: address, names: name, in: PKIDirectory(location.dir))
            }
            print("cluster CA and \(node)'s certificate written to \(location.dir) (ca.key: keep it on this node only)")
        }
    }

    struct AddNode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-node", abstract: "Write a join bundle (key, certificate, CA) for another node.")
        @OptionGroup var location: Location
        @Argument(help: "The new node's name.") var node: String
        @Option(help: "An IP address of the new node; repeat for more.") var address: [String]
        @Option(help: "A DNS name the node's API is reached by; repeat for more.") var name: [String] = []
        @Option(help: "The bundle file to write (root-only; copy it to the node, then delete it).") var out: String

        func run() throws {
            let node = try PKI.node(node)
            try PKI.run {
                let bundle = try ClusterPKI.bundle(
                    node: node, addresses: address, names: name, from: PKIDirectory(location.dir))
                try ClusterPKI.write(bundle, to: out)
            }
            print("bundle for \(node) written to \(out); on \(node): vigil pki install \(out)")
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Install a join bundle made by add-node, after checking it against vigil.yaml.")
        @OptionGroup var location: Location
        @Argument(help: "The bundle file.") var bundle: String
        @Option(help: "This node's configuration (its cluster and node name are checked).")
        var config = "/etc/vigil/vigil.yaml"

        func run() throws {
            let expected = NodeIdentity.read(config)
            try PKI.run {
                let installed = try ClusterPKI.install(
                    bundleFile: bundle, into: PKIDirectory(location.dir), cluster: expected?.cluster,
                    node: expected?.node)
                print("installed \(installed.node)'s certificate for cluster \(installed.cluster) in \(location.dir)")
            }
        }
    }

    struct Renew: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "renew",
            abstract: "A new key and certificate for this node from the CA key here (before expiry).")
        @OptionGroup var location: Location
        @Option(help: "This node's name.") var node: String
        @Option(help: "An IP address of this node; repeat for more.") var address: [String]
        @Option(help: "A DNS name; repeat for more.") var name: [String] = []

        func run() throws {
            let node = try PKI.node(node)
            try PKI.run {
                try ClusterPKI.renew(node: node, addresses: address, names: name, in: PKIDirectory(location.dir))
            }
            print("\(node)'s certificate renewed in \(location.dir); restart vigild to use it")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Check this node's PKI files against vigil.yaml.")
        @OptionGroup var location: Location
        @Option(help: "This node's configuration.") var config = "/etc/vigil/vigil.yaml"
        @Option(help: "An address the certificate must name; repeat for more.") var address: [String] = []

        func run() throws {
            let cluster = NodeIdentity.read(config)?.cluster ?? ""
            try PKI.run {
                let checked = try ClusterPKI.check(PKIDirectory(location.dir), cluster: cluster, addresses: address)
                print("\(checked.subject): signed by cluster \(cluster)'s CA, valid until \(checked.notValidAfter)")
            }
        }
    }
}

/// The cluster and node names of a vigil.yaml, if it can be read.
struct NodeIdentity: Decodable {
    var cluster: String
    var node: NodeName

    static func read(_ path: String) -> NodeIdentity? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return try? YAMLDecoder().decode(NodeIdentity.self, from: text)
    }
}
