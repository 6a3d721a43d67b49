import ChildProcess
import Foundation
import Testing

@testable import VMRunner

// MARK: - Helpers

/// A fresh directory under /tmp, removed by the caller.
private func makeTemporaryDirectory(_ tag: String = "vmtest") throws -> String {
    var template = Array("/tmp/swiftland-\(tag)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
    return String(cString: made)
}

private func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

private func sh(_ command: String) throws -> (status: Int32, output: String) {
    let out = try Subprocess.run("/bin/sh", ["-c", command])
    return (out.termination.shellStatus, out.stdoutText + out.stderrText)
}

// MARK: - Option validation

@Suite("VMRunner: options")
struct VMRunnerOptionTests {
    @Test(arguments: [
        ("512M", 512), ("2G", 2048), ("2g", 2048), ("256M", 256), ("1024", 1024), ("4GiB", 4096),
        ("3GB", 3072), ("262144K", 256), ("1T", 1_048_576),
    ])
    func memorySizesParse(text: String, mib: Int) throws {
        #expect(try VMValidation.parseMemory(text) == mib)
    }

    @Test(arguments: ["255M", "0", "128M", "2X", "G", "", "1.5G", "-1G", "2G2", "2T", "1000K", "M512"])
    func badMemorySizesAreRejected(text: String) {
        #expect(throws: VMOptionError.self) { try VMValidation.parseMemory(text) }
    }

    @Test func memoryErrorsSayWhy() {
        #expect(throws: VMOptionError("--memory must be at least 256M, got 128M")) {
            try VMValidation.parseMemory("128M")
        }
    }

    @Test func cpuBounds() throws {
        try VMValidation.validateCPUs(1)
        try VMValidation.validateCPUs(64)
        #expect(throws: VMOptionError.self) { try VMValidation.validateCPUs(0) }
        #expect(throws: VMOptionError.self) { try VMValidation.validateCPUs(65) }
        #expect(throws: VMOptionError.self) { try VMValidation.validateCPUs(-2) }
    }

    /// Each word after `--` reaches the guest's program as one argument: the command text,
    /// run by a real sh here as the guest's sh runs it, gives back exactly the words.
    @Test func commandWordsStayWords() throws {
        let words = ["a b", "it's", "\"quoted\"", "$HOME", "`id`", ";", "&&", "|", "", "*", "~", "tab\there",
                     "new\nline", "back\\slash", "-n", "ünï"]
        let text = try VMValidation.commandText(["printf", "[%s]\\n"] + words)
        let printed = try sh(text)
        #expect(printed.status == 0)
        #expect(printed.output == words.map { "[\($0)]\n" }.joined())
        #expect(try VMValidation.commandText(["sh", "-c", "sleep 0; echo x"]) == "sh -c 'sleep 0; echo x'")
        #expect(throws: VMOptionError.self) { try VMValidation.commandText([]) }
        #expect(throws: VMOptionError.self) { try VMValidation.commandText(["", "x"]) }
        #expect(throws: VMOptionError.self) { try VMValidation.commandText(["  "]) }
    }

    @Test func resultsSpec() throws {
        #expect(try ResultsSpec.parse("/results:out") == ResultsSpec(guestDirectory: "/results", hostDirectory: "out"))
        #expect(try ResultsSpec.parse("/r:/tmp/a:b").hostDirectory == "/tmp/a:b")
        #expect(throws: VMOptionError.self) { try ResultsSpec.parse("results:out") }
        #expect(throws: VMOptionError.self) { try ResultsSpec.parse("/results") }
        #expect(throws: VMOptionError.self) { try ResultsSpec.parse("/:out") }
        #expect(throws: VMOptionError.self) { try ResultsSpec.parse("/r:") }
    }

    @Test func additionsMustBeAbsoluteExistingAndNotReserved() throws {
        try VMValidation.validateAddition("/etc/hostname")
        #expect(throws: VMOptionError.self) { try VMValidation.validateAddition("etc/hostname") }
        #expect(throws: VMOptionError.self) { try VMValidation.validateAddition("/nonexistent/swiftland") }
        #expect(throws: VMOptionError.self) { try VMValidation.validateAddition("/proc/self/status") }
        #expect(throws: VMOptionError.self) { try VMValidation.validateAddition("/") }
    }
}

// MARK: - Markers and classification

@Suite("VMRunner: markers")
struct VMRunnerMarkerTests {
    let markers = MarkerProtocol(nonce: "0123456789abcdef0123456789abcdef")

    /// A recorded command-port transcript: init noise, start, output without a final
    /// newline, exit marker, and bytes after it.
    var transcript: String {
        "stty noise\r\n" + markers.startMarker + "line one\nSWIFTLAND-EXIT:wrongnonce:0:-1\nno newline"
            + markers.exitMarker(status: 42, resultBytes: 10240) + "after\n"
    }

    @Test func wholeTranscript() {
        var parser = CommandStreamParser(protocol: markers)
        let out = parser.feed(Array(transcript.utf8)) + parser.finish()
        #expect(String(decoding: out, as: UTF8.self) == "line one\nSWIFTLAND-EXIT:wrongnonce:0:-1\nno newline")
        #expect(parser.exit == GuestExit(status: 42, resultBytes: 10240))
        #expect(String(decoding: parser.preamble, as: UTF8.self) == "stty noise\r\n")
    }

    @Test func everySplitPointGivesTheSameResult() {
        let bytes = Array(transcript.utf8)
        for split in 0...bytes.count {
            var parser = CommandStreamParser(protocol: markers)
            var out = parser.feed(bytes[..<split])
            out += parser.feed(bytes[split...])
            out += parser.finish()
            #expect(String(decoding: out, as: UTF8.self) == "line one\nSWIFTLAND-EXIT:wrongnonce:0:-1\nno newline",
                    "split at \(split)")
            #expect(parser.exit?.status == 42, "split at \(split)")
        }
    }

    @Test func byteAtATime() {
        var parser = CommandStreamParser(protocol: markers)
        var out: [UInt8] = []
        for b in transcript.utf8 { out += parser.feed([b]) }
        #expect(String(decoding: out, as: UTF8.self).hasSuffix("no newline"))
        #expect(parser.exit == GuestExit(status: 42, resultBytes: 10240))
    }

    @Test func noStartMarkerMeansNotStarted() {
        var parser = CommandStreamParser(protocol: markers)
        let out = parser.feed(Array("SWIFTLAND-START:other\nhello\n".utf8)) + parser.finish()
        #expect(out.isEmpty)
        #expect(!parser.started)
        #expect(parser.exit == nil)
    }

    @Test func startedButNoExitKeepsOutput() {
        var parser = CommandStreamParser(protocol: markers)
        var out = parser.feed(Array((markers.startMarker + "partial SWIFTLAND-EX").utf8))
        #expect(String(decoding: out, as: UTF8.self) == "partial ")
        out += parser.finish()
        #expect(String(decoding: out, as: UTF8.self) == "partial SWIFTLAND-EX")
        #expect(parser.started)
        #expect(parser.exit == nil)
    }

    @Test func binaryOutputPassesThrough() {
        var parser = CommandStreamParser(protocol: markers)
        let payload: [UInt8] = (0..<2048).map { UInt8($0 % 256) }
        var out = parser.feed(Array(markers.startMarker.utf8) + payload)
        out += parser.feed(Array(markers.exitMarker(status: 0).utf8))
        #expect(out == payload)
        #expect(parser.exit == GuestExit(status: 0, resultBytes: -1))
    }

    static let panicLog = """
        [    4.100000] Run /init as init process
        [   12.000000] sched_ext: BPF scheduler "swiftland" enabled
        [   13.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009
        [   13.000100] Kernel Offset: disabled
        """

    @Test func classification() {
        func record(_ started: Bool, _ exit: GuestExit?, _ ending: AttemptRecord.Ending, log: String = "", qemu: String = "") -> AttemptRecord {
            AttemptRecord(started: started, exit: exit, ending: ending, kernelLog: log, qemuStderr: qemu)
        }
        #expect(AttemptClassifier.classify(record(true, GuestExit(status: 3, resultBytes: -1), .exitMarker))
                == .completed(GuestExit(status: 3, resultBytes: -1)))
        #expect(AttemptClassifier.classify(record(true, GuestExit(status: 3, resultBytes: -1), .exitMarker)).exitStatus == 3)

        // Boot failures: retryable unless QEMU refused to start at all.
        let oops = "[    1.2] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n[    1.3] Kernel panic - not syncing: Fatal exception\n"
        guard case .bootFailure(let reason, true) = AttemptClassifier.classify(record(false, nil, .qemuExited(0), log: oops))
        else { Issue.record("an early panic is a retryable boot failure"); return }
        #expect(reason.contains("Kernel panic"))
        #expect(AttemptClassifier.classify(record(false, nil, .bootTimedOut, log: "[ 0.1] Linux version")).exitStatus == 125)
        guard case .bootFailure(let hung, true) = AttemptClassifier.classify(record(false, nil, .bootStalled(20), log: "[ 2.5] Oops: int3: 0000 [#1] SMP NOPTI\n"))
        else { Issue.record("a hung boot is a retryable boot failure"); return }
        #expect(hung.contains("hung") && hung.contains("Oops: int3"))
        guard case .bootFailure(let qemuReason, false) = AttemptClassifier.classify(
            record(false, nil, .qemuExited(1), qemu: "qemu-system-x86_64: -kernel /x: No such file"))
        else { Issue.record("QEMU refusing to start is not retried"); return }
        #expect(qemuReason.contains("No such file"))
        #expect(AttemptClassifier.classify(record(false, nil, .qemuKilledBySignal(6))).exitStatus == 125)

        // Started, then died / timed out.
        guard case .guestDied(let died) = AttemptClassifier.classify(record(true, nil, .qemuExited(0), log: Self.panicLog))
        else { Issue.record("a panic after the start is a guest death"); return }
        #expect(died.contains("Kernel panic"))
        #expect(AttemptClassifier.classify(record(true, nil, .qemuExited(0), log: Self.panicLog)).exitStatus == 123)
        #expect(AttemptClassifier.classify(record(true, nil, .commandTimedOut)) == .timedOut)
        #expect(AttemptClassifier.classify(record(true, nil, .commandTimedOut)).exitStatus == 124)
        #expect(AttemptClassifier.classify(record(false, nil, .interrupted(2))).exitStatus == 130)
    }

    @Test func kernelProblemSummaryIgnoresHarmlessSchedExtLines() {
        let log = "[ 1.0] sched_ext: BPF scheduler \"swiftland\" enabled\n[ 2.0] reboot: Power down\n"
        #expect(AttemptClassifier.kernelProblemSummary(log) == nil)
        let disabled = log + "[ 3.0] sched_ext: BPF scheduler \"swiftland\" disabled (runnable task stall)\n"
        #expect(AttemptClassifier.kernelProblemSummary(disabled)?.contains("disabled") == true)
    }

    @Test func lastLines() {
        #expect(AttemptClassifier.lastLines("a\nb\nc\n", 2) == "b\nc")
        #expect(AttemptClassifier.lastLines("a\nb\nc", 2) == "b\nc")
        #expect(AttemptClassifier.lastLines("", 2) == "")
        #expect(AttemptClassifier.lastLines("[ 1.0] a\r\n[ 2.0] b\r\n[ 3.0] c\r\n", 2) == "[ 2.0] b\n[ 3.0] c")
    }
}

// MARK: - kernel.sh (embedded)

@Suite("VMRunner: kernel cache script")
struct VMRunnerKernelScriptTests {
    @Test func resolvesTheVersionFromAptCacheDepends() throws {
        let cache = KernelCache(cacheDirectory: "/nonexistent")
        // Recorded from `apt-cache depends linux-image-amd64` against trixie-backports.
        let recorded = """
            linux-image-amd64
              Depends: linux-base-amd64
              Depends: linux-image-7.3.4+deb13-amd64
              Depends: linux-modules-amd64

            """
        #expect(try cache.resolveFromDepends(recorded) == "7.3.4+deb13-amd64")
        let alternative = "linux-image-amd64\n |Depends: linux-image-7.2.1+deb13-amd64\n  Depends: linux-image-7.2.0+deb13-amd64\n"
        #expect(try cache.resolveFromDepends(alternative) == "7.2.1+deb13-amd64")
    }

    @Test(arguments: [
        "", "garbage\n", "linux-image-amd64\n  Depends: linux-base-amd64\n",
        "  Depends: linux-image-cloud-amd64\n", "  Depends: linux-image-7.3.4+deb13-arm64\n",
        "E: No packages found\n",
    ])
    func rejectsGarbage(text: String) throws {
        #expect(try KernelCache(cacheDirectory: "/nonexistent").resolveFromDepends(text) == nil)
    }

    /// apt downloads as its sandbox user, _apt, not as root: the private configuration
    /// names it and the partial/ directories it downloads into are its own (0700, as apt
    /// keeps /var/cache/apt/archives/partial). The mirror does not exist: the configuration
    /// is written before apt runs, and nothing is downloaded.
    @Test(.enabled(if: getuid() == 0 && getpwnam("_apt") != nil, "needs root and the user _apt (package apt) to hand directories to _apt"))
    func aptDownloadsAsItsSandboxUser() throws {
        let dir = try makeTemporaryDirectory("aptuser")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let unreachable = ["SWIFTLAND_DEBIAN_MIRROR": "file:///nonexistent/debian"]
        #expect(try kernelScript(["resolve"], cache: dir, environment: unreachable).status != 0)
        let conf = try String(contentsOfFile: dir + "/apt/apt.conf", encoding: .utf8)
        #expect(conf.contains(#"APT::Sandbox::User "_apt";"#), "\(conf)")
        let aptUID = try #require(getpwnam("_apt")).pointee.pw_uid
        for partial in ["lists/partial", "cache/archives/partial"] {
            var st = stat()
            #expect(stat("\(dir)/apt/\(partial)", &st) == 0)
            #expect(st.st_uid == aptUID && st.st_mode & 0o777 == 0o700, "\(partial): uid \(st.st_uid), mode \(String(st.st_mode & 0o777, radix: 8))")
        }

        // No such user: apt downloads as root, and the script says so.
        var missing = unreachable
        missing["SWIFTLAND_APT_USER"] = "swiftland-no-such-user"
        let r = try kernelScript(["resolve"], cache: dir, environment: missing)
        #expect(r.stderr.contains("warning: user swiftland-no-such-user does not exist"), "\(r.stderr)")
        #expect(try String(contentsOfFile: dir + "/apt/apt.conf", encoding: .utf8).contains(#"APT::Sandbox::User "root";"#))
    }

    /// The embedded kernel.sh with SWIFTLAND_CACHE and `environment` added to ours.
    private func kernelScript(_ arguments: [String], cache: String, environment: [String: String]) throws -> (status: Int32, stderr: String) {
        var env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        env["SWIFTLAND_CACHE"] = cache
        let out = try Subprocess.run("/bin/bash", ["-c", KernelCache(cacheDirectory: cache).script, "kernel.sh"] + arguments, environment: env)
        guard case .exited(let code) = out.termination else { return (-1, out.stderrText) }
        return (code, out.stderrText)
    }

    @Test func verifyRejectsATruncatedOrMissingFile() throws {
        let dir = try makeTemporaryDirectory("kernel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(String(repeating: "vmlinuz bytes ", count: 1000), to: dir + "/vmlinuz")
        try write(String(repeating: "\u{7f}ELF vmlinux bytes ", count: 2000), to: dir + "/vmlinux")
        try write("7.3.4+deb13-amd64\n", to: dir + "/version")
        #expect(try sh("cd '\(dir)' && sha256sum vmlinuz vmlinux version > SHA256SUMS").status == 0)
        let cache = KernelCache(cacheDirectory: dir)
        #expect(try cache.verify(dir), "an intact copy verifies")

        #expect(truncate(dir + "/vmlinux", 100) == 0)
        #expect(try !cache.verify(dir), "a truncated vmlinux must fail verification")

        #expect(try sh("cd '\(dir)' && cp vmlinuz v && sha256sum vmlinuz vmlinux version > SHA256SUMS").status == 0)
        #expect(try cache.verify(dir))
        unlink(dir + "/vmlinuz")
        #expect(try !cache.verify(dir), "a missing vmlinuz must fail verification")
        #expect(try !cache.verify(dir + "/nonexistent"))
    }
}

// MARK: - Initramfs pieces

@Suite("VMRunner: initramfs")
struct VMRunnerInitramfsTests {
    @Test func pathNormalization() {
        #expect(GuestPath.normalize("/a//b/./c/../d/") == "/a/b/d")
        #expect(GuestPath.normalize("/../..") == "/")
        #expect(GuestPath.parent("/usr/bin") == "/usr")
        #expect(GuestPath.parent("/usr") == "/")
        #expect(GuestPath.resolveLink(at: "/lib64", target: "usr/lib64") == "/usr/lib64")
        #expect(GuestPath.resolveLink(at: "/usr/lib/x/libfoo.so.1", target: "libfoo.so.1.2") == "/usr/lib/x/libfoo.so.1.2")
        #expect(GuestPath.resolveLink(at: "/a/b", target: "/c/d") == "/c/d")
    }

    @Test func lddOutput() {
        let recorded = """
            \tlinux-vdso.so.1 (0x00007ffd5b5e4000)
            \tlibswiftCore.so => /opt/swift/usr/lib/swift/linux/libswiftCore.so (0x00007fe8c9e00000)
            \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007fb942da7000)
            \tlibgone.so.3 => not found
            \t/lib64/ld-linux-x86-64.so.2 (0x00007fb943fe3000)
            \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007fb942da7000)
            """
        let parsed = LddParser.parse(recorded)
        #expect(parsed.libraries == [
            "/opt/swift/usr/lib/swift/linux/libswiftCore.so", "/lib/x86_64-linux-gnu/libm.so.6",
            "/lib64/ld-linux-x86-64.so.2",
        ])
        #expect(parsed.missing == ["libgone.so.3"])
        #expect(LddParser.parse("\tnot a dynamic executable\n").libraries.isEmpty)
        #expect(LddParser.parse("\tstatically linked\n").libraries.isEmpty)
    }

    @Test func mirroringReproducesHostSymlinks() throws {
        let root = try makeTemporaryDirectory("mirror")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // root/lib -> usr/lib (merged /usr), a versioned library behind a soname link.
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/x86", withIntermediateDirectories: true)
        try write("library", to: root + "/usr/lib/x86/libfoo.so.1.2")
        #expect(symlink("libfoo.so.1.2", root + "/usr/lib/x86/libfoo.so.1") == 0)
        #expect(symlink("usr/lib", root + "/lib") == 0)
        try FileManager.default.createDirectory(atPath: root + "/data/sub", withIntermediateDirectories: true)
        try write("x", to: root + "/data/sub/file")
        #expect(symlink("sub/file", root + "/data/link") == 0)

        var tree = GuestTree()
        let resolved = try tree.mirror(root + "/lib/x86/libfoo.so.1", recursive: false)
        #expect(resolved == root + "/usr/lib/x86/libfoo.so.1.2")
        #expect(tree.entries[root + "/lib"] == .symlink(target: "usr/lib"))
        #expect(tree.entries[root + "/usr/lib/x86/libfoo.so.1"] == .symlink(target: "libfoo.so.1.2"))
        #expect(tree.entries[root + "/usr/lib/x86/libfoo.so.1.2"] == .file(.host(root + "/usr/lib/x86/libfoo.so.1.2"), mode: 0o644))
        // Synthetic files added through the symlinked directory land at the real place.
        #expect(tree.addFile(root + "/lib/x86/new", .bytes([1]), mode: 0o600) == root + "/usr/lib/x86/new")

        try tree.mirror(root + "/data", recursive: true)
        #expect(tree.entries[root + "/data/sub/file"] != nil)
        #expect(tree.entries[root + "/data/link"] == .symlink(target: "sub/file"))

        // Layers: only what changed after the baseline is in the run layer.
        tree.markBaseline()
        #expect(tree.layerPaths(sinceBaseline: true).isEmpty)
        tree.addFile("/etc/swiftland/command", .bytes(Array("true".utf8)), mode: 0o644)
        #expect(tree.layerPaths(sinceBaseline: true) == ["/etc", "/etc/swiftland", "/etc/swiftland/command"])
        #expect(throws: (any Error).self) { try tree.mirror(root + "/missing", recursive: false) }
    }

    @Test func cpioArchiveIsReadableByCpio() throws {
        guard let cpio = Subprocess.which("cpio") else {
            print("skipped: cpio(1) is not installed to cross-check the archive")
            return
        }
        let dir = try makeTemporaryDirectory("cpio")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("hello from the host\n", to: dir + "/hostfile")
        var tree = GuestTree()
        tree.addDirectory("/usr/bin")
        tree.addSymlink("/bin", target: "usr/bin")
        tree.addFile("/bin/tool", .host(dir + "/hostfile"), mode: 0o755)  // through the symlink
        tree.addFile("/etc/odd", .bytes(Array("abc".utf8)), mode: 0o600)
        tree.addCharacterDevice("/dev/console", major: 5, minor: 1)
        let archive = dir + "/out.cpio"
        let fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let bytes = try tree.write(to: fd, sinceBaseline: false)
        close(fd)
        #expect(bytes % 512 == 0)

        let listing = try sh("cd '\(dir)' && '\(cpio)' -itv --quiet < out.cpio")
        #expect(listing.status == 0, "\(listing.output)")
        let lines = listing.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("lrwxrwxrwx") && $0.hasSuffix("bin -> usr/bin") })
        #expect(lines.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix("usr/bin/tool") })
        #expect(lines.contains { $0.hasPrefix("-rw-------") && $0.hasSuffix("etc/odd") })
        #expect(lines.contains { $0.hasPrefix("crw-------") && $0.contains("5,") && $0.hasSuffix("dev/console") })
        let extract = try sh("mkdir '\(dir)/x' && cd '\(dir)/x' && '\(cpio)' -id --quiet < ../out.cpio && cat usr/bin/tool etc/odd")
        #expect(extract.status == 0)
        #expect(extract.output.hasPrefix("hello from the host\nabc"))
    }

    @Test func cpioHeaderLayout() throws {
        let dir = try makeTemporaryDirectory("cpiohdr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fd = open(dir + "/a.cpio", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var writer = CpioWriter(fd: fd)
        try writer.file("/init", contents: Array("#!/bin/sh\n".utf8), mode: 0o755)
        try writer.finish()
        close(fd)
        let data = [UInt8](FileManager.default.contents(atPath: dir + "/a.cpio") ?? Data())
        let header = String(decoding: data[0..<110], as: UTF8.self)
        #expect(header.hasPrefix("070701"))
        // mode (2nd field) 0100755, filesize (7th) 10, namesize (12th) 5 ("init" + NUL).
        func field(_ i: Int) -> String { String(header.dropFirst(6 + 8 * i).prefix(8)) }
        #expect(field(1) == "000081ED")
        #expect(field(6) == "0000000A")
        #expect(field(11) == "00000005")
        #expect(String(decoding: data[110..<114], as: UTF8.self) == "init")
        // Name padded to a 4-byte boundary, then the data.
        #expect(String(decoding: data[116..<126], as: UTF8.self) == "#!/bin/sh\n")
        #expect(data.count % 512 == 0)
        #expect(String(decoding: data, as: UTF8.self).contains("TRAILER!!!"))
    }

    @Test func shellQuoting() {
        #expect(Shell.quote("--modes") == "--modes")
        #expect(Shell.quote("user:bpfland,bpf") == "user:bpfland,bpf")
        #expect(Shell.quote("/results") == "/results")
        #expect(Shell.quote("it's") == "'it'\\''s'")
        #expect(Shell.quote("") == "''")
        let conf = GuestInit.runConfiguration(
            markers: MarkerProtocol(nonce: "abc"), results: ResultsSpec(guestDirectory: "/r s", hostDirectory: "x"))
        #expect(conf.contains("SWL_NONCE=abc"))
        #expect(conf.contains("SWL_RESULTS='/r s'"))
    }

    @Test func initScriptIsValidShellAndUsesTheMarkers() throws {
        let dir = try makeTemporaryDirectory("init")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(GuestInit.script, to: dir + "/init")
        #expect(try sh("sh -n '\(dir)/init'").status == 0)
        #expect(GuestInit.script.contains("SWIFTLAND-START:%s"))
        #expect(GuestInit.script.contains("SWIFTLAND-EXIT:%s:%s:%s"))
        #expect(GuestInit.script.contains("poweroff -f"))
        #expect(GuestInit.script.contains("echo 0 >/proc/sys/kernel/panic_on_oops"))
        // The markers the init prints are the ones the parser looks for.
        let m = MarkerProtocol(nonce: "N")
        #expect(m.startMarker == "SWIFTLAND-START:N\n")
        #expect(m.exitMarker(status: 1, resultBytes: 5) == "SWIFTLAND-EXIT:N:1:5\n")
    }

    @Test func elfDetection() throws {
        #expect(InitramfsBuilder.isDynamicELF("/bin/sh"))
        let dir = try makeTemporaryDirectory("elf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A relocatable object (a BPF .o is one): not an executable, no ldd.
        var header = [UInt8](repeating: 0, count: 64)
        header[0...3] = [0x7f, 0x45, 0x4c, 0x46]
        header[16] = 1  // ET_REL
        header[18] = 247  // EM_BPF
        #expect(FileManager.default.createFile(atPath: dir + "/prog.bpf.o", contents: Data(header)))
        #expect(!InitramfsBuilder.isDynamicELF(dir + "/prog.bpf.o"))
        #expect(!InitramfsBuilder.isDynamicELF("/etc/hostname"))
        #expect(KernelImage.detectFormat(dir + "/prog.bpf.o") == .elf)
        #expect(KernelImage.detectFormat("/etc/hostname") == nil)
    }

    /// Builds a real base + run layer (no boot). Needs busybox on the host.
    @Test func buildsAndCachesTheBase() throws {
        guard let busybox = Subprocess.which("busybox") else {
            print("skipped: busybox is not installed")
            return
        }
        let cache = try makeTemporaryDirectory("cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let run = cache + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let added = cache + "/added"
        try FileManager.default.createDirectory(atPath: added, withIntermediateDirectories: true)
        try write("echo added", to: added + "/script.sh")

        let builder = InitramfsBuilder(cacheDirectory: cache)
        let inputs = InitramfsBuilder.Inputs(
            busybox: busybox, tools: [], swiftland: "/bin/true", additions: [added], command: "echo hi",
            markers: MarkerProtocol(nonce: "n"), results: nil)
        let first = try builder.build(inputs, runDirectory: run)
        #expect(!first.baseWasCached)
        let second = try builder.build(inputs, runDirectory: run)
        #expect(second.baseWasCached)
        #expect(second.baseBytes == first.baseBytes)
        var st = stat()
        #expect(stat(second.path, &st) == 0 && Int(st.st_size) == second.totalBytes)

        if let cpio = Subprocess.which("cpio") {
            // cpio(1) stops at the first trailer: list the two concatenated archives apart.
            let base = try sh("head -c \(second.baseBytes) '\(second.path)' | '\(cpio)' -it --quiet").output
            let runLayer = try sh("tail -c +\(second.baseBytes + 1) '\(second.path)' | '\(cpio)' -it --quiet").output
            for needed in ["init", "dev/console"] {
                #expect(base.contains(needed + "\n"), "the base lacks \(needed)")
            }
            #expect(base.contains("/sh\n"), "the base lacks a sh applet link")
            for needed in ["etc/swiftland/command", "etc/swiftland/run.conf",
                           String(InitramfsBuilder.guestSwiftland.dropFirst()), String((added + "/script.sh").dropFirst())] {
                #expect(runLayer.contains(needed + "\n"), "the run layer lacks \(needed)")
                #expect(!base.contains(needed + "\n"), "the base must not hold the per-run \(needed)")
            }
        }
    }
}

// MARK: - QEMU command line

@Suite("VMRunner: QEMU")
struct VMRunnerQEMUTests {
    func command(_ accelerator: Accelerator) -> QEMUCommand {
        QEMUCommand(
            accelerator: accelerator, cpus: 2, memoryMiB: 2048, kernel: "/k", initrd: "/i",
            kernelArguments: QEMUCommand.kernelCommandLine(extra: " loglevel=4 "),
            consoleLog: "/run,dir/console.log", resultsFile: "/r/results.tar")
    }

    @Test func acceleratorOptions() {
        let tcg = command(.tcg).arguments.joined(separator: " ")
        #expect(tcg.contains("-accel tcg,thread=single -cpu max"))
        #expect(!tcg.contains("kvm"))
        let kvm = command(.kvm).arguments.joined(separator: " ")
        #expect(kvm.contains("-accel kvm -cpu host"))
        for args in [tcg, kvm] {
            #expect(args.contains("-no-reboot"))
            #expect(args.contains("-nic none"))
            #expect(args.contains("-display none"))
            #expect(args.contains("-smp 2 -m 2048M"))
        }
    }

    @Test func serialPortsAndCommas() {
        let args = command(.tcg).arguments
        #expect(args.contains("file,id=console,path=/run,,dir/console.log"))
        let serials = args.enumerated().filter { $0.element == "-serial" }.map { args[$0.offset + 1] }
        #expect(serials == ["chardev:console", "chardev:command", "chardev:results"])
        #expect(args.contains("stdio,id=command,signal=off"))
    }

    @Test func kernelCommandLine() {
        let line = QEMUCommand.kernelCommandLine(extra: " loglevel=4 ")
        #expect(line.hasPrefix("console=ttyS0,115200 panic=-1 oops=panic rdinit=/init"))
        #expect(line.hasSuffix(" loglevel=4"))
        #expect(QEMUCommand.kernelCommandLine(extra: "").hasSuffix("printk.devkmsg=on"))
    }

    @Test func fingerprintIsStable() {
        let probe = KVMProbe(cacheDirectory: "/tmp/x", qemuBinary: "/bin/sh")
        #expect(probe.fingerprint == KVMProbe(cacheDirectory: "/tmp/y", qemuBinary: "/bin/sh").fingerprint)
        #expect(probe.recordPath.hasPrefix("/tmp/x/vm/kvm-"))
        #expect(FNV1a.hex("") == "cbf29ce484222325")
        #expect(FNV1a.hex("a") == "af63dc4c8601ec8c")
    }
}

// MARK: - A real boot (optional)

/// The cached kernel, if there is one (no network: the boot test never fetches).
private func cachedKernelForTests() -> String? {
    let cache = ProcessInfo.processInfo.environment["SWIFTLAND_CACHE"] ?? "/var/cache/swiftland"
    guard let versions = try? FileManager.default.contentsOfDirectory(atPath: cache + "/kernel") else { return nil }
    for version in versions.sorted().reversed() {
        let path = "\(cache)/kernel/\(version)/vmlinux"
        if access(path, R_OK) == 0 { return path }
    }
    return nil
}

private let bootPrerequisites: (ok: Bool, reason: String) = {
    if Subprocess.which("qemu-system-x86_64") == nil { return (false, "qemu-system-x86_64 is not installed") }
    if Subprocess.which("busybox") == nil { return (false, "busybox is not installed") }
    if cachedKernelForTests() == nil {
        return (false, "no cached kernel under $SWIFTLAND_CACHE/kernel (run `swiftland vm -- true` once)")
    }
    return (true, "")
}()

@Suite("VMRunner: boot")
struct VMRunnerBootTests {
    @Test(.enabled(if: bootPrerequisites.ok, "\(bootPrerequisites.reason)"), .timeLimit(.minutes(5)))
    func bootsRunsAndBringsResultsBack() throws {
        let work = try makeTemporaryDirectory("boot")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work + "/added", withIntermediateDirectories: true)
        try write("#!/bin/sh\necho added script ran\n", to: work + "/added/run.sh")
        chmod(work + "/added/run.sh", 0o755)

        var options = VMOptions()
        options.kernel = cachedKernelForTests()
        options.cacheDirectory = work + "/cache"
        options.selfExecutable = "/bin/true"
        options.additions = [work + "/added"]
        options.memoryMiB = 1024
        options.command = "\(work)/added/run.sh; test -d /sys/kernel/sched_ext && echo sched_ext; mkdir -p /results; echo 42 > /results/answer; printf 'no newline'; exit 7"
        options.results = ResultsSpec(guestDirectory: "/results", hostDirectory: work + "/out")
        options.accelerator = .tcg
        let outputPath = work + "/stdout"
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        let report = VMRunner(options: options, outputFD: fd).run()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        print("boot test: boot \(report.bootSeconds ?? -1) s, total \(report.totalSeconds) s, initramfs \(report.initramfsBytes) bytes")
        #expect(report.exitStatus == 7)
        #expect(output == "added script ran\nsched_ext\nno newline")
        #expect((try? String(contentsOfFile: work + "/out/answer", encoding: .utf8)) == "42\n")
    }
}
