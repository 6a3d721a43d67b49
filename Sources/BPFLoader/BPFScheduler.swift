import CBPFShim
import CLibbpf
import Embedded
import Glibc
import Logging
import SystemPackage
import SwiftlandABI

/// One load of the BPF scheduler: open the object, write the tunables and the ops fields,
/// load (the verifier runs here), attach, read the counters while it runs, detach.
/// Every libbpf call of swiftland's bpf mode is in this type.
public final class BPFScheduler {
    private let object: BPFObject
    private var link: OpaquePointer?
    // Live globals of the loaded program (its .bss, memory-mapped).
    private var stats: UnsafeMutableRawPointer!
    private var exit: UnsafeMutableRawPointer!
    private var dump: UnsafeMutableRawPointer!
    private var idle: UnsafeMutableRawPointer!

    /// The name of the struct_ops map in bpf/main.bpf.c.
    static let opsMapName = "swiftland_ops"

    /// Opens and loads the scheduler. `objectBytes` replaces the embedded object (tests,
    /// `--bpf-object`). Nothing is attached yet.
    public init(
        config: SchedulerConfig, hotplugSeq: UInt64, verbose: Bool, objectBytes: [UInt8]? = nil
    ) throws(SchedulerError) {
        object = try BPFObject(bytes: objectBytes ?? Embedded.schedulerObject, name: "swiftland", verbose: verbose)
        // From here on, a throw runs deinit, which closes the object.
        if config.mode.usesUserSpace {
            let bytes = config.ringKiB * 1024
            try object.setMaxEntries("queued", bytes)
            try object.setMaxEntries("dispatched", bytes)
            // Trips stay queued until they age past the fallback bound: room for 4 rings.
            try object.setMaxEntries("trips", 4 * bytes / UInt32(MemoryLayout<swl_queued_task>.size + 8))
        }
        try writeConfig(config.bpfConfig)
        try writeOps(timeoutMs: config.timeoutMs, exitDumpLen: config.exitDumpLen, hotplugSeq: hotplugSeq)
        try object.load()
        try mapBSS()
        if verbose, !object.verifierLog.isEmpty {
            Log.swiftland.debug("verifier log:\n\(object.verifierLog)")
        }
    }

    deinit { detach() }

    // MARK: Before load

    private func writeConfig(_ config: swl_config) throws(SchedulerError) {
        try object.setConstant("cfg", config)
    }

    private func writeOps(timeoutMs: UInt32, exitDumpLen: UInt32, hotplugSeq: UInt64) throws(SchedulerError) {
        let ops = try object.map(named: Self.opsMapName)
        var total = 0
        guard let data = bpf_map__initial_value(ops, &total) else {
            throw .objectMismatch("the struct_ops map has no initial value (libbpf older than 1.4?)")
        }
        func field<T>(_ name: String, _ value: T) throws(SchedulerError) {
            guard let offset = object.offset(of: name, in: "sched_ext_ops"), offset + MemoryLayout<T>.size <= total else {
                throw .objectMismatch("sched_ext_ops has no field \(name)")
            }
            data.storeBytes(of: value, toByteOffset: offset, as: T.self)
        }
        try field("timeout_ms", timeoutMs)
        try field("exit_dump_len", exitDumpLen)
        try field("hotplug_seq", hotplugSeq)
    }

    private func mapBSS() throws(SchedulerError) {
        stats = try object.live("stats", size: MemoryLayout<swl_stats>.size)
        exit = try object.live("exit_info", size: MemoryLayout<swl_exit_info>.size)
        dump = try object.live("exit_dump", size: Int(SWL_EXIT_DUMP_LEN.rawValue))
        idle = try object.live("idle_cpus", size: Int(SWL_MAX_CPUS.rawValue) / 8)
    }

    // MARK: Running

    /// Attaches the scheduler: from here on sched_ext schedules every normal task with it.
    public func attach() throws(SchedulerError) {
        let ops = try object.map(named: Self.opsMapName)
        guard let l = bpf_map__attach_struct_ops(ops) else {
            let err = Errno(rawValue: errno)
            if err == .resourceBusy || err == .fileExists, let other = Preflight().attachedScheduler() {
                throw .otherSchedulerLoaded(name: other)
            }
            throw .attachFailed(errno: err)
        }
        link = l
    }

    /// Detaches (the kernel falls back to its default scheduler). The kernel has run
    /// ops.exit when this returns, so exitInfo() then tells how it ended.
    public func detach() {
        if let link { bpf_link__destroy(link) }
        link = nil
    }

    public var isAttached: Bool { link != nil }

    /// The kernel side's counters, with user space's own when given (user mode).
    public func counters(userSpace: UserSpaceCounters? = nil) -> Counters {
        Counters(stats.load(as: swl_stats.self), userSpace: userSpace)
    }

    /// The run time of the scheduler's programs so far, all callbacks added up: it grows
    /// only while BPF statistics are on (`BPFStatistics`).
    public func programRunTime() throws(SchedulerError) -> ProgramRunTime {
        try object.programRunTime()
    }

    /// Filled by ops.exit; `isRunning` while the scheduler has not exited.
    public func exitInfo() -> ExitInfo {
        ExitInfo(exit.load(as: swl_exit_info.self))
    }

    /// user mode: the rings' map descriptors, for RingBridge.
    public func ringFDs() throws(SchedulerError) -> (queued: Int32, dispatched: Int32) {
        (try object.mapFD("queued"), try object.mapFD("dispatched"))
    }

    /// user mode: the idle-CPU bitmap the kernel side keeps (bit n: CPU n is idle), live.
    public var idleCPUBitmap: UnsafeBufferPointer<UInt64> {
        UnsafeBufferPointer(start: idle.assumingMemoryBound(to: UInt64.self), count: Int(SWL_MAX_CPUS.rawValue) / 64)
    }

    /// The kernel's debug dump of an error exit (up to --exit-dump-len bytes), or "".
    public func exitDump() -> String {
        let raw = UnsafeRawBufferPointer(start: dump, count: Int(SWL_EXIT_DUMP_LEN.rawValue))
        return String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}
