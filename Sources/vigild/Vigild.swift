import ArgumentParser
import ClusterAPI
import ClusterModel
import ClusterPKI
import EtcdStore
import Foundation
import Logging
import Metrics
import NIOSSL
import NodeAgent
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// vigild: the node agent. One ServiceGroup: the managed etcd member (if any), then the agent;
/// SIGTERM/SIGINT stop them in reverse order (the agent hands its resources over first).
@main
struct Vigild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigild",
        abstract: "The Vigil node agent: heartbeats, self-fencing, resource scripts, the API and console.",
        discussion: """
            Started by systemd (vigild.service, Type=notify: ready once the node has joined the cluster \
            or is waiting for `vigil join`). Exit status: 0 stopped cleanly, 1 failed, 2 bad configuration \
            or PKI, 64 bad arguments.
            """,
        version: VigilVersion.current)

    enum Level: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
        var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
    }

    @Option(help: "The node's configuration file.")
    var config = "/etc/vigil/vigil.yaml"

    @Flag(help: "Check the configuration (and the cluster PKI of a managed store), print a summary and exit.")
    var checkConfig = false

    @Option(help: "The lowest level logged.")
    var logLevel: Level = .info

    @Option(help: "The script function library (default: /usr/lib/vigil/vigilfuncs, or next to the binary).")
    var functions: String?

    func run() async throws {
        let configPath = config
        let configuration: AgentConfiguration
        do {
            configuration = try AgentConfiguration.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("vigild: \(configPath): \(error)\n".utf8))
            throw ExitCode(2)
        }
        // A managed store is closed (docs/design/0015): the cluster PKI must be in place and name this
        // node's addresses before anything starts.
        var pkiSummary = ""
        if configuration.store.managed, configuration.storeUsesTLS {
            do {
                let checked = try ClusterPKI.check(
                    PKIDirectory(configuration.pki), cluster: configuration.cluster,
                    addresses: configuration.ownAddresses)
                pkiSummary = ", certificate valid until \(checked.notValidAfter)"
            } catch {
                FileHandle.standardError.write(Data("vigild: \(configPath): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let openEndpoints = configuration.storeEndpoints.filter { $0.hasPrefix("http://") }
        let openWarning =
            openEndpoints.isEmpty
            ? nil
            : "WARNING: store endpoints without TLS (\(openEndpoints.joined(separator: ", "))): anyone who can reach them can read and rewrite the cluster; use https:// with client certificates"
        let metricsToken: String?
        do {
            metricsToken = try configuration.api.metricsToken()
        } catch {
            FileHandle.standardError.write(Data("vigild: \(configPath): \(error)\n".utf8))
            throw ExitCode(2)
        }
        if checkConfig {
            if let openWarning { FileHandle.standardError.write(Data("vigild: \(configPath): \(openWarning)\n".utf8)) }
            print(
                "\(configPath): ok (node \(configuration.node), cluster \(configuration.cluster), store \(configuration.store.managed ? (configuration.storeUsesTLS ? "managed, TLS" : "managed, OPEN") : "external")\(pkiSummary))"
            )
            return
        }

        let level = logLevel.level
        // Under systemd, lines for the journal with their priority; otherwise plain stderr lines.
        let journal = JournalLogHandler.journalIsStderr()
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "vigild")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(VigilMetricsFactory(registry: registry))
        Gauge(label: "vigil_build_info", dimensions: [("version", VigilVersion.current)]).record(1)

        // The function library: next to the binary (installed layout) or given explicitly.
        let executableDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let functionLibrary =
            self.functions
            ?? [
                "/usr/lib/vigil/vigilfuncs", executableDirectory + "/vigilfuncs",
                FileManager.default.currentDirectoryPath + "/scripts/vigilfuncs",
            ]
            .first { FileManager.default.fileExists(atPath: $0) } ?? "/usr/lib/vigil/vigilfuncs"

        var password: String?
        if let file = configuration.store.passwordFile {
            password = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
        if let openWarning { logger.critical("\(openWarning)") }
        var tls: TLSConfiguration?
        let storeTLS = configuration.storeTLS
        if storeTLS.ca != nil || storeTLS.certificate != nil {
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.minimumTLSVersion = .tlsv12
            do {
                if let ca = storeTLS.ca { settings.trustRoots = .file(ca) }
                if let cert = storeTLS.certificate, let key = storeTLS.key {
                    settings.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                    settings.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                }
            } catch {
                FileHandle.standardError.write(Data("vigild: \(configPath): store TLS files: \(error)\n".utf8))
                throw ExitCode(2)
            }
            tls = settings
        }
        let timing = configuration.timing
        let storeConfiguration = EtcdConfiguration(
            endpoints: configuration.storeEndpoints, requestTimeout: timing.selfFenceAfter.duration,
            attemptTimeout: max(timing.etcdElection.duration / 2, .milliseconds(100)),
            username: configuration.store.username,
            password: password, tls: tls)
        let httpClient = EtcdStore.makeHTTPClient(for: storeConfiguration)
        let store = EtcdStore(configuration: storeConfiguration, client: httpClient, logger: logger)
        // The fence path's own thread and etcd connection: heartbeats and the self-fence deadline never
        // wait for the API, scripts or a busy thread pool (docs/design/0012).
        let fenceThread = FenceKeeper.Thread()
        let fenceClient = EtcdStore.makeHTTPClient(for: storeConfiguration, eventLoopGroup: fenceThread.group)
        let fenceStore = EtcdStore(configuration: storeConfiguration, client: fenceClient, logger: logger)
        logger.info("fence thread started", metadata: ["vigil.priority": "\(fenceThread.priority)"])
        // A pipe closed early by a child (ip -batch) must not kill the agent.
        signal(SIGPIPE, SIG_IGN)
        raiseOpenFileLimit(logger: logger)

        var services: [any Service] = []
        // The log directory holds the managed member's output and the scripts' (created here when
        // not installed by the package or systemd's LogsDirectory=).
        try? FileManager.default.createDirectory(
            atPath: configuration.logDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750])
        // A third writer of this node's events (the agent counts from 0, the API from 50,000,000):
        // far apart, so their keys never meet.
        let supervisorEvents = EventLog(
            store: store, layout: KeyLayout(cluster: configuration.cluster), node: configuration.node,
            firstSequence: 1 << 50, logger: logger)
        if configuration.store.managed {
            do {
                services.append(
                    try EtcdSupervisor(
                        member: configuration.managedEtcd, executable: configuration.store.etcdBinary,
                        logFile: configuration.logDirectory + "/etcd.log", logger: logger,
                        onExit: { message in
                            await supervisorEvents.append(
                                ClusterEvent(kind: .membership, node: configuration.node, message: message))
                        }))
            } catch {
                FileHandle.standardError.write(Data("vigild: \(configPath): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let scripts = ScriptRunner(
            settings: ScriptRunner.Settings(
                node: configuration.node, cluster: configuration.cluster,
                scriptDirectory: configuration.stateDirectory + "/scripts", logDirectory: configuration.logDirectory,
                functionLibrary: functionLibrary),
            logger: logger)
        let agent = ClusterAgent(
            configuration: configuration, store: store, scripts: scripts, addresses: AddressManager(logger: logger),
            fenceThread: fenceThread, fenceStore: fenceStore, logger: logger,
            onReady: { status in SystemdNotify.send("READY=1\nSTATUS=\(status)") })
        services.append(agent)
        do {
            let control = ClusterControl(
                store: store, layout: KeyLayout(cluster: configuration.cluster), node: configuration.node,
                logDirectory: configuration.logDirectory, mirror: agent.mirror)
            var apiLogger = logger
            apiLogger.logLevel = max(level, .notice)
            services.append(
                Notifier(
                    store: store, layout: KeyLayout(cluster: configuration.cluster), node: configuration.node,
                    logger: logger))
            services += try APIServer.services(
                builder: APIRouterBuilder(
                    control: control, registry: registry, health: { agent.inGoodStanding },
                    beforeScrape: {
                        Gauge(label: "vigil_in_good_standing").record(agent.inGoodStanding ? 1 : 0)
                        let contacts = [store.lastContact, fenceStore.lastContact].compactMap { $0 }
                        if let last = contacts.max() {
                            let seconds = ContinuousClock.now - last
                            Gauge(label: "vigil_store_last_contact_seconds").record(
                                Double(seconds.components.seconds) + Double(seconds.components.attoseconds) / 1e18)
                        }
                    }, metricsToken: metricsToken),
                configuration: configuration.api,
                stateDirectory: configuration.stateDirectory, pki: PKIDirectory(configuration.pki).nodePair,
                logger: apiLogger)
        } catch {
            FileHandle.standardError.write(Data("vigild: \(configPath): api: \(error)\n".utf8))
            throw ExitCode(2)
        }

        // Last, so it hears of a shutdown first: tells systemd the agent is stopping (the hand-over
        // of its resources may take a while).
        var configurations = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        configurations.append(
            .init(service: StoppingNotice(handOver: { agent.handOverTime }), successTerminationBehavior: .ignore))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: configurations,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("vigild stopped with an error", metadata: ["vigil.error": "\(error)"])
        }
        do {
            try await httpClient.shutdown().get()
            try await fenceClient.shutdown().get()
        } catch {
            logger.debug("HTTP client shutdown", metadata: ["vigil.error": "\(error)"])
        }
        fenceThread.shutdown()
    }
}

/// Many API connections each hold a descriptor: raise the soft limit to 65536 (root may raise the
/// hard one too), never lower it, and never to "unlimited" (children that close every descriptor up
/// to the limit would take forever).
func raiseOpenFileLimit(logger: Logger) {
    // Computed here: a global of main.swift would not be set yet when this runs.
    let nofile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    var limit = rlimit()
    guard getrlimit(nofile, &limit) == 0 else { return }
    let target: rlim_t = 65536
    if limit.rlim_cur < target {
        var raised = rlimit(rlim_cur: target, rlim_max: max(limit.rlim_max, target))
        if setrlimit(nofile, &raised) != 0 {
            raised = rlimit(rlim_cur: min(limit.rlim_max, target), rlim_max: limit.rlim_max)
            _ = setrlimit(nofile, &raised)
        }
        _ = getrlimit(nofile, &limit)
    }
    logger.info("open file limit", metadata: ["vigil.nofile": "\(limit.rlim_cur)"])
}

/// Sends systemd STOPPING=1 when a graceful shutdown begins, and extends the stop timeout to
/// what the hand-over may take (the longest unload held: up to 60 min, far above the unit's
/// TimeoutStopSec, which covers the defaults).
struct StoppingNotice: Service {
    let handOver: @Sendable () -> Duration

    func run() async throws {
        try? await gracefulShutdown()
        let microseconds = handOver().components.seconds * 1_000_000
        SystemdNotify.send("STOPPING=1\nEXTEND_TIMEOUT_USEC=\(microseconds)\nSTATUS=handing resources over")
    }
}
