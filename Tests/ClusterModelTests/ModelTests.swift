import ClusterModel
import Foundation
import Testing

@Suite("Resource definitions")
struct ResourceSpecTests {
    func decode(_ json: String) throws(ValidationError) -> ResourceSpec {
        try ModelCodec.decode(ResourceSpec.self, from: Array(json.utf8))
    }

    @Test("a minimal definition gets NCS's defaults")
    func defaults() throws {
        let spec = try decode(#"{"name":"iManager"}"#)
        #expect(spec.policies.startMode == .auto)
        #expect(spec.policies.failoverMode == .auto)
        #expect(spec.policies.failbackMode == .disable)
        #expect(spec.policies.followsMaster == false)
        #expect(spec.policies.ignoreQuorum == false)
        #expect(spec.mode == .exclusive)
        #expect(spec.load.timeout == .seconds(60))
        #expect(spec.unload.timeout == .seconds(60))
        #expect(spec.preferredNodes.isEmpty)
    }

    @Test("a full definition round-trips through JSON unchanged")
    func roundTrip() throws {
        let spec = ResourceSpec(
            name: "web_1", template: "Generic_IP_Service", mode: .exclusive,
            load: ScriptSpec(body: "exit 0", timeout: .seconds(30)),
            unload: ScriptSpec(body: "exit 0", timeout: .milliseconds(1500)),
            monitor: MonitorSpec(
                script: ScriptSpec(body: "exit 0", timeout: .seconds(5)), interval: .seconds(10), maxLocalFailures: 3,
                window: .minutes(10), action: .migrate),
            variables: ["RESOURCE_IP": "198.18.0.100"],
            policies: ResourcePolicies(
                startMode: .manual, failoverMode: .manual, failbackMode: .auto, ignoreQuorum: true),
            preferredNodes: ["n2", "n1"], priority: 5, exclusionGroups: ["db"])
        let decoded = try ModelCodec.decode(ResourceSpec.self, from: ModelCodec.encode(spec))
        #expect(decoded == spec)
    }

    @Test(
        "bad definitions name the field and the value",
        arguments: [
            (#"{"name":"bad-name"}"#, "name", "bad-name"),
            (#"{"name":"\#(String(repeating: "a", count: 64))"}"#, "name", String(repeating: "a", count: 64)),
            (#"{"name":"r","load":{"body":"x","timeout":"0.5s"}}"#, "load.timeout", "500ms"),
            (#"{"name":"r","load":{"body":"x","timeout":"soon"}}"#, "load.timeout", "soon"),
            (#"{"name":"r","policies":{"startMode":"SOMETIMES"}}"#, "policies.startMode", ""),
            (#"{"name":"r","preferredNodes":["n1","n1"]}"#, "preferredNodes[1]", "n1"),
            (#"{"name":"r","preferredNodes":["n 1"]}"#, "preferredNodes[0]", "n 1"),
            (#"{"name":"r","colour":"blue"}"#, "colour", "colour"),
            (#"{"name":"r","policies":{"failback":"AUTO"}}"#, "policies.failback", "failback"),
            (#"{"name":"r","variables":{"VIGIL_NODE":"x"}}"#, "variables", "VIGIL_NODE"),
            (#"{"name":"r","monitor":{"script":{"body":"x"},"interval":"2h"}}"#, "monitor.interval", "2h"),
            (#"{"name":"r","monitor":{"script":{"body":"x"},"interval":"10s","window":"5s"}}"#, "monitor.window", "5s"),
            (#"{"name":"r","priority":5000}"#, "priority", "5000"),
            (#"{"name":"r","mode":"everywhere","exclusionGroups":["g"]}"#, "mode", "everywhere"),
            (#"{"name":"r","exclusionGroups":["a b"]}"#, "exclusionGroups[0]", "a b"),
            (#"{"load":{"body":"x"}}"#, "name", ""),
            (#"{"name":"r","schema":2}"#, "schema", "2"),
            (#"{"name":"r""#, "", ""),
        ])
    func rejected(json: String, field: String, value: String) {
        #expect {
            try decode(json)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == field && error.value == value
                && (field.isEmpty ? error.description.hasPrefix("document:") : error.description.contains("'\(field)'"))
        }
    }

    @Test(
        "service addresses of both families are accepted, IPv6 compared in canonical form",
        arguments: [
            ("198.18.0.100", "198.18.0.100"), ("198.18.0.100/24", "198.18.0.100"),
            ("2001:db8::100", "2001:db8::100"), ("2001:DB8:0:0::100/64", "2001:db8::100"),
            ("fd00:18::1/128", "fd00:18::1"),
        ])
    func addresses(text: String, canonical: String) throws {
        let spec = ResourceSpec(name: "r", template: "Generic_IP_Service", variables: ["RESOURCE_IP": text])
        try spec.validate()
        #expect(spec.virtualAddress == canonical)
        #expect(
            try ResourceTemplate.named("Generic_IP_Service")!.instantiate(
                name: "r", variables: ["RESOURCE_IP": text]
            ).virtualAddress == canonical)
    }

    @Test(
        "an address no node can carry is refused with the field and the value",
        arguments: [
            "198.18.0.300", "198.18.0.1/33", "198.18.0.1/0", "198.18.0.1/", "198.018.0.1", "2001:db8::1/129",
            "2001:db8::1/+64", "::", "::1", "ff02::1", "fe80::1", "fe80::1%eth0", "::ffff:198.18.0.1", "2001:db8:::1",
            "web.example.com", "",
        ])
    func refusedAddresses(text: String) {
        #expect {
            try ResourceSpec(name: "r", variables: ["RESOURCE_IP": text]).validate()
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == "variables.RESOURCE_IP" && error.value == text
        }
    }

    @Test("the error message shows field, value and reason")
    func message() {
        let error = ValidationError(field: "load.timeout", value: "0s", reason: "must be 1s to 60m")
        #expect(error.description == "field 'load.timeout': value '0s': must be 1s to 60m")
    }
}

@Suite("Timing profiles and cluster settings")
struct SettingsTests {
    @Test(
        "every named profile is valid and keeps etcd's election within a quarter of the tolerance",
        arguments: TimingProfile.allCases)
    func profiles(profile: TimingProfile) throws {
        let timing = TimingSettings(profile: profile)
        try timing.validate()
        #expect(timing.etcdElection * 4 <= timing.tolerance)
        #expect(timing.heartbeat * 2 <= timing.selfFenceAfter)
    }

    @Test("profile values are the documented ones")
    func values() {
        #expect(TimingSettings(profile: .default).tolerance == .seconds(2))
        #expect(TimingSettings(profile: .default).heartbeat == .milliseconds(400))
        #expect(TimingSettings(profile: .fast).tolerance == .milliseconds(800))
        #expect(TimingSettings(profile: .fast).heartbeat == .milliseconds(150))
        #expect(TimingSettings(profile: .vm).tolerance == .seconds(8))
        let lan = TimingSettings(profile: .lan)
        #expect(
            [lan.tolerance, lan.heartbeat, lan.etcdHeartbeat, lan.etcdElection, lan.duplicateProbe] == [
                .milliseconds(300), .milliseconds(75), .milliseconds(15), .milliseconds(75), .milliseconds(20),
            ])
        #expect(TimingSettings(profile: .default).duplicateProbe == .milliseconds(50))
    }

    @Test("the margin is the larger of 20 % of the tolerance, 250 ms and the watchdog timeout + 100 ms")
    func margin() {
        var timing = TimingSettings(profile: .default)
        #expect(timing.margin == .milliseconds(400))
        timing = TimingSettings(profile: .fast)
        #expect(timing.margin == .milliseconds(250))
        // `lan`: a 75 ms floor (docs/design/0019, 0023); its self-fence comes 225 ms after the
        // last acknowledged send, three heartbeats.
        timing = TimingSettings(profile: .lan)
        #expect(timing.margin == .milliseconds(75))
        #expect(timing.selfFenceAfter == .milliseconds(225))
        #expect(throws: Never.self) { try timing.validate() }
        // A watchdog raises it as in every profile (and then the heartbeat no longer fits: refused).
        timing.watchdogTimeout = .seconds(1)
        #expect(timing.margin == .milliseconds(1100))
        #expect(throws: ValidationError.self) { try timing.validate() }
        timing = TimingSettings(profile: .default)
        timing.watchdogTimeout = .seconds(1)
        #expect(timing.margin == .milliseconds(1100))
        #expect(timing.selfFenceAfter == .milliseconds(900))
    }

    @Test("a watchdog that does not fit the fast profile is refused with the field named")
    func watchdogTooSlowForFast() {
        var timing = TimingSettings(profile: .fast)
        timing.watchdogTimeout = .seconds(1)
        #expect(throws: ValidationError.self) { try timing.validate() }
        do {
            try timing.validate()
        } catch {
            #expect(error.field == "timing.heartbeat")
        }
    }

    @Test("watchdog timeouts must be whole seconds")
    func wholeSeconds() {
        var timing = TimingSettings(profile: .vm)
        timing.watchdogTimeout = .milliseconds(1500)
        do {
            try timing.validate()
            Issue.record("accepted 1500ms")
        } catch {
            #expect(error.field == "timing.watchdogTimeout")
            #expect(error.value == "1500ms")
        }
    }

    @Test("etcd's election timeout above a quarter of the tolerance is refused")
    func etcdElection() throws {
        let json = #"{"timing":{"profile":"default","etcdElection":"1s"}}"#
        #expect {
            try ModelCodec.decode(ClusterSettings.self, from: Array(json.utf8))
        } throws: { ($0 as? ValidationError)?.field == "timing.etcdElection" }
    }

    @Test("a profile name sets every timing; explicit fields override it")
    func overrides() throws {
        let json = #"{"timing":{"profile":"vm","heartbeat":"2s"},"quorum":{"nodeCount":2,"timeout":"30s"}}"#
        let settings = try ModelCodec.decode(ClusterSettings.self, from: Array(json.utf8))
        #expect(settings.timing.tolerance == .seconds(8))
        #expect(settings.timing.heartbeat == .seconds(2))
        #expect(settings.quorum.nodeCount == 2)
        #expect(settings.quorum.timeout == .seconds(30))
    }

    @Test("quorum beyond 32 nodes is refused")
    func quorum() {
        let json = #"{"quorum":{"nodeCount":33,"timeout":"30s"}}"#
        #expect {
            try ModelCodec.decode(ClusterSettings.self, from: Array(json.utf8))
        } throws: { ($0 as? ValidationError)?.field == "quorum.nodeCount" }
    }

    @Test("maintenance with an expiry ends by itself")
    func maintenanceExpiry() {
        let maintenance = MaintenanceSettings(enabled: true, untilWallMilliseconds: 1000)
        #expect(maintenance.isActive(atWall: 999))
        #expect(!maintenance.isActive(atWall: 1000))
        #expect(!MaintenanceSettings(enabled: false).isActive(atWall: 0))
    }
}

@Suite("Durations")
struct SpanTests {
    @Test(
        "durations parse with units or as seconds",
        arguments: [("400ms", 400), ("2s", 2000), ("1.5s", 1500), ("10m", 600_000), ("1h", 3_600_000), ("8", 8000)]
            as [(String, Int64)])
    func parse(text: String, milliseconds: Int64) throws {
        #expect(try Span(parsing: text, field: "f").milliseconds == milliseconds)
    }

    @Test("negative or malformed durations are refused", arguments: ["-1s", "abc", "", "1d", "nan"])
    func refuse(text: String) {
        #expect(throws: ValidationError.self) { try Span(parsing: text, field: "f") }
    }

    @Test("durations print in the largest whole unit")
    func printing() {
        #expect(Span.milliseconds(400).description == "400ms")
        #expect(Span.seconds(2).description == "2s")
        #expect(Span.minutes(10).description == "10m")
        #expect(Span.milliseconds(1500).description == "1500ms")
    }
}

@Suite("Store key layout and views")
struct KeyLayoutTests {
    let layout = KeyLayout(cluster: "c1")

    func entry(_ key: String, _ value: some Encodable, revision: Revision = 5) -> StoredEntry {
        StoredEntry(key: key, value: ModelCodec.encode(value), createRevision: revision, modRevision: revision)
    }

    @Test("keys follow ARCHITECTURE.md §3")
    func keys() {
        #expect(layout.member("n1") == "/vigil/c1/members/n1")
        #expect(layout.assignment("vip") == "/vigil/c1/assignments/vip")
        #expect(layout.status("vip", node: "n2") == "/vigil/c1/status/vip/n2")
        #expect(layout.master == "/vigil/c1/master")
        #expect(
            layout.event(wallMilliseconds: 1_700_000_000_000, node: "n2", sequence: 42)
                == "/vigil/c1/events/1700000000000-n2-00000042")
    }

    @Test("a view decodes every kind of key, and a bad key is reported, not fatal")
    func view() {
        let entries = [
            entry(layout.member("n1"), MemberRecord(node: "n1", heartbeat: 3, version: "1"), revision: 7),
            entry(layout.master, MasterRecord(node: "n1", term: 2)),
            entry(layout.resource("vip"), ResourceSpec(name: "vip")),
            entry(
                layout.assignment("vip"),
                Assignment(generation: 4, placement: .node("n1"), memberRevision: 7, reason: "r")),
            entry(
                layout.status("vip", node: "n1"),
                ResourceStatus(node: "n1", generation: 4, state: .running, incarnation: 1)),
            entry(layout.epoch, KeyLayout.EpochRecord(epoch: 9)),
            StoredEntry(key: layout.resource("broken"), value: Array("{".utf8), createRevision: 1, modRevision: 1),
            StoredEntry(key: "/vigil/c1/unknown/x", value: [], createRevision: 1, modRevision: 1),
        ]
        let view = layout.view(from: entries, revision: 10)
        #expect(view.members["n1"]?.modRevision == 7)
        #expect(view.master?.value.term == 2)
        #expect(view.resources["vip"] != nil)
        #expect(view.assignments["vip"]?.value.placement == .node("n1"))
        #expect(view.status(of: "vip", on: "n1")?.value.state == .running)
        #expect(view.epoch == 9)
        #expect(view.problems.count == 2)
    }

    @Test("deleting keys from a view removes exactly what they held")
    func deletion() {
        var view = layout.view(
            from: [
                entry(layout.member("n1"), MemberRecord(node: "n1", heartbeat: 1, version: "1")),
                entry(
                    layout.status("vip", node: "n1"),
                    ResourceStatus(node: "n1", generation: 1, state: .running, incarnation: 1)),
            ], revision: 5)
        layout.delete(layout.member("n1"), at: 6, from: &view)
        layout.delete(layout.status("vip", node: "n1"), at: 7, from: &view)
        #expect(view.members.isEmpty)
        #expect(view.statuses.isEmpty)
        #expect(view.contentRevision == 7)
    }

    @Test("heartbeats leave the content revision; every other change, a join or a new term moves it")
    func contentRevision() {
        var view = layout.view(
            from: [
                entry(layout.member("n1"), MemberRecord(node: "n1", heartbeat: 1, version: "1")),
                entry(layout.master, MasterRecord(node: "n1", term: 1)),
            ], revision: 5)
        #expect(view.contentRevision == 5)
        // A member's and the master's rewrites under the same join and term: heartbeats.
        let member = MemberRecord(node: "n1", heartbeat: 2, version: "1")
        layout.put(
            StoredEntry(
                key: layout.member("n1"), value: ModelCodec.encode(member), createRevision: 5, modRevision: 6),
            into: &view)
        layout.put(
            StoredEntry(
                key: layout.master, value: ModelCodec.encode(MasterRecord(node: "n1", term: 1)), createRevision: 5,
                modRevision: 7), into: &view)
        #expect(view.contentRevision == 5)
        #expect(view.members["n1"]?.value.heartbeat == 2)
        // A join again (new create revision), a new term, anything else: content.
        layout.put(
            StoredEntry(
                key: layout.member("n1"), value: ModelCodec.encode(member), createRevision: 8, modRevision: 8),
            into: &view)
        #expect(view.contentRevision == 8)
        layout.put(entry(layout.master, MasterRecord(node: "n2", term: 2), revision: 9), into: &view)
        #expect(view.contentRevision == 9)
        layout.put(
            entry(
                layout.status("vip", node: "n1"),
                ResourceStatus(node: "n1", generation: 1, state: .running, incarnation: 1), revision: 10),
            into: &view)
        #expect(view.contentRevision == 10)
    }

    @Test("every placement round-trips through its flat JSON form")
    func placements() throws {
        let all: [Placement] = [
            .offline, .quorumWait, .unassigned, .node("a"), .migrating(from: "a", to: "b"),
            .migrating(from: "a", to: nil),
            .stopping("a"), .comatose("a"), .alert(.failback, on: "a", proposed: "b"),
            .alert(.start, on: nil, proposed: nil),
            .everywhere,
        ]
        for placement in all {
            let assignment = Assignment(generation: 1, placement: placement, reason: "")
            #expect(try ModelCodec.decode(Assignment.self, from: ModelCodec.encode(assignment)).placement == placement)
        }
    }
}

@Suite("Events and assignments")
struct EventTests {
    @Test("an event stored before severities existed reads with its kind's default; new ones round-trip")
    func severityDecoding() throws {
        let old = try JSONDecoder().decode(
            ClusterEvent.self, from: Data(#"{"kind":"fence","node":"n1","message":"self-fence"}"#.utf8))
        #expect(old.severity == .critical)
        #expect(old.action == nil)
        let script = ClusterEvent(
            kind: .script, node: "n1", resource: "vip", message: "load exit 3", severity: .critical, action: .load)
        #expect(try JSONDecoder().decode(ClusterEvent.self, from: Data(ModelCodec.encode(script))) == script)
        #expect(ClusterEvent(kind: .admin, node: "n1", message: "x").severity == .info)
    }

    @Test("an assignment stored before the failover flag existed reads as no failover")
    func assignmentDecoding() throws {
        let stored = Assignment(generation: 3, placement: .node("n2"), reason: "r")
        let encoded = String(decoding: ModelCodec.encode(stored), as: UTF8.self)
        #expect(encoded.contains(#""failover":false"#))
        let decoded = try JSONDecoder().decode(
            Assignment.self, from: Data(encoded.replacingOccurrences(of: #","failover":false"#, with: "").utf8))
        #expect(decoded == stored)
    }
}

@Suite("Resource state names")
struct ResourceStateNameTests {
    @Test("every state is written as NCS names it and read back; an unknown name is refused")
    func roundTrip() throws {
        for state in ResourceStateName.allCases {
            let encoded = try JSONEncoder().encode([state])
            #expect(try JSONDecoder().decode([ResourceStateName].self, from: encoded) == [state])
        }
        #expect(
            String(decoding: try JSONEncoder().encode([ResourceStateName.alert(.failover)]), as: UTF8.self)
                == #"["Alert(failover)"]"#)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([ResourceStateName].self, from: Data(#"["Runnin"]"#.utf8))
        }
        #expect(ResourceStateName.alert(.start).metricLabel == "Alert")
        #expect(!ResourceStateName.migrating.settled && ResourceStateName.comatose.settled)
    }
}
