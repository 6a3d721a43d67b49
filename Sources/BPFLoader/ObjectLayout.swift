import CBPFShim
import CLibbpf
import Embedded
import Glibc

/// The layout of structures as the BTF of a BPF object records them. Opening an object
/// needs neither root nor sched_ext, so tests use this to check that Swift's view of
/// bpf/intf.h matches what the BPF side was compiled with.
public final class ObjectLayout {
    private let object: OpaquePointer
    private let bytes: [UInt8]

    public init(objectBytes: [UInt8]? = nil) throws(SchedulerError) {
        let bytes = objectBytes ?? Embedded.schedulerObject
        let opened = bytes.withUnsafeBytes {
            swl_open_object($0.baseAddress, $0.count, "swiftland", nil, 0, 0)
        }
        guard let opened else { throw .openFailed(errno: errno) }
        self.bytes = bytes
        object = opened
    }

    deinit { bpf_object__close(object) }

    public func size(of structName: String) -> Int? {
        var size: UInt32 = 0
        return swl_struct_size(object, structName, &size) == 0 ? Int(size) : nil
    }

    /// Member names and byte offsets, in declaration order; nil if there is no such struct.
    public func members(of structName: String) -> [(name: String, offset: Int)]? {
        let max = 256
        var names = [UnsafePointer<CChar>?](repeating: nil, count: max)
        var offsets = [UInt32](repeating: 0, count: max)
        let n = swl_struct_members(object, structName, &names, &offsets, Int32(max))
        guard n >= 0 else { return nil }
        return (0..<min(Int(n), max)).map { (String(cString: names[$0]!), Int(offsets[$0])) }
    }
}
