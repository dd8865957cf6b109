import AsyncHTTPClient
import ClusterClient
import ClusterModel
import CoordinationStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Sends cluster events to the administrators, as NCS's notification settings: e-mail through an
/// SMTP relay and JSON webhooks, for critical events or all (`vigil set enableemail …`).
///
/// Every agent watches the event log and sends the events it wrote itself, so each event goes out
/// once whatever happens to the master meanwhile (the master writes the cluster's decisions:
/// evictions, failovers). An event is lost only if its writer dies between writing and sending.
public final class Notifier: Service, Sendable {
    let store: any CoordinationStore
    let layout: KeyLayout
    let node: NodeName
    let http: HTTPClient
    let logger: Logger

    public init(store: any CoordinationStore, layout: KeyLayout, node: NodeName, logger: Logger) {
        self.store = store
        self.layout = layout
        self.node = node
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(5))
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.watchEvents()
        }
        try? await http.shutdown()
    }

    static let watchRestart: Duration = .seconds(10)

    /// Follows the event log from now on, resuming after errors (bounded pause between attempts).
    func watchEvents() async {
        var from: Int64?
        while !Task.isCancelled {
            do {
                let start: Int64
                if let from {
                    start = from
                } else {
                    // Only the store's revision is needed: read one small key, not the whole log.
                    start = try await store.range(prefix: layout.config).revision + 1
                }
                from = start
                // Reopened after 10 s of silence: a watch whose connection died in a partition
                // would otherwise never deliver again (and notifications would stop).
                for try await batch in store.resumingWatch(
                    prefix: layout.eventsPrefix, fromRevision: start, restartAfter: Self.watchRestart)
                {
                    let events = batch.filter { $0.kind == .put }.compactMap {
                        try? ModelCodec.decode(StoredEvent.self, from: $0.keyValue.value)
                    }
                    if let last = batch.last { from = last.keyValue.modRevision + 1 }
                    if !events.isEmpty { await deliver(events) }
                }
            } catch let error as StoreError {
                if case .compacted = error.code { from = nil }
                logger.debug("notification watch interrupted", metadata: ["vigil.error": "\(error)"])
            } catch {
                logger.debug("notification watch interrupted", metadata: ["vigil.error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Sends those of `events` this node wrote, if the settings ask for them.
    func deliver(_ events: [StoredEvent]) async {
        let events = events.filter { $0.event.node == node }
        guard !events.isEmpty else { return }
        let settings = (try? await store.get(layout.config)).flatMap {
            $0.flatMap { try? ModelCodec.decode(ClusterSettings.self, from: $0.value) }
        }
        guard let notification = settings?.notification, notification.level != .off else { return }
        for event in events where notification.level == .verbose || Self.isCritical(event) {
            await send(event, notification)
        }
    }

    func send(_ event: StoredEvent, _ settings: NotificationSettings) async {
        let subject =
            "[vigil \(layout.cluster)] \(event.event.kind.rawValue)\(event.event.resource.map { " \($0)" } ?? ""): \(event.event.message)"
        if let relay = settings.smtpRelay, !settings.emailAddresses.isEmpty {
            var body =
                "Cluster: \(layout.cluster)\nNode: \(event.event.node)\nTime: \(ClusterControl.isoTime(event.time))\n"
            body +=
                "Kind: \(event.event.kind.rawValue)\nSeverity: \(event.event.severity.rawValue)\n"
                + (event.event.resource.map { "Resource: \($0)\n" } ?? "") + "\n\(event.event.message)\n"
            for line in event.output ?? [] { body += "  | \(line)\n" }
            do {
                try await SMTPClient.send(
                    relay: relay, from: settings.sender, to: settings.emailAddresses,
                    subject: String(subject.prefix(200)), body: body, helo: SMTPClient.heloName(fallback: node.rawValue)
                )
            } catch {
                logger.warning(
                    "notification e-mail not sent", metadata: ["vigil.relay": "\(relay)", "vigil.error": "\(error)"])
            }
        }
        for url in settings.webhooks {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let payload = WebhookPayload(
                cluster: layout.cluster, subject: subject, event: EventEntry(cursor: "", stored: event))
            request.body = .bytes(ModelCodec.encode(payload))
            do {
                let response = try await http.execute(request, timeout: .seconds(5))
                if !(200..<300).contains(response.status.code) {
                    logger.warning("webhook answered \(response.status.code)", metadata: ["vigil.webhook": "\(url)"])
                }
            } catch {
                logger.warning("webhook not reached", metadata: ["vigil.webhook": "\(url)", "vigil.error": "\(error)"])
            }
        }
    }

    /// Critical (the severity the brain gave it): fencing, alerts waiting for an administrator,
    /// failed loads and unloads, Comatose resources, failovers, evicted nodes.
    public static func isCritical(_ event: StoredEvent) -> Bool {
        event.event.severity == .critical
    }
}

public struct WebhookPayload: Codable, Sendable {
    public var cluster: String
    public var subject: String
    public var event: EventEntry
}

/// A minimal SMTP client (RFC 5321: EHLO, MAIL, RCPT, DATA, QUIT; no authentication or TLS: it
/// hands mail to a relay such as the node's Postfix or Exim at 127.0.0.1:25 or [::1]:25, as NCS
/// does — the relay, not /usr/sbin/sendmail, so the agent never forks for mail and a slow MTA is
/// bounded by the 15 s limit). No SMTP library is available here.
enum SMTPClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func parseRelay(_ relay: String) throws -> (host: String, port: Int) {
        guard let address = NotificationSettings.relayAddress(relay) else {
            throw Failure(description: "relay \(relay): expected host:port or [IPv6 address]:port")
        }
        return address
    }

    /// The name this machine gives in EHLO: its host name (the node's name if it has none).
    static func heloName(fallback: String) -> String {
        let name = ProcessInfo.processInfo.hostName
        return name.isEmpty || name == "localhost" ? fallback : name
    }

    /// The message: MIME 1.0, UTF-8 text (8bit), the subject encoded per RFC 2047 when not ASCII,
    /// a Message-ID; lines dot-stuffed and ending in CRLF.
    static func message(from: String, to recipients: [String], subject: String, body: String, date: Date, host: String)
        -> String
    {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let flat = subject.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        let encoded =
            flat.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 32 }
            ? flat : "=?UTF-8?B?\(Data(flat.utf8).base64EncodedString())?="
        var message = "From: <\(from)>\r\nTo: \(recipients.map { "<\($0)>" }.joined(separator: ", "))\r\n"
        message += "Subject: \(encoded)\r\nDate: \(formatter.string(from: date))\r\n"
        message += "Message-ID: <\(UUID().uuidString.lowercased())@\(host)>\r\n"
        message +=
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        // Dot-stuffing: a line starting with "." gets another.
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            message += (line.hasPrefix(".") ? "." : "") + line + "\r\n"
        }
        return message
    }

    static func send(
        relay: String, from: String, to recipients: [String], subject: String, body: String, helo: String
    ) async throws {
        let (host, port) = try parseRelay(relay)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(15))
                throw Failure(description: "relay \(relay) took longer than 15 s")
            }
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    var replies = Replies(iterator: inbound.makeAsyncIterator())
                    func command(_ line: String?, expect: Int) async throws {
                        if let line { try await outbound.write(ByteBuffer(string: line + "\r\n")) }
                        let code = try await replies.next()
                        guard code / 100 == expect / 100 else {
                            throw Failure(description: "relay answered \(code) to \(line ?? "greeting")")
                        }
                    }
                    try await command(nil, expect: 220)
                    try await command("EHLO \(helo)", expect: 250)
                    try await command("MAIL FROM:<\(from)>", expect: 250)
                    for recipient in recipients { try await command("RCPT TO:<\(recipient)>", expect: 250) }
                    try await command("DATA", expect: 354)
                    try await outbound.write(
                        ByteBuffer(
                            string: message(
                                from: from, to: recipients, subject: subject, body: body, date: Date(), host: helo)))
                    try await command(".", expect: 250)
                    try await command("QUIT", expect: 221)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Reads SMTP replies: lines `NNN-text` continue, `NNN text` ends a reply.
    struct Replies {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var pending = ""

        mutating func next() async throws -> Int {
            for _ in 0..<1000 {
                while let end = pending.range(of: "\r\n") {
                    let line = String(pending[..<end.lowerBound])
                    pending = String(pending[end.upperBound...])
                    guard line.count >= 3, let code = Int(line.prefix(3)) else {
                        throw Failure(description: "not an SMTP reply: \(line.prefix(80))")
                    }
                    if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " { return code }
                }
                guard let buffer = try await iterator.next() else {
                    throw Failure(description: "the relay closed the connection")
                }
                pending += String(buffer: buffer)
                if pending.utf8.count > 64 * 1024 { throw Failure(description: "the relay's reply is too long") }
            }
            throw Failure(description: "the relay's reply has too many lines")
        }
    }
}
