import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A resource's `RESOURCE_IP`: an IPv4 or IPv6 service address, optionally with a prefix length
/// (`198.18.0.100`, `198.18.0.100/24`, `2001:db8::100`, `2001:db8::100/64`).
///
/// `address` is the canonical text (RFC 5952 for IPv6, as `ip addr` prints it), which is what the
/// agent compares with the node's addresses; the scripts get the value exactly as written.
public struct VirtualAddress: Hashable, Sendable {
    public enum Family: String, Sendable { case ipv4, ipv6 }

    public var family: Family
    public var address: String
    public var prefixLength: Int?

    static let example = "an IPv4 or IPv6 address such as 198.18.0.100 or 2001:db8::100, optionally with /prefix"

    /// Parses `text`, refusing anything a node could not carry as a movable service address.
    public init(parsing text: String, field: String = "variables.RESOURCE_IP") throws(ValidationError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let host = parts[0]
        func refuse(_ reason: String) -> ValidationError { ValidationError(field: field, value: text, reason: reason) }
        if Self.isIPv4(host) {
            family = .ipv4
            address = host
        } else if let canonical = Self.canonicalIPv6(host) {
            guard !host.contains(".") else {
                throw refuse("write an IPv6 address in hexadecimal groups (no embedded IPv4 form)")
            }
            let first = canonical.split(separator: ":", omittingEmptySubsequences: false).first ?? ""
            let firstGroup = UInt16(first, radix: 16) ?? 0
            if canonical == "::" || canonical == "::1" {
                throw refuse("the unspecified and loopback addresses cannot be service addresses")
            }
            if firstGroup & 0xFF00 == 0xFF00 { throw refuse("a multicast address cannot be a service address") }
            if firstGroup & 0xFFC0 == 0xFE80 {
                throw refuse("a link-local address needs a zone; use a global or unique local (fd00::/8) address")
            }
            family = .ipv6
            address = canonical
        } else {
            throw refuse("expected \(Self.example)")
        }
        if parts.count == 2 {
            let limit = family == .ipv4 ? 32 : 128
            guard let length = Int(parts[1]), (1...limit).contains(length), parts[1].first != "+",
                parts[1] == String(length)
            else {
                throw refuse("the prefix length after '/' must be 1 to \(limit)")
            }
            prefixLength = length
        }
    }

    /// The address in a `RESOURCE_IP` value (validated when its definition was), without prefix
    /// length, IPv6 in canonical form. Cheap: the agent asks it for every held resource at every
    /// brain step (the fence plan), so it does not validate again.
    public static func canonical(_ text: String) -> String? {
        guard let host = text.split(separator: "/", maxSplits: 1).first, !host.isEmpty else { return nil }
        // On the bytes: `contains(":")` on a substring is Foundation's string search, which cost
        // the agent 5 % of its CPU at rest (each step's fence plan asks for every held address).
        return host.utf8.contains(UInt8(ascii: ":")) ? canonicalIPv6(String(host)) : String(host)
    }

    /// Dotted quad, four decimal numbers 0–255 without leading zeros.
    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                part.allSatisfy(\.isASCIIDigitCharacter) && UInt8(part) != nil && (part == "0" || !part.hasPrefix("0"))
            }
    }

    /// RFC 5952 text of an IPv6 address, or nil if `text` is not one.
    static func canonicalIPv6(_ text: String) -> String? {
        guard !text.isEmpty, !text.contains("%") else { return nil }
        var bytes = in6_addr()
        guard inet_pton(AF_INET6, text, &bytes) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &bytes, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
