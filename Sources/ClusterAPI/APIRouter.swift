import ClusterClient
import ClusterModel
import CoordinationStore
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus

/// One route of the API: the table the router is built from and the OpenAPI document is written from.
public struct APIRoute: Sendable, Hashable {
    public var method: HTTPRequest.Method
    /// OpenAPI form: `/v1/resources/{name}`.
    public var path: String
    public var summary: String
    /// The JSON shape of the request body, if any (a name in the OpenAPI components).
    public var body: String?
    /// The JSON shape of a successful answer.
    public var answer: String?
    /// The status of a successful answer.
    public var success: Int = 200

    public var key: String { "\(method.rawValue) \(path)" }
    /// Hummingbird form: `/v1/resources/:name`.
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map {
            $0.hasPrefix("{") ? ":" + $0.dropFirst().dropLast() : $0
        }.joined(separator: "/")
    }
}

/// Builds the router of the REST API `/v1` for one listener.
public struct APIRouterBuilder: Sendable {
    public let control: ClusterControl
    public let authenticator: Authenticator
    public let registry: PrometheusCollectorRegistry?
    /// Whether this node is a member in good standing with the store (`/healthz`); nil: the
    /// router serves no agent (tests), and answers 200.
    public let health: (@Sendable () -> Bool)?
    /// Records the gauges read at scrape time (store contact, standing) before `/metrics` answers.
    public let beforeScrape: (@Sendable () -> Void)?
    /// SHA-256 of the token that may read `/metrics` only (`api.metricsTokenFile`), if any.
    let metricsTokenHash: String?

    public init(
        control: ClusterControl, registry: PrometheusCollectorRegistry? = nil, health: (@Sendable () -> Bool)? = nil,
        beforeScrape: (@Sendable () -> Void)? = nil, metricsToken: String? = nil
    ) {
        self.metricsTokenHash = metricsToken.map { Authenticator.hash(token: $0) }
        self.health = health
        self.beforeScrape = beforeScrape
        self.control = control
        self.authenticator = Authenticator(
            store: control.store, layout: control.layout,
            onBurst: { message in await control.record(user: "anonymous", resource: nil, message) })
        self.registry = registry
    }

    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response

    /// Every route, in the order the OpenAPI document lists them.
    public static let routes: [APIRoute] = [
        APIRoute(
            method: .get, path: "/healthz",
            summary:
                "200 while this node is a member in good standing with the store, else 503 (no authentication, for load balancers)",
            answer: "Health"),
        APIRoute(method: .get, path: "/metrics", summary: "Prometheus metrics of this node"),
        APIRoute(method: .get, path: "/v1/openapi.json", summary: "This document"),
        APIRoute(
            method: .get, path: "/v1/cluster", summary: "Cluster view: name, epoch, master, nodes, resources",
            answer: "ClusterStatus"),
        APIRoute(
            method: .get, path: "/v1/nodes", summary: "Nodes with membership and the resources they hold",
            answer: "NodeState[]"),
        APIRoute(
            method: .post, path: "/v1/nodes/{name}/leave",
            summary: "The node hands its resources over and stays out until join", success: 204),
        APIRoute(
            method: .post, path: "/v1/nodes/{name}/join", summary: "The node joins the cluster again", success: 204),
        APIRoute(
            method: .post, path: "/v1/cluster/down",
            summary: "Every node leaves the cluster (each comes back with join)", success: 204),
        APIRoute(
            method: .post, path: "/v1/cluster/maintenance", summary: "Maintenance on (optionally until a time) or off",
            body: "MaintenanceRequest", answer: "ClusterSettings"),
        APIRoute(
            method: .get, path: "/v1/settings", summary: "Cluster settings: timing, quorum, maintenance, notification",
            answer: "ClusterSettings"),
        APIRoute(
            method: .post, path: "/v1/settings/set", summary: "Set one parameter, as `cluster set PARAM VALUE`",
            body: "SetRequest", answer: "ClusterSettings"),
        APIRoute(method: .get, path: "/v1/stats", summary: "Heartbeat and event statistics", answer: "ClusterStats"),
        APIRoute(
            method: .post, path: "/v1/stats/clear", summary: "Counters start again from zero (`cluster stats clear`)",
            answer: "ClusterStats"),
        APIRoute(
            method: .post, path: "/v1/cluster/restart",
            summary: "Every node leaves and rejoins after `seconds` (at least 60; `cluster restart`)",
            body: "RestartRequest", success: 204),
        APIRoute(
            method: .get, path: "/v1/resources", summary: "Every resource with its state", answer: "ResourceState[]"),
        APIRoute(
            method: .post, path: "/v1/resources", summary: "Create a resource from a template",
            body: "CreateResourceRequest", answer: "ResourceSpec", success: 201),
        APIRoute(
            method: .post, path: "/v1/resources/import",
            summary: "Create (or replace) up to 100 definitions at once, all or none (`vigil import`)",
            body: "ImportRequest", answer: "ImportResult"),
        APIRoute(
            method: .get, path: "/v1/resources/{name}", summary: "A resource's definition and state",
            answer: "ResourceDetail"),
        APIRoute(
            method: .put, path: "/v1/resources/{name}",
            summary: "Replace a resource's definition (used at its next load)", body: "ResourceSpec",
            answer: "ResourceSpec"),
        APIRoute(method: .delete, path: "/v1/resources/{name}", summary: "Delete an offline resource", success: 204),
        APIRoute(
            method: .post, path: "/v1/resources/{name}/rename", summary: "Rename an offline resource",
            body: "RenameRequest", answer: "ResourceSpec"),
        APIRoute(
            method: .get, path: "/v1/resources/{name}/monitor", summary: "Whether its monitoring is suspended",
            answer: "MonitorStatus"),
        APIRoute(
            method: .post, path: "/v1/resources/{name}/monitor", summary: "Suspend (stop) or resume (start) monitoring",
            body: "MonitorRequest", answer: "MonitorStatus"),
        APIRoute(
            method: .post, path: "/v1/resources/{name}/online", summary: "Load on a node, or the most preferred member",
            body: "OnlineRequest", answer: "CommandReceipt", success: 202),
        APIRoute(
            method: .post, path: "/v1/resources/{name}/offline", summary: "Unload; the resource stays offline",
            answer: "CommandReceipt", success: 202),
        APIRoute(
            method: .post, path: "/v1/resources/{name}/migrate", summary: "Move to a node, `most` or `next`",
            body: "MigrateRequest", answer: "CommandReceipt", success: 202),
        APIRoute(
            method: .post, path: "/v1/resources/{name}/alert",
            summary: "Answer a start, failover or failback alert: yes or no", body: "AlertRequest",
            answer: "CommandReceipt", success: 202),
        APIRoute(
            method: .get, path: "/v1/resources/{name}/here",
            summary:
                "200 if the resource runs on this node (a member in good standing), else 503 (no authentication: for load balancers)",
            answer: "Health"),
        APIRoute(
            method: .get, path: "/v1/resources/{name}/output", summary: "The last output of each script on this node",
            answer: "ScriptOutput[]"),
        APIRoute(method: .get, path: "/v1/templates", summary: "The resource templates", answer: "ResourceTemplate[]"),
        APIRoute(
            method: .get, path: "/v1/templates/{name}", summary: "One template with its scripts",
            answer: "ResourceTemplate"),
        APIRoute(
            method: .get, path: "/v1/events", summary: "Event log page, oldest first (`after`, `limit`)",
            answer: "EventPage"),
        APIRoute(
            method: .get, path: "/v1/events/stream",
            summary: "New events as server-sent events (text/event-stream), from revision `from`"),
        APIRoute(
            method: .post, path: "/v1/sessions", summary: "Log in with user and password; returns a bearer token",
            body: "LoginRequest", answer: "SessionGrant", success: 201),
        APIRoute(method: .delete, path: "/v1/sessions", summary: "Log out (the bearer token ends)", success: 204),
        APIRoute(method: .get, path: "/v1/users", summary: "API and console users", answer: "UserSummary[]"),
        APIRoute(
            method: .put, path: "/v1/users/{name}",
            summary: "Create or change a user (password stored as a bcrypt hash)", body: "UserRequest", success: 204),
        APIRoute(method: .delete, path: "/v1/users/{name}", summary: "Delete a user", success: 204),
    ]

    /// The router for one listener; `local` is the root-only Unix socket (callers are root).
    public func router(local: Bool) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(
            middleware: AuthenticationMiddleware(
                authenticator: authenticator, local: local, metricsTokenHash: metricsTokenHash))
        // The browser console, on HTTPS only: its pages check the session cookie through the
        // same authenticator.
        if !local { Console(control: control, authenticator: authenticator).register(on: router) }
        let handlers = self.handlers()
        for route in Self.routes {
            guard let handler = handlers[route.key] else { preconditionFailure("no handler for \(route.key)") }
            router.on(RouterPath(route.routerPath), method: route.method) { request, context in
                do {
                    return try await handler(request, context)
                } catch {
                    throw APIError.wrapping(error, logger: context.logger)
                }
            }
        }
        return router
    }

    /// Handlers by route key; `APIRouterTests` checks that these and the table are the same set.
    func handlers() -> [String: Handler] {
        let control = control
        let authenticator = authenticator
        let registry = registry
        let beforeScrape = beforeScrape
        @Sendable func user(_ context: APIRequestContext) -> String { context.identity?.user ?? "anonymous" }
        @Sendable func idempotencyKey(_ request: Request) -> String? {
            request.headers[HTTPField.Name("Idempotency-Key")!]
        }
        @Sendable func name(_ context: APIRequestContext) throws -> String { try context.parameters.require("name") }

        return [
            "GET /healthz": { _, _ in
                // No detail: what a load balancer needs, nothing a stranger could use.
                guard health?() ?? true else { return try json(["status": "unavailable"], status: .serviceUnavailable) }
                return try json(["status": "ok"])
            },
            "GET /v1/resources/{name}/here": { _, context in
                let resource = try ResourceName(validating: try name(context), field: "name")
                let here: Bool
                // Unauthenticated: one shared store read per 250 ms however many ask.
                if health?() ?? true, let view = try? await control.recentView(), view.resources[resource] != nil {
                    let state = ResourceState(view: view, name: resource)
                    here = state.state == .running && state.nodes.contains(control.node.rawValue)
                } else {
                    here = false
                }
                return try json(["status": here ? "here" : "not here"], status: here ? .ok : .serviceUnavailable)
            },
            "GET /metrics": { _, _ in
                beforeScrape?()
                let text = registry?.emitToBuffer() ?? []
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: text)))
            },
            "GET /v1/openapi.json": { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json)))
            },
            "GET /v1/cluster": { _, _ in try json(try await control.status()) },
            "GET /v1/nodes": { _, _ in try json(try await control.status().nodes) },
            "POST /v1/nodes/{name}/leave": { request, context in
                _ = try await decodeOptional(EmptyRequest.self, request, context)
                try await control.leave(try name(context), user: user(context))
                return Response(status: .noContent)
            },
            "POST /v1/nodes/{name}/join": { request, context in
                _ = try await decodeOptional(EmptyRequest.self, request, context)
                try await control.join(try name(context), user: user(context))
                return Response(status: .noContent)
            },
            "POST /v1/cluster/down": { request, context in
                _ = try await decodeOptional(EmptyRequest.self, request, context)
                try await control.down(user: user(context))
                return Response(status: .noContent)
            },
            "POST /v1/cluster/maintenance": { request, context in
                let body = try await decode(MaintenanceRequest.self, request, context)
                return try json(
                    try await control.maintenance(
                        on: body.enabled, untilWallMilliseconds: body.until, user: user(context)))
            },
            "GET /v1/settings": { _, context in
                var settings = try await control.settings().value
                // Secrets (webhook tokens) are for admins only.
                if context.identity?.role != .admin { settings.notification = settings.notification.redacted }
                return try json(settings)
            },
            "POST /v1/settings/set": { request, context in
                let body = try await decode(SetRequest.self, request, context)
                return try json(try await control.set(body.parameter, body.value, user: user(context)))
            },
            "GET /v1/stats": { _, _ in try json(try await control.stats()) },
            "POST /v1/stats/clear": { request, context in
                _ = try await decodeOptional(EmptyRequest.self, request, context)
                return try json(try await control.clearStats(user: user(context)))
            },
            "POST /v1/cluster/restart": { request, context in
                let body =
                    try await decodeOptional(RestartRequest.self, request, context) ?? RestartRequest(seconds: 60)
                try await control.restart(seconds: body.seconds, user: user(context))
                return Response(status: .noContent)
            },
            "POST /v1/resources/{name}/rename": { request, context in
                let body = try await decode(RenameRequest.self, request, context)
                return try json(try await control.renameResource(try name(context), to: body.to, user: user(context)))
            },
            "GET /v1/resources/{name}/monitor": { _, context in
                try json(try await control.monitorStatus(try name(context)))
            },
            "POST /v1/resources/{name}/monitor": { request, context in
                let body = try await decode(MonitorRequest.self, request, context)
                return try json(
                    try await control.setMonitoring(
                        try name(context), suspended: body.action == "stop", user: user(context)))
            },
            "GET /v1/resources": { _, _ in try json(try await control.status().resources) },
            "POST /v1/resources": { request, context in
                let body = try await decode(CreateResourceRequest.self, request, context)
                return try json(try await control.createResource(body, user: user(context)), status: .created)
            },
            "POST /v1/resources/import": { request, context in
                let body = try await decode(ImportRequest.self, request, context)
                return try json(try await control.importResources(body, user: user(context)))
            },
            "GET /v1/resources/{name}": { _, context in
                let detail = try await control.resource(try name(context))
                var response = try json(detail)
                if let revision = detail.revision { response.headers[.eTag] = "\"\(revision)\"" }
                return response
            },
            "PUT /v1/resources/{name}": { request, context in
                let expected = try ifMatch(request)
                let bytes = try await body(request, context)
                let (spec, revision) = try await control.replaceResource(
                    try name(context), body: bytes, user: user(context), expectedRevision: expected)
                var response = try json(spec)
                response.headers[.eTag] = "\"\(revision)\""
                return response
            },
            "DELETE /v1/resources/{name}": { _, context in
                try await control.deleteResource(try name(context), user: user(context))
                return Response(status: .noContent)
            },
            "POST /v1/resources/{name}/online": { request, context in
                let body = try await decodeOptional(OnlineRequest.self, request, context) ?? OnlineRequest()
                let node = try body.node.map { try NodeName(validating: $0, field: "node") }
                return try json(
                    try await control.command(
                        try name(context), .online(node: node), user: user(context),
                        idempotencyKey: idempotencyKey(request)),
                    status: .accepted)
            },
            "POST /v1/resources/{name}/offline": { request, context in
                _ = try await decodeOptional(EmptyRequest.self, request, context)
                return try json(
                    try await control.command(
                        try name(context), .offline, user: user(context), idempotencyKey: idempotencyKey(request)),
                    status: .accepted)
            },
            "POST /v1/resources/{name}/migrate": { request, context in
                let body = try await decode(MigrateRequest.self, request, context)
                let target: AdminCommand.MigrateTarget =
                    switch body.to {
                    case "most": .most
                    case "next": .next
                    default: .node(try NodeName(validating: body.to, field: "to"))
                    }
                return try json(
                    try await control.command(
                        try name(context), .migrate(target), user: user(context),
                        idempotencyKey: idempotencyKey(request)),
                    status: .accepted)
            },
            "POST /v1/resources/{name}/alert": { request, context in
                let body = try await decode(AlertRequest.self, request, context)
                guard ["yes", "no"].contains(body.answer) else {
                    throw APIError(.badRequest, field: "answer", value: body.answer, reason: "yes or no")
                }
                return try json(
                    try await control.command(
                        try name(context), .alert(answer: body.answer == "yes"), user: user(context),
                        idempotencyKey: idempotencyKey(request)), status: .accepted
                )
            },
            "GET /v1/resources/{name}/output": { _, context in
                try json(try await control.scriptOutput(try name(context)))
            },
            "GET /v1/templates": { _, _ in try json(ResourceTemplate.builtIn) },
            "GET /v1/templates/{name}": { _, context in
                let wanted = try name(context)
                guard let template = ResourceTemplate.named(wanted) else {
                    throw APIError.notFound("name", wanted, "template")
                }
                return try json(template)
            },
            "GET /v1/events": { request, _ in
                let query = request.uri.queryParameters
                let limitText = query["limit"].map(String.init) ?? "100"
                guard let limit = Int(limitText), (1...2000).contains(limit) else {
                    throw APIError(.badRequest, field: "limit", value: limitText, reason: "1 to 2000")
                }
                return try json(try await control.events(after: query["after"].map(String.init), limit: limit))
            },
            "GET /v1/events/stream": { request, context in
                // `from`: the revision after a page's (`EventPage.revision + 1`), so nothing written
                // between the page and the stream is lost; by default, from now.
                let start: Int64
                // Where a reconnecting stream stopped: its events up to there are not sent again.
                var resumeAfter: EventStreamPosition?
                if let last = request.headers[HTTPField.Name("Last-Event-ID")!] {
                    // A reconnecting EventSource (any node): resume after the last event it saw.
                    guard let position = EventStreamPosition(last) else {
                        throw APIError(
                            .badRequest, field: "Last-Event-ID", value: last,
                            reason: "a stream position: a store revision, or revision:index")
                    }
                    start = position.revision
                    resumeAfter = position
                } else if let text = request.uri.queryParameters["from"].map(String.init) {
                    guard let from = Int64(text), from > 0 else {
                        throw APIError(
                            .badRequest, field: "from", value: text,
                            reason: "a store revision, as EventPage.revision + 1")
                    }
                    start = from
                } else {
                    start = try await control.store.range(prefix: control.layout.config).revision + 1
                }
                let resumingAfter = resumeAfter
                let store = control.store
                let prefix = control.layout.eventsPrefix
                // A session ended while the stream runs (logout, user deleted or changed) ends the
                // stream too: its bearer token (header or console cookie) is checked every 10 s.
                let bearer =
                    request.headers[.authorization].flatMap { $0.lowercased().hasPrefix("bearer ") ? $0 : nil }
                    ?? Console.token(request).map { "Bearer \($0)" }
                let source = context.sourceAddress
                let body = ResponseBody { writer in
                    try await writer.write(
                        ByteBuffer(string: ": vigil events from revision \(start)\nretry: 1000\n\n"))
                    // One writer: the watch's events and a ping every second (a browser whose node
                    // died notices 3 s of silence and reconnects to the address's new holder).
                    let (chunks, sink) = AsyncThrowingStream<String, any Error>.makeStream(
                        bufferingPolicy: .bufferingOldest(1000))
                    do {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                var numbering = EventStreamNumbering()
                                do {
                                    // Reopened after 10 s of silence (a connection that died
                                    // in a partition says nothing): resumes where it was.
                                    for try await batch in store.resumingWatch(
                                        prefix: prefix, fromRevision: start, restartAfter: .seconds(10))
                                    {
                                        for event in batch where event.kind == .put {
                                            // The id is the event's place in the store (revision,
                                            // index within it): a browser that reconnects (to any
                                            // node) sends it back and misses nothing.
                                            let position = numbering.next(at: event.keyValue.modRevision)
                                            if let resumingAfter, position <= resumingAfter { continue }
                                            guard
                                                let stored = try? ModelCodec.decode(
                                                    StoredEvent.self, from: event.keyValue.value)
                                            else { continue }
                                            let entry = EventEntry(cursor: event.keyValue.key, stored: stored)
                                            let queued = sink.yield(
                                                "id: \(position)\ndata: \(String(decoding: ModelCodec.encode(entry), as: UTF8.self))\n\n"
                                            )
                                            // A reader 1,000 events behind is cut off; it resumes
                                            // from its last id instead of losing events.
                                            if case .dropped = queued { sink.finish() }
                                        }
                                    }
                                    sink.finish()
                                } catch {
                                    sink.finish(throwing: error)
                                }
                            }
                            group.addTask {
                                for beat in 1... {
                                    try await Task.sleep(for: .seconds(1))
                                    if let bearer, beat % 10 == 0,
                                        try await authenticator.identify(authorization: bearer, source: source) == nil
                                    {
                                        sink.finish()
                                        return
                                    }
                                    sink.yield("event: ping\ndata: {}\n\n")
                                }
                            }
                            for try await chunk in chunks { try await writer.write(ByteBuffer(string: chunk)) }
                            group.cancelAll()
                        }
                    } catch let error as StoreError {
                        // Compacted past the resume point: the client reloads the page.
                        if case .compacted = error.code {
                            try await writer.write(ByteBuffer(string: "event: reset\ndata: {}\n\n"))
                        } else {
                            throw error
                        }
                    }
                    try await writer.finish(nil)
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
            },
            "POST /v1/sessions": { request, context in
                let body = try await decode(LoginRequest.self, request, context)
                guard
                    let identity = try await authenticator.verify(
                        user: body.user, password: body.password, source: context.sourceAddress)
                else {
                    throw APIError(
                        .unauthorized, field: "user", value: body.user, reason: "unknown user or wrong password")
                }
                return try json(try await authenticator.login(identity), status: .created)
            },
            "DELETE /v1/sessions": { request, _ in
                try await authenticator.logout(authorization: request.headers[.authorization] ?? "")
                return Response(status: .noContent)
            },
            "GET /v1/users": { _, _ in try json(try await authenticator.users()) },
            "PUT /v1/users/{name}": { request, context in
                let body = try await decode(UserRequest.self, request, context)
                let who = try name(context)
                try await authenticator.setUser(who, body)
                await control.record(
                    user: user(context), resource: nil, "\(user(context)) set user \(who) (role \(body.role.rawValue))")
                return Response(status: .noContent)
            },
            "DELETE /v1/users/{name}": { _, context in
                let who = try name(context)
                try await authenticator.deleteUser(who)
                await control.record(user: user(context), resource: nil, "\(user(context)) deleted user \(who)")
                return Response(status: .noContent)
            },
        ]
    }
}

/// The revision an edit starts from: `If-Match: "123"` (the `ETag` of `GET /v1/resources/{name}`);
/// nil without the header (the edit applies to whatever is current).
func ifMatch(_ request: Request) throws -> Int64? {
    guard let text = request.headers[.ifMatch] else { return nil }
    let bare =
        text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 ? String(text.dropFirst().dropLast()) : text
    guard let revision = Int64(bare), revision > 0 else {
        throw APIError(
            .badRequest, field: "If-Match", value: text, reason: "the ETag of GET /v1/resources/{name}, e.g. \"42\"")
    }
    return revision
}

/// A body that must be empty or `{}`: any field is unknown.
struct EmptyRequest: Codable, Sendable {
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(NoKeys.self)
    }

    struct NoKeys: CodingKey, CaseIterable {
        static var allCases: [NoKeys] { [] }
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

// MARK: Bodies

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: ModelCodec.encode(value))))
}

/// The request body, at most the context's upload limit (413 beyond it).
func body(_ request: Request, _ context: APIRequestContext) async throws -> [UInt8] {
    do {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        return Array(buffer.readableBytesView)
    } catch {
        throw APIError(
            .contentTooLarge, field: "body", value: "more than \(context.maxUploadSize) bytes",
            reason: "the body is too large")
    }
}

/// Strict JSON: unknown fields, wrong types and missing fields are 400s that name the field.
func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: APIRequestContext) async throws -> T {
    let bytes = try await body(request, context)
    guard !bytes.isEmpty else { throw APIError(.badRequest, field: "body", reason: "a JSON object is expected") }
    return try decodeJSON(type, bytes)
}

/// As `decode`, but an empty body is no body.
func decodeOptional<T: Decodable>(_ type: T.Type, _ request: Request, _ context: APIRequestContext) async throws -> T? {
    let bytes = try await body(request, context)
    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
    return try decodeJSON(type, bytes)
}

func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch let error as DecodingError {
        throw APIError(ValidationError(decodingError: error))
    } catch let error as ValidationError {
        throw APIError(error)
    }
}
