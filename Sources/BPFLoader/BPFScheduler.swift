import CBPFShim
import CLibbpf
import Embedded
import Glibc
import SwiftlandABI

/// One load of the BPF scheduler: open the object, write the tunables and the ops fields,
/// load (the verifier runs here), attach, read the counters while it runs, detach.
/// Every libbpf call of swiftland's bpf mode is in this type.
public final class BPFScheduler {
    private let object: BPFObject
    private var link: OpaquePointer?
    private var bss: UnsafeMutableRawPointer?
    private var bssSize = 0
    private var statsOffset = 0
    private var exitOffset = 0
    private var dumpOffset = 0

    /// The name of the struct_ops map in bpf/main.bpf.c.
    static let opsMapName = "swiftland_ops"

    /// Opens and loads the scheduler. `objectBytes` replaces the embedded object (tests,
    /// `--bpf-object`). Nothing is attached yet.
    public init(
        config: SchedulerConfig, hotplugSeq: UInt64, verbose: Bool, objectBytes: [UInt8]? = nil
    ) throws(SchedulerError) {
        object = try BPFObject(bytes: objectBytes ?? Embedded.schedulerObject, name: "swiftland", verbose: verbose)
        // From here on, a throw runs deinit, which closes the object.
        try writeConfig(config.bpfConfig)
        try writeOps(timeoutMs: config.timeoutMs, exitDumpLen: config.exitDumpLen, hotplugSeq: hotplugSeq)
        try object.load()
        try mapBSS()
        if verbose, !object.verifierLog.isEmpty {
            Terminal.error(object.verifierLog)
        }
    }

    deinit {
        detach()
        if let bss { swl_map_munmap(bss, bssSize) }
    }

    // MARK: Before load

    private func writeConfig(_ config: swl_config) throws(SchedulerError) {
        let rodata = try object.map(named: ".rodata")
        guard let cfg = object.variable("cfg", in: ".rodata"), cfg.size == MemoryLayout<swl_config>.size else {
            throw .objectMismatch("variable cfg in .rodata is missing or not a struct swl_config")
        }
        var total = 0
        guard let data = bpf_map__initial_value(rodata, &total), cfg.offset + cfg.size <= total else {
            throw .objectMismatch(".rodata has no initial value")
        }
        withUnsafeBytes(of: config) { data.advanced(by: cfg.offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
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
        let map = try object.map(named: ".bss")
        var size = 0
        guard let addr = swl_map_mmap(map, &size) else {
            throw .objectMismatch("cannot map .bss: \(errnoName(errno))")
        }
        bss = addr
        bssSize = size
        statsOffset = try variableOffset("stats", in: ".bss", size: MemoryLayout<swl_stats>.size)
        exitOffset = try variableOffset("exit_info", in: ".bss", size: MemoryLayout<swl_exit_info>.size)
        dumpOffset = try variableOffset("exit_dump", in: ".bss", size: Int(SWL_EXIT_DUMP_LEN.rawValue))
    }

    private func variableOffset(_ name: String, in section: String, size expected: Int) throws(SchedulerError) -> Int {
        guard let v = object.variable(name, in: section), v.size == expected, v.offset + expected <= bssSize else {
            throw .objectMismatch("variable \(name) in \(section) is missing or has another size")
        }
        return v.offset
    }

    // MARK: Running

    /// Attaches the scheduler: from here on sched_ext schedules every normal task with it.
    public func attach() throws(SchedulerError) {
        let ops = try object.map(named: Self.opsMapName)
        guard let l = bpf_map__attach_struct_ops(ops) else {
            let err = errno
            if err == EBUSY || err == EEXIST, let other = Preflight().attachedScheduler() {
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

    public func counters() -> Counters {
        Counters(bss!.load(fromByteOffset: statsOffset, as: swl_stats.self))
    }

    /// Filled by ops.exit; `isRunning` while the scheduler has not exited.
    public func exitInfo() -> ExitInfo {
        ExitInfo(bss!.load(fromByteOffset: exitOffset, as: swl_exit_info.self))
    }

    /// The kernel's debug dump of an error exit (up to --exit-dump-len bytes), or "".
    public func exitDump() -> String {
        let raw = UnsafeRawBufferPointer(start: bss! + dumpOffset, count: Int(SWL_EXIT_DUMP_LEN.rawValue))
        return String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}
