import ClusterClient
import ClusterModel
import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import NodeAgent
import Prometheus
import ServiceLifecycle
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// The API's listeners for `vigild`: the root-only Unix socket and, unless turned off, HTTPS.
public enum APIServer {
    /// Bounds of the HTTPS listener.
    public enum Limits {
        public static let handshake: TimeAmount = .seconds(5)
        public static let idle: TimeAmount = .seconds(30)
        public static let connections = 256
    }

    /// The Hummingbird applications to run in the agent's service group.
    public static func services(
        builder: APIRouterBuilder, configuration: AgentConfiguration.API, stateDirectory: String,
        pki: (certificate: String, key: String)? = nil, logger: Logger
    ) throws -> [any Service] {
        var services: [any Service] = []
        let socket = configuration.socket
        try prepareSocket(socket)
        services.append(
            Application(
                router: builder.router(local: true),
                server: .http1(
                    configuration: HTTP1Channel.Configuration(
                        additionalChannelHandlers: [PeerMustBeRoot(logger: logger)])),
                configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socket), serverName: "vigil"),
                onServerRunning: { _ in
                    // Only root may connect: the socket's callers act as root.
                    _ = chmod(socket, 0o600)
                },
                logger: logger))
        if let (host, port) = try configuration.listenAddress() {
            // The configured pair, else the node's certificate from the cluster CA (clients verify it
            // with `--ca-file ca.pem`), else a self-signed one.
            let (certificate, key): (String, String)
            if configuration.certFile == nil, let pki {
                (certificate, key) = pki
            } else {
                (certificate, key) = try certificateFiles(
                    configuration: configuration, stateDirectory: stateDirectory, logger: logger)
            }
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tls.minimumTLSVersion = .tlsv12
            // Bounded (docs/design/0012): a connection that has not finished its TLS handshake within
            // 5 s, or is idle for 30 s between requests, is closed; at most 256 at once.
            let http1 = HTTP1Channel.Configuration(
                additionalChannelHandlers: [HandshakeDeadline(limit: Limits.handshake)], idleTimeout: Limits.idle)
            services.append(
                Application(
                    router: builder.router(local: false),
                    server: try .tls(.http1(configuration: http1), tlsConfiguration: tls),
                    configuration: ApplicationConfiguration(
                        address: .hostname(host, port: port), serverName: "vigil",
                        availableConnectionsDelegate: MaximumAvailableConnections(Limits.connections, logger: logger)),
                    logger: logger))
        }
        return services
    }

    /// The socket's directory exists (made 0700 if new); a stale socket file is removed.
    static func prepareSocket(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }

    /// The configured certificate and key, or a self-signed pair made once in `<state>/api/`.
    static func certificateFiles(
        configuration: AgentConfiguration.API, stateDirectory: String, logger: Logger
    ) throws -> (String, String) {
        if let certificate = configuration.certFile, let key = configuration.keyFile { return (certificate, key) }
        let directory = stateDirectory + "/api"
        let certificate = directory + "/cert.pem"
        let key = directory + "/key.pem"
        if FileManager.default.fileExists(atPath: certificate), FileManager.default.fileExists(atPath: key) {
            return (certificate, key)
        }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let (certificatePEM, keyPEM) = try selfSigned(hostName: ProcessInfo.processInfo.hostName)
        guard
            FileManager.default.createFile(
                atPath: key, contents: Data(keyPEM.utf8), attributes: [.posixPermissions: 0o600]),
            FileManager.default.createFile(
                atPath: certificate, contents: Data(certificatePEM.utf8), attributes: [.posixPermissions: 0o644])
        else {
            throw ValidationError(
                field: "stateDirectory", value: directory, reason: "cannot write the API certificate there")
        }
        logger.notice("made a self-signed API certificate", metadata: ["vigil.file": "\(certificate)"])
        return (certificate, key)
    }

    /// A P-256 key and a self-signed certificate for it, valid ten years, as PEM.
    public static func selfSigned(hostName: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName("vigil \(hostName)")
            OrganizationName("Vigil cluster")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 10 * 365 * 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames([.dnsName(hostName), .dnsName("localhost")])
            },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}

/// Closes a connection whose TLS handshake has not completed within `limit` of its start.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let limit: TimeAmount
    private var timer: Scheduled<Void>?

    init(limit: TimeAmount) { self.limit = limit }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            timer?.cancel()
            timer = nil
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The Unix socket's callers act as root: besides the socket's mode (0600), each connection's
/// peer must be root by the kernel's word (`SO_PEERCRED`), or it is closed before any request.
final class PeerMustBeRoot: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// `struct ucred` (pid, uid, gid), read with getsockopt.
    struct Credentials: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = .max
        var gid: UInt32 = .max
    }

    private var verified = false
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func channelActive(context: ChannelHandlerContext) {
        guard let provider = context.channel as? any SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        let future: EventLoopFuture<Credentials> = provider.unsafeGetSocketOption(
            level: .init(rawValue: SOL_SOCKET), name: .init(rawValue: SO_PEERCRED))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        future.whenComplete { result in
            let (handler, context) = loopBound.value
            if case .success(let peer) = result, peer.uid == 0 {
                handler.verified = true
                context.fireChannelActive()
            } else {
                if case .success(let peer) = result {
                    handler.logger.warning(
                        "API socket: a connection from a process not run by root was closed",
                        metadata: ["vigil.uid": "\(peer.uid)", "vigil.pid": "\(peer.pid)"])
                }
                context.close(promise: nil)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard verified else { return }
        context.fireChannelRead(data)
    }
}
