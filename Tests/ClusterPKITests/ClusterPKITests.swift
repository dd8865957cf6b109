import ClusterModel
import ClusterPKI
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The cluster CA, join bundles and the checks a node makes at start: every bad file is refused
/// with an error naming it, and nothing is half-written.
@Suite("Cluster PKI")
struct ClusterPKITests {
    let root: String

    init() throws {
        let base = ProcessInfo.processInfo.environment["VIGIL_TEST_TMP"] ?? NSTemporaryDirectory()
        root = base + "/vigil-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func refusal(_ body: () throws -> Void) -> ValidationError? {
        do {
            try body()
            return nil
        } catch {
            return error as? ValidationError
        }
    }

    @Test("init, add a node, install its bundle: root-only keys, a certificate that passes the start checks")
    func lifecycle() throws {
        let first = PKIDirectory(root + "/n1")
        try ClusterPKI.initialize(cluster: "lab", node: "n1", addresses: ["198.18.0.11"], in: first)
        #expect(mode(first.path) == 0o700 && mode(first.caKey) == 0o600 && mode(first.nodeKey) == 0o600)
        _ = try ClusterPKI.check(first, cluster: "lab", addresses: ["198.18.0.11"])
        let bundle = try ClusterPKI.bundle(node: "n2", addresses: ["198.18.0.12", "fd00::12"], from: first)
        try ClusterPKI.write(bundle, to: root + "/n2.bundle")
        #expect(mode(root + "/n2.bundle") == 0o600)
        let second = PKIDirectory(root + "/n2")
        _ = try ClusterPKI.install(bundleFile: root + "/n2.bundle", into: second, cluster: "lab", node: "n2")
        #expect(!FileManager.default.fileExists(atPath: second.caKey), "the CA key travelled with the bundle")
        _ = try ClusterPKI.check(second, cluster: "lab", addresses: ["198.18.0.12", "fd00:0::12"])
        // A second init over a CA is refused; so is a bundle over an existing file.
        #expect(
            refusal { try ClusterPKI.initialize(cluster: "lab", node: "n1", addresses: ["198.18.0.11"], in: first) }
                != nil)
        #expect(refusal { try ClusterPKI.write(bundle, to: root + "/n2.bundle") }?.field == "--out")
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test(
        "bad files are refused at start with the file named: loose key, missing address, expired, other CA, other cluster"
    )
    func badFiles() throws {
        let lab = PKIDirectory(root + "/lab")
        try ClusterPKI.initialize(cluster: "lab", node: "n1", addresses: ["198.18.0.11"], in: lab)

        // A certificate without this node's address.
        let missing = refusal { _ = try ClusterPKI.check(lab, cluster: "lab", addresses: ["198.18.0.99"]) }
        #expect(missing?.value == lab.nodeCertificate && missing?.reason.contains("198.18.0.99") == true)

        // Another cluster's CA.
        #expect(refusal { _ = try ClusterPKI.check(lab, cluster: "prod", addresses: []) }?.value == lab.caCertificate)

        // A key others can read.
        chmod(lab.nodeKey, 0o644)
        let loose = refusal { _ = try ClusterPKI.check(lab, cluster: "lab", addresses: []) }
        #expect(loose?.value == lab.nodeKey && loose?.reason.contains("644") == true)
        chmod(lab.nodeKey, 0o600)

        // Expired: the same files, read three years on.
        let later = Date().addingTimeInterval(3 * 365 * 86400)
        let expired = refusal { _ = try ClusterPKI.check(lab, cluster: "lab", addresses: [], now: later) }
        #expect(expired?.value == lab.nodeCertificate && expired?.reason.contains("expired") == true)

        // A node certificate from another CA of the same cluster name.
        let impostor = PKIDirectory(root + "/impostor")
        try ClusterPKI.initialize(cluster: "lab", node: "n1", addresses: ["198.18.0.11"], in: impostor)
        try FileManager.default.removeItem(atPath: lab.nodeCertificate)
        try FileManager.default.copyItem(atPath: impostor.nodeCertificate, toPath: lab.nodeCertificate)
        let foreign = refusal { _ = try ClusterPKI.check(lab, cluster: "lab", addresses: []) }
        #expect(foreign?.reason.contains("not signed by this cluster's CA") == true)

        // A bundle for another cluster, or another node, installs nothing.
        let prod = PKIDirectory(root + "/prod")
        try ClusterPKI.initialize(cluster: "prod", node: "p1", addresses: ["198.18.1.1"], in: prod)
        try ClusterPKI.write(
            try ClusterPKI.bundle(node: "n2", addresses: ["198.18.0.12"], from: prod), to: root + "/p.bundle")
        let target = PKIDirectory(root + "/n2")
        #expect(
            refusal {
                _ = try ClusterPKI.install(bundleFile: root + "/p.bundle", into: target, cluster: "lab", node: "n2")
            } != nil)
        #expect(
            refusal {
                _ = try ClusterPKI.install(bundleFile: root + "/p.bundle", into: target, cluster: "prod", node: "n3")
            } != nil)
        #expect(!FileManager.default.fileExists(atPath: target.path), "a refused bundle wrote files")
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("renew: a new certificate with a new address, from the CA key; without the CA key it is refused")
    func renew() throws {
        let lab = PKIDirectory(root + "/lab")
        try ClusterPKI.initialize(cluster: "lab", node: "n1", addresses: ["198.18.0.11"], in: lab)
        let before = try String(contentsOfFile: lab.nodeCertificate, encoding: .utf8)
        try ClusterPKI.renew(node: "n1", addresses: ["198.18.0.11", "198.18.0.21"], in: lab)
        #expect(try String(contentsOfFile: lab.nodeCertificate, encoding: .utf8) != before)
        _ = try ClusterPKI.check(lab, cluster: "lab", addresses: ["198.18.0.21"])
        try FileManager.default.removeItem(atPath: lab.caKey)
        #expect(refusal { try ClusterPKI.renew(node: "n1", addresses: ["198.18.0.11"], in: lab) }?.value == lab.caKey)
        try? FileManager.default.removeItem(atPath: root)
    }
}
