import ArgumentParser
import BPFLoader
import CompareKit
import Foundation
import Glibc
import UserSched
import VMRunner

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "A/B experiment: the kernel's EEVDF, bpf, user and hybrid modes and other sched_ext schedulers on the same workloads.",
        discussion: """
            Runs each workload under each arm, in interleaved rounds (A, B, C, A, B, C, ...) so \
            that drift of a shared machine hits every arm alike; the first round is a warm-up \
            and is not counted. Every arm is measured with one instrument: swiftland's \
            run-queue latency tracer on the kernel's scheduler tracepoints. The report gives, \
            per arm and workload, the median with a distribution-free 95% interval; run-queue \
            latency percentiles and histograms; for user and hybrid modes the queueing through user \
            space (in flight over time, fallbacks, CPU time idle while tasks waited in user \
            space); and the schedulers' own CPU time while the workload ran (the swiftland \
            process, user mode's scheduling thread, the BPF programs, with BPF statistics on \
            for the experiment), as a share of one CPU and per 1,000 scheduling decisions.

            Comparisons are paired by cycle (one round of every arm): per cycle the ratio of \
            the arm's figure to its reference's, the median of these ratios, and the exact \
            sign-test 95% interval for it. Verdict: better or worse when the interval \
            excludes 1, same when it lies within --margin (5%), undecided otherwise; it \
            takes at least 6 counted rounds (6 cycles all one way: 96.9%). A cycle where \
            either arm failed is left out of that comparison; a cyclictest p99 beyond its \
            histogram counts as "at least" its end. Every arm is compared against the \
            baseline (--baseline, default eevdf), every user and hybrid arm against bpf \
            mode: with the same policy (user:bpfland), the cost of the trip through user \
            space, every hybrid arm against the user arm with its policy, batch and wakeup \
            (what the bypass changes), and every arm with options against the same arm \
            without them. --check-against DIR then says whether the verdicts agree with an \
            earlier experiment's (also: `swiftland report DIR --check-against OTHER`).

            Arms (--modes): eevdf (no sched_ext scheduler), bpf, user:POLICY[:BATCH[:WAKEUP]] \
            with POLICY one of bpfland, vruntime, fifo and WAKEUP one of adaptive, always, \
            spin (`swiftland run --batch` and `--wakeup`; `user:bpfland::spin` keeps the \
            default batch). `user:bpfland` runs bpf mode's policy in Swift: its difference \
            from `bpf` is the trip through user space alone; `user:bpfland:1:adaptive,\
            user:bpfland:1:spin` compares two wakeup policies. hybrid:POLICY[:BATCH[:WAKEUP]], \
            spelt the same, runs `swiftland run --mode hybrid`: user mode whose kernel side \
            places tasks with its BPF policy while they queue for user space. After a bpf, \
            user or hybrid arm, options of `swiftland run` as :KEY=VALUE: preempt=on|off \
            (wakeup preemption), for bpf ordering=classes|deadline, for hybrid \
            bypass-target-us=US and bypass-interval-us=US (the control law); \
            `bpf,bpf:preempt=off:ordering=classes` compares today's bpf mode with the 2024 \
            design, `hybrid:bpfland:8,hybrid:bpfland:8:bypass-target-us=250` two targets.

            Peers: scx:NAME runs one of the kernel's own sched_ext example schedulers \
            (tools/sched_ext of the kernel the experiment runs on): scx:simple, scx:central, \
            scx:userland (its policy in user space, the peer of user mode), scx:flatcg; \
            scx_qmap is left out, the 7.3 verifier rejects it. They are built once from \
            Debian's linux-source of the VM kernel's version (a few minutes, the first time) \
            and cached beside the kernel. ext:PATH runs any sched_ext scheduler you have, \
            PATH absolute. Either takes the scheduler's arguments after it, separated by \
            spaces (quote the whole --modes value; an arm cannot contain a comma): \
            --modes 'eevdf,bpf,scx:simple,ext:/usr/bin/scx_bpfland -s 5000'. A peer is \
            started like swiftland's arms, counts as attached when sched_ext says enabled, \
            and is stopped with SIGINT; a peer that does not attach, exits or is ejected \
            loses that round, recorded as failed with its last log lines. Peers serve no \
            counters: their cost is their process's CPU time. Each swiftland arm is also \
            compared with each scx: peer whose policy runs where its own does (bpf with \
            scx:simple, user and hybrid arms with scx:userland).

            Workloads (--workloads): hackbench (rt-tests, messaging; time, lower is better), \
            cyclictest (rt-tests as SCHED_OTHER beside one CPU hog per CPU; p99 wakeup \
            latency), stress (the scx CI mix of stress-ng; bogo ops/s), wrk (Debian's nginx \
            serving a small static file on the loopback, one worker per CPU, and wrk as its \
            client, one thread per CPU; requests/s, higher is better, with wrk's latency \
            percentiles in the per-round data; run-queue latency of the nginx workers and the \
            wrk threads), wrk-hogs (the same beside one CPU hog per CPU), cmd (your own: \
            --workload-cmd with --workload-regex).

            On a kernel without sched_ext the whole experiment runs inside `swiftland vm` \
            (one boot) and the results come back to --out.
            """)

    @Option(help: "Arms, comma-separated: eevdf, bpf, user:POLICY[:BATCH[:WAKEUP]], hybrid:POLICY[:BATCH[:WAKEUP]], with :KEY=VALUE options; scx:NAME, ext:PATH, with the scheduler's arguments after a space (see above).")
    var modes: String = "eevdf,bpf,user:bpfland:1,user:bpfland:8"

    @Option(help: "Workloads, comma-separated: hackbench, cyclictest, stress, wrk, wrk-hogs, cmd.")
    var workloads: String = "hackbench,cyclictest"

    @Option(parsing: .unconditional, help: "Counted rounds per arm and workload (7 for a full run; with fewer than 6 no 95% interval exists, no comparison is decided, and the report says so).")
    var rounds: Int = 7

    @Option(parsing: .unconditional, help: "Warm-up rounds, run but not counted.")
    var warmup: Int = 1

    @Option(parsing: .unconditional, help: "Length of the timed workloads (cyclictest, stress, wrk), in seconds.")
    var seconds: Int = 10

    @Option(parsing: .unconditional, help: "hackbench loops per run (its length).")
    var hackbenchLoops: Int = 200

    @Option(help: "cmd workload: the command line, run with /bin/sh -c.")
    var workloadCmd: String?

    @Option(help: "cmd workload: a regular expression whose one capture group is the figure.")
    var workloadRegex: String?

    @Option(help: "cmd workload: the figure's unit.")
    var workloadUnit: String = ""

    @Flag(help: "cmd workload: a higher figure is better (default: lower is better).")
    var workloadHigherIsBetter = false

    @Option(help: "Directory for the results: experiment.json, rounds.csv, comparisons.csv, summary.txt, SVG/PNG plots, report.html.")
    var out: String = "results"

    @OptionGroup(title: "Comparisons")
    var comparison: ComparisonOptions

    @Option(parsing: .unconditional, help: "In the VM: guest CPUs.")
    var vmCpus: Int = 2

    @Option(help: "In the VM: guest memory.")
    var vmMemory: String = "2G"

    @Flag(help: ArgumentHelp("Run here even without sched_ext (internal: set inside the VM).", visibility: .hidden))
    var insideVM = false

    @Option(help: ArgumentHelp("The built example schedulers for scx: arms (internal: set inside the VM).", visibility: .hidden))
    var peersDir: String?

    func validate() throws {
        _ = try comparison.baselineArm(among: arms())
        try comparison.checkComparable(arms: arms(), workloads: specs(cpus: 2).map(\.name))
        if rounds < 1 || rounds > 100 { throw ValidationError("--rounds must be from 1 to 100") }
        if warmup < 0 || warmup > 10 { throw ValidationError("--warmup must be from 0 to 10") }
        if seconds < 1 || seconds > 3600 { throw ValidationError("--seconds must be from 1 to 3600") }
        if hackbenchLoops < 1 { throw ValidationError("--hackbench-loops must be above 0") }
        if out.isEmpty { throw ValidationError("--out is empty: name a directory for the results") }
        if !workloads.split(separator: ",").contains("cmd") && (workloadCmd != nil || workloadRegex != nil) {
            throw ValidationError("--workload-cmd and --workload-regex apply to the cmd workload only (add cmd to --workloads)")
        }
        do {
            try VMValidation.validateCPUs(vmCpus)
        } catch { throw ValidationError("--vm-cpus: \(error)") }
        do {
            _ = try VMValidation.parseMemory(vmMemory)
        } catch { throw ValidationError("--vm-memory: \(error)") }
    }

    func arms() throws -> [Arm] {
        let list = try modes.split(separator: ",").map { spec -> Arm in
            do {
                let arm = try Arm(parsing: String(spec))
                switch arm.kind {
                case .user(let policy, _, let wakeup), .hybrid(let policy, _, let wakeup):
                    _ = try PolicyName(validating: policy)
                    if let wakeup, WakeupPolicy(rawValue: wakeup) == nil {
                        let names = WakeupPolicy.allCases.map(\.rawValue).joined(separator: ", ")
                        throw ValidationError("--modes \(spec): unknown wakeup policy '\(wakeup)' (one of \(names))")
                    }
                case .eevdf, .bpf, .scx, .ext: break
                }
                if let problem = arm.externalBinaryProblem { throw ValidationError("--modes: \(problem)") }
                return arm
            } catch let error as ArmError {
                throw ValidationError("\(error)")
            } catch let error as PolicyError {
                throw ValidationError("--modes \(spec): \(error)")
            }
        }
        if list.isEmpty { throw ValidationError("--modes names no arm") }
        if Set(list).count != list.count { throw ValidationError("--modes names an arm twice") }
        return list
    }

    func specs(cpus: Int) throws -> [WorkloadSpec] {
        let names = workloads.split(separator: ",").map(String.init)
        if names.isEmpty { throw ValidationError("--workloads names no workload") }
        return try names.map { name in
            switch name {
            case "hackbench":
                return WorkloadSpec(name: "hackbench", command: ["hackbench", "-g", "4", "-l", "\(hackbenchLoops)"],
                                    extractor: .hackbench, tracedCommands: ["hackbench"])
            case "cyclictest":
                // SCHED_OTHER (no -p: real-time tasks bypass sched_ext), one thread per CPU,
                // beside one CPU hog per CPU.
                return WorkloadSpec(
                    name: "cyclictest",
                    command: ["cyclictest", "-q", "-m", "-t", "\(cpus)", "-i", "1000", "-D", "\(seconds)", "-h", "100000"],
                    extractor: .cyclictest(figure: .p99Us), tracedCommands: ["cyclictest"], besideHogs: true)
            case "stress":
                return WorkloadSpec(
                    name: "stress",
                    command: ["stress-ng", "-t", "\(seconds)", "--aggressive", "-M", "-c", "\(cpus)", "-f", "\(cpus)",
                              "--affinity", "1", "--affinity-delay", "1", "--affinity-pin", "--metrics-brief"],
                    extractor: .stressNg(figure: .geometricMean))
            case "wrk", "wrk-hogs":
                return WrkWorkload.spec(name: name, cpus: cpus, seconds: seconds, besideHogs: name == "wrk-hogs")
            case "cmd":
                guard let workloadCmd, let workloadRegex else {
                    throw ValidationError("the cmd workload needs --workload-cmd and --workload-regex")
                }
                do {
                    let pattern = try CommandPattern(regex: workloadRegex, figureName: "cmd", unit: workloadUnit,
                                                     higherIsBetter: workloadHigherIsBetter)
                    return WorkloadSpec(name: "cmd", command: ["/bin/sh", "-c", workloadCmd], extractor: .pattern(pattern))
                } catch {
                    throw ValidationError("--workload-regex: \(error)")
                }
            default:
                throw ValidationError("unknown workload \"\(name)\": choose from hackbench, cyclictest, stress, wrk, wrk-hogs, cmd")
            }
        }
    }

    func run() throws {
        guard getuid() == 0 || Preflight().missingCapabilities().isEmpty else {
            throw fail(SchedulerError.missingPrivileges(missing: Preflight().missingCapabilities()).description)
        }
        if !Preflight().kernelHasSchedExt && !insideVM {
            try runInVM()
            return
        }
        if let other = Preflight().attachedScheduler() {
            throw fail(SchedulerError.otherSchedulerLoaded(name: other).description)
        }
        let peers = try arms().contains(where: \.isScx) ? peerBuild() : nil
        do {
            try peers?.prepare()
        } catch { throw fail("\(error)") }
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let experiment = try Experiment(
            settings: ExperimentSettings(
                arms: arms(), workloads: specs(cpus: cpus), rounds: rounds, warmupRounds: warmup, date: Date(),
                machine: Self.machineDescription(insideVM: insideVM, cpus: cpus), kernel: Preflight.kernelRelease(),
                commandLine: CommandLine.arguments.joined(separator: " "),
                baseline: comparison.baselineArm(among: arms()), marginPercent: comparison.margin))
        var result = ExperimentRunner(experiment: experiment, hogSeconds: seconds, peers: peers).run()
        if insideVM {
            result.notes = """
                These rounds ran inside a QEMU guest booted by `swiftland vm`, under TCG (software \
                emulation) unless the host's KVM worked. Under TCG a guest instruction costs tens \
                of host instructions and one host thread runs every vCPU, so costs that scale with \
                instructions, above all user mode's round trip through user space, are magnified, \
                and absolute times say little about bare metal. The intervals describe how these \
                rounds varied on this machine. Compare the arms with each other, not with numbers \
                from real hardware; for those, run `swiftland compare` on a sched_ext kernel.
                """
        }
        Terminal.out(TerminalReport.render(Summary(result)))
        let written = try ReportFiles.write(result, to: URL(fileURLWithPath: out))
        // Inside the VM the host names its own directory and redraws the pictures (it may
        // have a converter we lack): a guest path would name a place the user cannot open.
        guard !insideVM else { return }
        Terminal.out("swiftland compare: \(written.files.count) files in \(out)/ (open \(out)/report.html)")
        if let note = written.pngNote { Terminal.out("swiftland compare: \(note)") }
        if let table = try comparison.agreement(with: result) { Terminal.out(table) }
    }

    /// The same experiment inside a sched_ext VM, its files brought back to --out.
    private func runInVM() throws {
        Terminal.out("swiftland compare: this kernel (\(Preflight.kernelRelease())) has no sched_ext; running the experiment inside `swiftland vm` (one boot, TCG when KVM is unusable: slow, and its timing is not bare-metal timing)")
        var options = VMOptions()
        options.cpus = vmCpus
        do {
            options.memoryMiB = try VMValidation.parseMemory(vmMemory)
        } catch {
            throw ValidationError("--vm-memory: \(error)")
        }
        let guestOut = "/results"
        var args = Array(CommandLine.arguments.dropFirst())
        if let i = args.firstIndex(of: "--out"), i + 1 < args.count { args.removeSubrange(i...(i + 1)) }
        args.removeAll { $0.hasPrefix("--out=") }
        // The earlier experiment is on this host: the agreement is checked here, afterwards.
        if let i = args.firstIndex(of: "--check-against"), i + 1 < args.count { args.removeSubrange(i...(i + 1)) }
        args.removeAll { $0.hasPrefix("--check-against=") }
        // Peers' binaries go into the guest at their host paths (with their libraries).
        let arms = try arms()
        if arms.contains(where: \.isScx) {
            let peers = try peerBuild()
            options.additions.append(peers.directory)
            args += ["--peers-dir", peers.directory]
        }
        for arm in arms {
            if case .ext(let path, _) = arm.kind { options.additions.append(path) }
        }
        options.command = Shell.commandLine(["swiftland"] + args + ["--out", guestOut, "--inside-vm"])
        let hostOut = out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out
        try FileManager.default.createDirectory(atPath: hostOut, withIntermediateDirectories: true)
        options.results = ResultsSpec(guestDirectory: guestOut, hostDirectory: hostOut)
        let report = VMRunner(options: options).run()
        guard report.exitStatus == 0 else {
            throw fail("the experiment in the VM ended with status \(report.exitStatus) (\(vmStatusMeaning(report.exitStatus)))")
        }
        // Rebuild the files here: this host may have an SVG-to-PNG converter the guest lacks.
        let json = URL(fileURLWithPath: hostOut).appendingPathComponent(ReportFiles.jsonName)
        let experiment = try Experiment.decode(json: Data(contentsOf: json))
        let written = try ReportFiles.write(experiment, to: URL(fileURLWithPath: hostOut))
        Terminal.out("swiftland compare: \(written.files.count) files in \(out)/ (open \(out)/report.html)")
        if let note = written.pngNote { Terminal.out("swiftland compare: \(note)") }
        if let table = try comparison.agreement(with: experiment) { Terminal.out(table) }
    }

    /// The example schedulers for scx: arms: --peers-dir inside the VM; elsewhere built (or
    /// found verified in the cache) for the cached kernel.
    private func peerBuild() throws -> PeerBuild {
        if let peersDir { return PeerBuild(directory: peersDir) }
        do {
            let cache = KernelCache(cacheDirectory: VMOptions.defaultCacheDirectory)
            let kernel = try cache.fetch()
            let kernelDirectory = (kernel.path as NSString).deletingLastPathComponent
            return PeerBuild(directory: try cache.peers(kernelDirectory: kernelDirectory))
        } catch {
            throw fail("\(error)")
        }
    }

    private func vmStatusMeaning(_ status: Int32) -> String {
        switch status {
        case VMExitStatus.bootFailure: "the VM did not boot: not a scheduler failure"
        case VMExitStatus.guestDied: "the guest died"
        case VMExitStatus.timeout: "timed out"
        case VMExitStatus.setupFailure: "the VM could not be set up"
        default: "see the output above"
        }
    }

    static func machineDescription(insideVM: Bool, cpus: Int) -> String {
        let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let mem = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("MemTotal:") }?
            .split(separator: " ").dropFirst().first.flatMap { Double($0) }.map { String(format: "%.1f GiB", $0 / 1_048_576) } ?? "?"
        return "\(insideVM ? "QEMU guest (swiftland vm), " : "")\(cpus) CPUs (\(model)), \(mem)"
    }

    private func fail(_ message: String) -> ExitCode {
        Terminal.error("swiftland compare: error: \(message)")
        return ExitCode(1)
    }
}
