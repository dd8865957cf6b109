import ClusterModel
import Foundation
import Logging
import Subprocess
import SystemPackage

/// The virtual IPs of exclusive resources on this node: which are up, and removing them at once
/// when the node self-fences (without the store, without the unload script).
///
/// A resource's address is its `RESOURCE_IP` variable (the `Generic_IP_Service` template's), with
/// or without a prefix length.
public struct AddressManager: Sendable {
    public var ipCommand: String
    let logger: Logger

    public init(ipCommand: String = "/usr/sbin/ip", logger: Logger) {
        self.ipCommand = ipCommand
        self.logger = logger
    }

    /// The address a resource moves, if it has one.
    public static func address(of spec: ResourceSpec) -> String? {
        spec.variables["RESOURCE_IP"].map { String($0.split(separator: "/").first ?? "") }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `ip -o addr show to ADDR`: the interfaces that carry `address` now.
    public func interfaces(carrying address: String) async -> [String] {
        guard let result = try? await Subprocess.run(
            .path(FilePath(ipCommand)), arguments: ["-o", "addr", "show", "to", address], output: .string(limit: 65536),
            error: .discarded)
        else { return [] }
        return result.standardOutput.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 1 ? String(fields[1]).replacingOccurrences(of: ":", with: "") : nil
        }
    }

    /// Every address on this node's interfaces, without prefix lengths (one `ip -o addr show`).
    public func localAddresses() async -> Set<String> {
        guard let result = try? await Subprocess.run(
            .path(FilePath(ipCommand)), arguments: ["-o", "addr", "show"], output: .string(limit: 1 << 20),
            error: .discarded)
        else { return [] }
        return Set(result.standardOutput.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[2] == "inet" || fields[2] == "inet6" else { return nil }
            return fields[3].split(separator: "/").first.map(String.init)
        })
    }

    /// Resources among `specs` whose address is up on this node.
    public func present(_ specs: [ResourceSpec]) async -> Set<ResourceName> {
        let local = await localAddresses()
        return Set(specs.filter { $0.mode == .exclusive && Self.address(of: $0).map(local.contains) == true }.map(\.name))
    }

    /// Removes `address` from every interface that carries it; retries a few times (ARCHITECTURE.md §4.9).
    @discardableResult
    public func remove(_ address: String) async -> Bool {
        for _ in 0..<3 {
            let devices = await interfaces(carrying: address)
            if devices.isEmpty { return true }
            for device in devices {
                let output = try? await Subprocess.run(
                    .path(FilePath(ipCommand)), arguments: ["-o", "addr", "show", "dev", device, "to", address],
                    output: .string(limit: 65536), error: .discarded)
                let cidr = (output?.standardOutput ?? "").split(separator: " ").first { $0.hasPrefix(address + "/") }
                _ = try? await Subprocess.run(
                    .path(FilePath(ipCommand)), arguments: ["addr", "del", String(cidr ?? Substring(address + "/32")), "dev", device],
                    output: .discarded, error: .discarded)
            }
        }
        let gone = await interfaces(carrying: address).isEmpty
        if !gone { logger.critical("virtual IP still up after removal", metadata: ["vigil.vip": "\(address)"]) }
        return gone
    }
}
