import ClusterModel
import Foundation
import Logging
import NIOPosix
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

    /// Every address on this node's interfaces, without prefix lengths (one `ip -o addr show`);
    /// nil if `ip` could not be run or failed — not knowing is never "none".
    public func localAddresses() async -> Set<String>? {
        let result = try? await Subprocess.run(
            .path(FilePath(ipCommand)), arguments: ["-o", "addr", "show"], output: .string(limit: 1 << 20),
            error: .discarded)
        guard let result, result.terminationStatus.isSuccess else {
            logger.error("cannot list addresses with ip", metadata: ["vigil.command": "\(ipCommand)"])
            return nil
        }
        return Set(Self.parse(result.standardOutput).map(\.address))
    }

    /// Resources among `specs` whose address is up on this node; nil if the addresses cannot be listed.
    public func present(_ specs: [ResourceSpec]) async -> Set<ResourceName>? {
        guard let local = await localAddresses() else { return nil }
        return Set(specs.filter { $0.mode == .exclusive && $0.virtualAddress.map(local.contains) == true }.map(\.name))
    }

    /// Removes `addresses` from every interface that carries them (ARCHITECTURE.md §4.9): the fence
    /// path's batch removal, on NIO's blocking-work thread pool (never on the cooperative pool,
    /// whatever `ip` does; used for the rare stray address).
    /// - Returns: the addresses still up (or not known to be gone) afterwards.
    public func remove(_ addresses: [String]) async -> [String] {
        let left =
            (try? await NIOThreadPool.singleton.runIfActive { self.removeAllNow(addresses) }) ?? addresses.sorted()
        if !left.isEmpty { logger.critical("virtual IPs still up after removal", metadata: ["vigil.vip": "\(left)"]) }
        return left
    }
}
