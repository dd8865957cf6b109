import ClusterClient
import ClusterModel
import Foundation

/// One input file of an import: the name it is reported under (as the administrator gave it) and
/// its text.
public struct ImportSource: Sendable {
    public var name: String
    public var text: String

    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }

    /// The file at `path` as UTF-8 text of at most `limit` bytes, reported as `name`, or why not.
    public static func read(_ path: String, as name: String? = nil, limit: Int) -> Result<ImportSource, ImportProblem> {
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        guard size <= limit, let data = FileManager.default.contents(atPath: path) else {
            return .failure(
                ImportProblem(
                    SourceLocation(path),
                    size > limit
                        ? "larger than \(limit >= 1 << 20 ? "\(limit >> 20) MiB" : "\(limit >> 10) KiB")"
                        : "cannot be read"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ImportProblem(SourceLocation(path), "not UTF-8 text"))
        }
        return .success(ImportSource(name: name ?? path, text: text))
    }
}

/// A place in an input file, `file:line` (line 0: the file as a whole).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var file: String
    public var line: Int

    public init(_ file: String, _ line: Int = 0) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }

    public static func < (a: Self, b: Self) -> Bool { (a.file, a.line) < (b.file, b.line) }
}

/// Bad input: the file, the line and why. An import with any of these creates nothing.
public struct ImportProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var reason: String

    public init(_ location: SourceLocation, _ reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }
}

/// Every problem found in the input (all of them, not only the first).
public struct ImportFailure: Error, Sendable, CustomStringConvertible {
    public var problems: [ImportProblem]

    public init(problems: [ImportProblem]) { self.problems = problems }

    public var description: String {
        problems.sorted { $0.location < $1.location }.map(\.description).joined(separator: "\n")
    }
}

/// What the input says that Vigil does not take over, and why: listed, never dropped silently.
public struct LeftOut: Hashable, Sendable {
    public var location: SourceLocation
    public var what: String
    public var reason: String

    public init(_ location: SourceLocation, _ what: String, _ reason: String) {
        self.location = location
        self.what = what
        self.reason = reason
    }
}

/// A resource an import would create, with where it came from.
public struct PlannedResource: Hashable, Sendable {
    public var spec: ResourceSpec
    public var origin: [SourceLocation]

    public init(spec: ResourceSpec, origin: [SourceLocation]) {
        self.spec = spec
        self.origin = origin
    }
}

/// The outcome of reading an NCS directory, a keepalived configuration or a Pacemaker CIB: the
/// resources to create (each already validated) and what is left out. Nothing is applied here.
public struct ImportPlan: Sendable {
    public var kind: String
    public var resources: [PlannedResource]
    public var leftOut: [LeftOut]

    /// At most this many resources in one import: the API's bound (one store transaction, all or
    /// nothing; etcd allows 128 operations per transaction by default).
    public static let maximumResources = ImportRequest.maximumResources

    public init(kind: String, resources: [PlannedResource], leftOut: [LeftOut]) {
        self.kind = kind
        self.resources = resources
        self.leftOut = leftOut.sorted { ($0.location, $0.what) < ($1.location, $1.what) }
    }

    /// Checks what is common to every importer: valid definitions, distinct names, a bounded count.
    static func checked(kind: String, _ resources: [PlannedResource], leftOut: [LeftOut], problems: [ImportProblem])
        throws(ImportFailure) -> ImportPlan
    {
        var problems = problems
        var seen: [ResourceName: SourceLocation] = [:]
        for resource in resources {
            let here = resource.origin.first ?? SourceLocation("?")
            do { try resource.spec.validate() } catch { problems.append(ImportProblem(here, "\(error)")) }
            if let first = seen[resource.spec.name] {
                problems.append(ImportProblem(here, "resource name \(resource.spec.name) is also made from \(first)"))
            }
            seen[resource.spec.name] = seen[resource.spec.name] ?? here
        }
        if resources.count > maximumResources {
            problems.append(
                ImportProblem(
                    resources[maximumResources].origin.first ?? SourceLocation("?"),
                    "more than \(maximumResources) resources in one import: split the input"))
        }
        guard problems.isEmpty else { throw ImportFailure(problems: problems) }
        return ImportPlan(kind: kind, resources: resources, leftOut: leftOut)
    }

    /// The dry run: what would be created and what is left out, in a stable order.
    public func render(existing: Set<String> = [], replace: Bool = false) -> String {
        var lines: [String] = []
        let verb = { (name: ResourceName) -> String in
            existing.contains(name.rawValue) ? (replace ? "replace" : "exists ") : "create "
        }
        // The same item in several files (one keepalived.conf per node) is one line.
        var items: [String] = []
        var places: [String: [SourceLocation]] = [:]
        for item in leftOut {
            let key = "\(item.what): \(item.reason)"
            if places[key] == nil { items.append(key) }
            places[key, default: []].append(item.location)
        }
        lines.append(
            "vigil import \(kind): \(resources.count) resource\(resources.count == 1 ? "" : "s"), "
                + "\(items.count) item\(items.count == 1 ? "" : "s") left out")
        for resource in resources {
            let spec = resource.spec
            lines.append("")
            lines.append(
                "\(verb(spec.name)) \(spec.name)  (\(spec.template ?? "no template"); from \(resource.origin.map(\.description).joined(separator: ", ")))"
            )
            if let address = spec.variables["RESOURCE_IP"] { lines.append("  address     \(address)") }
            let nodes = spec.preferredNodes.map(\.rawValue).joined(separator: " ")
            lines.append("  nodes       \(nodes.isEmpty ? "(any, by name)" : nodes)")
            let policies = spec.policies
            lines.append(
                "  policies    start \(policies.startMode.rawValue), failover \(policies.failoverMode.rawValue), failback \(policies.failbackMode.rawValue)"
            )
            lines.append("  timeouts    load \(spec.load.timeout), unload \(spec.unload.timeout)")
            if let monitor = spec.monitor {
                lines.append("  monitor     every \(monitor.interval), timeout \(monitor.script.timeout)")
            } else {
                lines.append("  monitor     none")
            }
            if spec.priority != 0 { lines.append("  priority    \(spec.priority)") }
            for (label, body) in [("load", spec.load.body), ("unload", spec.unload.body)]
                + (spec.monitor.map { [("monitor", $0.script.body)] } ?? [])
            {
                lines.append("  \(label) script:")
                let text = body.hasSuffix("\n") ? String(body.dropLast()) : body + "  (no newline at the end)"
                lines.append(
                    contentsOf: text.split(separator: "\n", omittingEmptySubsequences: false).map { "  | \($0)" })
            }
        }
        if !items.isEmpty {
            lines.append("")
            lines.append("left out:")
            for key in items {
                lines.append("  \(places[key]!.map(\.description).joined(separator: ", ")): \(key)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Resource names from other tools' names: letters, digits and '_' (others become '_'), 1–63 long.
func resourceName(from text: String) -> String {
    let kept = text.unicodeScalars.map { scalar -> Character in
        let allowed =
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "_"
        return allowed ? Character(scalar) : "_"
    }
    return String(String(kept).prefix(63))
}

/// A `Generic_IP_Service` definition for `address` (checked) whose scripts add it (on `device` if
/// given) and remove it, `comment` (whole `#` lines) saying where it came from; policies are the
/// caller's.
func ipService(name: String, address: String, device: String?, comment: String, location: SourceLocation)
    throws(ImportProblem) -> ResourceSpec
{
    var spec: ResourceSpec
    do {
        let resource = try ResourceName(validating: name, field: "name")
        spec = try ResourceTemplate.named("Generic_IP_Service")!.instantiate(
            name: resource, variables: ["RESOURCE_IP": address])
    } catch {
        throw ImportProblem(location, "\(error)")
    }
    let argument = address + (device.map { " \($0)" } ?? "")
    spec.load.body =
        "#!/bin/bash\n\(comment). \"$VIGIL_FUNCS\"\nexit_on_error add_secondary_ipaddress \(argument)\nexit 0\n"
    spec.unload.body = "#!/bin/bash\n. \"$VIGIL_FUNCS\"\nignore_error del_secondary_ipaddress \(address)\nexit 0\n"
    return spec
}
