import Foundation
import SystemPackage

/// Absolute-path helpers (no file system access).
enum GuestPath {
    /// "/a//b/./c/../d/" -> "/a/b/d". Relative paths are taken from "/".
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func parent(_ path: String) -> String {
        let p = normalize(path)
        guard let slash = p.lastIndex(of: "/"), slash != p.startIndex else { return "/" }
        return String(p[..<slash])
    }

    static func join(_ directory: String, _ name: String) -> String {
        name.hasPrefix("/") ? normalize(name) : normalize(directory + "/" + name)
    }

    /// Where a symlink at `linkPath` with `target` points to.
    static func resolveLink(at linkPath: String, target: String) -> String {
        join(parent(linkPath), target)
    }
}

/// The guest's file system as a set of entries, written out as a cpio archive. Host files
/// are referred to by path and copied when the archive is written.
///
/// Host files "keep their path": `mirror` reproduces every symlink met on the way
/// (Debian's merged /usr makes /lib a symlink to usr/lib, so /lib64/ld-linux-x86-64.so.2
/// really lives at /usr/lib/x86_64-linux-gnu/...), and the entries are stored at their
/// resolved locations.
struct GuestTree {
    enum Source: Equatable {
        case host(String)
        case bytes([UInt8])
    }

    enum Entry: Equatable {
        case directory(mode: UInt32)
        case file(Source, mode: UInt32)
        case symlink(target: String)
        case characterDevice(major: UInt32, minor: UInt32, mode: UInt32)
    }

    private(set) var entries: [String: Entry] = ["/": .directory(mode: 0o755)]
    /// Entries as an earlier layer (the cached base) wrote them.
    private(set) var baseline: [String: Entry] = [:]

    // MARK: - Building

    /// Follows symlinks of the tree in the directories of `path` (not its last component).
    func resolveParents(_ path: String) -> String {
        var resolved = "/"
        var remaining = GuestPath.normalize(path).split(separator: "/").map(String.init)
        var hops = 0
        while !remaining.isEmpty {
            let component = remaining.removeFirst()
            let candidate = GuestPath.join(resolved, component)
            if !remaining.isEmpty, case .symlink(let target)? = entries[candidate], hops < 40 {
                hops += 1
                let destination = GuestPath.resolveLink(at: candidate, target: target)
                remaining = destination.split(separator: "/").map(String.init) + remaining
                resolved = "/"
                continue
            }
            resolved = candidate
        }
        return resolved
    }

    /// Adds a directory and any missing parents. Returns its resolved path.
    @discardableResult
    mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) -> String {
        let resolved = resolveParents(path)
        if resolved == "/" { return resolved }
        addDirectory(GuestPath.parent(resolved))
        switch entries[resolved] {
        case .symlink(let target)?:
            // A directory symlink (like /bin -> usr/bin): the directory is its target.
            return addDirectory(GuestPath.resolveLink(at: resolved, target: target), mode: mode)
        case .directory?:
            return resolved
        default:
            entries[resolved] = .directory(mode: mode)
            return resolved
        }
    }

    @discardableResult
    mutating func addFile(_ path: String, _ source: Source, mode: UInt32) -> String {
        let resolved = resolveParents(path)
        addDirectory(GuestPath.parent(resolved))
        entries[resolved] = .file(source, mode: mode)
        return resolved
    }

    mutating func addSymlink(_ path: String, target: String) {
        let resolved = resolveParents(path)
        addDirectory(GuestPath.parent(resolved))
        entries[resolved] = .symlink(target: target)
    }

    mutating func addCharacterDevice(_ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) {
        let resolved = resolveParents(path)
        addDirectory(GuestPath.parent(resolved))
        entries[resolved] = .characterDevice(major: major, minor: minor, mode: mode)
    }

    func contains(_ path: String) -> Bool { entries[resolveParents(path)] != nil }

    /// Copies the host object at `hostPath` to the same path in the guest, reproducing the
    /// symlinks on the way. A final symlink is copied as a symlink and its target mirrored
    /// too. Directories are copied with their contents when `recursive`, else only created.
    /// Returns the resolved path of the copied object.
    @discardableResult
    mutating func mirror(_ hostPath: String, recursive: Bool) throws -> String {
        var hops = 0
        var path = GuestPath.normalize(hostPath)
        while true {
            // Walk the directories, reproducing symlinks among them.
            var prefix = "/"
            var components = path.split(separator: "/").map(String.init)
            var restarted = false
            while components.count > 1 {
                let component = components.removeFirst()
                let candidate = GuestPath.join(prefix, component)
                var st = stat()
                guard lstat(candidate, &st) == 0 else {
                    throw InitramfsError("\(hostPath): \(candidate): \(Errno(rawValue: errno))")
                }
                if st.st_mode & S_IFMT == S_IFLNK {
                    let target = try readLink(candidate)
                    if entries[candidate] == nil { entries[candidate] = .symlink(target: target) }
                    hops += 1
                    guard hops < 40 else { throw InitramfsError("\(hostPath): too many symlinks") }
                    let destination = GuestPath.resolveLink(at: candidate, target: target)
                    path = GuestPath.normalize(destination + "/" + components.joined(separator: "/"))
                    restarted = true
                    break
                }
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw InitramfsError("\(hostPath): \(candidate) is not a directory")
                }
                if entries[candidate] == nil { entries[candidate] = .directory(mode: UInt32(st.st_mode) & 0o7777) }
                prefix = candidate
            }
            if restarted { continue }
            if path == "/" { return path }

            var st = stat()
            guard lstat(path, &st) == 0 else {
                throw InitramfsError("\(hostPath): \(Errno(rawValue: errno))")
            }
            let mode = UInt32(st.st_mode) & 0o7777
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                let target = try readLink(path)
                entries[path] = .symlink(target: target)
                hops += 1
                guard hops < 40 else { throw InitramfsError("\(hostPath): too many symlinks") }
                let destination = GuestPath.resolveLink(at: path, target: target)
                var targetStat = stat()
                guard stat(destination, &targetStat) == 0 else { return path }  // dangling: as is
                path = destination
                continue
            case S_IFREG:
                entries[path] = .file(.host(path), mode: mode)
                return path
            case S_IFDIR:
                if case .directory? = entries[path] {} else { entries[path] = .directory(mode: mode) }
                if recursive {
                    let children = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                    for child in children {
                        try mirrorEntry(GuestPath.join(path, child))
                    }
                }
                return path
            default:
                // Sockets, fifos, devices: not meaningful in the guest.
                return path
            }
        }
    }

    /// Inside a recursive copy: symlinks stay symlinks (not followed), directories recurse.
    private mutating func mirrorEntry(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFLNK:
            entries[path] = .symlink(target: try readLink(path))
        case S_IFREG:
            entries[path] = .file(.host(path), mode: UInt32(st.st_mode) & 0o7777)
        case S_IFDIR:
            entries[path] = .directory(mode: UInt32(st.st_mode) & 0o7777)
            for child in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                try mirrorEntry(GuestPath.join(path, child))
            }
        default:
            break
        }
    }

    private func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else {
            throw InitramfsError("readlink \(path): \(Errno(rawValue: errno))")
        }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Layers

    /// Marks everything so far as written by an earlier layer.
    mutating func markBaseline() { baseline = entries }

    /// Entries of the current layer (all, or those added or changed since `markBaseline`),
    /// parents first (a parent's path sorts before its children's).
    func layerPaths(sinceBaseline: Bool) -> [String] {
        entries.keys.filter { !sinceBaseline || baseline[$0] != entries[$0] }.sorted()
    }

    /// Writes the layer as a cpio archive to `fd`. Returns the bytes written.
    func write(to fd: Int32, sinceBaseline: Bool) throws -> Int {
        var writer = CpioWriter(fd: fd)
        for path in layerPaths(sinceBaseline: sinceBaseline) {
            guard let entry = entries[path] else { continue }
            switch entry {
            case .directory(let mode):
                try writer.directory(path, mode: mode)
            case .file(.host(let host), let mode):
                try writer.file(path, from: host, mode: mode)
            case .file(.bytes(let bytes), let mode):
                try writer.file(path, contents: bytes, mode: mode)
            case .symlink(let target):
                try writer.symlink(path, target: target)
            case .characterDevice(let major, let minor, let mode):
                try writer.characterDevice(path, major: major, minor: minor, mode: mode)
            }
        }
        try writer.finish()
        return writer.bytesWritten
    }

    /// A text describing every entry, with the identity of host files (device, inode, size,
    /// modification and change times): it changes whenever any input changes, so its hash
    /// keys the cached base layer.
    func manifest() -> String {
        var lines: [String] = []
        for path in entries.keys.sorted() {
            switch entries[path]! {
            case .directory(let mode):
                lines.append("d \(path) \(String(mode, radix: 8))")
            case .symlink(let target):
                lines.append("l \(path) -> \(target)")
            case .characterDevice(let major, let minor, let mode):
                lines.append("c \(path) \(major):\(minor) \(String(mode, radix: 8))")
            case .file(.bytes(let bytes), let mode):
                lines.append("f \(path) \(String(mode, radix: 8)) bytes:\(FNV1a.hex(bytes))")
            case .file(.host(let host), let mode):
                var st = stat()
                let identity = stat(host, &st) == 0
                    ? "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
                    : "missing"
                lines.append("f \(path) \(String(mode, radix: 8)) host:\(host) \(identity)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Total bytes of file contents (to estimate the archive's size).
    func contentBytes(sinceBaseline: Bool) -> Int {
        var total = 0
        for path in layerPaths(sinceBaseline: sinceBaseline) {
            switch entries[path] {
            case .file(.bytes(let b), _)?: total += b.count
            case .file(.host(let h), _)?:
                var st = stat()
                if stat(h, &st) == 0 { total += Int(st.st_size) }
            default: break
            }
        }
        return total
    }
}

/// 64-bit FNV-1a: a stable (unseeded) hash for cache keys. Not cryptographic; the inputs
/// are our own manifests, not adversarial.
enum FNV1a {
    static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let s = String(hash(bytes), radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func hex(_ text: String) -> String { hex(text.utf8) }
}

/// Reading `ldd` output.
enum LddParser {
    struct Result: Equatable {
        var libraries: [String]
        var missing: [String]
    }

    /// Paths of the shared objects and the dynamic loader listed by ldd; "not found" ones
    /// separately. The vDSO (no path) is skipped; a static binary gives nothing.
    static func parse(_ output: String) -> Result {
        var libraries: [String] = []
        var missing: [String] = []
        for rawLine in output.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if let arrow = line.range(of: "=>") {
                let name = line[..<arrow.lowerBound].trimmingCharacters(in: .whitespaces)
                let rest = line[arrow.upperBound...].trimmingCharacters(in: .whitespaces)
                if rest.hasPrefix("not found") {
                    missing.append(name)
                    continue
                }
                let path = rest.split(separator: " ").first.map(String.init) ?? ""
                if path.hasPrefix("/") { libraries.append(path) }
            } else if line.hasPrefix("/") {
                if let path = line.split(separator: " ").first { libraries.append(String(path)) }
            }
        }
        var seen = Set<String>()
        libraries = libraries.filter { seen.insert($0).inserted }
        return Result(libraries: libraries, missing: missing)
    }
}
