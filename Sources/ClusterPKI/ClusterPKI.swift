import ClusterModel
import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// The cluster's own certificate authority and each node's key and certificate
/// (docs/design/0015-cluster-pki.md).
///
/// One directory per node (`/etc/vigil/pki`, 0700): `ca.pem` (the cluster CA's certificate),
/// `node.pem` and `node.key` (this node's, for etcd's peer and client TLS and the API), and on the
/// node that made the cluster `ca.key` (the CA's key, needed only to add nodes and renew).
public struct PKIDirectory: Sendable, Hashable {
    public var path: String

    public init(_ path: String) { self.path = path }

    public var caCertificate: String { path + "/ca.pem" }
    public var caKey: String { path + "/ca.key" }
    public var nodeCertificate: String { path + "/node.pem" }
    public var nodeKey: String { path + "/node.key" }

    /// This node's certificate and key, if both are there.
    public var nodePair: (certificate: String, key: String)? {
        FileManager.default.fileExists(atPath: nodeCertificate) && FileManager.default.fileExists(atPath: nodeKey)
            ? (nodeCertificate, nodeKey) : nil
    }
}

/// A node's key and certificate with the cluster CA's certificate: what `vigil pki add-node`
/// writes for the admin to copy to the new node (one root-only JSON file).
public struct JoinBundle: Codable, Sendable, Hashable {
    public var cluster: String
    public var node: NodeName
    public var caCertificate: String
    public var certificate: String
    public var key: String
}

public enum ClusterPKI {
    /// How long node certificates are valid; `vigil pki renew` makes new ones before that.
    public static let nodeValidity: TimeInterval = 825 * 86400
    /// How long the cluster CA is valid.
    public static let caValidity: TimeInterval = 20 * 365 * 86400

    /// The CA's common name, which names the cluster: a bundle or certificate of another cluster
    /// is told apart by it.
    public static func caName(cluster: String) -> String { "Vigil cluster \(cluster) CA" }

    /// Makes the cluster CA and this node's pair in `directory` (created 0700). Refuses to
    /// overwrite an existing CA.
    public static func initialize(
        cluster: String, node: NodeName, addresses: [String], names: [String] = [], in directory: PKIDirectory,
        now: Date = Date()
    ) throws(ValidationError) {
        try checkAddresses(addresses, field: "--address")
        if FileManager.default.fileExists(atPath: directory.caCertificate) {
            throw ValidationError(
                .conflict, field: "pki", value: directory.caCertificate,
                reason: "a cluster CA is already there; remove the directory to start a new cluster")
        }
        let caKey = P256.Signing.PrivateKey()
        let caCertificate = try wrap("the cluster CA") {
            let name = try DistinguishedName {
                CommonName(caName(cluster: cluster))
                OrganizationName("Vigil")
            }
            return try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + caValidity, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(caKey))
        }
        let (certificate, key) = try issue(
            node: node, addresses: addresses, names: names, caCertificate: caCertificate, caKey: caKey, now: now)
        try makeDirectory(directory.path)
        try writeFile(directory.caKey, caKey.pemRepresentation, mode: 0o600)
        try writeFile(directory.caCertificate, pem(caCertificate), mode: 0o644)
        try writeFile(directory.nodeKey, key, mode: 0o600)
        try writeFile(directory.nodeCertificate, certificate, mode: 0o644)
    }

    /// A key and certificate for `node`, signed by the CA in `directory`, as a join bundle.
    public static func bundle(
        node: NodeName, addresses: [String], names: [String] = [], from directory: PKIDirectory, now: Date = Date()
    ) throws(ValidationError) -> JoinBundle {
        try checkAddresses(addresses, field: "--address")
        let (caCertificate, caKey) = try loadCA(directory)
        let (certificate, key) = try issue(
            node: node, addresses: addresses, names: names, caCertificate: caCertificate, caKey: caKey, now: now)
        return JoinBundle(
            cluster: try cluster(of: caCertificate, file: directory.caCertificate), node: node,
            caCertificate: pem(caCertificate), certificate: certificate, key: key)
    }

    /// Writes `bundle` to a new root-only file (never over an existing one).
    public static func write(_ bundle: JoinBundle, to path: String) throws(ValidationError) {
        if FileManager.default.fileExists(atPath: path) {
            throw ValidationError(.conflict, field: "--out", value: path, reason: "the file exists; choose another")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(bundle) else {
            throw ValidationError(field: "--out", value: path, reason: "cannot encode the bundle")
        }
        try writeFile(path, String(decoding: data, as: UTF8.self), mode: 0o600)
    }

    /// Installs a join bundle into `directory` after checking it: its cluster and node are the
    /// expected ones, its certificate is the CA's and in date, its key matches. Nothing is written
    /// unless every check passes; the files replace the old ones one by one, each atomically.
    public static func install(
        bundleFile: String, into directory: PKIDirectory, cluster: String?, node: NodeName?, now: Date = Date()
    ) throws(ValidationError) -> JoinBundle {
        guard let data = FileManager.default.contents(atPath: bundleFile) else {
            throw ValidationError(field: "bundle", value: bundleFile, reason: "cannot read this file")
        }
        let bundle: JoinBundle
        do {
            bundle = try JSONDecoder().decode(JoinBundle.self, from: data)
        } catch {
            throw ValidationError(field: "bundle", value: bundleFile, reason: "not a Vigil join bundle: \(error)")
        }
        if let cluster, bundle.cluster != cluster {
            throw ValidationError(
                field: "bundle", value: bundleFile,
                reason: "made for cluster '\(bundle.cluster)', this node's configuration says '\(cluster)'")
        }
        if let node, bundle.node != node {
            throw ValidationError(
                field: "bundle", value: bundleFile,
                reason: "made for node '\(bundle.node)', this node's configuration says '\(node)'")
        }
        let caCertificate = try parseCertificate(bundle.caCertificate, file: bundleFile)
        let certificate = try parseCertificate(bundle.certificate, file: bundleFile)
        guard (try? Self.cluster(of: caCertificate, file: bundleFile)) == bundle.cluster else {
            throw ValidationError(
                field: "bundle", value: bundleFile, reason: "its CA is not cluster '\(bundle.cluster)''s")
        }
        try checkIssued(certificate, by: caCertificate, file: bundleFile, now: now)
        try checkKey(bundle.key, matches: certificate, file: bundleFile)
        try makeDirectory(directory.path)
        try writeFile(directory.caCertificate, bundle.caCertificate, mode: 0o644)
        try writeFile(directory.nodeKey, bundle.key, mode: 0o600)
        try writeFile(directory.nodeCertificate, bundle.certificate, mode: 0o644)
        return bundle
    }

    /// A new key and certificate for this node, from the CA key in `directory` (before the old
    /// certificate expires, or to add an address).
    public static func renew(
        node: NodeName, addresses: [String], names: [String] = [], in directory: PKIDirectory, now: Date = Date()
    )
        throws(ValidationError)
    {
        let bundle = try bundle(node: node, addresses: addresses, names: names, from: directory, now: now)
        try writeFile(directory.nodeKey, bundle.key, mode: 0o600)
        try writeFile(directory.nodeCertificate, bundle.certificate, mode: 0o644)
    }

    /// What a node checks at start: the CA certificate, its own key (0600 or stricter) and
    /// certificate — the cluster's CA signed it, it is in date, it names every address in
    /// `addresses`, the key is its key. Every error names the file and what is wrong.
    public static func check(
        _ directory: PKIDirectory, cluster: String, addresses: [String], now: Date = Date()
    ) throws(ValidationError) -> (notValidAfter: Date, subject: String) {
        let caCertificate = try parseCertificate(try read(directory.caCertificate), file: directory.caCertificate)
        guard try Self.cluster(of: caCertificate, file: directory.caCertificate) == cluster else {
            throw ValidationError(
                field: "pki", value: directory.caCertificate,
                reason: "this CA is not cluster '\(cluster)''s (it is '\(caCertificate.subject)')")
        }
        try checkPrivate(directory.nodeKey)
        if FileManager.default.fileExists(atPath: directory.caKey) { try checkPrivate(directory.caKey) }
        let certificate = try parseCertificate(try read(directory.nodeCertificate), file: directory.nodeCertificate)
        try checkIssued(certificate, by: caCertificate, file: directory.nodeCertificate, now: now)
        try checkKey(try read(directory.nodeKey), matches: certificate, file: directory.nodeKey)
        let named = Set(ipAddresses(of: certificate))
        for address in addresses where !named.contains(normalized(address)) {
            throw ValidationError(
                field: "pki", value: directory.nodeCertificate,
                reason:
                    "the certificate does not name this node's address \(address) (it names \(named.sorted().joined(separator: ", "))); make one with vigil pki add-node or renew"
            )
        }
        return (certificate.notValidAfter, "\(certificate.subject)")
    }

    // MARK: Pieces

    static func issue(
        node: NodeName, addresses: [String], names: [String], caCertificate: Certificate,
        caKey: P256.Signing.PrivateKey, now: Date
    ) throws(ValidationError) -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        var alternatives: [GeneralName] = [.dnsName(node.rawValue), .dnsName("localhost")]
        alternatives += names.map { .dnsName($0) }
        for address in addresses + ["127.0.0.1"] {
            alternatives.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ipBytes(address)!))))
        }
        let certificate = try wrap("the certificate of \(node)") {
            try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: min(now + nodeValidity, caCertificate.notValidAfter),
                issuer: caCertificate.subject,
                subject: try DistinguishedName {
                    CommonName(node.rawValue)
                    OrganizationName("Vigil")
                },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames(alternatives)
                },
                issuerPrivateKey: .init(caKey))
        }
        return (pem(certificate), key.pemRepresentation)
    }

    static func loadCA(_ directory: PKIDirectory) throws(ValidationError) -> (Certificate, P256.Signing.PrivateKey) {
        let certificate = try parseCertificate(try read(directory.caCertificate), file: directory.caCertificate)
        guard FileManager.default.fileExists(atPath: directory.caKey) else {
            throw ValidationError(
                field: "pki", value: directory.caKey,
                reason: "no CA key here: add nodes on the node where `vigil pki init` ran (or copy ca.key, 0600)")
        }
        try checkPrivate(directory.caKey)
        do {
            return (certificate, try P256.Signing.PrivateKey(pemRepresentation: try read(directory.caKey)))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError(field: "pki", value: directory.caKey, reason: "not a P-256 private key: \(error)")
        }
    }

    static func cluster(of caCertificate: Certificate, file: String) throws(ValidationError) -> String {
        let prefix = "Vigil cluster "
        let suffix = " CA"
        for attribute in caCertificate.subject.flatMap({ $0 }) where attribute.type == .RDNAttributeType.commonName {
            let text = "\(attribute.value)"
            if text.hasPrefix(prefix), text.hasSuffix(suffix) {
                return String(text.dropFirst(prefix.count).dropLast(suffix.count))
            }
        }
        throw ValidationError(field: "pki", value: file, reason: "not a Vigil cluster CA: \(caCertificate.subject)")
    }

    static func checkIssued(_ certificate: Certificate, by ca: Certificate, file: String, now: Date)
        throws(ValidationError)
    {
        guard certificate.issuer == ca.subject, ca.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw ValidationError(field: "pki", value: file, reason: "not signed by this cluster's CA")
        }
        guard certificate.notValidAfter > now else {
            throw ValidationError(
                field: "pki", value: file,
                reason: "expired on \(certificate.notValidAfter) (renew it: vigil pki renew, or a new bundle)")
        }
        guard certificate.notValidBefore <= now else {
            throw ValidationError(
                field: "pki", value: file, reason: "not valid before \(certificate.notValidBefore): check the clock")
        }
    }

    static func checkKey(_ keyPEM: String, matches certificate: Certificate, file: String) throws(ValidationError) {
        guard let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM) else {
            throw ValidationError(field: "pki", value: file, reason: "not a P-256 private key in PEM")
        }
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw ValidationError(field: "pki", value: file, reason: "the key does not belong to the certificate")
        }
    }

    /// A private key file must be readable by its owner only.
    static func checkPrivate(_ path: String) throws(ValidationError) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue
        else {
            throw ValidationError(field: "pki", value: path, reason: "cannot read this file")
        }
        guard mode & 0o077 == 0 else {
            throw ValidationError(
                field: "pki", value: path,
                reason: "a private key readable by others (mode \(String(mode, radix: 8))): chmod 600 it")
        }
    }

    static func parseCertificate(_ text: String, file: String) throws(ValidationError) -> Certificate {
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw ValidationError(field: "pki", value: file, reason: "not a PEM certificate: \(error)")
        }
    }

    static func ipAddresses(of certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            guard case .ipAddress(let octets) = name else { return nil }
            return ipText(Array(octets.bytes))
        }
    }

    static func checkAddresses(_ addresses: [String], field: String) throws(ValidationError) {
        guard !addresses.isEmpty else {
            throw ValidationError(.missingField, field: field, value: "", reason: "give the node's IP address(es)")
        }
        for address in addresses where ipBytes(address) == nil {
            throw ValidationError(field: field, value: address, reason: "not an IPv4 or IPv6 address")
        }
    }

    static func ipBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func ipText(_ bytes: [UInt8]) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : bytes.count == 16 ? AF_INET6 : -1
        guard family != -1, inet_ntop(family, bytes, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func normalized(_ address: String) -> String { ipBytes(address).flatMap(ipText) ?? address }

    static func pem(_ certificate: Certificate) -> String {
        (try? certificate.serializeAsPEM().pemString) ?? ""
    }

    static func read(_ path: String) throws(ValidationError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError(
                field: "pki", value: path, reason: "cannot read this file (run vigil pki init or install a bundle)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func makeDirectory(_ path: String) throws(ValidationError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            _ = chmod(path, 0o700)
        } catch {
            throw ValidationError(field: "pki", value: path, reason: "cannot make the directory: \(error)")
        }
    }

    /// Writes `text` to `path` with `mode`: a temporary file in the same directory, fsync, rename.
    static func writeFile(_ path: String, _ text: String, mode: mode_t) throws(ValidationError) {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw ValidationError(
                field: "pki", value: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard offset == bytes.count, synced, fchmodat(AT_FDCWD, temporary, mode, 0) == 0,
            rename(temporary, path) == 0
        else {
            unlink(temporary)
            throw ValidationError(
                field: "pki", value: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }

    /// Runs `body`, turning an error of swift-certificates into a ValidationError about `what`.
    static func wrap<T>(_ what: String, _ body: () throws -> T) throws(ValidationError) -> T {
        do {
            return try body()
        } catch {
            throw ValidationError(field: "pki", value: what, reason: "cannot make it: \(error)")
        }
    }
}
