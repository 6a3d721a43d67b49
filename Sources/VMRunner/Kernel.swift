import ChildProcess
import Embedded
import Foundation
import SystemPackage

/// The guest kernel: Debian's sched_ext-enabled kernel, fetched and verified by the
/// embedded scripts/kernel.sh, or a user's own image.
public struct KernelImage: Sendable {
    public enum Format: String, Sendable {
        /// Uncompressed ELF vmlinux (QEMU boots it through its PVH entry; faster under TCG).
        case elf
        /// Compressed bzImage (vmlinuz).
        case bzImage
    }

    public var path: String
    public var format: Format
    /// e.g. "7.3.4+deb13-amd64" for the cached kernel; nil for a user's image.
    public var version: String?

    /// What the first bytes of `path` say it is.
    public static func detectFormat(_ path: String) -> Format? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 0x210), head.count >= 4 else { return nil }
        let bytes = [UInt8](head)
        if bytes[0...3] == [0x7f, 0x45, 0x4c, 0x46] { return .elf }
        // Linux boot protocol: "HdrS" at 0x202.
        if bytes.count >= 0x206, bytes[0x202...0x205] == [0x48, 0x64, 0x72, 0x53] { return .bzImage }
        return nil
    }

    /// A user's --kernel.
    public static func user(_ path: String) throws(VMOptionError) -> KernelImage {
        guard access(path, R_OK) == 0 else {
            throw VMOptionError("--kernel \(path): \(Errno(rawValue: errno))")
        }
        guard let format = detectFormat(path) else {
            throw VMOptionError("--kernel \(path): not a kernel image (neither an ELF vmlinux nor a bzImage/vmlinuz)")
        }
        return KernelImage(path: path, format: format, version: nil)
    }
}

/// Runs the embedded scripts/kernel.sh.
public struct KernelCache: Sendable {
    public var cacheDirectory: String
    public var script: String

    public init(cacheDirectory: String, script: String = Embedded.kernelScript) {
        self.cacheDirectory = cacheDirectory
        self.script = script
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// `kernel.sh ARGS...` with our cache, stdin from `input`.
    public func run(_ arguments: [String], input: Data? = nil, passStderr: Bool = false) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let bash = Subprocess.which("bash") else { throw Failure(description: "bash is missing") }
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFTLAND_CACHE"] = cacheDirectory
        let output = try Subprocess.run(
            bash, ["-c", script, "kernel.sh"] + arguments, environment: environment, input: input,
            stderr: passStderr ? .inherited : .captured)
        return (output.termination.shellStatus, output.stdoutText, output.stderrText)
    }

    /// Makes sure a verified kernel is cached (fetching it if needed; the script re-checks
    /// the cached files' SHA256 every time and fetches again when they do not match) and
    /// returns its ELF vmlinux, or vmlinuz when `preferCompressed`.
    public func fetch(preferCompressed: Bool = false) throws -> KernelImage {
        let result = try run(["fetch"], passStderr: true)
        let directory = result.stdout.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        guard result.status == 0, directory.hasPrefix("/") else {
            throw Failure(description: "could not get the sched_ext kernel (kernel.sh fetch exited with status \(result.status)); see the messages above")
        }
        let version = (try? String(contentsOfFile: directory + "/version", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let file = preferCompressed ? "vmlinuz" : "vmlinux"
        let path = directory + "/" + file
        guard access(path, R_OK) == 0 else {
            throw Failure(description: "the cached kernel in \(directory) has no \(file)")
        }
        return KernelImage(path: path, format: preferCompressed ? .bzImage : .elf, version: version)
    }

    /// Makes sure the kernel's own sched_ext example schedulers are built for the cached
    /// kernel in `kernelDirectory` (`kernel.sh peers`: Debian's linux-source of the same
    /// version, built once, re-verified on every use) and returns their directory: `bin/`,
    /// the kernel's `config` and `version`.
    public func peers(kernelDirectory: String) throws -> String {
        let result = try run(["peers", kernelDirectory], passStderr: true)
        let directory = result.stdout.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        guard result.status == 0, directory.hasPrefix("/") else {
            throw Failure(description: "could not build the kernel's sched_ext example schedulers (kernel.sh peers exited with status \(result.status)); see the messages above")
        }
        return directory
    }

    /// `kernel.sh verify DIR`.
    public func verify(_ directory: String) throws -> Bool {
        try run(["verify", directory]).status == 0
    }

    /// `kernel.sh resolve-from-depends` fed `apt-cache depends` text; nil when it fails.
    public func resolveFromDepends(_ aptCacheDependsOutput: String) throws -> String? {
        let result = try run(["resolve-from-depends"], input: Data(aptCacheDependsOutput.utf8))
        let version = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return result.status == 0 && !version.isEmpty ? version : nil
    }
}
