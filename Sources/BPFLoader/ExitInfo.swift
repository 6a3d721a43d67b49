import SwiftlandABI

/// Why the scheduler stopped, as ops.exit saw it (struct swl_exit_info in bpf/intf.h).
public struct ExitInfo: Sendable, Equatable {
    public var kind: Int32
    public var exitCPU: Int32
    public var exitCode: Int64
    public var reason: String
    public var message: String

    public init(kind: Int32, exitCPU: Int32 = -1, exitCode: Int64 = 0, reason: String = "", message: String = "") {
        self.kind = kind
        self.exitCPU = exitCPU
        self.exitCode = exitCode
        self.reason = reason
        self.message = message
    }

    init(_ raw: swl_exit_info) {
        var raw = raw
        self.kind = raw.kind
        self.exitCPU = raw.exit_cpu
        self.exitCode = raw.exit_code
        self.reason = withUnsafeBytes(of: &raw.reason) { cString($0) }
        self.message = withUnsafeBytes(of: &raw.msg) { cString($0) }
    }

    /// enum scx_exit_kind values (kernel/sched/ext_internal.h).
    static let kindNames: [Int32: String] = [
        0: "NONE", 1: "DONE",
        64: "UNREG", 65: "UNREG_BPF", 66: "UNREG_KERN", 67: "SYSRQ", 68: "PARENT", 69: "PARENT_KILL",
        1024: "ERROR", 1025: "ERROR_BPF", 1026: "ERROR_STALL", 1027: "ERROR_REENQ", 1028: "ERROR_RESCUE",
    ]

    /// SCX_ECODE_* bits of exit_code.
    static let actionRestart: Int64 = 1 << 48
    static let reasonHotplug: Int64 = 1 << 32

    /// True while the scheduler has not exited.
    public var isRunning: Bool { kind == 0 }

    public var kindName: String { Self.kindNames[kind] ?? "UNKNOWN" }

    /// The kernel ejected the scheduler because of an error (not a normal detach).
    public var isError: Bool { kind >= 1024 }

    /// The kernel asks user space to load the scheduler again (CPU hotplug).
    public var wantsRestart: Bool { exitCode & Self.actionRestart != 0 }

    public var isHotplug: Bool { exitCode & Self.reasonHotplug != 0 }

    /// One line for the terminal, e.g. `exit: UNREG (64) "unregistered from user space"`.
    public var summary: String {
        var s = "exit: \(kindName) (\(kind))"
        if !reason.isEmpty { s += " \"\(reason)\"" }
        if exitCode != 0 {
            s += " code=0x\(String(UInt64(bitPattern: exitCode), radix: 16))"
            if wantsRestart { s += isHotplug ? " [restart: CPU hotplug]" : " [restart]" }
        }
        if !message.isEmpty { s += "\n  message: \(message)" }
        return s
    }
}

private func cString(_ raw: UnsafeRawBufferPointer) -> String {
    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
}
