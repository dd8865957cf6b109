import ClusterModel
import Foundation

/// `vigil import ncs DIR`: a directory laid out as NCS keeps a node's copy of its resources —
/// `<RES>.load`, `<RES>.unload` and optionally `<RES>.monitor` — plus `ncs-policies.conf` for what NCS
/// keeps in eDirectory (docs/import/ncs-policies.conf.example). The scripts are taken byte for byte.
///
///     [iManager]
///     start_mode = AUTO            # AUTO | MANUAL
///     failover_mode = AUTO         # AUTO | MANUAL
///     failback_mode = DISABLE      # AUTO | MANUAL | DISABLE
///     preferred_nodes = n1 n2 n3   # in order
///     load_timeout = 60s
///     unload_timeout = 60s
///     monitor_interval = 60s       # only with a .monitor script
///     monitor_timeout = 10s
///     priority = 0                 # -1000 … 1000, higher loads first
///     follows_master = no          # yes | no
///     ignore_quorum = no           # yes | no
public enum NCSImport {
    public static let policyFile = "ncs-policies.conf"

    /// `files`: every regular file of the directory, by name (no path); `directory` is how the
    /// administrator named it, used in messages.
    public static func plan(directory: String, files: [ImportSource]) throws(ImportFailure) -> ImportPlan {
        var problems: [ImportProblem] = []
        var leftOut: [LeftOut] = []
        let display = { (name: String) in directory.hasSuffix("/") ? directory + name : "\(directory)/\(name)" }
        var scripts: [String: [String: ImportSource]] = [:]
        var policyText: ImportSource?
        for file in files.sorted(by: { $0.name < $1.name }) {
            if file.name == policyFile {
                policyText = file
                continue
            }
            let parts = file.name.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 2, ["load", "unload", "monitor"].contains(parts[1]), !parts[0].isEmpty {
                scripts[String(parts[0]), default: [:]][String(parts[1])] = file
            } else {
                leftOut.append(
                    LeftOut(
                        SourceLocation(display(file.name)), "file \(file.name)",
                        "not a <RESOURCE>.load, .unload or .monitor script nor \(policyFile)"))
            }
        }
        var policies: [String: (values: [String: (value: String, line: Int)], line: Int)] = [:]
        if let policyText {
            let parsed = parsePolicies(ImportSource(name: display(policyFile), text: policyText.text))
            policies = parsed.sections
            problems += parsed.problems
        }
        for (name, section) in policies where scripts[name] == nil {
            problems.append(
                ImportProblem(
                    SourceLocation(display(policyFile), section.line),
                    "[\(name)] has no \(name).load and \(name).unload in \(directory)"))
        }
        var resources: [PlannedResource] = []
        for name in scripts.keys.sorted() {
            let files = scripts[name]!
            let origin = SourceLocation(display(files["load"]?.name ?? files["unload"]?.name ?? name))
            guard let load = files["load"], let unload = files["unload"] else {
                let missing = files["load"] == nil ? "\(name).load" : "\(name).unload"
                problems.append(ImportProblem(origin, "\(missing) is missing: a resource needs both scripts"))
                if let section = policies[name], let resource = try? ResourceName(validating: name, field: "name") {
                    // Its policies are still checked: one run names every problem.
                    var spec = ResourceSpec(name: resource)
                    if files["monitor"] != nil {
                        spec.monitor = MonitorSpec(script: ScriptSpec(body: "", timeout: .seconds(10)))
                    }
                    do { try apply(section.values, to: &spec, file: display(policyFile)) } catch {
                        problems.append(error)
                    }
                }
                continue
            }
            guard let resource = try? ResourceName(validating: name, field: "name") else {
                problems.append(
                    ImportProblem(origin, "resource name '\(name)': 1 to 63 letters, digits or '_' (rename the files)"))
                continue
            }
            var spec = ResourceSpec(name: resource, template: nil)
            spec.load.body = load.text
            spec.unload.body = unload.text
            if let monitor = files["monitor"] {
                spec.monitor = MonitorSpec(
                    script: ScriptSpec(body: monitor.text, timeout: ResourceSpec.defaultMonitorTimeout))
            }
            let addresses = serviceAddresses(in: load.text)
            if let first = addresses.first {
                do { _ = try VirtualAddress(parsing: first.address, field: "add_secondary_ipaddress") } catch {
                    problems.append(
                        ImportProblem(
                            SourceLocation(display(load.name), first.line),
                            "address '\(first.address)' does not parse: \(error.reason)"))
                    continue
                }
                spec.variables["RESOURCE_IP"] = first.address
                spec.template = "Generic_IP_Service"
                for other in addresses.dropFirst() {
                    leftOut.append(
                        LeftOut(
                            SourceLocation(display(load.name), other.line), "fencing of \(other.address)",
                            "moved by the script, but a node Vigil fences removes only RESOURCE_IP (\(first.address)); make it a resource of its own"
                        ))
                }
            } else {
                leftOut.append(
                    LeftOut(
                        SourceLocation(display(load.name)), "service address of \(name)",
                        "no `add_secondary_ipaddress ADDRESS` in the load script: when Vigil fences a node it removes no address for this resource"
                    ))
            }
            if let section = policies[name] {
                do {
                    try apply(section.values, to: &spec, file: display(policyFile))
                } catch {
                    problems.append(error)
                    continue
                }
            }
            resources.append(
                PlannedResource(
                    spec: spec,
                    origin: [SourceLocation(display(load.name))]
                        + (policies[name].map { [SourceLocation(display(policyFile), $0.line)] } ?? [])))
        }
        return try ImportPlan.checked(kind: "ncs", resources, leftOut: leftOut, problems: problems)
    }

    /// The addresses of `add_secondary_ipaddress` lines (a literal, or `$VAR`/`${VAR}` set earlier in
    /// the script as `VAR=value`), with their line numbers.
    static func serviceAddresses(in script: String) -> [(address: String, line: Int)] {
        var variables: [String: String] = [:]
        var found: [(String, Int)] = []
        for (index, raw) in script.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.first == "export" { words.removeFirst() }
            if words.count == 1 || (words.count > 1 && words[1].hasPrefix("#")),
                let equals = words[0].firstIndex(of: "="), words[0].first?.isLetter == true || words[0].first == "_"
            {
                let name = String(words[0][..<equals])
                var value = String(words[0][words[0].index(after: equals)...])
                if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                    value = String(value.dropFirst().dropLast())
                }
                variables[name] = value
                continue
            }
            guard let position = words.firstIndex(of: "add_secondary_ipaddress"), position + 1 < words.count else {
                continue
            }
            var argument = words[position + 1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if argument.hasPrefix("$") {
                let name = argument.dropFirst().trimmingCharacters(in: CharacterSet(charactersIn: "{}"))
                guard let value = variables[name] else { continue }
                argument = value
            }
            found.append((argument, index + 1))
        }
        return found
    }

    /// `[NAME]` sections of `key = value` lines; `#` starts a comment. Lines in error are reported
    /// and skipped, so that one run names every problem.
    static func parsePolicies(_ source: ImportSource) -> (
        sections: [String: (values: [String: (value: String, line: Int)], line: Int)], problems: [ImportProblem]
    ) {
        var problems: [ImportProblem] = []
        var sections: [String: (values: [String: (value: String, line: Int)], line: Int)] = [:]
        var current: String?
        for (index, raw) in source.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let here = SourceLocation(source.name, index + 1)
            let line = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    problems.append(ImportProblem(here, "a section header is [RESOURCE]"))
                    current = nil
                    continue
                }
                let name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if let earlier = sections[name] {
                    problems.append(ImportProblem(here, "[\(name)] is also at line \(earlier.line)"))
                }
                sections[name] = ([:], index + 1)
                current = name
                continue
            }
            guard let section = current else {
                problems.append(ImportProblem(here, "'\(line)' is outside a [RESOURCE] section"))
                continue
            }
            let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else {
                problems.append(ImportProblem(here, "'\(line)': expected key = value"))
                continue
            }
            let key = pair[0].trimmingCharacters(in: .whitespaces)
            guard policyKeys.contains(key) else {
                problems.append(
                    ImportProblem(
                        here, "unknown key '\(key)' (known: \(policyKeys.sorted().joined(separator: ", ")))"))
                continue
            }
            if let earlier = sections[section]!.values[key] {
                problems.append(ImportProblem(here, "\(key) is also set at line \(earlier.line)"))
            }
            sections[section]!.values[key] = (pair[1].trimmingCharacters(in: .whitespaces), index + 1)
        }
        return (sections, problems)
    }

    static let policyKeys: Set<String> = [
        "start_mode", "failover_mode", "failback_mode", "preferred_nodes", "load_timeout", "unload_timeout",
        "monitor_interval", "monitor_timeout", "priority", "follows_master", "ignore_quorum",
    ]

    static func apply(_ values: [String: (value: String, line: Int)], to spec: inout ResourceSpec, file: String)
        throws(ImportProblem)
    {
        func refuse(_ key: String, _ reason: String) -> ImportProblem {
            ImportProblem(
                SourceLocation(file, values[key]?.line ?? 0), "\(key) '\(values[key]?.value ?? "")': \(reason)")
        }
        func span(_ key: String) throws(ImportProblem) -> Span? {
            guard let text = values[key]?.value else { return nil }
            do { return try Span(parsing: text, field: key) } catch { throw refuse(key, error.reason) }
        }
        func yesNo(_ key: String) throws(ImportProblem) -> Bool? {
            guard let text = values[key]?.value else { return nil }
            switch text.lowercased() {
            case "yes", "true", "on": return true
            case "no", "false", "off": return false
            default: throw refuse(key, "yes or no")
            }
        }
        if let text = values["start_mode"]?.value {
            guard let mode = StartMode(rawValue: text.uppercased()) else {
                throw refuse("start_mode", "AUTO or MANUAL")
            }
            spec.policies.startMode = mode
        }
        if let text = values["failover_mode"]?.value {
            guard let mode = StartMode(rawValue: text.uppercased()) else {
                throw refuse("failover_mode", "AUTO or MANUAL")
            }
            spec.policies.failoverMode = mode
        }
        if let text = values["failback_mode"]?.value {
            guard let mode = FailbackMode(rawValue: text.uppercased()) else {
                throw refuse("failback_mode", "AUTO, MANUAL or DISABLE")
            }
            spec.policies.failbackMode = mode
        }
        if let text = values["preferred_nodes"]?.value {
            var nodes: [NodeName] = []
            for word in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
                guard let node = try? NodeName(validating: String(word), field: "preferred_nodes") else {
                    throw refuse("preferred_nodes", "'\(word)' is not a node name")
                }
                nodes.append(node)
            }
            spec.preferredNodes = nodes
        }
        if let timeout = try span("load_timeout") { spec.load.timeout = timeout }
        if let timeout = try span("unload_timeout") { spec.unload.timeout = timeout }
        if values["monitor_interval"] != nil || values["monitor_timeout"] != nil, spec.monitor == nil {
            throw refuse(
                values["monitor_interval"] != nil ? "monitor_interval" : "monitor_timeout",
                "\(spec.name) has no .monitor script")
        }
        if let interval = try span("monitor_interval") { spec.monitor?.interval = interval }
        if let timeout = try span("monitor_timeout") { spec.monitor?.script.timeout = timeout }
        if let text = values["priority"]?.value {
            guard let priority = Int(text) else { throw refuse("priority", "a whole number, -1000 to 1000") }
            spec.priority = priority
        }
        if let follows = try yesNo("follows_master") { spec.policies.followsMaster = follows }
        if let ignore = try yesNo("ignore_quorum") { spec.policies.ignoreQuorum = ignore }
        do { try spec.validate() } catch {
            let key = [
                "load": "load_timeout", "unload": "unload_timeout", "monitor.interval": "monitor_interval",
                "priority": "priority", "monitor.script": "monitor_timeout",
            ].first { error.field.hasPrefix($0.key) }?.value
            throw ImportProblem(SourceLocation(file, key.flatMap { values[$0]?.line } ?? 0), "\(error)")
        }
    }
}

extension NCSImport {
    /// The regular files of `path` (not its subdirectories), by name; nil with the reason if it
    /// cannot be read. At most 1,000 files of at most 256 KiB each: an import reads, it does not crawl.
    public static func files(inDirectory path: String) -> Result<[ImportSource], ImportFailure> {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
            let names = try? manager.contentsOfDirectory(atPath: path)
        else {
            return .failure(ImportFailure(problems: [ImportProblem(SourceLocation(path), "not a readable directory")]))
        }
        guard names.count <= 1000 else {
            return .failure(
                ImportFailure(problems: [
                    ImportProblem(SourceLocation(path), "more than 1,000 files: not an NCS script directory")
                ]))
        }
        var sources: [ImportSource] = []
        var problems: [ImportProblem] = []
        for name in names.sorted() {
            let full = (path as NSString).appendingPathComponent(name)
            guard manager.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            switch ImportSource.read(full, as: name, limit: 256 * 1024) {
            case .success(let source): sources.append(source)
            case .failure(let problem): problems.append(problem)
            }
        }
        return problems.isEmpty ? .success(sources) : .failure(ImportFailure(problems: problems))
    }
}
