import CBPFShim
import SystemPackage

extension Errno {
    /// ENOTSUPP, the kernel's own "not supported" (524): BPF system calls return it, and the
    /// C library neither names nor describes it.
    public static var kernelNotSupported: Errno { Errno(rawValue: 524) }

    /// The errno's C name ("EPERM"), or "errno N" for a value without one.
    public var name: String {
        if self == .kernelNotSupported { return "ENOTSUPP" }
        return swl_errno_name(rawValue).map { String(cString: $0) } ?? "errno \(rawValue)"
    }

    /// "EPERM (Operation not permitted)": the name, then the C library's text.
    public var nameAndText: String { "\(name) (\(description))" }
}
