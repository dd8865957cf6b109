import ArgumentParser
import AsyncHTTPClient
import ClusterClient
import ClusterModel
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// Exit codes, for scripts: documented in `vigil --help`.
enum Exit {
    static let failed: Int32 = 1
    static let badInput: Int32 = 2
    static let refused: Int32 = 3
    static let comatose: Int32 = 4
    static let timedOut: Int32 = 5
    static let notFound: Int32 = 6
    static let denied: Int32 = 7
    static let unavailable: Int32 = 8
}

/// An error the CLI prints as one line and turns into its exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32
    var description: String { message }
}

/// How the CLI reaches an agent: the local Unix socket (as root), or HTTPS with a token or password.
struct Connection: ParsableArguments {
    @Option(help: "The node's configuration file (where the API socket is).")
    var config = "/etc/vigil/vigil.yaml"

    @Option(
        help: ArgumentHelp(
            "Talk to a remote agent over HTTPS instead of the local socket.", valueName: "https://HOST:7410"))
    var host: String?

    @Option(help: "User for --host (password from VIGIL_PASSWORD or asked).")
    var user: String?

    @Option(help: "Bearer token for --host (or VIGIL_TOKEN).")
    var token: String?

    @Option(help: "PEM file of the CA (or the agent's own certificate) to trust for --host.")
    var caFile: String?

    @Flag(help: "Do not verify the agent's certificate (a self-signed one, on a lab network).")
    var insecure = false

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    func client() throws -> APIClient {
        if let host {
            guard host.hasPrefix("https://") else {
                throw CLIError(message: "--host: value '\(host)': expected https://HOST:PORT", code: Exit.badInput)
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            if insecure { tls.certificateVerification = .none }
            if let caFile { tls.trustRoots = .file(caFile) }
            var authorization: String?
            var login: LoginRequest?
            if let token = token ?? ProcessInfo.processInfo.environment["VIGIL_TOKEN"] {
                authorization = "Bearer \(token)"
            } else if let user {
                // Exchanged for a token once (withClient): one password check per command, not per call.
                let password = try ProcessInfo.processInfo.environment["VIGIL_PASSWORD"] ?? Self.askPassword(for: user)
                login = LoginRequest(user: user, password: password)
            }
            return APIClient(
                base: host.hasSuffix("/") ? String(host.dropLast()) : host, authorization: authorization, tls: tls,
                login: login)
        }
        let socket: String
        if FileManager.default.fileExists(atPath: config) {
            do {
                socket = try LocalAgentConfig.socket(fromFile: config)
            } catch {
                throw CLIError(message: "\(config): \(error)", code: Exit.badInput)
            }
        } else {
            socket = LocalAgentConfig.defaultSocket
        }
        if FileManager.default.fileExists(atPath: socket), !FileManager.default.isWritableFile(atPath: socket) {
            throw CLIError(
                message:
                    "only root may use the local agent's socket \(socket); as another user, use --host https://NODE:7410 --user NAME",
                code: Exit.denied)
        }
        let encoded = socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket
        return APIClient(base: "http+unix://\(encoded)", authorization: nil, tls: nil, socket: socket)
    }

    static func askPassword(for user: String) throws -> String {
        try askPassword(prompt: "password for \(user): ")
    }

    /// Reads a password from the terminal without echo (getpass(3)).
    static func askPassword(prompt: String) throws -> String {
        guard let text = getpass(prompt) else {
            throw CLIError(message: "no password: set VIGIL_PASSWORD or run on a terminal", code: Exit.badInput)
        }
        return String(cString: text)
    }
}

/// What the CLI reads of the agent's configuration file: only `api.socket` (vigild checks the rest).
struct LocalAgentConfig: Decodable {
    struct API: Decodable { var socket: String? }
    var api: API?

    static let defaultSocket = "/run/vigil/vigil.sock"

    static func socket(fromFile path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // `YAMLDecoder` resolves merge keys (`<<`) with a regular expression, and ICU's first one
        // costs each command ~1.5 ms. Without a merge key, the plain tree reads the same value.
        guard !text.contains("<<") else {
            return try YAMLDecoder().decode(Self.self, from: text).api?.socket ?? defaultSocket
        }
        // What the full resolver reads as null (`~`, `null`, nothing) counts as absent, as in vigild.
        func present(_ node: Node?) -> Node? {
            guard let node, let scalar = node.scalar else { return node }
            let null = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
            return null ? nil : node
        }
        // A value as written: its line of the file, from where it starts.
        func written(_ node: Node) -> String {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard let mark = node.mark, lines.indices.contains(mark.line - 1) else { return "?" }
            return String(lines[mark.line - 1].unicodeScalars.dropFirst(mark.column - 1))
        }
        guard let api = present(try Yams.compose(yaml: text, .basic)?["api"]) else { return defaultSocket }
        guard api.mapping != nil else {
            throw CLIError(message: "api: value '\(written(api))': expected a mapping", code: Exit.badInput)
        }
        guard let socket = present(api["socket"]) else { return defaultSocket }
        guard let path = socket.scalar?.string else {
            throw CLIError(message: "api.socket: value '\(written(socket))': expected a path", code: Exit.badInput)
        }
        return path
    }
}

/// A small JSON client of the agent's API (AsyncHTTPClient, HTTP/1.1) on an event loop of its own:
/// one thread, where the shared group would start one per core for a single request.
final class APIClient: Sendable {
    let base: String
    let socket: String?
    let http: HTTPClient
    private let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// A user and password to exchange for a session token before the first call.
    let login: LoginRequest?
    private let session = Mutex<String?>(nil)

    init(
        base: String, authorization: String?, tls: TLSConfiguration?, socket: String? = nil, login: LoginRequest? = nil
    ) {
        self.base = base
        self.socket = socket
        self.login = login
        session.withLock { $0 = authorization }
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(60))
        http = HTTPClient(eventLoopGroup: loop, configuration: configuration)
    }

    var authorization: String? { session.withLock { $0 } }

    func close() async {
        try? await http.shutdown()
        try? await loop.shutdownGracefully()
    }

    /// Exchanges the password for a bearer token, used for every later call.
    func logIn() async throws {
        guard let login else { return }
        let grant = try await post(SessionGrant.self, "/v1/sessions", login)
        session.withLock { $0 = "Bearer \(grant.token)" }
    }

    /// Ends the session `logIn` opened (best effort: it would expire by itself).
    func logOut() async {
        guard login != nil, authorization != nil else { return }
        _ = try? await send(.DELETE, "/v1/sessions", raw: nil, timeout: .seconds(5))
    }

    /// Sends a request; a non-2xx answer becomes a `CLIError` naming the field, with its exit code.
    func send(
        _ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<String>.none,
        timeout: Duration = .seconds(30)
    ) async throws -> [UInt8] {
        try await send(method, path, raw: body.map { ModelCodec.encode($0) }, timeout: timeout)
    }

    /// Sends a body of JSON bytes as they are (nil: no body).
    func send(
        _ method: HTTPMethod, _ path: String, raw: [UInt8]?, headers: [(String, String)] = [],
        timeout: Duration = .seconds(30)
    ) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let raw {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(raw)
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
        } catch {
            let target = socket.map { "the local agent (\($0))" } ?? base
            throw CLIError(message: "cannot reach \(target): \(error) — is vigild running?", code: Exit.unavailable)
        }
        let bytes = Array(try await response.body.collect(upTo: 64 * 1024 * 1024).readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            let detail = try? JSONDecoder().decode(APIErrorBody.self, from: Data(bytes)).error
            let message =
                detail.map { $0.field.isEmpty ? $0.reason : "field '\($0.field)': value '\($0.value)': \($0.reason)" }
                ?? "HTTP \(response.status.code)"
            let code: Int32 =
                switch response.status.code {
                case 400, 413: Exit.badInput
                case 409, 412: Exit.refused
                case 401, 403: Exit.denied
                case 404: Exit.notFound
                case 503, 429: Exit.unavailable
                default: Exit.failed
                }
            throw CLIError(message: message, code: code)
        }
        return bytes
    }

    func get<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        try decode(T.self, try await send(.GET, path))
    }

    func post<T: Decodable>(_ type: T.Type, _ path: String, _ body: some Encodable) async throws -> T {
        try decode(T.self, try await send(.POST, path, body: body))
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw CLIError(message: "unexpected answer from the agent: \(error)", code: Exit.failed)
        }
    }

    /// Streams the lines of a long answer (server-sent events).
    func lines(_ path: String, _ each: (String) -> Void) async throws {
        var request = HTTPClientRequest(url: base + path)
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let response = try await http.execute(request, timeout: .hours(24 * 365))
        guard response.status == .ok else { throw CLIError(message: "HTTP \(response.status.code)", code: Exit.failed) }
        var pending = ""
        for try await buffer in response.body {
            pending += String(buffer: buffer)
            while let newline = pending.firstIndex(of: "\n") {
                each(String(pending[..<newline]))
                pending = String(pending[pending.index(after: newline)...])
            }
        }
    }
}

/// Runs `body` with a client, closing it after; `CLIError`s become their exit code.
func withClient(_ connection: Connection, _ body: (APIClient) async throws -> Void) async throws {
    let client: APIClient
    do {
        client = try connection.client()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("vigil: \(error.message)\n".utf8))
        throw ExitCode(error.code)
    }
    do {
        try await client.logIn()
        try await body(client)
        await client.logOut()
        await client.close()
    } catch let error as CLIError {
        await client.logOut()
        await client.close()
        FileHandle.standardError.write(Data("vigil: \(error.message)\n".utf8))
        throw ExitCode(error.code)
    } catch {
        await client.logOut()
        await client.close()
        throw error
    }
}

/// Prints `rows` under `header` in aligned columns (padded with spaces, the last one not), in one
/// write (500 rows of `vigil status`).
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    var text = ""
    for row in [header] + rows {
        for (index, (cell, width)) in zip(row, widths).enumerated() {
            text += cell
            if index < row.count - 1 { text += String(repeating: " ", count: max(0, width + 2 - cell.count)) }
        }
        text += "\n"
    }
    print(text, terminator: "")
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self))
}

/// `2026-12-03 03:13:53` in the local time zone; `-` for none. With `milliseconds`: `…:53.123`.
///
/// A format style, not a `DateFormatter` per call: `vigil status` of 500 resources spent ~50 ms
/// making formatters.
func formatTime(_ time: Int64?, milliseconds: Bool = false) -> String {
    guard let time else { return "-" }
    let (seconds, rest) = wholeSeconds(time)
    let text = Date(timeIntervalSince1970: Double(seconds)).formatted(localTimeStyle)
    return milliseconds ? text + "." + threeDigits(rest) : text
}

private let localTimeStyle = Date.ISO8601FormatStyle(
    dateSeparator: .dash, dateTimeSeparator: .space, timeSeparator: .colon, timeZone: .current
).year().month().day().time(includingFractionalSeconds: false)

func escapePath(_ name: String) -> String {
    name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "_-."))) ?? name
}
