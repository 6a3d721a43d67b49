import Foundation

/// The accelerator of one boot attempt.
public enum Accelerator: String, Sendable {
    case kvm
    case tcg
}

/// QEMU's command line.
struct QEMUCommand {
    var accelerator: Accelerator
    var cpus: Int
    var memoryMiB: Int
    var kernel: String
    var initrd: String
    var kernelArguments: String
    var consoleLog: String
    var resultsFile: String

    /// The kernel command line: console on ttyS0 only, reboot at once on panic (with
    /// -no-reboot QEMU then exits), our init. `oops=panic` turns an Oops during boot (seen
    /// now and then under TCG) into a quick exit and retry instead of a hang until the boot
    /// timeout; the init sets kernel.panic_on_oops back to 0 before COMMAND.
    static func kernelCommandLine(extra: String) -> String {
        var parts = ["console=ttyS0,115200", "panic=-1", "oops=panic", "rdinit=/init", "printk.devkmsg=on"]
        let trimmed = extra.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty { parts.append(trimmed) }
        return parts.joined(separator: " ")
    }

    /// QEMU option values separate sub-options with commas; a literal comma is doubled.
    static func escapeOptionValue(_ value: String) -> String {
        value.replacingOccurrences(of: ",", with: ",,")
    }

    var arguments: [String] {
        var args = [
            "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
            "-no-reboot",
        ]
        switch accelerator {
        case .kvm:
            args += ["-accel", "kvm", "-cpu", "host"]
        case .tcg:
            // One host thread for all vCPUs. With multi-threaded TCG the guest kernel
            // Oopses on an int3 now and then when it patches its own text (static keys,
            // which every sched_ext enable and disable flips): a vCPU runs a stale
            // translation of the patch site. Measured here: 40 enable/disable cycles
            // crashed the multi-threaded guest, and passed single-threaded.
            args += ["-accel", "tcg,thread=single", "-cpu", "max"]
        }
        args += [
            "-smp", String(cpus), "-m", "\(memoryMiB)M",
            "-kernel", kernel, "-initrd", initrd, "-append", kernelArguments,
            // ttyS0: kernel console -> log file; ttyS1: command port -> our pipe (QEMU's
            // stdout); ttyS2: results port -> file.
            "-chardev", "file,id=console,path=\(Self.escapeOptionValue(consoleLog))",
            "-serial", "chardev:console",
            "-chardev", "stdio,id=command,signal=off",
            "-serial", "chardev:command",
            "-chardev", "file,id=results,path=\(Self.escapeOptionValue(resultsFile))",
            "-serial", "chardev:results",
        ]
        return args
    }
}

/// Whether KVM can run this guest here. /dev/kvm existing is not enough (nested KVM can
/// fail with "emulation failure" or abort in QEMU), so the answer comes from a real boot:
/// with no remembered answer, the first run boots with KVM; if that boot fails and a TCG
/// boot of the same guest then succeeds, KVM is recorded as unusable; if it reaches the
/// command, as usable. The record is per host (host kernel, QEMU binary, CPU model) in
/// CACHE/vm/kvm-<fingerprint>.
struct KVMProbe {
    enum Verdict: String {
        case usable
        case unusable
    }

    let cacheDirectory: String
    let qemuBinary: String

    /// A KVM attempt that has not reached the command within this many seconds is given
    /// up (a working KVM boots this guest in about a second).
    static let probeBootTimeout: Double = 30

    /// Can we open /dev/kvm at all?
    static func deviceUsable() -> Bool {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        if fd < 0 { return false }
        close(fd)
        return true
    }

    var fingerprint: String {
        var parts: [String] = []
        var names = utsname()
        uname(&names)
        parts.append(withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        parts.append(withUnsafeBytes(of: names.version) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        var st = stat()
        if stat(qemuBinary, &st) == 0 {
            parts.append("\(qemuBinary):\(st.st_size):\(st.st_mtim.tv_sec)")
        }
        if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let model = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") })
        {
            parts.append(String(model))
        }
        return FNV1a.hex(parts.joined(separator: "\n"))
    }

    var recordPath: String { cacheDirectory + "/vm/kvm-\(fingerprint)" }

    func recorded() -> Verdict? {
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return nil }
        return Verdict(rawValue: text.split(separator: "\n").first.map(String.init) ?? "")
    }

    func record(_ verdict: Verdict, detail: String) {
        try? FileManager.default.createDirectory(
            atPath: cacheDirectory + "/vm", withIntermediateDirectories: true)
        let text = "\(verdict.rawValue)\n# \(Date()): \(detail.replacingOccurrences(of: "\n", with: " "))\n"
        try? text.write(toFile: recordPath, atomically: true, encoding: .utf8)
    }
}
