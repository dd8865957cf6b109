import ClusterClient
import ClusterModel
import Foundation

/// The OpenAPI 3.1 document served at `/v1/openapi.json`, written from the same route table the
/// router is built from (`APIRouterTests` checks each documented route answers, and the reverse).
public enum OpenAPIDocument {
    public static let json: [UInt8] = {
        var paths: [String: [String: Any]] = [:]
        let schemas = OpenAPISchemas.all
        func reference(_ shape: String) -> [String: Any] {
            let item = shape.hasSuffix("[]") ? String(shape.dropLast(2)) : shape
            precondition(schemas[item] != nil, "no schema for \(item)")
            let single: [String: Any] = ["$ref": "#/components/schemas/\(item)"]
            return shape.hasSuffix("[]") ? ["type": "array", "items": single] : single
        }
        for route in APIRouterBuilder.routes {
            var operation: [String: Any] = ["summary": route.summary, "operationId": operationID(route)]
            var responses: [String: Any] = [:]
            let success = String(route.success)
            if let answer = route.answer {
                responses[success] = [
                    "description": "OK", "content": ["application/json": ["schema": reference(answer)]],
                ]
            } else if route.path == "/metrics" {
                responses[success] = ["description": "OK", "content": ["text/plain": ["schema": ["type": "string"]]]]
            } else if route.path == "/v1/events/stream" {
                responses[success] = [
                    "description": "Server-sent events",
                    "content": ["text/event-stream": ["schema": ["type": "string"]]],
                ]
            } else if route.path == "/v1/openapi.json" {
                responses[success] = [
                    "description": "OK", "content": ["application/json": ["schema": ["type": "object"]]],
                ]
            } else {
                responses[success] = ["description": "OK"]
            }
            responses["400"] = [
                "description": "Bad input: the error names the field and the value",
                "content": ["application/json": ["schema": reference("Error")]],
            ]
            // Every other refusal (401, 403, 404, 409, 412, 413, 415, 429, 503 …) has the same body.
            responses["default"] = [
                "description": "Refused or failed: the error names the field, the value and the reason",
                "content": ["application/json": ["schema": reference("Error")]],
            ]
            if route.path.hasSuffix("/here") || route.path == "/healthz" {
                responses["503"] = [
                    "description": "Not a member in good standing / the resource does not run here",
                    "content": ["application/json": ["schema": reference("Health")]],
                ]
            }
            if route.path != "/healthz" && !route.path.hasSuffix("/here") {
                responses["401"] = [
                    "description": "Not authenticated",
                    "content": ["application/json": ["schema": reference("Error")]],
                ]
                if route.method != .get {
                    responses["403"] = [
                        "description": "Role observer may not change",
                        "content": ["application/json": ["schema": reference("Error")]],
                    ]
                }
                // The console's cookie is the same session as a bearer token (changes also need the
                // page's X-CSRF-Token header).
                operation["security"] = [["bearer": [String]()], ["basic": [String]()], ["console": [String]()]]
            } else {
                operation["security"] = [[String: Any]]()
            }
            if route.path.contains("{name}") {
                responses["404"] = [
                    "description": "No such resource, template or user",
                    "content": ["application/json": ["schema": reference("Error")]],
                ]
                operation["parameters"] = [
                    ["name": "name", "in": "path", "required": true, "schema": ["type": "string"]]
                ]
            }
            if route.path == "/v1/events/stream" {
                operation["parameters"] = [
                    ["name": "from", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1]],
                    [
                        "name": "Last-Event-ID", "in": "header", "required": false,
                        "description":
                            "The id of the last event received, `revision` or `revision:index`: resume after it (any node)",
                        "schema": ["type": "string", "pattern": "^[0-9]+(:[0-9]+)?$"],
                    ],
                ]
            }
            if route.method == .post,
                ["online", "offline", "migrate", "alert"].contains(route.path.split(separator: "/").last ?? "")
            {
                var parameters = operation["parameters"] as? [[String: Any]] ?? []
                parameters.append([
                    "name": "Idempotency-Key", "in": "header", "required": false,
                    "description":
                        "8 to 64 letters, digits, '-' or '_': a retry with the same key returns the first receipt (24 h, per user)",
                    "schema": ["type": "string", "minLength": 8, "maxLength": 64],
                ])
                operation["parameters"] = parameters
            }
            if route.method == .put, route.path == "/v1/resources/{name}" {
                var parameters = operation["parameters"] as? [[String: Any]] ?? []
                parameters.append([
                    "name": "If-Match", "in": "header", "required": false,
                    "description":
                        "The ETag of GET /v1/resources/{name}: if the definition changed since, nothing is saved (412)",
                    "schema": ["type": "string"],
                ])
                operation["parameters"] = parameters
                responses["412"] = [
                    "description": "The definition changed since the If-Match revision; nothing was saved",
                    "content": ["application/json": ["schema": reference("Error")]],
                ]
            }
            if route.path == "/v1/events" {
                operation["parameters"] = [
                    ["name": "after", "in": "query", "required": false, "schema": ["type": "string"]],
                    [
                        "name": "limit", "in": "query", "required": false,
                        "schema": ["type": "integer", "minimum": 1, "maximum": 2000],
                    ],
                ]
            }
            if let body = route.body {
                operation["requestBody"] = [
                    "required": route.body != "OnlineRequest",
                    "content": ["application/json": ["schema": reference(body)]],
                ]
            }
            operation["responses"] = responses
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation
        }
        let document: [String: Any] = [
            "openapi": "3.1.0",
            "info": ["title": "Vigil cluster API", "version": VigilVersion.current],
            "paths": paths,
            "components": [
                "schemas": schemas,
                "securitySchemes": [
                    "bearer": ["type": "http", "scheme": "bearer", "description": "A token from POST /v1/sessions"],
                    "basic": ["type": "http", "scheme": "basic"],
                    "console": [
                        "type": "apiKey", "in": "cookie", "name": "vigil_session",
                        "description": "The browser console's session (POST /login)",
                    ],
                ],
            ],
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return Array(data)
    }()

    static func operationID(_ route: APIRoute) -> String {
        let words = route.path.split(separator: "/").filter { $0 != "v1" }.map {
            $0.hasPrefix("{")
                ? "By" + $0.dropFirst().dropLast().capitalized
                : $0.replacingOccurrences(of: ".json", with: "").capitalized
        }
        return route.method.rawValue.lowercased() + words.joined()
    }
}
