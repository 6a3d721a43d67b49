import Foundation

/// BPF programs for tests and benchmarks only (bpf/test_rings.bpf.c), generated at build
/// time by scripts/embed.sh; not part of the swiftland product.
public enum TestObjects {
    /// SEC("syscall") programs `echo`, `produce` and `check` over the same ring maps
    /// (`queued`, `dispatched`) and records as the scheduler.
    public static var rings: [UInt8] {
        guard let data = Data(base64Encoded: ringsObjectBase64) else {
            preconditionFailure("embedded test object is not valid base64: rebuild")
        }
        return [UInt8](data)
    }
}
