import Foundation

/// A resource skeleton: scripts with `${VARIABLE}` placeholders, default policies and monitoring.
public struct ResourceTemplate: Hashable, Sendable, Codable {
    public var name: String
    public var summary: String
    /// Variables the scripts use; all must be given when a resource is made from the template.
    public var variables: [String]
    public var load: String
    public var unload: String
    public var monitor: String?
    public var monitorInterval: Span

    /// Makes a resource: placeholders replaced by the values, which are also exported to the scripts.
    public func instantiate(name: ResourceName, variables values: [String: String]) throws(ValidationError)
        -> ResourceSpec
    {
        for variable in variables where values[variable, default: ""].isEmpty {
            throw ValidationError(
                .missingField, field: "variables.\(variable)", value: "", reason: "template \(self.name) needs it")
        }
        if let ip = values["RESOURCE_IP"] { _ = try VirtualAddress(parsing: ip) }
        func fill(_ text: String) -> String {
            values.reduce(text) { $0.replacingAll("${\($1.key)}", with: $1.value) }
        }
        var spec = ResourceSpec(
            name: name, template: self.name,
            load: ScriptSpec(body: fill(load), timeout: ResourceSpec.defaultLoadTimeout),
            unload: ScriptSpec(body: fill(unload), timeout: ResourceSpec.defaultUnloadTimeout), variables: values)
        if let monitor {
            spec.monitor = MonitorSpec(
                script: ScriptSpec(body: fill(monitor), timeout: ResourceSpec.defaultMonitorTimeout),
                interval: monitorInterval)
        }
        try spec.validate()
        return spec
    }

    /// The templates Vigil ships, as NCS does.
    public static let builtIn: [ResourceTemplate] = [
        ResourceTemplate(
            name: "Generic_IP_Service",
            summary: "a virtual IP for a service that runs on every node (Active/Active): only the address moves",
            variables: ["RESOURCE_IP"],
            load: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                exit_on_error add_secondary_ipaddress ${RESOURCE_IP}
                exit 0
                """,
            unload: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                ignore_error del_secondary_ipaddress ${RESOURCE_IP}
                exit 0
                """,
            monitor: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                exit_on_error status_secondary_ipaddress ${RESOURCE_IP}
                exit 0
                """,
            monitorInterval: .seconds(60)),
        ResourceTemplate(
            name: "Generic_Service",
            summary:
                "a service started where its address goes (Active/Passive): SERVICE is a systemd unit or a command",
            variables: ["RESOURCE_IP", "SERVICE"],
            load: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                exit_on_error start_service ${SERVICE}
                exit_on_error add_secondary_ipaddress ${RESOURCE_IP}
                exit 0
                """,
            unload: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                ignore_error del_secondary_ipaddress ${RESOURCE_IP}
                ignore_error stop_service ${SERVICE}
                exit 0
                """,
            monitor: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                exit_on_error status_secondary_ipaddress ${RESOURCE_IP}
                exit_on_error status_service ${SERVICE}
                exit 0
                """,
            monitorInterval: .seconds(60)),
        ResourceTemplate(
            name: "Generic_FS",
            summary: "a shared file system mounted where its address goes",
            variables: ["RESOURCE_IP", "MOUNT_DEV", "MOUNT_POINT", "MOUNT_FS"],
            load: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                exit_on_error mount_fs ${MOUNT_DEV} ${MOUNT_POINT} ${MOUNT_FS}
                exit_on_error add_secondary_ipaddress ${RESOURCE_IP}
                exit 0
                """,
            unload: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                ignore_error del_secondary_ipaddress ${RESOURCE_IP}
                ignore_error umount_fs ${MOUNT_DEV} ${MOUNT_POINT} ${MOUNT_FS}
                exit 0
                """,
            monitor: """
                #!/bin/bash
                . "$VIGIL_FUNCS"
                exit_on_error status_fs ${MOUNT_DEV} ${MOUNT_POINT} ${MOUNT_FS}
                exit_on_error status_secondary_ipaddress ${RESOURCE_IP}
                exit 0
                """,
            monitorInterval: .seconds(60)),
    ]

    /// A built-in template by name (case-insensitive, as NCS names are).
    public static func named(_ name: String) -> ResourceTemplate? {
        builtIn.first { $0.name.lowercased() == name.lowercased() }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return components(separatedBy: target).joined(separator: replacement)
    }
}
