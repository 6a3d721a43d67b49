import Foundation
import SystemPackage

/// Writes "newc" cpio archives (the format the kernel unpacks as an initramfs).
/// Each archive ends with its TRAILER!!! entry; archives may be concatenated, and the
/// kernel unpacks them in order, later ones adding to (or replacing) earlier ones.
struct CpioWriter {
    private let fd: Int32
    private var inode: UInt32 = 1000
    private(set) var bytesWritten = 0
    private var buffer: [UInt8] = []

    /// Writes to `fd` (not closed here).
    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 20)
    }

    enum Kind {
        case directory
        case file
        case symlink
        case characterDevice(major: UInt32, minor: UInt32)

        var typeBits: UInt32 {
            switch self {
            case .directory: return 0o040000
            case .file: return 0o100000
            case .symlink: return 0o120000
            case .characterDevice: return 0o020000
            }
        }
    }

    mutating func directory(_ path: String, mode: UInt32 = 0o755) throws {
        try header(path, kind: .directory, permissions: mode, size: 0)
    }

    mutating func symlink(_ path: String, target: String) throws {
        let bytes = Array(target.utf8)
        try header(path, kind: .symlink, permissions: 0o777, size: bytes.count)
        append(bytes)
        pad()
    }

    mutating func characterDevice(_ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) throws {
        try header(path, kind: .characterDevice(major: major, minor: minor), permissions: mode, size: 0)
    }

    mutating func file(_ path: String, contents: [UInt8], mode: UInt32 = 0o644) throws {
        try header(path, kind: .file, permissions: mode, size: contents.count)
        append(contents)
        pad()
    }

    /// A regular file whose contents are read from `hostPath` (streamed, not loaded whole).
    mutating func file(_ path: String, from hostPath: String, mode: UInt32) throws {
        let source = open(hostPath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            throw InitramfsError("cannot read \(hostPath): \(Errno(rawValue: errno))")
        }
        defer { close(source) }
        var st = stat()
        guard fstat(source, &st) == 0 else {
            throw InitramfsError("cannot stat \(hostPath): \(Errno(rawValue: errno))")
        }
        let size = Int(st.st_size)
        try header(path, kind: .file, permissions: mode, size: size)
        var left = size
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while left > 0 {
            let n = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, min($0.count, left)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw InitramfsError("\(hostPath) changed while being copied (short read)")
            }
            append(chunk[0..<n])
            left -= n
            if buffer.count >= 1 << 20 { try flush() }
        }
        pad()
    }

    /// Ends the archive and flushes.
    mutating func finish() throws {
        try header("TRAILER!!!", kind: .file, permissions: 0, size: 0, nlink: 1, raw: true)
        // Pad to 512 bytes like cpio(1) does; concatenation stays 4-byte aligned anyway.
        while (bytesWritten + buffer.count) % 512 != 0 { buffer.append(0) }
        try flush()
    }

    // MARK: - Encoding

    private mutating func header(
        _ path: String, kind: Kind, permissions: UInt32, size: Int, nlink: UInt32? = nil,
        raw: Bool = false
    ) throws {
        // Archive names are relative ("usr/bin/x"); the root itself is ".".
        var name = path
        if !raw {
            name = GuestPath.normalize(path)
            name = name == "/" ? "." : String(name.dropFirst())
        }
        guard size <= Int(UInt32.max) else { throw InitramfsError("\(path) is too large for cpio") }
        var devMajor: UInt32 = 0
        var devMinor: UInt32 = 0
        if case .characterDevice(let major, let minor) = kind {
            devMajor = major
            devMinor = minor
        }
        let nameBytes = Array(name.utf8) + [0]
        inode += 1
        let fields: [UInt32] = [
            raw ? 0 : inode,
            raw ? 0 : kind.typeBits | (permissions & 0o7777),
            0, 0,  // uid, gid: root
            nlink ?? (isDirectory(kind) ? 2 : 1),
            0,  // mtime: fixed, so identical inputs give identical archives
            UInt32(size),
            0, 0,  // device of the entry
            devMajor, devMinor,
            UInt32(nameBytes.count),
            0,  // check
        ]
        var text = "070701"
        for f in fields { text += hex8(f) }
        append(Array(text.utf8))
        append(nameBytes)
        pad()
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func isDirectory(_ kind: Kind) -> Bool {
        if case .directory = kind { return true }
        return false
    }

    private func hex8(_ value: UInt32) -> String {
        let s = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    private mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
    }

    private mutating func pad() {
        while (bytesWritten + buffer.count) % 4 != 0 { buffer.append(0) }
    }

    private mutating func flush() throws {
        try buffer.withUnsafeBytes { raw in
            guard var base = raw.baseAddress else { return }
            var left = raw.count
            while left > 0 {
                let n = write(fd, base, left)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw InitramfsError("writing the initramfs failed: \(Errno(rawValue: errno))")
                }
                left -= n
                base += n
            }
        }
        bytesWritten += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}

struct InitramfsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
