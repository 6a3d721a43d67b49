import Foundation

/// Checks made before anything is loaded, so that each common failure gets its own clear
/// message instead of an errno from deep inside libbpf. Paths are parameters so that tests
/// can point them at recorded files.
public struct Preflight: Sendable {
    public var procStatus = "/proc/self/status"
    public var schedExtDir = "/sys/kernel/sched_ext"

    public init() {}

    /// Capabilities sched_ext needs, by number (linux/capability.h).
    static let required: [(name: String, bit: Int)] = [
        ("CAP_SYS_ADMIN", 21), ("CAP_BPF", 39),
    ]

    /// Names of the required capabilities missing from the effective set.
    public func missingCapabilities() -> [String] {
        guard let status = try? String(contentsOfFile: procStatus, encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return Self.required.map(\.name) }
        return Self.required.filter { mask & (1 << UInt64($0.bit)) == 0 }.map(\.name)
    }

    public var kernelHasSchedExt: Bool {
        FileManager.default.fileExists(atPath: schedExtDir)
    }

    /// The name of the sched_ext scheduler attached now, or nil when none is.
    public func attachedScheduler() -> String? {
        guard let state = read("state"), state != "disabled" else { return nil }
        return read("root/ops") ?? "unknown (state: \(state))"
    }

    /// /sys/kernel/sched_ext/state: "enabled" while a scheduler runs, "disabled" when none
    /// does, "enabling" or "disabling" in between; nil without sched_ext.
    public func state() -> String? { read("state") }

    /// /sys/kernel/sched_ext/hotplug_seq: passed to the kernel so that a CPU hotplug
    /// between reading it and attaching makes the kernel ask for a restart.
    public func hotplugSeq() -> UInt64 {
        read("hotplug_seq").flatMap { UInt64($0) } ?? 0
    }

    /// Throws the first problem that would stop the scheduler from attaching.
    public func check() throws(SchedulerError) {
        let missing = missingCapabilities()
        if !missing.isEmpty { throw .missingPrivileges(missing: missing) }
        if !kernelHasSchedExt { throw .noSchedExt(kernelRelease: Self.kernelRelease()) }
        if let name = attachedScheduler() { throw .otherSchedulerLoaded(name: name) }
    }

    public static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private func read(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(schedExtDir)/\(name)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
