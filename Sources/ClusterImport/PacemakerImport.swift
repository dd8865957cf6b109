import ClusterModel
import Foundation

/// `vigil import pacemaker FILE` (the output of `cibadmin --query`): every `ocf:heartbeat:IPaddr2`
/// primitive, alone or in a group, becomes a `Generic_IP_Service` resource. Location constraints on
/// it or its group give the preferred nodes (highest score first; then the other nodes of a
/// symmetric cluster; never a node with a negative score); `resource-stickiness` (the primitive's,
/// its group's or the default) at least the gap between the two best scores keeps a resource where
/// it is — failback DISABLE — otherwise it goes back: AUTO. The monitor, start and stop operations
/// give the monitor interval and the timeouts. Everything else is listed as not imported.
public enum PacemakerImport {
    public static func plan(_ source: ImportSource) throws(ImportFailure) -> ImportPlan {
        let file = source.name
        let root: XMLTag
        do { root = try XMLReader.parse(source.text) } catch {
            throw ImportFailure(problems: [
                ImportProblem(SourceLocation(file, error.line), "not well-formed XML: \(error.reason)")
            ])
        }
        let at = { (line: Int) in SourceLocation(file, line) }
        guard root.name == "cib", let configuration = root.child("configuration") else {
            throw ImportFailure(problems: [
                ImportProblem(
                    at(root.line), "not a Pacemaker CIB: expected <cib> with <configuration> (cibadmin --query)")
            ])
        }
        var problems: [ImportProblem] = []
        var leftOut: [LeftOut] = []

        var properties: [String: String] = [:]
        for set in configuration.child("crm_config")?.children ?? [] {
            for pair in set.children("nvpair") {
                properties[pair["name"] ?? ""] = pair["value"] ?? ""
                leftOut.append(
                    LeftOut(
                        at(pair.line), "cluster property \(pair["name"] ?? "?")=\(pair["value"] ?? "")",
                        "Pacemaker's own setting (Vigil's are in vigil.yaml and `vigil set`)"))
            }
        }
        let nodes = (configuration.child("nodes")?.children("node") ?? []).compactMap { $0["uname"] }
        let symmetric = (properties["symmetric-cluster"] ?? "true").lowercased() != "false"
        let defaultStickiness = (configuration.child("rsc_defaults")?.pairs(in: "meta_attributes") ?? []).first {
            $0.name == "resource-stickiness"
        }
        for section in ["op_defaults", "fencing-topology", "tags", "acls", "alerts"] {
            for element in configuration.children(section) {
                leftOut.append(LeftOut(at(element.line), "<\(section)>", "not imported: no counterpart in Vigil"))
            }
        }

        // Scores by resource id (a primitive's or its group's).
        var scores: [String: [(node: String, score: Int, line: Int)]] = [:]
        for constraint in configuration.child("constraints")?.children ?? [] {
            let here = at(constraint.line)
            let id = constraint["id"] ?? "?"
            switch constraint.name {
            case "rsc_location":
                guard let resource = constraint["rsc"], let node = constraint["node"], let text = constraint["score"],
                    constraint.children.isEmpty
                else {
                    leftOut.append(
                        LeftOut(
                            here, "rsc_location \(id)",
                            "not imported: only a node and a score are understood (not rules, roles or patterns)"))
                    continue
                }
                guard let score = score(text) else {
                    problems.append(
                        ImportProblem(here, "rsc_location \(id): score '\(text)' is not a number or ±INFINITY"))
                    continue
                }
                scores[resource, default: []].append((node, score, constraint.line))
            case "rsc_colocation", "rsc_order", "rsc_ticket":
                leftOut.append(
                    LeftOut(
                        here, "\(constraint.name) \(id)",
                        "not imported: Vigil has no colocation or ordering between resources (exclusion groups keep resources apart)"
                    ))
            default:
                problems.append(ImportProblem(here, "unknown constraint <\(constraint.name)>"))
            }
        }

        var resources: [PlannedResource] = []
        func importPrimitive(_ primitive: XMLTag, group: XMLTag?) {
            let id = primitive["id"] ?? "?"
            let here = at(primitive.line)
            let agent = [primitive["class"], primitive["provider"], primitive["type"]].compactMap { $0 }.joined(
                separator: ":")
            guard agent == "ocf:heartbeat:IPaddr2" else {
                leftOut.append(
                    LeftOut(
                        here, "primitive \(id) (\(agent))",
                        "not imported: only IPaddr2 addresses are; write its start and stop into a resource's scripts"))
                return
            }
            let attributes = primitive.pairs(in: "instance_attributes")
            guard let ip = attributes.first(where: { $0.name == "ip" }) else {
                problems.append(ImportProblem(here, "IPaddr2 primitive \(id) has no ip attribute"))
                return
            }
            var address = ip.value
            if let netmask = attributes.first(where: { $0.name == "cidr_netmask" }) {
                address += "/\(netmask.value)"
            }
            let device = attributes.first { $0.name == "nic" }?.value
            for other in attributes where !["ip", "cidr_netmask", "nic"].contains(other.name) {
                leftOut.append(
                    LeftOut(
                        at(other.line), "IPaddr2 \(id) \(other.name)=\(other.value)",
                        "not imported: Vigil adds the address with the subnet's defaults"))
            }
            do {
                _ = try VirtualAddress(parsing: address, field: "ip")
            } catch {
                problems.append(
                    ImportProblem(at(ip.line), "IPaddr2 \(id): address '\(address)' does not parse: \(error.reason)"))
                return
            }
            let comment =
                "# Imported by `vigil import pacemaker` from primitive \(id)\(group.map { " in group \($0["id"] ?? "?")" } ?? "") (\(here)).\n"
            var spec: ResourceSpec
            do {
                spec = try ipService(
                    name: resourceName(from: id), address: address, device: device, comment: comment, location: here)
            } catch {
                problems.append(error)
                return
            }

            // Preferred nodes from the primitive's and its group's location scores.
            var byNode: [String: Int] = [:]
            for entry in (scores[id] ?? []) + (group.flatMap { scores[$0["id"] ?? ""] } ?? []) {
                byNode[entry.node] = add(byNode[entry.node] ?? 0, entry.score)
            }
            let ranked = byNode.filter { $0.value > 0 }.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
            var preferred = ranked.map(\.key)
            if symmetric {
                preferred += nodes.filter { byNode[$0] == nil }
            }
            for node in preferred {
                guard let name = try? NodeName(validating: node, field: "node") else {
                    problems.append(ImportProblem(here, "node '\(node)' is not a Vigil node name"))
                    return
                }
                spec.preferredNodes.append(name)
            }
            // Failback: stays where it is if stickiness covers the gap to the best node.
            let stickiness =
                primitive.pairs(in: "meta_attributes").first { $0.name == "resource-stickiness" }
                ?? group?.pairs(in: "meta_attributes").first { $0.name == "resource-stickiness" }
                ?? defaultStickiness
            let sticky = stickiness.flatMap { score($0.value) } ?? 0
            let best = ranked.first?.value ?? 0
            let second = ranked.dropFirst().first?.value ?? 0
            spec.policies.failbackMode = sticky > 0 && sticky >= best - second ? .disable : .auto
            for pair in primitive.pairs(in: "meta_attributes") where pair.name != "resource-stickiness" {
                leftOut.append(
                    LeftOut(at(pair.line), "meta attribute \(pair.name)=\(pair.value) of \(id)", "not imported"))
            }

            for op in primitive.child("operations")?.children("op") ?? [] {
                let timeout = op["timeout"].flatMap { try? Span(parsing: $0, field: "timeout") }
                switch op["name"] {
                case "monitor":
                    if let interval = op["interval"].flatMap({ try? Span(parsing: $0, field: "interval") }),
                        interval >= .seconds(1)
                    {
                        spec.monitor?.interval = interval
                    }
                    if let timeout { spec.monitor?.script.timeout = timeout }
                case "start":
                    if let timeout { spec.load.timeout = timeout }
                case "stop":
                    if let timeout { spec.unload.timeout = timeout }
                default:
                    leftOut.append(LeftOut(at(op.line), "op \(op["name"] ?? "?") of \(id)", "not imported"))
                }
            }
            var origin = [here]
            origin += ((scores[id] ?? []) + (group.flatMap { scores[$0["id"] ?? ""] } ?? [])).map { at($0.line) }
            resources.append(PlannedResource(spec: spec, origin: origin))
        }

        for element in configuration.child("resources")?.children ?? [] {
            let here = at(element.line)
            switch element.name {
            case "primitive":
                importPrimitive(element, group: nil)
            case "group":
                leftOut.append(
                    LeftOut(
                        here, "group \(element["id"] ?? "?")",
                        "its IPaddr2 members become resources of their own with the group's preferred nodes; Vigil does not keep them together"
                    ))
                for member in element.children("primitive") { importPrimitive(member, group: element) }
            case "clone", "master", "bundle", "template":
                leftOut.append(
                    LeftOut(
                        here, "\(element.name) \(element["id"] ?? "?")",
                        "not imported: a service running on every node needs no Vigil resource (Active/Active: only the address moves)"
                    ))
            default:
                problems.append(ImportProblem(here, "unknown resource element <\(element.name)>"))
            }
        }
        return try ImportPlan.checked(kind: "pacemaker", resources, leftOut: leftOut, problems: problems)
    }

    /// A Pacemaker score: an integer or ±INFINITY (1,000,000).
    static func score(_ text: String) -> Int? {
        switch text.uppercased() {
        case "INFINITY", "+INFINITY": return 1_000_000
        case "-INFINITY": return -1_000_000
        default: return Int(text)
        }
    }

    /// Score addition as Pacemaker does it: bounded by ±INFINITY, -INFINITY wins.
    static func add(_ a: Int, _ b: Int) -> Int {
        if a <= -1_000_000 || b <= -1_000_000 { return -1_000_000 }
        return min(1_000_000, a + b)
    }
}
