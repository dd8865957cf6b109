import ArgumentParser
import ClusterModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `vigil announce-address DEV ADDRESS`: an unsolicited IPv6 neighbour advertisement (override flag,
/// the interface's link-layer address) to all nodes on DEV, so that the neighbours' caches follow a
/// moved IPv6 service address at once. IPv6's counterpart of `arping -U`: Debian's `ndisc6` has no
/// sender of unsolicited advertisements, and `vigilfuncs` needs one (docs/design/0020). Root only
/// (a raw ICMPv6 socket).
struct AnnounceAddress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce-address",
        abstract: "Send an unsolicited IPv6 neighbour advertisement for ADDRESS on DEV (used by vigilfuncs).",
        shouldDisplay: false)

    @Argument(help: "The interface carrying the address.") var device: String
    @Argument(help: "The IPv6 address (without prefix length).") var address: String
    @Option(help: "How many advertisements, 1 to 5.") var count = 1

    func run() throws {
        guard (1...5).contains(count) else { throw ValidationError("--count: value '\(count)': 1 to 5") }
        let parsed: VirtualAddress
        do { parsed = try VirtualAddress(parsing: address, field: "ADDRESS") } catch {
            throw ValidationError("\(error)")
        }
        guard parsed.family == .ipv6, parsed.prefixLength == nil else {
            throw ValidationError("ADDRESS: value '\(address)': an IPv6 address without a prefix length")
        }
        let index = if_nametoindex(device)
        guard index != 0 else { throw ValidationError("DEV: value '\(device)': no such interface") }
        guard let mac = Self.hardwareAddress(device) else {
            throw ValidationError("DEV: value '\(device)': no Ethernet address in /sys/class/net/\(device)/address")
        }
        var target = in6_addr()
        _ = inet_pton(AF_INET6, parsed.address, &target)
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { throw Self.failure("socket", errno) }
        defer { close(fd) }
        // Neighbour Discovery messages carry hop limit 255 (RFC 4861 §7.1.2); the kernel computes
        // the ICMPv6 checksum of a raw ICMPv6 socket.
        var hops: Int32 = 255
        var interface = UInt32(index)
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &interface, socklen_t(MemoryLayout<UInt32>.size))
                == 0
        else { throw Self.failure("setsockopt", errno) }
        // From the moved address itself, as a node answering for it would.
        var source = sockaddr_in6()
        source.sin6_family = sa_family_t(AF_INET6)
        source.sin6_addr = target
        let bound = withUnsafePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard bound == 0 else { throw Self.failure("bind to \(parsed.address) (is it up on \(device)?)", errno) }
        var destination = sockaddr_in6()
        destination.sin6_family = sa_family_t(AF_INET6)
        destination.sin6_scope_id = UInt32(index)
        _ = inet_pton(AF_INET6, "ff02::1", &destination.sin6_addr)
        let message = Self.advertisement(target: withUnsafeBytes(of: target) { Array($0) }, hardwareAddress: mac)
        for sent in 0..<count {
            if sent > 0 { usleep(100_000) }
            let written = message.withUnsafeBytes { bytes in
                withUnsafePointer(to: &destination) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            }
            guard written == message.count else { throw Self.failure("sendto", errno) }
        }
    }

    /// ICMPv6 type 136, flags Override only (unsolicited, not a router), the target, and a target
    /// link-layer address option (type 2, length 1 = 8 bytes).
    static func advertisement(target: [UInt8], hardwareAddress: [UInt8]) -> [UInt8] {
        [136, 0, 0, 0, 0x20, 0, 0, 0] + target + [2, 1] + hardwareAddress
    }

    /// The six bytes of `/sys/class/net/DEV/address`, or nil.
    static func hardwareAddress(_ device: String) -> [UInt8]? {
        guard !device.contains("/"),
            let text = try? String(contentsOfFile: "/sys/class/net/\(device)/address", encoding: .utf8)
        else { return nil }
        let bytes = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").compactMap {
            UInt8($0, radix: 16)
        }
        return bytes.count == 6 ? bytes : nil
    }

    static func failure(_ what: String, _ code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("announce-address: \(what): \(String(cString: strerror(code)))\n".utf8))
        return ExitCode(1)
    }
}
