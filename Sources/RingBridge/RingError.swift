import SystemPackage

/// A ring-buffer failure, mapped once from libbpf's -errno / NULL+errno conventions.
public enum RingError: Error, Equatable, CustomStringConvertible {
    /// No room in the ring: the reader is behind.
    case full
    /// A record of a size other than the one this ring carries (the ABI does not match).
    case badRecordSize(expected: Int, got: Int)
    /// Any other failure of the named libbpf call.
    case system(call: String, errno: Errno)

    public var description: String {
        switch self {
        case .full: return "ring buffer full"
        case .badRecordSize(let expected, let got):
            return "ring record of \(got) bytes where \(expected) were expected: kernel and user sides disagree on bpf/intf.h"
        case .system(let call, let err): return "\(call) failed: \(err) (errno \(err.rawValue))"
        }
    }
}
