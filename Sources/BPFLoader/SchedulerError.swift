import SystemPackage

/// Every way loading or running the scheduler can fail, each with a message that says
/// what happened and what to do about it.
public enum SchedulerError: Error, CustomStringConvertible, Equatable {
    /// The process lacks capabilities sched_ext needs (names as in capabilities(7)).
    case missingPrivileges(missing: [String])
    /// The running kernel was built without CONFIG_SCHED_CLASS_EXT.
    case noSchedExt(kernelRelease: String)
    /// Another sched_ext scheduler is attached; only one can be.
    case otherSchedulerLoaded(name: String)
    /// A BPF object named on the command line could not be read.
    case unreadableObject(path: String, errno: Errno)
    /// libbpf could not parse the BPF object.
    case openFailed(errno: Errno)
    /// The verifier refused a program; `log` is the tail of its log.
    case verifierRejected(program: String?, errno: Errno, log: String)
    /// The object misses something the loader needs (a map, a variable, a BTF type).
    case objectMismatch(String)
    /// Loading failed for another reason; `details` holds libbpf's last warnings.
    case loadFailed(errno: Errno, details: String)
    /// Attaching the scheduler (struct_ops) failed.
    case attachFailed(errno: Errno)
    /// BPF programs' run time could not be turned on or read; `what` says which.
    case statisticsUnavailable(what: String, errno: Errno)

    public var description: String {
        switch self {
        case .missingPrivileges(let missing):
            return """
                missing privileges: \(missing.joined(separator: " and ")) not in the effective \
                capability set. Loading a sched_ext scheduler needs CAP_SYS_ADMIN and CAP_BPF: \
                run swiftland as root (sudo swiftland ...).
                """
        case .noSchedExt(let release):
            return """
                this kernel (\(release)) has no sched_ext support (/sys/kernel/sched_ext is \
                missing; it needs CONFIG_SCHED_CLASS_EXT=y, Linux 6.12 or later). Run swiftland \
                inside a sched_ext kernel instead:
                    sudo swiftland vm -- swiftland run --duration 20 --stats 5
                """
        case .otherSchedulerLoaded(let name):
            return """
                another sched_ext scheduler is already running: "\(name)". Only one can be \
                attached at a time: stop it first (for example systemctl stop scx, or end that \
                process), then start swiftland again.
                """
        case .unreadableObject(let path, let err):
            return "cannot read the BPF object \(path): \(err.nameAndText)."
        case .openFailed(let err):
            return "cannot open the BPF object: \(err.nameAndText). The object is damaged or was built for another libbpf."
        case .verifierRejected(let program, let err, let log):
            let which = program.map { "program '\($0)'" } ?? "a program"
            return """
                the kernel's BPF verifier rejected \(which) (\(err.nameAndText)). \
                End of the verifier log:
                \(log)
                """
        case .objectMismatch(let what):
            return "the BPF object does not match this swiftland: \(what). Rebuild swiftland."
        case .loadFailed(let err, let details):
            return "cannot load the BPF scheduler: \(err.nameAndText).\n\(details)"
        case .attachFailed(let err):
            return "cannot attach the scheduler: \(err.nameAndText)."
        case .statisticsUnavailable(let what, let err):
            return "\(what): \(err.nameAndText). Counting BPF programs' run time needs CAP_SYS_ADMIN and Linux 5.8 or later."
        }
    }
}

/// "EPERM (Operation not permitted)" for a raw errno value (`Errno.nameAndText`).
public func errnoName(_ err: Int32) -> String {
    Errno(rawValue: err).nameAndText
}
