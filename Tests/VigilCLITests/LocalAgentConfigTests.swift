import Foundation
import Testing
import Yams

@testable import vigil

@Suite("The CLI's reading of vigil.yaml")
struct LocalAgentConfigTests {
    /// What the full decoder (vigild's reading) makes of the text: the reference.
    func decoded(_ text: String) throws -> String {
        try YAMLDecoder().decode(LocalAgentConfig.self, from: text).api?.socket ?? LocalAgentConfig.defaultSocket
    }

    func read(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-cli-\(UUID()).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try LocalAgentConfig.socket(fromFile: path)
    }

    @Test(
        "the socket read without the full resolver is the one vigild reads",
        arguments: [
            "node: n1\napi:\n  socket: /run/vigil/n1.sock\n  listen: \"198.18.0.11:7410\"\n",
            "api: { socket: '/tmp/a b.sock' }\n",
            "api:\n  socket: \"/tmp/q.sock\"  # quoted\n",
            "api:\n  socket: ~\n",
            "api:\n  socket: null\n",
            "api:\n  socket:\n",
            "api:\n  socket: \"null\"\n",
            "api:\n  listen: \"198.18.0.11:7410\"\n",
            "api:\n",
            "api: ~\n",
            "api: null\n",
            "node: n1\n",
            "defaults: &api\n  socket: /run/merged.sock\napi:\n  <<: *api\n",
            "a: &s /run/anchored.sock\napi:\n  socket: *s\n",
        ])
    func sameSocket(_ text: String) throws {
        #expect(try read(text) == decoded(text))
    }

    @Test(
        "a socket that is not a path, or an api that is not a mapping, is an error naming the field and the value",
        arguments: [
            ("api:\n  socket: [a, b]\n", "api.socket: value '[a, b]': expected a path"),
            ("api:\n  socket: { path: /x }\n", "api.socket: value '{ path: /x }': expected a path"),
            ("api: [x]\n", "api: value '[x]': expected a mapping"),
            ("api: /run/vigil.sock\n", "api: value '/run/vigil.sock': expected a mapping"),
        ])
    func notAPath(text: String, message: String) throws {
        #expect(throws: (any Error).self) { try decoded(text) }  // vigild refuses it too
        #expect {
            try read(text)
        } throws: { error in
            "\(error)" == message
        }
    }
}
