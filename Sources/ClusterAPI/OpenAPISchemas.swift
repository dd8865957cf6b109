import ClusterModel

/// The JSON Schemas (OpenAPI 3.1) of every request and answer of the API, written by hand from
/// the shapes in ClusterClient and ClusterModel. Requests are strict as the decoders are (unknown
/// fields refused); answers list what is always present as `required`. Checked by
/// `openapi-spec-validator`, and against a live agent by schemathesis (e2e test_28).
enum OpenAPISchemas {
    typealias Schema = [String: Any]

    static func string(_ description: String? = nil) -> Schema {
        description.map { ["type": "string", "description": $0] } ?? ["type": "string"]
    }
    static func oneOf(_ values: [String]) -> Schema { ["type": "string", "enum": values] }
    static var integer: Schema { ["type": "integer"] }
    static var boolean: Schema { ["type": "boolean"] }
    static func array(_ items: Schema) -> Schema { ["type": "array", "items": items] }
    static func ref(_ name: String) -> Schema { ["$ref": "#/components/schemas/\(name)"] }
    /// Absent, or null.
    static func optional(_ schema: Schema) -> Schema { ["anyOf": [schema, ["type": "null"]]] }
    static func object(_ properties: [String: Schema], required: [String] = [], strict: Bool = false) -> Schema {
        var schema: Schema = ["type": "object", "properties": properties]
        if !required.isEmpty { schema["required"] = required }
        if strict { schema["additionalProperties"] = false }
        return schema
    }
    /// A duration: "500ms", "2s", "1m" (requests also take a number of seconds).
    static var span: Schema { ["type": "string", "description": "a duration: 500ms, 2s, 1m, 1h"] }
    static var spanIn: Schema {
        ["anyOf": [["type": "string"], ["type": "number"]], "description": "a duration: 500ms, 2s, 1m, or seconds"]
    }
    static var milliseconds: Schema { ["type": "integer", "description": "wall-clock milliseconds since 1970"] }
    static var rfc3339: Schema { ["type": "string", "format": "date-time"] }
    static var stateName: Schema { string("NCS state: Offline, Running, Comatose, Alert(failover) …") }

    static var all: [String: Schema] {
        [
            "Error": object(
                [
                    "error": object(
                        ["status": integer, "field": string(), "value": string(), "reason": string()],
                        required: ["status", "field", "value", "reason"])
                ], required: ["error"]),
            "Health": object(["status": oneOf(["ok", "unavailable", "here", "not here"])], required: ["status"]),
            "NodeState": object(
                [
                    "name": string(), "member": boolean, "standby": boolean, "master": boolean,
                    "heartbeat": optional(integer), "version": optional(string()), "addresses": array(string()),
                    "resources": array(string()),
                ], required: ["name", "member", "standby", "master", "addresses", "resources"]),
            "ResourceState": object(
                [
                    "name": string(), "state": stateName, "nodes": array(string()), "generation": integer,
                    "incarnation": integer, "upSince": optional(milliseconds), "upSinceRFC3339": optional(rfc3339),
                    "reason": optional(string()), "template": optional(string()), "lastResult": optional(string()),
                    "pendingCommands": array(string()),
                ], required: ["name", "state", "nodes", "generation", "incarnation", "pendingCommands"]),
            "MaintenanceSettings": object(
                ["enabled": boolean, "untilWallMilliseconds": optional(milliseconds)], required: ["enabled"]),
            "ClusterStatus": object(
                [
                    "name": string(), "thisNode": optional(string()), "epoch": integer, "revision": integer,
                    "master": optional(string()), "masterTerm": optional(integer),
                    "maintenance": ref("MaintenanceSettings"),
                    "maintenanceUntilRFC3339": optional(rfc3339), "watchdogTimeoutMilliseconds": optional(integer),
                    "members": array(string()), "quorum": optional(integer), "nodes": array(ref("NodeState")),
                    "resources": array(ref("ResourceState")), "problems": array(string()),
                ], required: ["name", "epoch", "revision", "maintenance", "members", "nodes", "resources", "problems"]),
            "TimingSettings": object(
                [
                    "profile": oneOf(TimingProfile.allCases.map(\.rawValue)), "tolerance": span, "heartbeat": span,
                    "etcdHeartbeat": span, "etcdElection": span, "watchdogTimeout": optional(span),
                ], required: ["profile", "tolerance", "heartbeat", "etcdHeartbeat", "etcdElection"]),
            "QuorumSettings": object(["nodeCount": integer, "timeout": span], required: ["nodeCount", "timeout"]),
            "NotificationSettings": object(
                [
                    "level": oneOf(NotificationSettings.Level.allCases.map(\.rawValue)),
                    "emailAddresses": array(string()),
                    "smtpRelay": optional(string()), "sender": string(), "webhooks": array(string()),
                ], required: ["level", "emailAddresses", "sender", "webhooks"]),
            "ClusterSettings": object(
                [
                    "schema": integer, "timing": ref("TimingSettings"), "quorum": ref("QuorumSettings"),
                    "maintenance": ref("MaintenanceSettings"), "notification": ref("NotificationSettings"),
                ], required: ["timing", "quorum", "maintenance", "notification"]),
            "MaintenanceRequest": object(
                ["enabled": boolean, "until": optional(milliseconds)], required: ["enabled"], strict: true),
            "SetRequest": object(
                ["parameter": string(), "value": string()], required: ["parameter", "value"], strict: true),
            "ClusterStats": object(
                [
                    "epoch": integer, "revision": integer,
                    "members": array(
                        object(
                            [
                                "node": string(), "heartbeat": integer, "lastHeartbeatRevision": integer,
                                "heartbeatsSinceClear": integer, "lastHeartbeatTime": optional(milliseconds),
                                "evictions": integer,
                            ],
                            required: [
                                "node", "heartbeat", "lastHeartbeatRevision", "heartbeatsSinceClear", "evictions",
                            ])),
                    "events": integer, "eventsByKind": ["type": "object", "additionalProperties": integer],
                    "resourcesByState": ["type": "object", "additionalProperties": integer],
                    "clearedAt": optional(milliseconds),
                ], required: ["epoch", "revision", "members", "events", "eventsByKind", "resourcesByState"]),
            "ScriptSpec": object(["body": string(), "timeout": spanIn], required: ["body"], strict: true),
            "MonitorSpec": object(
                [
                    "script": ref("ScriptSpec"), "interval": spanIn, "maxLocalFailures": integer, "window": spanIn,
                    "action": oneOf(MonitorAction.allCases.map(\.rawValue)),
                ], required: ["script"], strict: true),
            "ResourcePolicies": object(
                [
                    "startMode": oneOf(StartMode.allCases.map(\.rawValue)),
                    "failoverMode": oneOf(StartMode.allCases.map(\.rawValue)),
                    "failbackMode": oneOf(FailbackMode.allCases.map(\.rawValue)), "followsMaster": boolean,
                    "ignoreQuorum": boolean,
                ], strict: true),
            "ResourceSpec": object(
                [
                    "schema": integer, "name": string(), "template": optional(string()),
                    "mode": oneOf(ResourceMode.allCases.map(\.rawValue)), "load": ref("ScriptSpec"),
                    "unload": ref("ScriptSpec"), "monitor": optional(ref("MonitorSpec")),
                    "variables": ["type": "object", "additionalProperties": string()],
                    "policies": ref("ResourcePolicies"),
                    "preferredNodes": array(string()), "priority": integer, "exclusionGroups": array(string()),
                ], required: ["name"], strict: true),
            "ResourceDetail": object(
                ["definition": ref("ResourceSpec"), "state": ref("ResourceState"), "revision": optional(integer)],
                required: ["definition", "state"]),
            "CreateResourceRequest": object(
                [
                    "name": string(), "template": string(),
                    "variables": ["type": "object", "additionalProperties": string()],
                    "preferredNodes": array(string()), "loadScript": string(), "unloadScript": string(),
                    "monitorScript": string(), "loadTimeout": string(), "unloadTimeout": string(),
                    "startMode": oneOf(StartMode.allCases.map(\.rawValue)),
                    "failoverMode": oneOf(StartMode.allCases.map(\.rawValue)),
                    "failbackMode": oneOf(FailbackMode.allCases.map(\.rawValue)), "priority": integer,
                ], required: ["name"], strict: true),
            "ImportRequest": object(
                ["resources": array(ref("ResourceSpec")), "replace": boolean], required: ["resources"], strict: true),
            "ImportResult": object(
                ["created": array(string()), "replaced": array(string())], required: ["created", "replaced"]),
            "OnlineRequest": object(["node": string()], strict: true),
            "RenameRequest": object(["to": string()], required: ["to"], strict: true),
            "RestartRequest": object(["seconds": integer], strict: true),
            "MonitorRequest": object(["action": oneOf(["start", "stop"])], required: ["action"], strict: true),
            "MonitorStatus": object(
                [
                    "resource": string(), "hasMonitor": boolean, "interval": optional(string()), "suspended": boolean,
                    "by": optional(string()), "since": optional(milliseconds),
                ], required: ["resource", "hasMonitor", "suspended"]),
            "MigrateRequest": object(["to": string("a node, most or next")], required: ["to"], strict: true),
            "AlertRequest": object(["answer": oneOf(["yes", "no"])], required: ["answer"], strict: true),
            "CommandReceipt": object(
                ["id": string(), "resource": string(), "verb": string(), "generationBefore": integer],
                required: ["id", "resource", "verb", "generationBefore"]),
            "ScriptOutput": object(
                [
                    "node": string(), "action": string(), "output": string(), "modified": optional(milliseconds),
                    "modifiedRFC3339": optional(rfc3339), "truncated": boolean,
                ], required: ["node", "action", "output", "truncated"]),
            "ResourceTemplate": object(
                [
                    "name": string(), "summary": string(), "variables": array(string()), "load": string(),
                    "unload": string(), "monitor": optional(string()), "monitorInterval": span,
                ], required: ["name", "summary", "variables", "load", "unload", "monitorInterval"]),
            "EventEntry": object(
                [
                    "cursor": string(), "time": milliseconds, "timeRFC3339": optional(rfc3339), "kind": string(),
                    "node": string(), "resource": optional(string()), "message": string(),
                    "severity": oneOf(["info", "warning", "critical"]), "action": optional(string()),
                    "output": optional(array(string())),
                ], required: ["cursor", "time", "kind", "node", "message", "severity"]),
            "EventPage": object(
                ["events": array(ref("EventEntry")), "next": optional(string()), "revision": integer],
                required: ["events", "revision"]),
            "LoginRequest": object(
                ["user": string(), "password": string()], required: ["user", "password"], strict: true),
            "SessionGrant": object(
                [
                    "token": string(), "user": string(), "role": oneOf(Role.allCases.map(\.rawValue)),
                    "expiresInSeconds": integer,
                ], required: ["token", "user", "role", "expiresInSeconds"]),
            "UserRequest": object(
                ["password": string(), "role": oneOf(Role.allCases.map(\.rawValue))], required: ["password", "role"],
                strict: true),
            "UserSummary": object(
                ["name": string(), "role": oneOf(Role.allCases.map(\.rawValue))], required: ["name", "role"]),
        ]
    }
}
