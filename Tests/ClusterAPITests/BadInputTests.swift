import ClusterAPI
import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("REST API bad input")
struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var uri: String
        var body: String
        var status: HTTPResponse.Status
        var field: String
        var description: String { "\(method) \(uri) \(body.prefix(60))" }
    }

    static let cases: [Case] = [
        Case(method: .post, uri: "/v1/resources", body: "{not json", status: .badRequest, field: ""),
        Case(method: .post, uri: "/v1/resources", body: "", status: .badRequest, field: "body"),
        Case(
            method: .post, uri: "/v1/resources",
            body: #"{"name":"web","variables":{"RESOURCE_IP":"198.18.0.9"},"colour":"red"}"#, status: .badRequest,
            field: "colour"),
        Case(
            method: .post, uri: "/v1/resources",
            body: #"{"name":"bad name!","variables":{"RESOURCE_IP":"198.18.0.9"}}"#, status: .badRequest, field: "name"),
        Case(
            method: .post, uri: "/v1/resources", body: #"{"name":"web","variables":{"RESOURCE_IP":"198.18.0.300"}}"#,
            status: .badRequest, field: "variables.RESOURCE_IP"),
        Case(
            method: .post, uri: "/v1/resources", body: #"{"name":"web","variables":{}}"#, status: .badRequest,
            field: "variables.RESOURCE_IP"),
        Case(
            method: .post, uri: "/v1/resources",
            body: #"{"name":"web","variables":{"RESOURCE_IP":"198.18.0.9"},"loadTimeout":"forever"}"#,
            status: .badRequest, field: "loadTimeout"),
        Case(
            method: .post, uri: "/v1/resources",
            body: #"{"name":"web","variables":{"RESOURCE_IP":"198.18.0.9"},"loadTimeout":"0s"}"#, status: .badRequest,
            field: "load.timeout"),
        Case(
            method: .post, uri: "/v1/resources", body: #"{"name":"web","template":"Nope","variables":{}}"#,
            status: .badRequest, field: "template"),
        Case(
            method: .post, uri: "/v1/resources",
            body: #"{"name":"web","variables":{"RESOURCE_IP":"198.18.0.9"},"preferredNodes":["n1","n 2"]}"#,
            status: .badRequest, field: "preferredNodes[1]"),
        Case(method: .post, uri: "/v1/resources", body: #"{"name":42}"#, status: .badRequest, field: "name"),
        Case(method: .put, uri: "/v1/resources/ghost", body: #"{"name":"ghost"}"#, status: .notFound, field: "name"),
        Case(
            method: .put, uri: "/v1/resources/iManager",
            body: #"{"name":"iManager","load":{"body":"exit 0","timeout":"0s"}}"#, status: .badRequest,
            field: "load.timeout"),
        Case(
            method: .put, uri: "/v1/resources/iManager", body: #"{"name":"other"}"#, status: .badRequest, field: "name"),
        Case(method: .post, uri: "/v1/resources/ghost/online", body: "", status: .notFound, field: "name"),
        Case(method: .post, uri: "/v1/resources/bad%20name/offline", body: "", status: .badRequest, field: "name"),
        Case(
            method: .post, uri: "/v1/resources/iManager/online", body: #"{"node":"n9"}"#, status: .notFound,
            field: "node"),
        Case(
            method: .post, uri: "/v1/resources/iManager/online", body: #"{"node":"n1","extra":1}"#, status: .badRequest,
            field: "extra"),
        Case(
            method: .post, uri: "/v1/resources/iManager/migrate", body: #"{"to":"n/1"}"#, status: .badRequest,
            field: "to"),
        Case(method: .post, uri: "/v1/resources/iManager/migrate", body: "{}", status: .badRequest, field: "to"),
        Case(
            method: .post, uri: "/v1/resources/iManager/alert", body: #"{"answer":"maybe"}"#, status: .badRequest,
            field: "answer"),
        Case(
            method: .post, uri: "/v1/resources/iManager/offline", body: #"{"now":true}"#, status: .badRequest,
            field: "now"),
        Case(
            method: .post, uri: "/v1/cluster/maintenance", body: #"{"enabled":true,"until":1000}"#, status: .badRequest,
            field: "until"),
        Case(
            method: .post, uri: "/v1/cluster/maintenance", body: #"{"enabled":"yes"}"#, status: .badRequest,
            field: "enabled"),
        Case(
            method: .post, uri: "/v1/settings/set", body: #"{"parameter":"emailaddresses","value":"not-an-address"}"#,
            status: .badRequest, field: "notification.emailAddresses[0]"),
        Case(
            method: .post, uri: "/v1/settings/set", body: #"{"parameter":"webhooks","value":"ftp://x"}"#,
            status: .badRequest, field: "notification.webhooks[0]"),
        Case(
            method: .post, uri: "/v1/settings/set", body: #"{"parameter":"quorumwait","value":"-5s"}"#,
            status: .badRequest, field: "quorumwait"),
        Case(
            method: .post, uri: "/v1/settings/set", body: #"{"parameter":"colour","value":"red"}"#, status: .badRequest,
            field: "parameter"),
        Case(
            method: .put, uri: "/v1/users/bad%20user", body: #"{"password":"long enough","role":"admin"}"#,
            status: .badRequest, field: "name"),
        Case(
            method: .put, uri: "/v1/users/eve", body: #"{"password":"short","role":"admin"}"#, status: .badRequest,
            field: "password"),
        Case(
            method: .put, uri: "/v1/users/eve", body: #"{"password":"long enough","role":"god"}"#, status: .badRequest,
            field: "role"),
        Case(method: .delete, uri: "/v1/users/nobody", body: "", status: .notFound, field: "name"),
        Case(method: .get, uri: "/v1/templates/Nope", body: "", status: .notFound, field: "name"),
        Case(method: .get, uri: "/v1/events?limit=abc", body: "", status: .badRequest, field: "limit"),
        Case(method: .get, uri: "/v1/events?after=/etc/passwd", body: "", status: .badRequest, field: "after"),
        Case(method: .get, uri: "/v1/events/stream?from=abc", body: "", status: .badRequest, field: "from"),
    ]

    @Test("each bad request is a 4xx naming the field, and the store is unchanged", arguments: cases)
    func badRequest(_ bad: Case) async throws {
        let fixture = try await APIFixture()
        try await fixture.test(local: true) { client in
            try await client.execute(uri: "/v1/resources", method: .post, body: body(createIManager)) {
                #expect($0.status == .created)
            }
            let before = try await fixture.contents()
            try await client.execute(uri: bad.uri, method: bad.method, body: body(bad.body)) { response in
                #expect(response.status == bad.status)
                let detail = errorBody(response)
                #expect(detail != nil, "no JSON error body")
                if !bad.field.isEmpty { #expect(detail?.field == bad.field, "\(detail?.reason ?? "")") }
                #expect(response.headers[.contentType] == "application/json")
            }
            #expect(try await fixture.contents() == before)
        }
    }

    @Test("an oversized body is 413 and nothing is stored")
    func oversized() async throws {
        let fixture = try await APIFixture()
        let script = String(repeating: "echo x\n", count: 200_000)
        let huge =
            #"{"name":"big","variables":{"RESOURCE_IP":"198.18.0.9"},"loadScript":"\#(script.replacingOccurrences(of: "\n", with: "\\n"))"}"#
        try await fixture.test(local: true) { client in
            let before = try await fixture.contents()
            try await client.execute(uri: "/v1/resources", method: .post, body: body(huge)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(errorBody(response)?.field == "body")
            }
            #expect(try await fixture.contents() == before)
        }
    }

    @Test("fuzz: 600 malformed requests give no 5xx and change nothing")
    func fuzz() async throws {
        let fixture = try await APIFixture()
        var random = SeededRandom(seed: 20_261_125)
        let valid: [(HTTPRequest.Method, String, String)] = [
            (
                .post, "/v1/resources",
                #"{"name":"web2","template":"Generic_IP_Service","variables":{"RESOURCE_IP":"198.18.0.101"},"preferredNodes":["n2","n1"],"loadTimeout":"30s","priority":3}"#
            ),
            (.post, "/v1/resources/iManager/online", #"{"node":"n2"}"#),
            (.post, "/v1/resources/iManager/migrate", #"{"to":"next"}"#),
            (.post, "/v1/resources/iManager/alert", #"{"answer":"yes"}"#),
            (.post, "/v1/cluster/maintenance", #"{"enabled":false}"#),
            (.post, "/v1/settings/set", #"{"parameter":"quorum","value":"2"}"#),
            (.put, "/v1/users/alice", #"{"password":"correct horse","role":"observer"}"#),
            (.post, "/v1/sessions", #"{"user":"admin","password":"admin-secret"}"#),
        ]
        var requests: [(HTTPRequest.Method, String, String)] = []
        for _ in 0..<600 {
            let (method, uri, text) = valid[Int(random.next() % UInt64(valid.count))]
            requests.append((method, uri, Self.mutate(text, &random)))
        }
        let fuzzed = requests
        try await fixture.test(local: true) { client in
            try await client.execute(uri: "/v1/resources", method: .post, body: body(createIManager)) {
                #expect($0.status == .created)
            }
            let before = try await fixture.contents()
            var statuses: [Int: Int] = [:]
            for (round, (method, uri, broken)) in fuzzed.enumerated() {
                try await client.execute(uri: uri, method: method, body: body(broken)) { response in
                    statuses[response.status.code, default: 0] += 1
                    #expect(
                        (400..<500).contains(response.status.code),
                        "round \(round): \(method) \(uri) \(broken) -> \(response.status)")
                    #expect(errorBody(response) != nil, "round \(round): no JSON error")
                }
            }
            #expect(try await fixture.contents() == before)
            #expect(statuses.keys.allSatisfy { (400..<500).contains($0) })
        }
    }

    /// A valid body made invalid: cut short, an unknown field added, a value of the wrong type, or noise.
    static func mutate(_ text: String, _ random: inout SeededRandom) -> String {
        let characters = Array(text)
        switch random.next() % 5 {
        case 0:
            return String(characters.prefix(Int(random.next() % UInt64(characters.count - 1)) + 1))
        case 1:
            return "{\"unknown_\(random.next() % 1000)\":1," + text.dropFirst()
        case 2:
            // A string value replaced by a number, an array, an object or a boolean (not null: some
            // fields are optional, and null would make a valid request).
            let replacement = ["123", "[]", "{}", "true"][Int(random.next() % 4)]
            let colons = characters.indices.filter {
                characters[$0] == ":" && $0 + 1 < characters.count && characters[$0 + 1] == "\""
            }
            guard let colon = colons.randomElement(using: &random) else { return "[]" }
            guard let end = characters[(colon + 2)...].firstIndex(of: "\"") else { return "[]" }
            return String(characters[...colon]) + replacement + String(characters[(end + 1)...])
        case 3:
            // Printable noise that starts with a non-blank (a blank body is "no body" for online).
            return "#"
                + String(
                    (0..<Int(random.next() % 64)).map { _ in Character(UnicodeScalar(UInt8(random.next() % 95 + 32))) })
        default:
            return ["[]", "null", "\"text\"", "42", "{", "}", "{\"a\":}", String(repeating: "[", count: 600)][
                Int(random.next() % 8)]
        }
    }
}
