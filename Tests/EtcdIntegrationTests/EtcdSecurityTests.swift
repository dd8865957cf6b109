import AsyncHTTPClient
import ClusterTestKit
import CoordinationStore
import EtcdStore
import Foundation
import NIOSSL
import Testing

/// Runs a command, failing the test with its output if it fails.
@discardableResult
func shell(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw EtcdTestCluster.Failure(description: "\(arguments.joined(separator: " ")) failed: \(output)")
    }
    return output
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
func makeCertificates(in directory: String) throws -> (ca: String, server: (String, String), client: (String, String)) {
    func path(_ name: String) -> String { directory + "/" + name }
    try shell([
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=vigil-test-ca",
        "-keyout", path("ca.key"), "-out", path("ca.pem"),
    ])
    for (name, extensions) in [
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ] {
        try Data(extensions.utf8).write(to: URL(fileURLWithPath: path(name + ".ext")))
        // No CN on the client certificate: with authentication on, etcd 3.4's gateway refuses
        // requests whose client certificate carries a CN ("CommonName … will be ignored").
        let subject = name == "client" ? "/O=vigil-client" : "/CN=vigil-\(name)"
        try shell([
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", path(name + ".key"), "-out",
            path(name + ".csr"),
        ])
        try shell([
            "openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", path(name + ".ext"), "-out", path(name + ".pem"),
        ])
    }
    return (path("ca.pem"), (path("server.pem"), path("server.key")), (path("client.pem"), path("client.key")))
}

@Suite("etcd security options", .serialized)
struct EtcdSecurityTests {
    @Test("TLS with a client certificate, and user/password authentication", .timeLimit(.minutes(2)))
    func tlsAndAuthentication() async throws {
        let base = ProcessInfo.processInfo.environment["VIGIL_TEST_TMP"] ?? NSTemporaryDirectory()
        let directory = base + "/vigil-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try makeCertificates(in: directory)
        let cluster = try EtcdTestCluster(
            size: 1,
            tls: .init(
                certificate: certificates.server.0, key: certificates.server.1, certificateAuthority: certificates.ca))
        defer { cluster.stop() }
        try await cluster.start()

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificates.ca)
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificates.client.0).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: certificates.client.1, format: .pem))

        func withStore<T>(
            username: String? = nil, password: String? = nil, tls: TLSConfiguration?,
            _ body: (EtcdStore) async throws -> T
        ) async throws -> T {
            let configuration = EtcdConfiguration(
                endpoints: cluster.endpoints, requestTimeout: .seconds(3), username: username, password: password,
                tls: tls)
            let client = EtcdStore.makeHTTPClient(for: configuration)
            do {
                let result = try await body(EtcdStore(configuration: configuration, client: client))
                try await client.shutdown()
                return result
            } catch {
                try await client.shutdown()
                throw error
            }
        }

        // TLS with the client certificate works (retry while the member starts).
        try await withStore(tls: tls) { store in
            try await putRetrying(store, "/tls", "ok", limit: .seconds(15))
            #expect(try await store.get("/tls")?.value == Array("ok".utf8))
        }
        // Without the client certificate the member refuses the connection.
        var noCertificate = TLSConfiguration.makeClientConfiguration()
        noCertificate.trustRoots = .file(certificates.ca)
        await #expect(throws: StoreError.self) {
            try await withStore(tls: noCertificate) { try await $0.put("/tls", Array("x".utf8)) }
        }

        // Turn on authentication with etcdctl (root user), then use it through the client.
        let etcdctl = [
            "env", "ETCDCTL_API=3", "etcdctl", "--endpoints", cluster.endpoints[0], "--cacert", certificates.ca,
            "--cert", certificates.client.0, "--key", certificates.client.1,
        ]
        try shell(Array(etcdctl.dropFirst()) + ["user", "add", "root:s3cret-pass"])
        try shell(Array(etcdctl.dropFirst()) + ["user", "grant-role", "root", "root"])
        try shell(Array(etcdctl.dropFirst()) + ["auth", "enable"])
        try await withStore(username: "root", password: "s3cret-pass", tls: tls) { store in
            try await store.put("/auth", Array("ok".utf8))
            #expect(try await store.get("/auth")?.value == Array("ok".utf8))
        }
        await #expect {
            try await withStore(username: "root", password: "wrong", tls: tls) {
                try await $0.put("/auth", Array("x".utf8))
            }
        } throws: { ($0 as? StoreError)?.code == .unauthorized }
        await #expect {
            try await withStore(tls: tls) { try await $0.put("/auth", Array("x".utf8)) }
        } throws: { ($0 as? StoreError)?.code == .unauthorized }
    }
}
