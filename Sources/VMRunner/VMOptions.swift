import Foundation
import SystemPackage

/// Exit statuses of `swiftland vm` besides COMMAND's own (0-255 when COMMAND ran to its end).
/// They are chosen to match conventions: 124 is timeout(1)'s "timed out", 125 is what
/// `git bisect run` treats as "cannot test this revision", which a VM boot failure is.
public enum VMExitStatus {
    /// Invalid options (ArgumentParser's usual EX_USAGE).
    public static let usage: Int32 = 64
    /// The host cannot run a VM: QEMU or busybox missing, kernel not fetchable, cache
    /// not writable, initramfs not buildable.
    public static let setupFailure: Int32 = 122
    /// COMMAND started but the guest died (kernel panic, QEMU crash) before it finished.
    public static let guestDied: Int32 = 123
    /// COMMAND ran longer than --timeout.
    public static let timeout: Int32 = 124
    /// The VM did not boot to COMMAND, after the retries. Not a scheduler failure.
    public static let bootFailure: Int32 = 125
    /// swiftland was interrupted (SIGINT/SIGTERM/SIGHUP); the VM was stopped.
    public static let interrupted: Int32 = 130
}

/// The accelerator QEMU runs the guest with.
public enum AcceleratorChoice: String, CaseIterable, Sendable {
    /// KVM when it is usable on this host (probed once, remembered in the cache), else TCG.
    case auto
    /// KVM, or fail.
    case kvm
    /// TCG (software emulation), always.
    case tcg
}

/// Everything one `swiftland vm` run needs to know.
public struct VMOptions: Sendable {
    public var cpus: Int = 2
    /// Guest memory in MiB.
    public var memoryMiB: Int = 2048
    /// A user's kernel image (bzImage or ELF vmlinux); nil: the cached Debian kernel.
    public var kernel: String?
    /// Host files and directories copied into the guest at the same absolute path.
    public var additions: [String] = []
    /// Seconds COMMAND may run; nil: no limit.
    public var timeout: Double?
    /// Seconds from QEMU's start to COMMAND's start before the boot counts as failed.
    public var bootTimeout: Double = 60
    /// Boot attempts in all (1 + retries).
    public var bootAttempts: Int = 3
    public var accelerator: AcceleratorChoice = .auto
    /// Extra kernel command line.
    public var extraKernelArguments: String = ""
    /// Shell command text run in the guest with /bin/sh -c.
    public var command: String = ""
    /// Guest directory whose contents are brought back to the host after COMMAND.
    public var results: ResultsSpec?
    /// Cache root (kernels, initramfs layers, KVM probe result, run logs).
    public var cacheDirectory: String = VMOptions.defaultCacheDirectory
    /// The swiftland binary put into the guest (default: the running one).
    public var selfExecutable: String?
    /// Print progress (boot attempts, timings, paths) on stderr.
    public var verbose: Bool = false

    public init() {}

    public static var defaultCacheDirectory: String {
        ProcessInfo.processInfo.environment["SWIFTLAND_CACHE"] ?? "/var/cache/swiftland"
    }
}

/// `--results GUESTDIR:HOSTDIR`.
public struct ResultsSpec: Equatable, Sendable {
    public var guestDirectory: String
    public var hostDirectory: String

    public init(guestDirectory: String, hostDirectory: String) {
        self.guestDirectory = guestDirectory
        self.hostDirectory = hostDirectory
    }

    /// Parses "GUESTDIR:HOSTDIR"; GUESTDIR must be absolute.
    public static func parse(_ text: String) throws(VMOptionError) -> ResultsSpec {
        guard let colon = text.firstIndex(of: ":") else {
            throw VMOptionError("--results expects GUESTDIR:HOSTDIR, got '\(text)'")
        }
        let guest = String(text[..<colon])
        let host = String(text[text.index(after: colon)...])
        guard guest.hasPrefix("/"), guest.count > 1 else {
            throw VMOptionError("--results: the guest directory must be an absolute path other than /, got '\(guest)'")
        }
        guard !host.isEmpty else { throw VMOptionError("--results: the host directory is empty") }
        return ResultsSpec(guestDirectory: guest, hostDirectory: host)
    }
}

public struct VMOptionError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Validation of the user-facing values.
public enum VMValidation {
    public static let cpuRange = 1...64
    public static let minimumMemoryMiB = 256

    public static func validateCPUs(_ cpus: Int) throws(VMOptionError) {
        guard cpuRange.contains(cpus) else {
            throw VMOptionError("--cpus must be between \(cpuRange.lowerBound) and \(cpuRange.upperBound), got \(cpus)")
        }
    }

    /// Parses a memory size the way QEMU's -m does: a number with an optional K, M, G or T
    /// suffix (binary units; "B"/"iB" after it allowed, case ignored); no suffix means MiB.
    /// Returns MiB; at least 256 MiB, at most 1 TiB, whole MiB.
    public static func parseMemory(_ text: String) throws(VMOptionError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var digits = Substring(trimmed)
        var suffix = ""
        while let last = digits.last, !last.isNumber {
            suffix = String(last) + suffix
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int(digits)
        else {
            throw VMOptionError("--memory: '\(text)' is not a size like 512M or 2G")
        }
        var unit = suffix.uppercased()
        for tail in ["IB", "B"] where unit.count > tail.count && unit.hasSuffix(tail) {
            unit = String(unit.dropLast(tail.count))
            break
        }
        let kib: Int
        switch unit {
        case "K": kib = value
        case "", "M": kib = value.multipliedReportingOverflow(by: 1024).partialValue
        case "G": kib = value.multipliedReportingOverflow(by: 1024 * 1024).partialValue
        case "T": kib = value.multipliedReportingOverflow(by: 1024 * 1024 * 1024).partialValue
        default:
            throw VMOptionError("--memory: unknown unit '\(suffix)' in '\(text)' (use M or G, e.g. 2G)")
        }
        guard value < 1 << 40, kib % 1024 == 0 else {
            throw VMOptionError("--memory: '\(text)' is not a whole number of MiB")
        }
        let mib = kib / 1024
        guard mib >= minimumMemoryMiB else {
            throw VMOptionError("--memory must be at least \(minimumMemoryMiB)M, got \(text)")
        }
        guard mib <= 1024 * 1024 else {
            throw VMOptionError("--memory: \(text) is more than 1T")
        }
        return mib
    }

    public static func validateTimeout(_ seconds: Double, option: String) throws(VMOptionError) {
        guard seconds.isFinite, seconds > 0 else {
            throw VMOptionError("\(option) must be a positive number of seconds, got \(seconds)")
        }
    }

    /// The command text run by the guest's /bin/sh -c: each word stays one word, as with
    /// `docker run` or `systemd-run`, so `-- sh -c 'sleep 2; echo x'` runs what it says. A
    /// pipeline or a list is one word for `sh -c`.
    public static func commandText(_ words: [String]) throws(VMOptionError) -> String {
        try validateCommand(Shell.commandLine(words), program: words.first)
    }

    /// A command text must name a program to run.
    public static func validateCommand(_ text: String, program: String? = nil) throws(VMOptionError) -> String {
        guard !(program ?? text).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw VMOptionError("no COMMAND given: write it after --, e.g. swiftland vm -- uname -r")
        }
        return text
    }

    /// Paths given to --add must be absolute (they keep their path in the guest) and exist.
    public static func validateAddition(_ path: String) throws(VMOptionError) {
        guard path.hasPrefix("/") else {
            throw VMOptionError("--add \(path): give an absolute path (it keeps the same path in the guest)")
        }
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw VMOptionError("--add \(path): \(Errno(rawValue: errno))")
        }
        let reserved = ["/init", "/etc/swiftland", "/dev", "/proc", "/sys"]
        let normalized = GuestPath.normalize(path)
        for r in reserved where normalized == r || normalized.hasPrefix(r + "/") {
            throw VMOptionError("--add \(path): \(r) is owned by the guest's init")
        }
        guard normalized != "/" else { throw VMOptionError("--add /: refusing to copy the whole host") }
    }
}
