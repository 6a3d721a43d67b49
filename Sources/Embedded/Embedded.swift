import Foundation

/// Files that travel inside the swiftland binary, generated at build time by
/// scripts/embed.sh: the BPF scheduler, the run-queue latency tracer, and the
/// kernel-cache script of the VM runner.
public enum Embedded {
    /// The compiled BPF program (bpf/main.bpf.c), ELF with BTF.
    public static var schedulerObject: [UInt8] { decode(schedulerObjectBase64) }

    /// The run-queue latency tracer (bpf/rqlat.bpf.c), ELF with BTF.
    public static var tracerObject: [UInt8] { decode(tracerObjectBase64) }

    /// scripts/kernel.sh, run by `swiftland vm` to fetch and verify the guest kernel.
    public static var kernelScript: String {
        String(decoding: decode(kernelScriptBase64), as: UTF8.self)
    }

    private static func decode(_ base64: String) -> [UInt8] {
        guard let data = Data(base64Encoded: base64) else {
            preconditionFailure("embedded data is not valid base64: rebuild swiftland")
        }
        return [UInt8](data)
    }
}
