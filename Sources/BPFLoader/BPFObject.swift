import CBPFShim
import CLibbpf
import Glibc
import Logging
import SystemPackage

/// A BPF ELF object opened with libbpf: the one place swiftland opens, loads and looks
/// into BPF objects (the scheduler, the test programs, the layout checks).
public final class BPFObject {
    let handle: OpaquePointer
    private let bytes: [UInt8]
    private let log: UnsafeMutablePointer<CChar>
    private let logSize: Int
    private let verbose: Bool
    private var mappings: [String: (address: UnsafeMutableRawPointer, size: Int)] = [:]
    private var links: [OpaquePointer] = []

    /// Opens (does not load) an object. Opening needs neither root nor sched_ext.
    /// `verifierLogSize` bytes keep the verifier's log for an explanation of a rejection.
    public init(bytes: [UInt8], name: String, verifierLogSize: Int = 1 << 20, verbose: Bool = false) throws(SchedulerError) {
        LibbpfLog.install(verbose: verbose)
        let size = max(verifierLogSize, 1)
        let log = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        log.initialize(repeating: 0, count: size)
        let opened = bytes.withUnsafeBytes {
            swl_open_object($0.baseAddress, $0.count, name, verifierLogSize > 0 ? log : nil, verifierLogSize, verbose ? 1 : 0)
        }
        guard let opened else {
            let err = Errno(rawValue: errno)
            log.deallocate()
            throw .openFailed(errno: err)
        }
        self.bytes = bytes
        self.log = log
        logSize = size
        self.verbose = verbose
        handle = opened
    }

    deinit {
        detachPrograms()
        for m in mappings.values { swl_map_munmap(m.address, m.size) }
        bpf_object__close(handle)
        log.deallocate()
    }

    /// The verifier's log of the last load ("" if it wrote none).
    public var verifierLog: String { String(cString: log) }

    public func map(named name: String) throws(SchedulerError) -> OpaquePointer {
        guard let map = bpf_object__find_map_by_name(handle, name) else {
            throw .objectMismatch("no map \(name)")
        }
        return map
    }

    /// Sets a map's size before load (ring buffers: bytes, a power of two of pages).
    public func setMaxEntries(_ name: String, _ entries: UInt32) throws(SchedulerError) {
        let err = bpf_map__set_max_entries(try map(named: name), entries)
        if err != 0 { throw .objectMismatch("cannot size map \(name): \(Errno(rawValue: -err).nameAndText)") }
    }

    /// Loads every program and map; a verifier rejection is explained.
    public func load() throws(SchedulerError) {
        let result = bpf_object__load(handle)
        guard result != 0 else { return }
        let err = Errno(rawValue: -result)
        let log = verifierLog
        let warnings = LibbpfLog.warnings
        if !log.isEmpty { Log.swiftland.info("verifier log:\n\(log)") }
        if !log.isEmpty {
            throw .verifierRejected(program: Self.failedProgram(in: warnings), errno: err, log: Self.tail(of: log))
        }
        if err == .noSuchProcess, warnings.contains(where: { $0.contains("sched_ext_ops") }) {
            throw .noSchedExt(kernelRelease: Preflight.kernelRelease())
        }
        if err == .notPermitted {
            throw .missingPrivileges(missing: Preflight().missingCapabilities())
        }
        throw .loadFailed(errno: err, details: warnings.suffix(8).joined(separator: "\n"))
    }

    public func mapFD(_ name: String) throws(SchedulerError) -> Int32 {
        let fd = bpf_map__fd(try map(named: name))
        guard fd >= 0 else { throw .objectMismatch("map \(name) is not loaded") }
        return fd
    }

    public func programFD(_ name: String) throws(SchedulerError) -> Int32 {
        guard let prog = bpf_object__find_program_by_name(handle, name) else {
            throw .objectMismatch("no program \(name)")
        }
        let fd = bpf_program__fd(prog)
        guard fd >= 0 else { throw .objectMismatch("program \(name) is not loaded") }
        return fd
    }

    /// Runs a SEC("syscall") program once with `context` as its argument; returns its
    /// return value.
    public func run<Context>(program name: String, context: inout Context) throws(SchedulerError) -> Int32 {
        try run(programFD: try programFD(name), context: &context)
    }

    /// As `run(program:context:)`, for a descriptor from `programFD` (no lookup by name).
    public func run<Context>(programFD fd: Int32, context: inout Context) throws(SchedulerError) -> Int32 {
        var retval: Int32 = 0
        let err = withUnsafeMutableBytes(of: &context) {
            swl_prog_run(fd, $0.baseAddress, $0.count, &retval)
        }
        if err != 0 { throw .loadFailed(errno: Errno(rawValue: -err), details: "running program fd \(fd) failed") }
        return retval
    }

    /// Byte offset and size of a global variable in a data section (".bss", ".rodata").
    func variable(_ name: String, in section: String) -> (offset: Int, size: Int)? {
        var offset: UInt32 = 0, size: UInt32 = 0
        guard swl_datasec_var(handle, section, name, &offset, &size) == 0 else { return nil }
        return (Int(offset), Int(size))
    }

    /// Before load: sets a global of `.rodata` (a `const volatile` tunable) to `value`,
    /// which must have the variable's size.
    func setConstant<T>(_ name: String, _ value: T) throws(SchedulerError) {
        let rodata = try map(named: ".rodata")
        guard let v = variable(name, in: ".rodata"), v.size == MemoryLayout<T>.size else {
            throw .objectMismatch("constant \(name) is missing from .rodata or has another size")
        }
        var total = 0
        guard let data = bpf_map__initial_value(rodata, &total), v.offset + v.size <= total else {
            throw .objectMismatch(".rodata has no initial value")
        }
        withUnsafeBytes(of: value) { data.advanced(by: v.offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// After load: the live memory of global `name` in `section` (".bss"), which must be
    /// `size` bytes. The section is memory-mapped once and stays mapped with the object.
    func live(_ name: String, in section: String = ".bss", size: Int) throws(SchedulerError) -> UnsafeMutableRawPointer {
        let mapping: (address: UnsafeMutableRawPointer, size: Int)
        if let m = mappings[section] {
            mapping = m
        } else {
            var mapped = 0
            guard let address = swl_map_mmap(try map(named: section), &mapped) else {
                throw .objectMismatch("cannot map \(section): \(Errno(rawValue: errno).nameAndText)")
            }
            mapping = (address, mapped)
            mappings[section] = mapping
        }
        guard let v = variable(name, in: section), v.size == size, v.offset + size <= mapping.size else {
            throw .objectMismatch("variable \(name) in \(section) is missing or has another size")
        }
        return mapping.address + v.offset
    }

    /// Attaches every program of a tracing object (tracepoints and the like).
    func attachPrograms() throws(SchedulerError) {
        var prog = bpf_object__next_program(handle, nil)
        while let p = prog {
            guard let link = bpf_program__attach(p) else {
                let err = Errno(rawValue: errno)
                detachPrograms()
                throw .attachFailed(errno: err)
            }
            links.append(link)
            prog = bpf_object__next_program(handle, p)
        }
    }

    func detachPrograms() {
        for link in links { bpf_link__destroy(link) }
        links.removeAll()
    }

    // MARK: Layout, from the object's BTF

    public func size(of structName: String) -> Int? {
        var size: UInt32 = 0
        return swl_struct_size(handle, structName, &size) == 0 ? Int(size) : nil
    }

    public func offset(of member: String, in structName: String) -> Int? {
        var offset: UInt32 = 0
        return swl_struct_member_offset(handle, structName, member, &offset) == 0 ? Int(offset) : nil
    }

    /// Member names and byte offsets, in declaration order; nil if there is no such struct.
    public func members(of structName: String) -> [(name: String, offset: Int)]? {
        let max = 256
        var names = [UnsafePointer<CChar>?](repeating: nil, count: max)
        var offsets = [UInt32](repeating: 0, count: max)
        let n = swl_struct_members(handle, structName, &names, &offsets, Int32(max))
        guard n >= 0 else { return nil }
        return (0..<min(Int(n), max)).map { (String(cString: names[$0]!), Int(offsets[$0])) }
    }

    /// The program named in libbpf's "prog 'NAME': BPF program load failed" warning.
    static func failedProgram(in warnings: [String]) -> String? {
        for w in warnings.reversed() where w.contains("BPF program load failed") {
            guard let start = w.range(of: "prog '"), let end = w[start.upperBound...].firstIndex(of: "'") else { continue }
            return String(w[start.upperBound..<end])
        }
        return nil
    }

    /// The part of a verifier log that says where it gave up and why. Recent kernels
    /// explain a rejection after a "Verification failed:" line (then a long causal path):
    /// the verdict line before it and the explanation up to the causal path are kept.
    /// Otherwise the verdict is at the very end: the last `lines` lines are kept.
    static func tail(of log: String, lines: Int = 25) -> String {
        var all = log.split(separator: "\n", omittingEmptySubsequences: false)[...]
        while all.last?.isEmpty == true { all = all.dropLast() }
        if let failed = all.lastIndex(where: { $0.hasPrefix("Verification failed:") }) {
            var start = failed
            while start > all.startIndex, all[start - 1].isEmpty { start -= 1 }
            start = max(all.startIndex, start - 1)
            let end = all[failed...].firstIndex(where: { $0.hasPrefix("Causal path:") }) ?? all.endIndex
            var kept = Array(all[start..<end].prefix(lines))
            while kept.last?.isEmpty == true { kept.removeLast() }
            if let processed = all.last, processed.hasPrefix("processed ") { kept += ["", processed] }
            return kept.joined(separator: "\n")
        }
        return all.suffix(lines).joined(separator: "\n")
    }
}
