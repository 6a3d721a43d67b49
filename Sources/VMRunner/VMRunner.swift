import ChildProcess
import Foundation
import Synchronization
import SystemPackage

/// Boots the sched_ext kernel under QEMU, runs one command in it and reports how it went.
///
/// Serial ports: ttyS0 is the kernel console (a log file per attempt, kept when something
/// goes wrong), ttyS1 carries COMMAND's output (streamed to our stdout) between the start
/// and exit markers (see `MarkerProtocol`), ttyS2 carries the --results tar.
public final class VMRunner: @unchecked Sendable {
    public let options: VMOptions
    /// Where COMMAND's output goes (default: our stdout).
    private let outputFD: Int32

    public init(options: VMOptions, outputFD: Int32 = 1) {
        self.options = options
        self.outputFD = outputFD
    }

    /// A failure before any VM ran (exit status 122, or 64 for a bad option value).
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
        public var exitStatus: Int32
        init(_ description: String, exitStatus: Int32 = VMExitStatus.setupFailure) {
            self.description = description
            self.exitStatus = exitStatus
        }
    }

    /// What happened, for the caller and for tests.
    public struct Report: Sendable {
        public var exitStatus: Int32
        public var outcome: AttemptOutcome?
        /// Seconds from QEMU's start to the start marker, of the attempt that got there.
        public var bootSeconds: Double?
        public var totalSeconds: Double = 0
        public var accelerator: Accelerator?
        public var initramfsBytes: Int = 0
        public var initramfsSeconds: Double = 0
        public var initramfsBaseWasCached = false
        public var kernel: KernelImage?
        /// Kept when something went wrong.
        public var runDirectory: String?
        public var kernelLog: String?
        /// Kernel logs of boot attempts that failed before the one that counted (kept).
        public var failedAttemptLogs: [String] = []
    }

    // MARK: - Running

    /// Runs the whole thing; never throws: problems become the report's exit status and
    /// messages on stderr.
    public func run() -> Report {
        let started = Date()
        var report = Report(exitStatus: VMExitStatus.setupFailure)
        do {
            try runChecked(&report)
        } catch let error as SetupError {
            say(error.description)
            report.exitStatus = error.exitStatus
        } catch let error as VMOptionError {
            say(error.description)
            report.exitStatus = VMExitStatus.usage
        } catch {
            say("\(error)")
            report.exitStatus = VMExitStatus.setupFailure
        }
        report.totalSeconds = Date().timeIntervalSince(started)
        if options.verbose { say(String(format: "total %.2f s", report.totalSeconds)) }
        return report
    }

    private func runChecked(_ report: inout Report) throws {
        try VMValidation.validateCPUs(options.cpus)
        guard options.memoryMiB >= VMValidation.minimumMemoryMiB else {
            throw VMOptionError("--memory must be at least \(VMValidation.minimumMemoryMiB)M")
        }
        _ = try VMValidation.validateCommand(options.command)
        for path in options.additions { try VMValidation.validateAddition(path) }

        // From here on Ctrl-C is noted and acted on between steps (and stops QEMU at once).
        SignalGuard.install()

        // --- Host tools.
        let qemuName = ProcessInfo.processInfo.environment["SWIFTLAND_QEMU"] ?? "qemu-system-x86_64"
        guard let qemu = Subprocess.which(qemuName) else {
            throw SetupError("\(qemuName) not found: install the package qemu-system-x86 (apt-get install qemu-system-x86)")
        }
        guard let busybox = Subprocess.which("busybox") else {
            throw SetupError("busybox not found: install the package busybox-static (apt-get install busybox-static)")
        }
        var tools: [String] = []
        for tool in InitramfsBuilder.workloadTools {
            if let path = Subprocess.which(tool.name) {
                tools.append(path)
            } else {
                say("warning: \(tool.name) is not on this host (package \(tool.package)); the guest will not have it")
            }
        }
        tools += InitramfsBuilder.optionalTools.compactMap { Subprocess.which($0) }
        let swiftland = try selfExecutable()

        // --- Cache directory (kernels, initramfs base, KVM record, run logs).
        let cache = options.cacheDirectory
        if let problem = Self.makeDirectories(cache + "/vm/runs") ?? (access(cache, W_OK) == 0 ? nil : "\(Errno(rawValue: errno))") {
            throw SetupError(
                "cannot use the cache directory \(cache) (\(problem)): \(getuid() == 0 ? "" : "run as root, or ")set SWIFTLAND_CACHE to a writable directory")
        }

        // --- Kernel.
        let kernel: KernelImage
        if let path = options.kernel {
            kernel = try KernelImage.user(path)
        } else {
            let fetchStart = Date()
            do {
                kernel = try KernelCache(cacheDirectory: cache).fetch()
            } catch {
                try checkInterrupted()
                throw SetupError("\(error)")
            }
            if options.verbose {
                say(String(format: "kernel %@ ready (fetch + verify %.2f s)", kernel.version ?? "?", Date().timeIntervalSince(fetchStart)))
            }
        }
        report.kernel = kernel
        try checkInterrupted()

        // --- Run directory and initramfs.
        let runDirectory = try makeRunDirectory(cache + "/vm/runs")
        report.runDirectory = runDirectory
        // Kept (logs only) when the VM failed; removed otherwise.
        var keepRunDirectory = false
        defer {
            unlink(runDirectory + "/initrd.cpio")
            unlink(runDirectory + "/kernel")
            var st = stat()
            if stat(runDirectory + "/results.tar", &st) == 0 && st.st_size == 0 { unlink(runDirectory + "/results.tar") }
            if !keepRunDirectory {
                try? FileManager.default.removeItem(atPath: runDirectory)
                report.runDirectory = nil
            }
        }
        let markers = MarkerProtocol(nonce: MarkerProtocol.randomNonce())
        let built: InitramfsBuilder.Built
        do {
            built = try InitramfsBuilder(cacheDirectory: cache).build(
                .init(
                    busybox: busybox, tools: tools, swiftland: swiftland, additions: options.additions,
                    command: options.command, markers: markers, results: options.results),
                runDirectory: runDirectory)
        } catch {
            throw SetupError("cannot build the guest's initramfs: \(error)")
        }
        try checkInterrupted()
        for warning in built.warnings { say("warning: \(warning)") }
        report.initramfsBytes = built.totalBytes
        report.initramfsSeconds = built.seconds
        report.initramfsBaseWasCached = built.baseWasCached
        if options.verbose {
            say(String(format: "initramfs %.1f MiB (base %.1f MiB %@, run layer %.1f MiB) in %.2f s",
                       Double(built.totalBytes) / 1048576, Double(built.baseBytes) / 1048576,
                       built.baseWasCached ? "cached" : "built", Double(built.runBytes) / 1048576, built.seconds))
        }
        // The initrd and its unpacked copy are both in guest RAM during boot.
        let neededMiB = (2 * built.totalBytes) / 1048576 + 200
        if options.memoryMiB < neededMiB {
            throw VMOptionError(
                "--memory \(options.memoryMiB)M is too small for a \(built.totalBytes / 1048576) MiB initramfs: give at least \(Int((Double(neededMiB) / 64).rounded(.up)) * 64)M")
        }
        // QEMU parses commas in some paths: give it comma-free names in the run directory.
        let kernelLink = runDirectory + "/kernel"
        guard symlink(kernel.path.hasPrefix("/") ? kernel.path : FileManager.default.currentDirectoryPath + "/" + kernel.path, kernelLink) == 0 else {
            throw SetupError("cannot link the kernel into \(runDirectory): \(Errno(rawValue: errno))")
        }

        // --- Boot attempts.
        let outcome = try boot(
            qemu: qemu, kernel: kernelLink, initrd: built.path, runDirectory: runDirectory,
            markers: markers, report: &report)
        report.outcome = outcome
        report.exitStatus = outcome.exitStatus

        switch outcome {
        case .completed(let exit):
            if let results = options.results,
                let problem = bringResultsBack(results, exit: exit, runDirectory: runDirectory)
            {
                say(problem)
                say("kernel log: \(runDirectory)/console.log")
                report.exitStatus = exit.status == 0 ? VMExitStatus.setupFailure : exit.status
                report.kernelLog = runDirectory + "/console.log"
                keepRunDirectory = true
            }
            // A flaky boot that was retried: keep its logs for a look.
            if !report.failedAttemptLogs.isEmpty { keepRunDirectory = true }
        case .interrupted(let sig):
            say("interrupted by signal \(sig); the VM was stopped")
        default:
            keepRunDirectory = true
        }
        pruneRunDirectories(cache + "/vm/runs", keeping: runDirectory)
    }

    /// Boot attempts with retries and the KVM/TCG decision.
    private func boot(
        qemu: String, kernel: String, initrd: String, runDirectory: String, markers: MarkerProtocol,
        report: inout Report
    ) throws -> AttemptOutcome {
        let probe = KVMProbe(cacheDirectory: options.cacheDirectory, qemuBinary: qemu)
        var accelerator: Accelerator
        var probing = false
        switch options.accelerator {
        case .tcg:
            accelerator = .tcg
        case .kvm:
            guard KVMProbe.deviceUsable() else {
                throw SetupError("--accel kvm: cannot open /dev/kvm read-write (\(Errno(rawValue: errno)))")
            }
            accelerator = .kvm
        case .auto:
            if !KVMProbe.deviceUsable() {
                accelerator = .tcg
            } else {
                switch probe.recorded() {
                case .usable?: accelerator = .kvm
                case .unusable?: accelerator = .tcg
                case nil:
                    accelerator = .kvm
                    probing = true
                }
            }
        }

        var bootFailures = 0
        var attempt = 0
        var kvmFailure: String?
        var failureLogs: [String] = []
        let consoleLog = runDirectory + "/console.log"
        /// Keeps a failed attempt's logs under their own names; returns the kernel log's.
        func keepAttemptLogs(_ attempt: Int) -> String {
            let kept = runDirectory + "/console-attempt\(attempt).log"
            rename(consoleLog, kept)
            rename(runDirectory + "/qemu.log", runDirectory + "/qemu-attempt\(attempt).log")
            failureLogs.append(kept)
            report.failedAttemptLogs = failureLogs
            return kept
        }
        while true {
            attempt += 1
            let bootTimeout = probing ? min(options.bootTimeout, KVMProbe.probeBootTimeout) : options.bootTimeout
            if options.verbose {
                say("boot attempt \(attempt): \(accelerator.rawValue)\(probing ? " (first use of KVM on this host)" : ""), \(options.cpus) vCPUs, \(options.memoryMiB) MiB")
            }
            let attemptStart = Date()
            let (record, bootSeconds) = try runAttempt(
                qemu: qemu,
                command: QEMUCommand(
                    accelerator: accelerator, cpus: options.cpus, memoryMiB: options.memoryMiB,
                    kernel: kernel, initrd: initrd,
                    kernelArguments: QEMUCommand.kernelCommandLine(extra: options.extraKernelArguments),
                    consoleLog: consoleLog, resultsFile: runDirectory + "/results.tar"),
                runDirectory: runDirectory, markers: markers, bootTimeout: bootTimeout)
            let outcome = AttemptClassifier.classify(record)
            if let bootSeconds {
                report.bootSeconds = bootSeconds
                if options.verbose { say(String(format: "booted to the command in %.2f s", bootSeconds)) }
            }
            report.accelerator = accelerator

            if case .interrupted = outcome { return outcome }
            if probing {
                probing = false
                if record.started {
                    probe.record(.usable, detail: "a KVM boot reached the command")
                } else {
                    let reason: String
                    if case .bootFailure(let r, _) = outcome { reason = r } else { reason = "no boot" }
                    kvmFailure = reason + String(format: " after %.1f s", Date().timeIntervalSince(attemptStart))
                    say("KVM does not work on this host (\(reason)); using TCG (software emulation)")
                    _ = keepAttemptLogs(attempt)
                    accelerator = .tcg
                    continue  // not counted as a boot failure
                }
            } else if let failure = kvmFailure, record.started {
                // TCG booted the same guest that KVM could not: KVM is the problem.
                probe.record(.unusable, detail: failure)
                kvmFailure = nil
                if options.verbose { say("recorded in \(probe.recordPath): KVM unusable, TCG from now on") }
            }

            switch outcome {
            case .bootFailure(let reason, let retryable):
                bootFailures += 1
                let log = AttemptClassifier.lastLines(record.kernelLog, 40)
                if retryable && bootFailures < options.bootAttempts {
                    let kept = keepAttemptLogs(attempt)
                    say("VM boot attempt \(attempt) failed (\(reason)); retrying (kernel log: \(kept))")
                    continue
                }
                say("VM BOOT FAILURE, not a scheduler failure: the guest never reached the command "
                    + "(\(bootFailures) attempt\(bootFailures == 1 ? "" : "s"); last: \(reason)).")
                if !log.isEmpty { say("last lines of the kernel log:\n" + log) }
                let qemuLog = record.qemuStderr.trimmingCharacters(in: .whitespacesAndNewlines)
                if !qemuLog.isEmpty { say("QEMU said:\n" + AttemptClassifier.lastLines(qemuLog, 10)) }
                say("kernel log: \(consoleLog)" + (failureLogs.isEmpty ? "" : " (earlier attempts: \(failureLogs.joined(separator: ", ")))"))
                if accelerator == .kvm {
                    say(options.accelerator == .auto
                        ? "if KVM stopped working here, use --accel tcg or delete \(probe.recordPath)"
                        : "KVM may not work on this host: try --accel tcg (or auto)")
                }
                report.kernelLog = consoleLog
                return outcome
            case .guestDied(let reason):
                say("the guest died before the command finished: \(reason)")
                say("last lines of the kernel log:\n" + AttemptClassifier.lastLines(record.kernelLog, 40))
                say("kernel log: \(consoleLog)")
                report.kernelLog = consoleLog
                return outcome
            case .timedOut:
                say("the command ran longer than --timeout \(formatSeconds(options.timeout ?? 0)) s; the VM was stopped")
                say("last lines of the kernel log:\n" + AttemptClassifier.lastLines(record.kernelLog, 30))
                say("kernel log: \(consoleLog)")
                report.kernelLog = consoleLog
                return outcome
            case .completed, .interrupted:
                return outcome
            }
        }
    }

    /// One QEMU run. Returns what happened and, if the command started, the boot time.
    private func runAttempt(
        qemu: String, command: QEMUCommand, runDirectory: String, markers: MarkerProtocol,
        bootTimeout: Double
    ) throws -> (AttemptRecord, Double?) {
        unlink(command.consoleLog)
        unlink(command.resultsFile)
        let qemuLogPath = runDirectory + "/qemu.log"
        let qemuLog = open(qemuLogPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard qemuLog >= 0 else { throw SetupError("cannot create \(qemuLogPath)") }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let pipe = try Pipe2()
        let spawnTime = Date()
        let pid: pid_t
        do {
            pid = try Subprocess.spawn(
                qemu, command.arguments, stdin: devNull, stdout: pipe.write, stderr: qemuLog,
                newProcessGroup: true)
        } catch {
            close(qemuLog); close(devNull); pipe.closeBoth()
            throw SetupError("\(error)")
        }
        close(qemuLog)
        close(devNull)
        pipe.closeWrite()
        if options.verbose {
            let line = Shell.commandLine([qemu] + command.arguments)
            try? line.write(toFile: runDirectory + "/qemu-command", atomically: false, encoding: .utf8)
        }

        let state = AttemptState()
        let outputFD = self.outputFD
        // Reader: the command port, into the parser and out to our stdout.
        let reader = BackgroundTask {
            var parser = CommandStreamParser(protocol: markers)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let wasStarted = parser.started
                let out = parser.feed(buffer[0..<n])
                if !out.isEmpty { _ = out.withUnsafeBytes { FD.writeAll(outputFD, $0) } }
                if parser.started && !wasStarted { state.update { $0.startedAt = Date() } }
                if let exit = parser.exit { state.update { $0.exit = exit } }
            }
            let rest = parser.finish()
            if !rest.isEmpty { _ = rest.withUnsafeBytes { FD.writeAll(outputFD, $0) } }
            pipe.closeRead()
            state.update { $0.endOfStream = true }
        }
        // Waiter: QEMU's end.
        let waiter = BackgroundTask {
            let termination = Subprocess.wait(pid)
            state.update { $0.termination = termination }
        }

        var ending: AttemptRecord.Ending?
        var exitMarkerAt: Date?
        var terminateSentAt: Date?
        // A hung boot (seen under TCG) stops writing to the kernel log: give up on it long
        // before the boot timeout.
        var consoleSize = -1
        var consoleChangedAt = spawnTime
        while true {
            let snapshot = state.snapshot()
            if snapshot.termination != nil && snapshot.endOfStream { break }
            let now = Date()
            if snapshot.termination == nil {
                if ending == nil {
                    if let sig = SignalGuard.pending() {
                        ending = .interrupted(sig)
                        Self.signalQEMU(pid, SIGKILL)
                    } else if snapshot.exit != nil {
                        // The guest powers itself off right after the marker; allow a moment.
                        exitMarkerAt = exitMarkerAt ?? now
                        if now.timeIntervalSince(exitMarkerAt!) > 10 {
                            ending = .exitMarker
                            Self.signalQEMU(pid, SIGTERM)
                            terminateSentAt = now
                        }
                    } else if snapshot.startedAt == nil {
                        var st = stat()
                        let size = stat(command.consoleLog, &st) == 0 ? Int(st.st_size) : 0
                        if size != consoleSize {
                            consoleSize = size
                            consoleChangedAt = now
                        }
                        if now.timeIntervalSince(spawnTime) > bootTimeout {
                            ending = .bootTimedOut
                            Self.signalQEMU(pid, SIGKILL)
                        } else if now.timeIntervalSince(consoleChangedAt) > Self.bootStallSeconds {
                            ending = .bootStalled(Self.bootStallSeconds)
                            Self.signalQEMU(pid, SIGKILL)
                        }
                    } else if let timeout = options.timeout, let startedAt = snapshot.startedAt,
                        now.timeIntervalSince(startedAt) > timeout
                    {
                        ending = .commandTimedOut
                        Self.signalQEMU(pid, SIGKILL)
                    }
                } else if let sent = terminateSentAt, now.timeIntervalSince(sent) > 5 || SignalGuard.pending() != nil {
                    Self.signalQEMU(pid, SIGKILL)
                    terminateSentAt = nil
                }
            }
            state.wait(upTo: 0.2)
        }
        waiter.join()
        reader.join()

        let final = state.snapshot()
        if final.exit != nil {
            ending = .exitMarker
        } else if ending == nil {
            switch final.termination! {
            case .exited(let code): ending = .qemuExited(code)
            case .signaled(let sig): ending = .qemuKilledBySignal(sig)
            }
        }
        let record = AttemptRecord(
            started: final.startedAt != nil, exit: final.exit, ending: ending!,
            kernelLog: String(decoding: FileManager.default.contents(atPath: command.consoleLog) ?? Data(), as: UTF8.self)
                .replacingOccurrences(of: "\r\n", with: "\n"),
            qemuStderr: (try? String(contentsOfFile: qemuLogPath, encoding: .utf8)) ?? "")
        let bootSeconds = final.startedAt.map { $0.timeIntervalSince(spawnTime) }
        return (record, bootSeconds)
    }

    /// A boot whose kernel log stays silent this long is taken as hung. Normal boots under
    /// TCG never pause for more than a few seconds, even on a loaded host.
    static let bootStallSeconds: Double = 20

    /// QEMU runs in a process group of its own (see spawn); signal the group.
    private static func signalQEMU(_ pid: pid_t, _ signal: Int32) {
        kill(-pid, signal)
    }

    // MARK: - Results

    /// Unpacks the guest's results tar into the host directory; returns a problem, or nil.
    private func bringResultsBack(_ results: ResultsSpec, exit: GuestExit, runDirectory: String) -> String? {
        guard exit.resultBytes >= 0 else {
            return "--results: the guest had no directory \(results.guestDirectory) (or could not archive it); nothing copied back"
        }
        let tarFile = runDirectory + "/results.tar"
        var st = stat()
        let size = stat(tarFile, &st) == 0 ? Int(st.st_size) : -1
        guard size == exit.resultBytes else {
            return "--results: received \(max(size, 0)) of \(exit.resultBytes) bytes from the guest; results incomplete"
        }
        do {
            try FileManager.default.createDirectory(atPath: results.hostDirectory, withIntermediateDirectories: true)
        } catch {
            return "--results: cannot create \(results.hostDirectory): \(error.localizedDescription)"
        }
        guard let tar = Subprocess.which("tar") else { return "--results: tar is missing on the host" }
        do {
            let out = try Subprocess.run(tar, ["-xf", tarFile, "-C", results.hostDirectory, "--no-same-owner"])
            guard out.termination.succeeded else {
                return "--results: unpacking failed: \(out.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))"
            }
        } catch {
            return "--results: \(error)"
        }
        if options.verbose { say("results: \(exit.resultBytes) bytes unpacked into \(results.hostDirectory)") }
        return nil
    }

    // MARK: - Helpers

    private func selfExecutable() throws -> String {
        if let path = options.selfExecutable { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw SetupError("cannot find our own binary (/proc/self/exe)") }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Replaced by a rebuild while we run: our image is still reachable through /proc.
        if path.hasSuffix(" (deleted)") || access(path, R_OK) != 0 { return "/proc/\(getpid())/exe" }
        return path
    }

    /// mkdir -p; returns the failure (the path and the errno's text), or nil.
    static func makeDirectories(_ path: String) -> String? {
        var st = stat()
        if stat(path, &st) == 0 { return st.st_mode & S_IFMT == S_IFDIR ? nil : "\(path) is not a directory" }
        let parent = GuestPath.parent(path)
        if parent != path, let problem = makeDirectories(parent) { return problem }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { return "\(path): \(Errno(rawValue: errno))" }
        return nil
    }

    private func makeRunDirectory(_ parent: String) throws -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let template = parent + "/\(formatter.string(from: Date()))-\(getpid())-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else {
            throw SetupError("cannot create a run directory under \(parent): \(Errno(rawValue: errno))")
        }
        let path = String(cString: made)
        if path.contains(",") { throw SetupError("the cache path \(parent) must not contain commas (QEMU options)") }
        return path
    }

    /// Keeps the logs of the 20 most recent failed runs.
    private func pruneRunDirectories(_ parent: String, keeping current: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        let old = names.sorted().map { parent + "/" + $0 }.filter { $0 != current }
        for path in old.dropLast(19) { try? FileManager.default.removeItem(atPath: path) }
    }

    private func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    private func checkInterrupted() throws {
        if let sig = SignalGuard.pending() {
            throw SetupError("interrupted by signal \(sig)", exitStatus: VMExitStatus.interrupted)
        }
    }

    private func say(_ message: String) {
        FD.writeAll(2, Data(("swiftland vm: " + message + "\n").utf8))
    }
}

/// Shared between the attempt's threads.
private final class AttemptState: @unchecked Sendable {
    struct Values {
        var startedAt: Date?
        var exit: GuestExit?
        var endOfStream = false
        var termination: Subprocess.Termination?
    }

    private let condition = NSCondition()
    private var values = Values()

    func update(_ body: (inout Values) -> Void) {
        condition.lock()
        body(&values)
        condition.broadcast()
        condition.unlock()
    }

    func snapshot() -> Values {
        condition.lock()
        defer { condition.unlock() }
        return values
    }

    func wait(upTo seconds: Double) {
        condition.lock()
        _ = condition.wait(until: Date().addingTimeInterval(seconds))
        condition.unlock()
    }
}

/// SIGINT/SIGTERM/SIGHUP while a VM runs: noted (async-signal-safely, in an atomic) so the
/// runner stops QEMU, keeps or removes its files and exits 130. SIGPIPE is ignored: a
/// closed stdout must not kill us with QEMU still running.
enum SignalGuard {
    private static let received = Atomic<Int32>(0)

    static func install() {
        _ = received.load(ordering: .relaxed)  // initialized before any handler can run
        signal(SIGPIPE, SIG_IGN)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                SignalGuard.received.store(sig, ordering: .relaxed)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
    }

    /// The signal received, if any.
    static func pending() -> Int32? {
        let sig = received.load(ordering: .relaxed)
        return sig == 0 ? nil : sig
    }
}
