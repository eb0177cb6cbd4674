#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random-access bytes of a protected file: what the reader needs from a file on disk or a buffer in memory.
public protocol ProtectedFileStorage {
    var byteCount: UInt64 { get }
    /// Fills `buffer` with the bytes starting at `offset`; the caller keeps `offset + buffer.count <= byteCount`.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ProtectedFileError)
}

/// Where the writer puts a protected file's nodes. Nodes arrive out of order (MHT nodes last), so a sink is seekable.
public protocol ProtectedFileSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(ProtectedFileError)
}

/// A protected file held in memory: the form the fuzzing entry point and tests use.
public struct ProtectedFileBytes: ProtectedFileStorage, ProtectedFileSink, Sendable {
    public private(set) var bytes: [UInt8]

    public init(_ bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    public var byteCount: UInt64 { UInt64(bytes.count) }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ProtectedFileError) {
        let start = Int(offset)
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + buffer.count)])) }
    }

    public mutating func write(_ source: UnsafeRawBufferPointer, at offset: UInt64) throws(ProtectedFileError) {
        let start = Int(offset)
        if start == bytes.count {
            bytes.append(contentsOf: source)
            return
        }
        if bytes.count < start + source.count {
            bytes.append(contentsOf: repeatElement(0, count: start + source.count - bytes.count))
        }
        bytes.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + source.count)]).copyMemory(from: source) }
    }
}

/// A regular file read with `pread` (a protected file, or a plaintext to encrypt). A class because it owns the
/// descriptor and closes it once.
public final class ReadOnlyFile: ProtectedFileStorage {
    public let path: String
    public let byteCount: UInt64
    private let descriptor: Int32

    public init(readingAt path: String) throws(ProtectedFileError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(operation: "open", path: path, code: errno) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw .io(operation: "stat", path: path, code: code)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw .io(operation: "open", path: path, code: (status.st_mode & S_IFMT) == S_IFDIR ? EISDIR : EINVAL)
        }
        self.path = path
        self.descriptor = descriptor
        self.byteCount = UInt64(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ProtectedFileError) {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, code: errno)
            }
            if count == 0 { throw .io(operation: "read (the file shrank while open)", path: path, code: EIO) }
            done += count
        }
    }
}

/// An output file that appears under its final name only once complete: written to a temporary file beside it, then
/// renamed over it. Dropped without `commit()`, it removes the temporary file, so a refused input leaves nothing
/// half-written.
public final class AtomicOutputFile: ProtectedFileSink {
    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var committed = false

    public init(path: String) throws(ProtectedFileError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array((directory + "." + name + ".tmp-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw .io(operation: "create a temporary file for", path: path, code: errno) }
        self.path = path
        self.temporaryPath = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.descriptor = descriptor
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        if !committed { unlink(temporaryPath) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(ProtectedFileError) {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: temporaryPath, code: errno)
            }
            done += count
        }
    }

    /// Makes the file durable and gives it its final name (replacing any file there).
    public func commit(permissions: mode_t = 0o644) throws(ProtectedFileError) {
        guard fchmod(descriptor, permissions) == 0 else { throw .io(operation: "chmod", path: temporaryPath, code: errno) }
        guard fsync(descriptor) == 0 else { throw .io(operation: "fsync", path: temporaryPath, code: errno) }
        close(descriptor)
        descriptor = -1
        guard rename(temporaryPath, path) == 0 else { throw .io(operation: "rename to", path: path, code: errno) }
        committed = true
    }
}
