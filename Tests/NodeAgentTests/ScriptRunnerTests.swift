import ClusterBrain
import ClusterModel
import Foundation
import Logging
import NodeAgent
import Testing

@Suite("Script runner")
struct ScriptRunnerTests {
    let root: String

    init() throws {
        root = try makeTestRoot("vigil-scripts")
    }

    func runner(scriptDirectory: String? = nil) -> ScriptRunner {
        ScriptRunner(
            settings: ScriptRunner.Settings(
                node: "n1", cluster: "c", scriptDirectory: scriptDirectory ?? root + "/scripts",
                logDirectory: root + "/log",
                functionLibrary: "/usr/lib/vigil/vigilfuncs"),
            logger: Logger(label: "test"))
    }

    func job(_ body: String, timeout: Span = .seconds(10), action: ScriptAction = .load) -> Brain.ScriptJob {
        Brain.ScriptJob(
            resource: "vip", action: action, generation: 7, script: ScriptSpec(body: body, timeout: timeout),
            variables: ["RESOURCE_IP": "198.18.0.9"])
    }

    @Test("exit codes, the environment and the output file", .timeLimit(.minutes(1)))
    func basics() async throws {
        let runner = runner()
        #expect(await runner.run(job("exit 0")) == .success)
        #expect(await runner.run(job("exit 3")) == .failure(exitCode: 3))
        let outcome = await runner.run(
            job("echo \"$VIGIL_RESOURCE $VIGIL_NODE $VIGIL_ACTION $VIGIL_GENERATION $VIGIL_CLUSTER $RESOURCE_IP\""))
        #expect(outcome == .success)
        #expect(runner.lastLines("vip", .load) == ["vip n1 load 7 c 198.18.0.9"])
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("a script past its timeout is killed with everything it started", .timeLimit(.minutes(1)))
    func timeout() async throws {
        let runner = runner()
        let marker = root + "/child.pid"
        let started = ContinuousClock.now
        let outcome = await runner.run(job("sleep 300 & echo $! > \(marker); wait", timeout: .seconds(1)))
        #expect(outcome == .timedOut)
        // A hang guard, not a measurement: the script would run 300 s; killing it takes its 1 s
        // timeout, up to 5 s of grace after SIGTERM, then SIGKILL — on a loaded machine more.
        #expect(ContinuousClock.now - started < .seconds(30))
        let child = try #require(
            Int32(
                (try? String(contentsOfFile: marker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                    ?? ""))
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(child, 0) != 0
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone, "the script's child \(child) survived the timeout")
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("a script directory writable by others is refused", .timeLimit(.minutes(1)))
    func unsafeDirectory() async throws {
        let directory = root + "/open"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o777)
        #expect(await runner(scriptDirectory: directory).run(job("exit 0")) == .failure(exitCode: 126))
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("the function library runs as NCS scripts use it", .timeLimit(.minutes(1)))
    func functionLibrary() async throws {
        let library = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/vigilfuncs").path
        let runner = ScriptRunner(
            settings: ScriptRunner.Settings(
                node: "n1", cluster: "c", scriptDirectory: root + "/scripts", logDirectory: root + "/log",
                functionLibrary: library),
            logger: Logger(label: "test"))
        #expect(await runner.run(job(". \"$VIGIL_FUNCS\"\nignore_error false\nexit_on_error true\nexit 0")) == .success)
        #expect(
            await runner.run(job(". \"$VIGIL_FUNCS\"\nexit_on_error sh -c 'exit 4'\nexit 0")) == .failure(exitCode: 4))
        #expect(
            runner.lastLines("vip", .load).contains {
                $0.contains("exit_on_error: 'sh -c exit 4' failed with exit code 4")
            })
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A runner on the repository's vigilfuncs with fake `ip` and `arping` in `<root>/tools`; returns
    /// the runner and the script prefix pointing the library at the fakes.
    func runnerWithFakeTools(ip: String, arping: String) throws -> (runner: ScriptRunner, prefix: String) {
        let library = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/vigilfuncs").path
        let tools = root + "/tools"
        for (name, body) in [("ip", ip), ("arping", arping)] { try writeExecutable("\(tools)/\(name)", body) }
        let runner = ScriptRunner(
            settings: ScriptRunner.Settings(
                node: "n1", cluster: "c", scriptDirectory: root + "/scripts", logDirectory: root + "/log",
                functionLibrary: library),
            logger: Logger(label: "test"))
        return (runner, "VIGIL_IP=\(tools)/ip\nVIGIL_ARPING=\(tools)/arping\n. \"$VIGIL_FUNCS\"\n")
    }

    @Test(
        "a node that let its address go sends no late gratuitous ARP (the next holder's probe would see a duplicate)",
        .timeLimit(.minutes(1)))
    func noLateAnnouncement() async throws {
        let tools = root + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        // A fake `ip` keeping one secondary address in a file, and a fake `arping` logging its calls.
        let fakeIP = """
            #!/bin/bash
            state=\(tools)/address
            case "$*" in
              "-o -4 addr show") echo "2: eth0    inet 198.18.0.11/24 brd 198.18.0.255 scope global eth0";
                                 [ -f $state ] && echo "2: eth0    inet $(cat $state) scope global secondary eth0" ;;
              *"addr show"*) [ -f $state ] && echo "2: eth0    inet $(cat $state) scope global secondary eth0"; exit 0 ;;
              "addr add "*) echo "$3" > $state ;;
              "addr del "*) rm -f $state ;;
            esac
            exit 0
            """
        let (runner, prefix) = try runnerWithFakeTools(
            ip: fakeIP, arping: "#!/bin/bash\necho \"$*\" >> \(tools)/arping.log\nexit 0\n")
        // The probe's limit is a hang guard: the fake arping ends at once, and a 50 ms limit could
        // kill it on a busy machine before it has logged its call.
        let script =
            "VIGIL_DAD_TIMEOUT=30\n" + prefix
                + """
                exit_on_error add_secondary_ipaddress 198.18.0.100
                ignore_error del_secondary_ipaddress 198.18.0.100
                sleep 1.5
                exit 0
                """
        #expect(await runner.run(job(script)) == .success, "\(runner.lastLines("vip", .load))")
        let calls = (try? String(contentsOfFile: "\(tools)/arping.log", encoding: .utf8))?.split(separator: "\n") ?? []
        #expect(calls.filter { $0.contains("-D") }.count == 1, "\(calls)")
        #expect(
            calls.filter { $0.contains("-U") }.count == 1,
            "one announcement while the address was up, none after: \(calls)")
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Each program a load starts costs a share of the machine in a large failover: the listing that
    /// finds the interface also says whether the address is up already (docs/design/0026).
    @Test(
        "add_secondary_ipaddress lists the addresses once; one already up is not added again", .timeLimit(.minutes(1)))
    func oneListing() async throws {
        let tools = root + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        let fakeIP = """
            #!/bin/bash
            echo "$*" >> \(tools)/calls
            case "$*" in
              "-o -4 addr show") echo "2: eth0    inet 198.18.0.11/24 brd 198.18.0.255 scope global eth0"
                                 [ -f \(tools)/up ] && echo "2: eth0    inet 198.18.0.100/24 scope global secondary eth0" ;;
            esac
            exit 0
            """
        let (runner, prefix) = try runnerWithFakeTools(ip: fakeIP, arping: "#!/bin/bash\nexit 0\n")
        let script = "VIGIL_DAD_TIMEOUT=30\n" + prefix + "exit_on_error add_secondary_ipaddress 198.18.0.100\nexit 0\n"
        #expect(await runner.run(job(script)) == .success, "\(runner.lastLines("vip", .load))")
        // (The late announcement's own check comes a second later, from a background job.)
        let calls = try String(contentsOfFile: "\(tools)/calls", encoding: .utf8).split(separator: "\n")
        #expect(Array(calls.prefix(2)) == ["-o -4 addr show", "addr add 198.18.0.100/24 dev eth0"], "\(calls)")

        try FileManager.default.removeItem(atPath: "\(tools)/calls")
        #expect(FileManager.default.createFile(atPath: "\(tools)/up", contents: nil))
        #expect(await runner.run(job(script)) == .success, "\(runner.lastLines("vip", .load))")
        // (Less the first load's late announcement, whose check may come meanwhile.)
        let again = try String(contentsOfFile: "\(tools)/calls", encoding: .utf8).split(separator: "\n")
        #expect(again.filter { !$0.hasPrefix("-o addr show dev") } == ["-o -4 addr show"], "\(again)")
        #expect(runner.lastLines("vip", .load).contains { $0.contains("198.18.0.100 already on eth0") })
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A fake `ip` showing one interface on 198.18.0.0/24, optionally appending added addresses to a file.
    func oneInterfaceIP(recordingAddsIn file: String? = nil) -> String {
        """
        #!/bin/bash
        case "$*" in
          "-o -4 addr show") echo "2: eth0    inet 198.18.0.11/24 brd 198.18.0.255 scope global eth0" ;;
          "addr add "*) \(file.map { "echo \"$3\" >> \($0)" } ?? ":") ;;
        esac
        exit 0
        """
    }

    /// A previous holder still answering (frozen, slow to unload) is waited for, bounded by
    /// VIGIL_TAKEOVER_WAIT; without a wait the load refuses at once (exit 3).
    @Test("a duplicate address during a takeover is waited for, up to VIGIL_TAKEOVER_WAIT", .timeLimit(.minutes(1)))
    func takeoverWait() async throws {
        let tools = root + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        let fakeIP = oneInterfaceIP()
        // The old holder answers the first three duplicate probes (arping prints a reply line),
        // then has let the address go.
        let fakeArping = """
            #!/bin/bash
            case "$*" in *-D*) echo probe >> \(tools)/probes
              if [ "$(wc -l < \(tools)/probes)" -le 3 ]; then
                echo "Unicast reply from 198.18.0.100 [52:54:00:12:34:56]  0.612ms"; exit 1
              fi ;;
            esac
            exit 0
            """
        let (runner, prefix) = try runnerWithFakeTools(ip: fakeIP, arping: fakeArping)
        // A generous probe timeout: a fake arping slow to start on a busy machine must not count as "no answer".
        let script = "VIGIL_DAD_TIMEOUT=30\n" + prefix + "exit_on_error add_secondary_ipaddress 198.18.0.100\nexit 0\n"
        var waiting = job(script)
        waiting.takeoverWait = .seconds(30)
        #expect(await runner.run(waiting) == .success, "\(runner.lastLines("vip", .load))")
        #expect(try String(contentsOfFile: "\(tools)/probes", encoding: .utf8).split(separator: "\n").count == 4)
        #expect(runner.lastLines("vip", .load).contains { $0.contains("no longer answers") })

        try FileManager.default.removeItem(atPath: "\(tools)/probes")
        var refusing = job(script)
        refusing.takeoverWait = nil
        #expect(await runner.run(refusing) == .failure(exitCode: 3))
        #expect(try String(contentsOfFile: "\(tools)/probes", encoding: .utf8).split(separator: "\n").count == 1)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// After a clean release recorded in the store (VIGIL_ADDRESS_RELEASED names this address) the
    /// load adds it without a probe; any other address is still probed (docs/design/0018).
    @Test("a load right after a clean release of its address sends no duplicate-address probe", .timeLimit(.minutes(1)))
    func releasedAddressNotProbed() async throws {
        let tools = root + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        let fakeIP = oneInterfaceIP(recordingAddsIn: "\(tools)/added")
        let fakeArping = "#!/bin/bash\ncase \"$*\" in *-D*) echo probe >> \(tools)/probes ;; esac\nexit 0\n"
        let (runner, prefix) = try runnerWithFakeTools(ip: fakeIP, arping: fakeArping)
        let script = "VIGIL_DAD_TIMEOUT=30\n" + prefix + "exit_on_error add_secondary_ipaddress 198.18.0.100\nexit 0\n"
        var released = job(script)
        released.addressReleased = "198.18.0.100"
        #expect(await runner.run(released) == .success, "\(runner.lastLines("vip", .load))")
        #expect(!FileManager.default.fileExists(atPath: "\(tools)/probes"))
        #expect(try String(contentsOfFile: "\(tools)/added", encoding: .utf8) == "198.18.0.100/24\n")

        var other = job(script)
        other.addressReleased = "198.18.0.200"
        #expect(await runner.run(other) == .success, "\(runner.lastLines("vip", .load))")
        #expect(try String(contentsOfFile: "\(tools)/probes", encoding: .utf8) == "probe\n")
        try? FileManager.default.removeItem(atPath: root)
    }

    /// IPv6: the interface and prefix come from the node's own address on the subnet, the probe is
    /// a neighbour solicitation (ndisc6: 0 = answered) waited out like ARP's, the address is added
    /// with `nodad` and announced by an unsolicited neighbour advertisement; a clean release named
    /// in another spelling of the same address skips the probe (docs/design/0020).
    @Test("an IPv6 address is probed, added without kernel DAD, and announced", .timeLimit(.minutes(1)))
    func ipv6Address() async throws {
        let tools = root + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        let fakeIP = """
            #!/bin/bash
            case "$*" in
              "-o -6 addr show scope global") echo "2: eth0    inet6 2001:db8:18::11/64 scope global nodad" ;;
              "-6 addr add "*) echo "$4 $5 $6 $7" >> \(tools)/added ;;
              *"addr show dev eth0 to "*) [ -f \(tools)/added ] && echo "2: eth0    inet6 $7/64 scope global nodad" ;;
            esac
            exit 0
            """
        // The old holder answers the first two solicitations, then has let the address go.
        let fakeNdisc6 = """
            #!/bin/bash
            echo "$*" >> \(tools)/probes; [ "$(wc -l < \(tools)/probes)" -le 2 ] && exit 0
            exit 2
            """
        try writeExecutable("\(tools)/ndisc6", fakeNdisc6)
        try writeExecutable("\(tools)/announce", "#!/bin/bash\necho \"$*\" >> \(tools)/announced\n")
        let (runner, prefix) = try runnerWithFakeTools(ip: fakeIP, arping: "#!/bin/bash\nexit 9\n")
        let script =
            "VIGIL_DAD_TIMEOUT=30\nVIGIL_NDISC6=\(tools)/ndisc6\nVIGIL_ANNOUNCE6=\(tools)/announce\n" + prefix
            + "exit_on_error add_secondary_ipaddress 2001:DB8:18:0::100\nsleep 1.5\nexit 0\n"
        var waiting = job(script)
        waiting.takeoverWait = .seconds(30)
        #expect(await runner.run(waiting) == .success, "\(runner.lastLines("vip", .load))")
        let probes = try String(contentsOfFile: "\(tools)/probes", encoding: .utf8).split(separator: "\n")
        #expect(probes.count == 3, "\(probes)")
        #expect(probes.first == "-q -1 -r 1 -w 30000 2001:DB8:18:0::100 eth0")
        #expect(
            try String(contentsOfFile: "\(tools)/added", encoding: .utf8) == "2001:DB8:18:0::100/64 dev eth0 nodad\n")
        // Announced at once, and once more a second later while the address is still up. The
        // second comes from a background job that may outlive the script on a slow machine: waited
        // for (the 30 s is a hang guard).
        let announced = "\(tools)/announced"
        let start = ContinuousClock.now
        while ((try? String(contentsOfFile: announced, encoding: .utf8)) ?? "").split(separator: "\n").count < 2,
            ContinuousClock.now - start < .seconds(30)
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(
            try String(contentsOfFile: announced, encoding: .utf8)
                == "eth0 2001:DB8:18:0::100\neth0 2001:DB8:18:0::100\n")

        for file in ["probes", "added"] { try FileManager.default.removeItem(atPath: "\(tools)/\(file)") }
        var released = job(script)
        released.addressReleased = "2001:db8:18::100"
        #expect(await runner.run(released) == .success, "\(runner.lastLines("vip", .load))")
        #expect(!FileManager.default.fileExists(atPath: "\(tools)/probes"))
        #expect(runner.lastLines("vip", .load).contains { $0.contains("released cleanly") })
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test(
        "a script killed by someone else (OOM, kill -9) is a failure; one the runner killed is .killed",
        .timeLimit(.minutes(1)))
    func killedScripts() async throws {
        let runner = runner()
        #expect(await runner.run(job("kill -9 $$")) == .failure(exitCode: 137))
        let started = root + "/started"
        let running = Task { await runner.run(job("touch \(started)\nsleep 50\nexit 0", timeout: .seconds(60))) }
        let start = ContinuousClock.now
        while !FileManager.default.fileExists(atPath: started), ContinuousClock.now - start < .seconds(50) {
            try await Task.sleep(for: .milliseconds(10))
        }
        // Its PID may not be recorded yet (the script runs before the spawn returns): the kill
        // still reaches it, when the spawn registers the PID.
        runner.kill("vip")
        #expect(await running.value == .killed)
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test(
        "a script waiting for a slot when its resource is fenced never starts; one asked for after the fence runs",
        .timeLimit(.minutes(1)))
    func queuedScriptCancelled() async throws {
        var settings = runner().settings
        settings.parallelScripts = 1
        let runner = ScriptRunner(settings: settings, logger: Logger(label: "test"))
        let release = root + "/release"
        let marker = root + "/loaded"
        // Another resource holds the only slot until the test releases it.
        var blocker = job("for i in $(seq 600); do [ -e \(release) ] && exit 0; sleep 0.05; done; exit 1")
        blocker.resource = "other"
        let holding = Task { await runner.run(blocker) }
        // The load is asked for (its ticket taken), then the node fences before its turn comes.
        let load = job("touch \(marker)")
        let ticket = runner.ticket(for: "vip")
        let queued = Task { await runner.run(load, ticket: ticket) }
        #expect(runner.kill("vip") == nil)
        let unload = job("exit 0", action: .unload)
        let unloadTicket = runner.ticket(for: "vip")
        _ = FileManager.default.createFile(atPath: release, contents: nil)
        #expect(await holding.value == .success)
        #expect(await queued.value == .killed)
        #expect(!FileManager.default.fileExists(atPath: marker), "the queued load ran after the fence")
        #expect(await runner.run(unload, ticket: unloadTicket) == .success)
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("a killed script's whole process group is waited for until it is gone", .timeLimit(.minutes(1)))
    func waitForKilledGroup() async throws {
        let runner = runner()
        let marker = root + "/child.pid"
        let running = Task { await runner.run(job("sleep 300 & echo $! > \(marker); wait", timeout: .seconds(60))) }
        var child: Int32?
        let start = ContinuousClock.now
        while child == nil || runner.processGroup(of: "vip") == nil, ContinuousClock.now - start < .seconds(50) {
            child = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let pid = try #require(child)
        let group = getpgid(pid)
        #expect(ScriptRunner.liveGroups(among: [group]) == [group], "a live group is reported as live")
        #expect(runner.kill("vip") == group)
        let killedAt = ContinuousClock.now
        while !ScriptRunner.liveGroups(among: [group]).isEmpty, ContinuousClock.now - killedAt < .seconds(30) {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(ScriptRunner.liveGroups(among: [group]).isEmpty)
        #expect(
            kill(pid, 0) != 0
                || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true)
        #expect(await running.value == .killed)
        try? FileManager.default.removeItem(atPath: root)
    }
}
