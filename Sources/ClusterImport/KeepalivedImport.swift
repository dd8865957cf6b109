import ClusterModel
import Foundation

/// `vigil import keepalived [NODE=]FILE…`: one `keepalived.conf` per node. Every address of a
/// `vrrp_instance`'s `virtual_ipaddress` becomes a `Generic_IP_Service` resource; the nodes, ordered
/// by the instance's `priority` in their files (then `state MASTER` first, then the order given),
/// become its preferred nodes; `nopreempt` makes failback DISABLE (keepalived otherwise takes the
/// address back: AUTO); notify scripts are noted in the load script. Keywords keepalived knows but
/// Vigil does not take over are listed; a keyword keepalived does not know is an error.
public enum KeepalivedImport {
    /// `node`: the node this file configures (nil: its `global_defs { router_id }`).
    public struct NodeFile: Sendable {
        public var node: String?
        public var source: ImportSource

        public init(node: String?, source: ImportSource) {
            self.node = node
            self.source = source
        }
    }

    public static func plan(_ files: [NodeFile]) throws(ImportFailure) -> ImportPlan {
        var problems: [ImportProblem] = []
        var leftOut: [LeftOut] = []
        var instances: [String: [(node: String, order: Int, instance: Statement)]] = [:]
        var instanceOrder: [String] = []
        var nodesSeen: [String: SourceLocation] = [:]
        for (order, file) in files.enumerated() {
            let statements: [Statement]
            do { statements = try parse(file.source) } catch {
                problems.append(error)
                continue
            }
            let routerID = statements.first { $0.keyword == "global_defs" }?.children.first {
                $0.keyword == "router_id"
            }?.arguments.first
            guard let node = file.node ?? routerID else {
                problems.append(
                    ImportProblem(
                        SourceLocation(file.source.name),
                        "no node named: give it as NODE=\(file.source.name) (or set global_defs { router_id NODE })"))
                continue
            }
            if (try? NodeName(validating: node, field: "node")) == nil {
                problems.append(
                    ImportProblem(
                        SourceLocation(file.source.name),
                        "node name '\(node)': 1 to 63 letters, digits, '-', '_' or '.'"))
                continue
            }
            if let earlier = nodesSeen[node] {
                problems.append(ImportProblem(SourceLocation(file.source.name), "node \(node) is also \(earlier)"))
            }
            nodesSeen[node] = SourceLocation(file.source.name)
            for statement in statements {
                let here = SourceLocation(file.source.name, statement.line)
                switch statement.keyword {
                case "vrrp_instance":
                    guard let name = statement.arguments.first, statement.arguments.count == 1 else {
                        problems.append(ImportProblem(here, "vrrp_instance needs one name"))
                        continue
                    }
                    guard statement.isBlock else {
                        problems.append(ImportProblem(here, "vrrp_instance \(name) has no { … } block"))
                        continue
                    }
                    if instances[name] == nil { instanceOrder.append(name) }
                    instances[name, default: []].append((node, order, statement))
                    problems += checkInstance(statement, file: file.source.name, leftOut: &leftOut)
                case "global_defs":
                    for setting in statement.children where setting.keyword != "router_id" {
                        leftOut.append(
                            LeftOut(
                                SourceLocation(file.source.name, setting.line), "global_defs \(setting.keyword)",
                                "keepalived's own process setting (Vigil's are in vigil.yaml and `vigil set`)"))
                    }
                case let keyword where topLevelNotImported[keyword] != nil:
                    leftOut.append(
                        LeftOut(
                            here, ([keyword] + statement.arguments).joined(separator: " "),
                            topLevelNotImported[keyword]!))
                default:
                    problems.append(ImportProblem(here, "unknown keyword '\(statement.keyword)' at the top level"))
                }
            }
        }
        var resources: [PlannedResource] = []
        for name in instanceOrder {
            do throws(ImportProblem) {
                resources += try resourcesOf(instance: name, instances[name]!, leftOut: &leftOut)
            } catch {
                problems.append(error)
            }
        }
        return try ImportPlan.checked(kind: "keepalived", resources, leftOut: leftOut, problems: problems)
    }

    // MARK: Instances

    /// Keywords of a `vrrp_instance` Vigil maps.
    static let mapped: Set<String> = [
        "state", "priority", "virtual_ipaddress", "nopreempt", "notify_master", "notify_backup", "notify_fault",
        "notify_stop", "notify",
    ]

    /// Keywords keepalived knows in a `vrrp_instance` that Vigil does not take over, with why.
    static let notImported: [String: String] = {
        var reasons: [String: String] = [:]
        let notNeeded = "VRRP protocol detail: Vigil's nodes agree through the store, not by adverts"
        for keyword in [
            "virtual_router_id", "advert_int", "authentication", "version", "mcast_src_ip", "unicast_src_ip",
            "unicast_peer", "check_unicast_src", "unicast_ttl", "unicast_fault_no_peer", "native_ipv6",
            "use_vmac", "vmac_xmit_base", "accept", "no_accept", "strict_mode", "skip_check_adv_addr",
            "lower_prio_no_advert", "higher_prio_send_advert", "kernel_rx_buf_size", "down_timer_adverts",
            "dont_track_primary", "debug", "promote_secondaries", "linkbeat_use_polling",
        ] {
            reasons[keyword] = notNeeded
        }
        for keyword in [
            "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat",
            "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_interval", "gna_interval",
        ] {
            reasons[keyword] = "Vigil announces a moved address itself (now and 1 s later)"
        }
        reasons["interface"] = "vigilfuncs puts the address on the interface of the node's own address on its subnet"
        for keyword in ["track_interface", "track_script", "track_process", "track_file", "track_bfd", "track_src_ip"] {
            reasons[keyword] = "not imported: write a monitor script (`vigil resource edit`) for what it checked"
        }
        reasons["preempt_delay"] = "not imported: Vigil's failback is AUTO, MANUAL or DISABLE, without a delay"
        reasons["virtual_ipaddress_excluded"] = "not imported: addresses keepalived adds without advertising them"
        reasons["virtual_routes"] = "not imported: routes are not moved by Vigil; add them to the load script"
        reasons["virtual_rules"] = "not imported: rules are not moved by Vigil; add them to the load script"
        reasons["smtp_alert"] = "not imported: Vigil notifies by `vigil set enableemail` and webhooks"
        reasons["notify_deleted"] = "not imported: Vigil has no such state"
        reasons["notify_master_rx_lower_pri"] = "not imported: VRRP protocol detail"
        return reasons
    }()

    static let topLevelNotImported: [String: String] = [
        "vrrp_script": "not imported: a check script keepalived runs; write it as a monitor script",
        "vrrp_sync_group": "not imported: Vigil moves each address as its own resource",
        "virtual_server": "not imported: LVS load balancing is not Vigil's business",
        "virtual_server_group": "not imported: LVS load balancing is not Vigil's business",
        "static_ipaddress": "not imported: addresses that never move stay in the node's network configuration",
        "static_routes": "not imported: routes that never move stay in the node's network configuration",
        "static_rules": "not imported: rules that never move stay in the node's network configuration",
        "include": "not imported: include files are not followed; import them as files of their own",
        "vrrp_track_file": "not imported: write a monitor script for what it checked",
        "track_file": "not imported: write a monitor script for what it checked",
        "linkbeat_interfaces": "not imported: VRRP protocol detail",
        "bfd_instance": "not imported: BFD is not used by Vigil",
        "garp_group": "not imported: Vigil announces a moved address itself",
        "net_namespace": "not imported: Vigil runs in the namespace it is started in",
        "use_pid_dir": "not imported: keepalived's own process setting",
        "instance": "not imported: keepalived's own process setting",
    ]

    /// Unknown keywords are errors; known ones not taken over are listed.
    static func checkInstance(_ instance: Statement, file: String, leftOut: inout [LeftOut]) -> [ImportProblem] {
        var problems: [ImportProblem] = []
        let name = instance.arguments.first ?? "?"
        for child in instance.children {
            let here = SourceLocation(file, child.line)
            if mapped.contains(child.keyword) { continue }
            if let reason = notImported[child.keyword] {
                let shown =
                    child.keyword == "authentication"
                    ? "authentication { … }" : ([child.keyword] + child.arguments).joined(separator: " ")
                leftOut.append(LeftOut(here, "\(shown) (vrrp_instance \(name))", reason))
            } else {
                problems.append(ImportProblem(here, "unknown keyword '\(child.keyword)' in vrrp_instance \(name)"))
            }
        }
        return problems
    }

    /// An instance as the nodes' files give it: one resource per address.
    static func resourcesOf(
        instance name: String, _ copies: [(node: String, order: Int, instance: Statement)],
        leftOut: inout [LeftOut]
    ) throws(ImportProblem) -> [PlannedResource] {
        struct Seen {
            var node: String
            var order: Int
            var priority: Int
            var master: Bool
            var location: SourceLocation
        }
        var seen: [Seen] = []
        var addresses: [(text: String, device: String?, location: SourceLocation)]?
        var firstAddresses: SourceLocation?
        var nopreempt = false
        var notifies: [(keyword: String, command: String)] = []
        for copy in copies {
            let file = copy.instance
            let location = SourceLocation(file.file, file.line)
            var priority = 100
            var master = false
            var mine: [(text: String, device: String?, location: SourceLocation)] = []
            for child in file.children {
                let here = SourceLocation(location.file, child.line)
                switch child.keyword {
                case "priority":
                    guard child.arguments.count == 1, let value = Int(child.arguments[0]), (1...255).contains(value)
                    else {
                        throw ImportProblem(here, "priority '\(child.arguments.joined(separator: " "))': 1 to 255")
                    }
                    priority = value
                case "state":
                    guard child.arguments.count == 1, ["MASTER", "BACKUP"].contains(child.arguments[0]) else {
                        throw ImportProblem(here, "state '\(child.arguments.joined(separator: " "))': MASTER or BACKUP")
                    }
                    master = child.arguments[0] == "MASTER"
                case "nopreempt":
                    nopreempt = true
                case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
                    let command = child.arguments.joined(separator: " ")
                    if !notifies.contains(where: { $0 == (child.keyword, command) }) {
                        notifies.append((child.keyword, command))
                    }
                case "virtual_ipaddress":
                    for entry in child.children {
                        let entryHere = SourceLocation(location.file, entry.line)
                        let words = [entry.keyword] + entry.arguments
                        var device: String?
                        var index = 1
                        while index < words.count {
                            switch words[index] {
                            case "dev" where index + 1 < words.count:
                                device = words[index + 1]
                                index += 2
                            case let option
                            where ["brd", "label", "scope", "broadcast"].contains(option) && index + 1 < words.count:
                                leftOut.append(
                                    LeftOut(
                                        entryHere, "\(option) \(words[index + 1]) on \(words[0])",
                                        "not imported: Vigil adds the address with the subnet's defaults"))
                                index += 2
                            default:
                                throw ImportProblem(entryHere, "'\(words[index])' after \(words[0]) is not understood")
                            }
                        }
                        do { _ = try VirtualAddress(parsing: words[0], field: "virtual_ipaddress") } catch {
                            throw ImportProblem(entryHere, "address '\(words[0])' does not parse: \(error.reason)")
                        }
                        mine.append((words[0], device, entryHere))
                    }
                default:
                    break
                }
            }
            if let known = addresses {
                let same = known.map { "\($0.text) \($0.device ?? "")" } == mine.map { "\($0.text) \($0.device ?? "")" }
                if !same {
                    throw ImportProblem(
                        location,
                        "vrrp_instance \(name) has other virtual_ipaddress entries here than in \(firstAddresses!)")
                }
            } else {
                addresses = mine
                firstAddresses = location
            }
            seen.append(
                Seen(node: copy.node, order: copy.order, priority: priority, master: master, location: location))
        }
        guard let addresses, !addresses.isEmpty else {
            throw ImportProblem(firstAddresses ?? SourceLocation("?"), "vrrp_instance \(name) has no virtual_ipaddress")
        }
        let nodes = seen.sorted {
            ($1.priority, $0.master ? 0 : 1, $0.order) < ($0.priority, $1.master ? 0 : 1, $1.order)
        }
        .map(\.node)
        let origin = seen.map(\.location)
        var resources: [PlannedResource] = []
        for (index, address) in addresses.enumerated() {
            let resource = resourceName(from: addresses.count == 1 ? name : "\(name)_\(index + 1)")
            var header =
                "# Imported by `vigil import keepalived` from vrrp_instance \(name) (\(origin.map(\.description).joined(separator: ", "))).\n"
            for notify in notifies {
                header +=
                    "# keepalived ran \(notify.keyword) \(notify.command): Vigil does not; call it here if the service needs it.\n"
            }
            var spec = try ipService(
                name: resource, address: address.text, device: address.device, comment: header,
                location: address.location)
            spec.preferredNodes = nodes.compactMap { try? NodeName(validating: $0, field: "node") }
            spec.policies.failbackMode = nopreempt ? .disable : .auto
            resources.append(PlannedResource(spec: spec, origin: [address.location]))
        }
        return resources
    }

    // MARK: Syntax

    /// A keepalived statement: a keyword, its arguments, and its `{ … }` block if it has one.
    struct Statement {
        var keyword: String
        var arguments: [String]
        var children: [Statement]
        var isBlock: Bool
        var line: Int
        var file: String
    }

    /// Tokens: words (a quoted string is one word), `{` and `}`; `#` and `!` start a comment. A
    /// statement is a keyword and the words after it on its line; a `{` after them opens its block.
    static func parse(_ source: ImportSource) throws(ImportProblem) -> [Statement] {
        var tokens: [(text: String, line: Int)] = []
        for (index, rawLine) in source.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var current = ""
            var quoted = false
            var hasWord = false
            func flush() {
                if hasWord { tokens.append((current, number)) }
                current = ""
                hasWord = false
            }
            for character in rawLine {
                if quoted {
                    if character == "\"" { quoted = false } else { current.append(character) }
                } else if character == "\"" {
                    quoted = true
                    hasWord = true
                } else if character == "#" || character == "!", !hasWord {
                    break
                } else if character == " " || character == "\t" || character == "\r" {
                    flush()
                } else if character == "{" || character == "}" {
                    flush()
                    tokens.append((String(character), number))
                } else {
                    current.append(character)
                    hasWord = true
                }
            }
            if quoted { throw ImportProblem(SourceLocation(source.name, number), "a quoted string is not closed") }
            flush()
        }
        var position = 0
        func block(depth: Int) throws(ImportProblem) -> [Statement] {
            var statements: [Statement] = []
            while position < tokens.count {
                let token = tokens[position]
                if token.text == "}" {
                    guard depth > 0 else {
                        throw ImportProblem(SourceLocation(source.name, token.line), "'}' without a matching '{'")
                    }
                    position += 1
                    return statements
                }
                guard token.text != "{" else {
                    throw ImportProblem(SourceLocation(source.name, token.line), "'{' without a keyword before it")
                }
                var statement = Statement(
                    keyword: token.text, arguments: [], children: [], isBlock: false, line: token.line,
                    file: source.name)
                position += 1
                while position < tokens.count, tokens[position].line == token.line,
                    !["{", "}"].contains(tokens[position].text)
                {
                    statement.arguments.append(tokens[position].text)
                    position += 1
                }
                if position < tokens.count, tokens[position].text == "{" {
                    position += 1
                    statement.isBlock = true
                    statement.children = try block(depth: depth + 1)
                }
                statements.append(statement)
            }
            guard depth == 0 else {
                throw ImportProblem(SourceLocation(source.name, tokens.last?.line ?? 0), "a '{' block is not closed")
            }
            return statements
        }
        return try block(depth: 0)
    }
}
