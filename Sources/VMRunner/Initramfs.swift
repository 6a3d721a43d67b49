import ChildProcess
import Foundation
import SystemPackage

/// What goes into the guest, in two layers:
///  - the base (cached under CACHE/initramfs, keyed on a hash of its manifest): busybox
///    and its applet links, the workload tools, every shared library of those and of the
///    swiftland binary, the init script and a few /etc files;
///  - the run layer (rebuilt every run): the swiftland binary itself (5 MB for a debug
///    build, ~75 MB for a static release build, which carries ICU), the --add paths,
///    COMMAND and the run's settings.
/// The kernel unpacks concatenated cpio archives in order, so the initrd QEMU loads is
/// simply base + run layer.
struct InitramfsBuilder {
    /// Raised when a change would produce a different base for the same inputs.
    static let formatVersion = 1

    /// Workload and test tools copied when the host has them (with their package, for
    /// messages); a missing one is warned about. Tests/vm/integration.sh uses capsh, whose
    /// `--` runs /bin/bash (the guest's /bin/sh stays busybox).
    static let workloadTools: [(name: String, package: String)] = [
        ("stress-ng", "stress-ng"), ("hackbench", "rt-tests"), ("cyclictest", "rt-tests"),
        ("nginx", "nginx"), ("wrk", "wrk"), ("taskset", "util-linux"), ("capsh", "libcap2-bin"), ("bash", "bash"),
    ]

    /// Copied when present, silently skipped otherwise (handy for debugging in the guest).
    static let optionalTools = ["chrt", "bpftool"]

    /// Where the swiftland binary goes in the guest (first directory of the guest PATH).
    static let guestSwiftland = "/usr/local/bin/swiftland"

    struct Inputs {
        var busybox: String
        var tools: [String]
        /// The swiftland binary to place in the guest (its libraries go to the base).
        var swiftland: String
        var additions: [String]
        var command: String
        var markers: MarkerProtocol
        var results: ResultsSpec?
    }

    struct Built {
        var path: String
        var baseBytes: Int
        var runBytes: Int
        var baseWasCached: Bool
        var seconds: Double
        var warnings: [String]
        var totalBytes: Int { baseBytes + runBytes }
    }

    let cacheDirectory: String

    var layerDirectory: String { cacheDirectory + "/initramfs" }

    /// Builds (or reuses) the base and writes `runDirectory/initrd.cpio`.
    func build(_ inputs: Inputs, runDirectory: String) throws -> Built {
        let started = Date()
        var warnings: [String] = []
        var tree = GuestTree()

        // --- Base layer.
        // The host's top-level layout first, so /bin, /lib, /lib64, /sbin are symlinks in
        // the guest exactly when they are on the host (merged /usr).
        for dir in ["/bin", "/sbin", "/lib", "/lib64", "/usr/bin", "/usr/sbin", "/usr/lib"] {
            if access(dir, F_OK) == 0 { try tree.mirror(dir, recursive: false) }
        }
        for dir in ["/dev", "/proc", "/sys", "/tmp", "/run", "/root", "/etc", "/mnt", "/var/tmp",
                    "/usr/local/bin", "/usr/local/sbin"] {
            tree.addDirectory(dir, mode: dir.hasSuffix("tmp") ? 0o1777 : (dir == "/root" ? 0o700 : 0o755))
        }
        // The kernel opens /dev/console for init before anything is mounted.
        tree.addCharacterDevice("/dev/console", major: 5, minor: 1)
        tree.addFile("/etc/passwd", .bytes(Array("root:x:0:0:root:/root:/bin/sh\n".utf8)), mode: 0o644)
        tree.addFile("/etc/group", .bytes(Array("root:x:0:\n".utf8)), mode: 0o644)
        tree.addFile("/etc/hostname", .bytes(Array("swiftland-vm\n".utf8)), mode: 0o644)
        tree.addFile("/init", .bytes(Array(GuestInit.script.utf8)), mode: 0o755)

        let busybox = try tree.mirror(inputs.busybox, recursive: false)
        try addLibraries(of: [inputs.busybox], to: &tree, warnings: &warnings, required: true)
        for tool in inputs.tools {
            try tree.mirror(tool, recursive: false)
        }
        try addLibraries(of: inputs.tools, to: &tree, warnings: &warnings, required: false)
        try addLibraries(of: [inputs.swiftland], to: &tree, warnings: &warnings, required: true)
        // Applet links last: real tools (taskset from util-linux...) win over busybox's.
        for applet in try busyboxApplets(inputs.busybox) where !tree.contains("/" + applet) {
            tree.addSymlink("/" + applet, target: busybox)
        }

        let key = FNV1a.hex("v\(Self.formatVersion)\n" + tree.manifest())
        let basePath = layerDirectory + "/base-\(key).cpio"
        var baseWasCached = true
        if !isUsableFile(basePath) {
            baseWasCached = false
            try FileManager.default.createDirectory(atPath: layerDirectory, withIntermediateDirectories: true)
            let temporary = basePath + ".tmp.\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw InitramfsError("cannot write \(temporary): \(Errno(rawValue: errno))")
            }
            do {
                _ = try tree.write(to: fd, sinceBaseline: false)
                close(fd)
            } catch {
                close(fd)
                unlink(temporary)
                throw error
            }
            guard rename(temporary, basePath) == 0 else {
                unlink(temporary)
                throw InitramfsError("cannot create \(basePath): \(Errno(rawValue: errno))")
            }
            pruneBases(keeping: basePath)
        }
        tree.markBaseline()

        // --- Run layer.
        tree.addFile(Self.guestSwiftland, .host(inputs.swiftland), mode: 0o755)
        for addition in inputs.additions {
            let resolved = try tree.mirror(addition, recursive: true)
            // Added executables bring their libraries (a statically linked one has none).
            var executables: [String] = []
            collectELFExecutables(resolved, into: &executables)
            try addLibraries(of: executables, to: &tree, warnings: &warnings, required: false)
        }
        tree.addFile("/etc/swiftland/command", .bytes(Array(inputs.command.utf8)), mode: 0o644)
        tree.addFile(
            "/etc/swiftland/run.conf",
            .bytes(Array(GuestInit.runConfiguration(markers: inputs.markers, results: inputs.results).utf8)),
            mode: 0o644)

        // --- base + run layer -> the initrd QEMU loads.
        let output = runDirectory + "/initrd.cpio"
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw InitramfsError("cannot write \(output): \(Errno(rawValue: errno))")
        }
        defer { close(fd) }
        let baseBytes = try copyFile(basePath, to: fd)
        let runBytes = try tree.write(to: fd, sinceBaseline: true)
        return Built(
            path: output, baseBytes: baseBytes, runBytes: runBytes, baseWasCached: baseWasCached,
            seconds: Date().timeIntervalSince(started), warnings: warnings)
    }

    // MARK: - Pieces

    private func addLibraries(
        of binaries: [String], to tree: inout GuestTree, warnings: inout [String], required: Bool
    ) throws {
        guard !binaries.isEmpty else { return }
        guard let ldd = Subprocess.which("ldd") else {
            throw InitramfsError("ldd is missing (package libc-bin)")
        }
        for binary in binaries {
            let output = try Subprocess.run(ldd, [binary])
            let parsed = LddParser.parse(output.stdoutText)
            if !parsed.missing.isEmpty {
                let message = "\(binary) needs libraries the host lacks: \(parsed.missing.joined(separator: ", "))"
                if required { throw InitramfsError(message) }
                warnings.append(message)
            }
            for library in parsed.libraries {
                try tree.mirror(library, recursive: false)
            }
        }
    }

    private func busyboxApplets(_ busybox: String) throws -> [String] {
        let output = try Subprocess.run(busybox, ["--list-full"])
        let applets = output.stdoutText.split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.isEmpty && !$0.contains("..") }
        guard output.termination.succeeded, applets.contains(where: { $0.hasSuffix("/sh") }) else {
            throw InitramfsError("\(busybox) --list-full did not list its applets (is it busybox?)")
        }
        return applets
    }

    /// ELF executables and shared objects (not relocatable objects such as BPF .o files)
    /// at or under `path`.
    private func collectELFExecutables(_ path: String, into result: inout [String]) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            if Self.isDynamicELF(path) { result.append(path) }
        case S_IFDIR:
            for child in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                collectELFExecutables(GuestPath.join(path, child), into: &result)
            }
        default:
            break
        }
    }

    /// An x86-64 ELF of type EXEC or DYN.
    static func isDynamicELF(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 20), header.count == 20 else { return false }
        let bytes = [UInt8](header)
        guard bytes[0...3] == [0x7f, 0x45, 0x4c, 0x46] else { return false }
        let type = UInt16(bytes[16]) | UInt16(bytes[17]) << 8
        let machine = UInt16(bytes[18]) | UInt16(bytes[19]) << 8
        return (type == 2 || type == 3) && machine == 62
    }

    private func isUsableFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_size > 0
    }

    /// Appends `path` to `fd`. Returns the bytes copied.
    private func copyFile(_ path: String, to fd: Int32) throws -> Int {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            throw InitramfsError("cannot read \(path): \(Errno(rawValue: errno))")
        }
        defer { close(source) }
        return try copyByReading(source, to: fd)
    }

    private func copyByReading(_ source: Int32, to fd: Int32) throws -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw InitramfsError("read: \(Errno(rawValue: errno))") }
            if n == 0 { return total }
            let written = buffer.withUnsafeBytes { FD.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            guard written else { throw InitramfsError("writing the initrd: \(Errno(rawValue: errno))") }
            total += n
        }
    }

    /// Keeps the two most recent bases (a rebuilt tool or library makes a new one).
    private func pruneBases(keeping current: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: layerDirectory) else { return }
        let bases = names.filter { $0.hasPrefix("base-") && $0.hasSuffix(".cpio") }
            .map { layerDirectory + "/" + $0 }
            .filter { $0 != current }
            .map { path -> (String, Int) in
                var st = stat()
                return (path, stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) : 0)
            }
            .sorted { $0.1 > $1.1 }
        for (path, _) in bases.dropFirst(1) { unlink(path) }
        // Leftovers of interrupted writes.
        for name in names where name.contains(".tmp.") {
            let path = layerDirectory + "/" + name
            var st = stat()
            if stat(path, &st) == 0, Int(st.st_mtim.tv_sec) < Int(Date().timeIntervalSince1970) - 3600 {
                unlink(path)
            }
        }
    }
}

/// The guest's /init (busybox sh as PID 1) and its per-run settings.
enum GuestInit {
    /// Sourced by /init: the markers' nonce and the results directory.
    static func runConfiguration(markers: MarkerProtocol, results: ResultsSpec?) -> String {
        """
        SWL_NONCE=\(Shell.quote(markers.nonce))
        SWL_RESULTS=\(Shell.quote(results?.guestDirectory ?? ""))

        """
    }

    /// ttyS0 is the kernel console (the host's log file), ttyS1 the command port (host
    /// stdout), ttyS2 the results port (a file on the host). `stty` re-applies "raw": busybox
    /// applies settings with tcsetattr(TCSADRAIN), which waits until everything written to
    /// the port has left the UART, so the markers and results are complete on the host
    /// before the power goes off.
    static let script = #"""
        #!/bin/sh
        # swiftland guest init (PID 1), written by `swiftland vm`: runs one command, reports
        # its exit status on the command port, then powers the VM off.
        export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        export HOME=/root TERM=dumb SWIFTLAND_VM=1
        mount -t devtmpfs devtmpfs /dev 2>/dev/null
        exec </dev/null >/dev/console 2>&1
        mount -t proc proc /proc
        # Booted with oops=panic (a broken boot fails fast); COMMAND runs with the default.
        echo 0 >/proc/sys/kernel/panic_on_oops
        mount -t sysfs sysfs /sys
        # A tmpfs on /tmp, keeping what --add put there.
        mv /tmp /.tmp-initramfs && mkdir -m 1777 /tmp
        mount -t tmpfs -o mode=1777 tmpfs /tmp
        cp -a /.tmp-initramfs/. /tmp/ && rm -rf /.tmp-initramfs
        mkdir -p /dev/pts /dev/shm
        mount -t devpts devpts /dev/pts
        mount -t tmpfs -o mode=1777 tmpfs /dev/shm
        ln -s /proc/self/fd /dev/fd
        ln -s /proc/self/fd/0 /dev/stdin
        ln -s /proc/self/fd/1 /dev/stdout
        ln -s /proc/self/fd/2 /dev/stderr
        mount -t debugfs debugfs /sys/kernel/debug
        mount -t tracefs tracefs /sys/kernel/tracing
        mount -t bpf bpf /sys/fs/bpf
        mount -t cgroup2 cgroup2 /sys/fs/cgroup
        hostname swiftland-vm
        ip link set lo up 2>/dev/null
        . /etc/swiftland/run.conf
        [ -d /sys/kernel/sched_ext ] || echo "swiftland-vm: /sys/kernel/sched_ext is missing: this kernel has no sched_ext"
        stty -F /dev/ttyS1 raw -echo
        cd /root
        echo "swiftland-vm: starting the command"
        printf 'SWIFTLAND-START:%s\n' "$SWL_NONCE" >/dev/ttyS1
        /bin/sh -c "$(cat /etc/swiftland/command)" </dev/null >/dev/ttyS1 2>&1
        status=$?
        echo "swiftland-vm: the command exited with status $status"
        # Leftover background processes must neither outlive the command nor hold the port.
        kill -9 -1 2>/dev/null
        bytes=-1
        if [ -n "$SWL_RESULTS" ]; then
          if [ -d "$SWL_RESULTS" ]; then
            if tar -C "$SWL_RESULTS" -cf /tmp/.swiftland-results.tar .; then
              bytes=$(wc -c </tmp/.swiftland-results.tar)
              stty -F /dev/ttyS2 raw -echo
              cat /tmp/.swiftland-results.tar >/dev/ttyS2
              stty -F /dev/ttyS2 raw -echo
            fi
          else
            echo "swiftland-vm: results directory $SWL_RESULTS does not exist"
          fi
        fi
        printf 'SWIFTLAND-EXIT:%s:%s:%s\n' "$SWL_NONCE" "$status" "$bytes" >/dev/ttyS1
        stty -F /dev/ttyS1 raw -echo
        poweroff -f
        """#
}
