import BPFLoader
import CompareKit
import Foundation
import Glibc

/// The kernel's own sched_ext example schedulers as scripts/kernel.sh caches them
/// (`CACHE/peers/<kernel version>/`): `bin/scx_NAME`, the kernel's `config` and `version`.
/// `scx:` arms run these binaries; they are built for one kernel and run on that one only.
struct PeerBuild {
    let directory: String

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The kernel version the binaries were built for.
    var kernelVersion: String {
        ((try? String(contentsOfFile: directory + "/version", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The binary of `scx:NAME`.
    func binary(_ name: String) throws -> String {
        let path = directory + "/bin/scx_" + name
        guard access(path, X_OK) == 0 else { throw Failure(description: "\(path) is missing: the build in \(directory) is incomplete") }
        return path
    }

    /// Checks that the binaries were built for the running kernel, and gives scx_central the
    /// kernel's config where it reads its `__kconfig` values: /boot/config-RELEASE, which a
    /// distribution's kernel has and the VM's initramfs does not.
    func prepare(kernelRelease: String = Preflight.kernelRelease()) throws {
        guard kernelVersion == kernelRelease else {
            throw Failure(description: "the kernel's example schedulers in \(directory) are built for \(kernelVersion), this kernel is \(kernelRelease): scx: arms run in `swiftland vm` on the cached kernel; on another kernel, run your own build as an ext: arm")
        }
        let config = "/boot/config-" + kernelRelease
        guard access(config, R_OK) != 0 else { return }
        do {
            try FileManager.default.createDirectory(atPath: "/boot", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: directory + "/config", toPath: config)
        } catch {
            throw Failure(description: "cannot put the kernel's config at \(config) (scx_central reads it): \(error)")
        }
    }
}

extension Arm {
    /// The problem with an `ext:` arm's binary that would stop it from starting, checked
    /// before any VM boots; nil for other arms and for an executable file.
    var externalBinaryProblem: String? {
        guard case .ext(let path, _) = kind else { return nil }
        var st = stat()
        guard stat(path, &st) == 0 else { return "ext:\(path): no such file" }
        guard st.st_mode & S_IFMT == S_IFREG else { return "ext:\(path): not a regular file" }
        guard access(path, X_OK) == 0 else { return "ext:\(path): not executable" }
        return nil
    }
}
