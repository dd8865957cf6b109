import ClusterModel
import Foundation
import Testing

@testable import ClusterAPI

/// What the notifier hands an SMTP relay: MIME headers, UTF-8, an IPv6 relay, its own name.
@Suite("Notification mail")
struct MailTests {
    @Test("relays by name, IPv4 or bracketed IPv6 are accepted; malformed ones are refused by field")
    func relays() throws {
        #expect(NotificationSettings.relayAddress("[::1]:25")! == ("::1", 25))
        #expect(NotificationSettings.relayAddress("mail.example.org:587")! == ("mail.example.org", 587))
        #expect(NotificationSettings.relayAddress("127.0.0.1:25")! == ("127.0.0.1", 25))
        for bad in ["::1:25", "[::1]", "host", "host:0", ":25", "[]:25", "[::1]25"] {
            #expect(NotificationSettings.relayAddress(bad) == nil, "\(bad)")
        }
        var settings = NotificationSettings(
            level: .critical, emailAddresses: ["ops@example.org"], smtpRelay: "[::1]:25")
        try settings.validate()
        settings.smtpRelay = "::1:25"
        #expect(throws: ValidationError.self) { try settings.validate() }
    }

    @Test("the message is MIME 1.0 UTF-8 with an encoded non-ASCII subject, a Message-ID, dot-stuffed lines")
    func message() {
        let text = SMTPClient.message(
            from: "vigil@n1.example.org", to: ["ops@example.org"], subject: "[vigil prod] fence n1: Zürich down",
            body: "line\n.dot\nend", date: Date(timeIntervalSince1970: 0), host: "n1.example.org")
        let (headers, body) = (text.components(separatedBy: "\r\n\r\n")[0], text.components(separatedBy: "\r\n\r\n")[1])
        #expect(headers.contains("MIME-Version: 1.0\r\n"))
        #expect(headers.contains("Content-Type: text/plain; charset=utf-8"))
        #expect(headers.contains("Content-Transfer-Encoding: 8bit"))
        #expect(headers.contains("Subject: =?UTF-8?B?"), "a non-ASCII subject must be encoded")
        #expect(headers.contains("@n1.example.org>"))
        #expect(body == "line\r\n..dot\r\nend\r\n")
        let ascii = SMTPClient.message(
            from: "a@b", to: ["c@d"], subject: "plain", body: "x", date: Date(), host: "h")
        #expect(ascii.contains("Subject: plain\r\n"))
        #expect(!SMTPClient.heloName(fallback: "n1").isEmpty)
    }
}
