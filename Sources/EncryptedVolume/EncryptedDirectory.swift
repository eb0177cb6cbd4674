import Foundation
import ProtectedFiles
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A host directory of Gramine encrypted files (protected files v2) seen as plaintext, as a Gramine encrypted mount
/// shows it to the enclave: file names and directories as they are, each regular file bound to its path under the
/// mount's uri.
///
/// An open file is held as plaintext in memory and committed (encrypted to a new file, synced, renamed over the old one,
/// the directory synced) on flush, fsync and close; a crash before a commit leaves the file as it was at the last one.
/// Every operation answers 0 or a negated errno, as FUSE wants.
public final class EncryptedDirectory: Sendable {
    /// The directory on the host, by a descriptor opened before the mount covered its path.
    let backing: Int32
    /// The mount's uri as Gramine's manifest gives it (`file:PATH`): files are bound to paths under it.
    public let mountURI: String
    let key: ProtectedFileKey
    private let state = Mutex(State())

    struct OpenFile {
        var path: String
        var plaintext: [UInt8]
        var dirty: Bool
    }

    struct State {
        var files: [UInt64: OpenFile] = [:]
        var nextHandle: UInt64 = 1
    }

    /// Temporary files of a commit in progress; hidden from listings.
    static let temporaryPrefix = ".cloister-commit-"

    public init(directory: String, mountURI: String, key: ProtectedFileKey) throws(EncryptedVolumeError) {
        let descriptor = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .directory(directory, errno: errno) }
        backing = descriptor
        self.mountURI = mountURI
        self.key = key
    }

    deinit { close(backing) }

    /// The host path of `path` (FUSE's, starting with "/"), through the descriptor: the mount hides the directory's
    /// own path.
    func hostPath(_ path: String) -> String {
        "/proc/self/fd/\(backing)" + (path == "/" ? "/." : path)
    }

    func boundPath(_ path: String) throws(BoundPathError) -> BoundPath {
        try BoundPath(mountURI: mountURI, relativePath: String(path.dropFirst()))
    }

    // MARK: - Attributes and listing

    public func attributes(_ path: String, into status: inout stat) -> Int32 {
        guard lstat(hostPath(path), &status) == 0 else { return -errno }
        guard status.st_mode & S_IFMT == S_IFREG else { return 0 }
        if let open = state.withLock({ $0.files.values.first { $0.path == path } }) {
            status.st_size = off_t(open.plaintext.count)
            return 0
        }
        guard status.st_size > 0 else { return 0 }
        do {
            let reader = try ProtectedFileReader(storage: try ReadOnlyFile(readingAt: hostPath(path)), key: key, expectedPath: try boundPath(path))
            status.st_size = off_t(reader.plainSize)
            return 0
        } catch {
            return -EIO
        }
    }

    public func entries(_ path: String) -> Result<[String], Errno> {
        var status = stat()
        guard stat(hostPath(path), &status) == 0 else { return .failure(Errno(errno)) }
        guard status.st_mode & S_IFMT == S_IFDIR else { return .failure(Errno(ENOTDIR)) }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: hostPath(path)) else { return .failure(Errno(EACCES)) }
        return .success(names.filter { !$0.hasPrefix(Self.temporaryPrefix) })
    }

    // MARK: - Files

    /// Opens `path`; `truncating` starts from an empty file.
    public func open(_ path: String, truncating: Bool) -> Result<UInt64, Errno> {
        let plaintext: [UInt8]
        if truncating {
            plaintext = []
        } else {
            switch load(path) {
            case .success(let bytes): plaintext = bytes
            case .failure(let error): return .failure(error)
            }
        }
        return .success(register(OpenFile(path: path, plaintext: plaintext, dirty: truncating)))
    }

    /// Creates `path` with `mode` as an empty encrypted file, committed at once, and opens it.
    public func create(_ path: String, mode: mode_t) -> Result<UInt64, Errno> {
        let descriptor = Glibc.open(hostPath(path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { return .failure(Errno(errno)) }
        close(descriptor)
        let handle = register(OpenFile(path: path, plaintext: [], dirty: true))
        if let error = commit(handle) { return .failure(error) }
        return .success(handle)
    }

    public func read(_ handle: UInt64, offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int32 {
        state.withLock { state in
            guard let file = state.files[handle] else { return -EBADF }
            guard offset < file.plaintext.count else { return 0 }
            let count = min(buffer.count, file.plaintext.count - offset)
            file.plaintext.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
            return Int32(count)
        }
    }

    public func write(_ handle: UInt64, offset: Int, from buffer: UnsafeRawBufferPointer) -> Int32 {
        state.withLock { state in
            guard var file = state.files.removeValue(forKey: handle) else { return -EBADF }
            defer { state.files[handle] = file }
            let end = offset + buffer.count
            if end > file.plaintext.count { file.plaintext.append(contentsOf: repeatElement(0, count: end - file.plaintext.count)) }
            file.plaintext.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[offset..<end]).copyMemory(from: buffer) }
            file.dirty = true
            return Int32(buffer.count)
        }
    }

    /// Sets the plaintext size of an open file, or of `path` when no handle is given (committed at once).
    public func truncate(_ path: String, handle: UInt64?, size: Int) -> Int32 {
        let target: UInt64
        if let handle {
            target = handle
        } else {
            switch open(path, truncating: false) {
            case .success(let opened): target = opened
            case .failure(let error): return -error.rawValue
            }
        }
        state.withLock { state in
            guard var file = state.files[target] else { return }
            if size < file.plaintext.count {
                file.plaintext.removeLast(file.plaintext.count - size)
            } else {
                file.plaintext.append(contentsOf: repeatElement(0, count: size - file.plaintext.count))
            }
            file.dirty = true
            state.files[target] = file
        }
        if handle == nil { return release(target) }
        return 0
    }

    /// Commits an open file's changes (flush, fsync).
    public func synchronize(_ handle: UInt64) -> Int32 {
        commit(handle).map { -$0.rawValue } ?? 0
    }

    /// Commits and forgets an open file.
    public func release(_ handle: UInt64) -> Int32 {
        let result = synchronize(handle)
        _ = state.withLock { $0.files.removeValue(forKey: handle) }
        return result
    }

    // MARK: - Names

    public func unlink(_ path: String) -> Int32 { Glibc.unlink(hostPath(path)) == 0 ? 0 : -errno }
    public func makeDirectory(_ path: String, mode: mode_t) -> Int32 { mkdir(hostPath(path), mode) == 0 ? 0 : -errno }
    public func removeDirectory(_ path: String) -> Int32 { rmdir(hostPath(path)) == 0 ? 0 : -errno }
    public func changeMode(_ path: String, mode: mode_t) -> Int32 { chmod(hostPath(path), mode) == 0 ? 0 : -errno }

    public func setTimes(_ path: String, _ times: UnsafePointer<timespec>?) -> Int32 {
        utimensat(AT_FDCWD, hostPath(path), times, 0) == 0 ? 0 : -errno
    }

    /// Renames a file. Its content is bound to its path, so it is encrypted anew for the new one; a directory cannot
    /// move (every file under it would need the same), and `mv` copies instead when told so (EXDEV).
    public func rename(_ from: String, to: String) -> Int32 {
        var status = stat()
        guard lstat(hostPath(from), &status) == 0 else { return -errno }
        guard status.st_mode & S_IFMT == S_IFREG else { return -EXDEV }
        let plaintext: [UInt8]
        if let open = state.withLock({ $0.files.values.first { $0.path == from } }) {
            plaintext = open.plaintext
        } else {
            switch load(from) {
            case .success(let bytes): plaintext = bytes
            case .failure(let error): return -error.rawValue
            }
        }
        if let error = store(plaintext, at: to, mode: status.st_mode & 0o7777) { return -error.rawValue }
        guard Glibc.unlink(hostPath(from)) == 0 else { return -errno }
        state.withLock { state in
            for (handle, file) in state.files where file.path == from { state.files[handle]?.path = to }
        }
        return 0
    }

    // MARK: - Encryption

    private func register(_ file: OpenFile) -> UInt64 {
        state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.files[handle] = file
            return handle
        }
    }

    private func load(_ path: String) -> Result<[UInt8], Errno> {
        guard let bytes = FileManager.default.contents(atPath: hostPath(path)) else { return .failure(Errno(errno == 0 ? ENOENT : errno)) }
        guard !bytes.isEmpty else { return .success([]) }
        do {
            return .success(try ProtectedFileCodec.decrypt(Array(bytes), key: key, path: try boundPath(path)))
        } catch {
            EncryptedVolumeLog.refused(path: path, error)
            return .failure(Errno(EIO))
        }
    }

    private func commit(_ handle: UInt64) -> Errno? {
        guard let file = state.withLock({ $0.files[handle] }), file.dirty else { return nil }
        var status = stat()
        let mode = lstat(hostPath(file.path), &status) == 0 ? status.st_mode & 0o7777 : 0o600
        if let error = store(file.plaintext, at: file.path, mode: mode) { return error }
        state.withLock { $0.files[handle]?.dirty = false }
        return nil
    }

    /// Encrypts `plaintext` for `path` into a new file beside it, syncs it, renames it over `path` and syncs the
    /// directory: the file is the old one or the new one, whatever happens meanwhile.
    private func store(_ plaintext: [UInt8], at path: String, mode: mode_t) -> Errno? {
        let encrypted: [UInt8]
        do {
            encrypted = try ProtectedFileCodec.encrypt(plaintext, key: key, path: try boundPath(path))
        } catch {
            EncryptedVolumeLog.refused(path: path, error)
            return Errno(EIO)
        }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let temporary = directory + "/" + Self.temporaryPrefix + UUID().uuidString
        let descriptor = Glibc.open(hostPath(temporary), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { return Errno(errno) }
        var written = 0
        while written < encrypted.count {
            let count = encrypted[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let error = Errno(errno)
                close(descriptor)
                Glibc.unlink(hostPath(temporary))
                return error
            }
            written += count
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced, Glibc.rename(hostPath(temporary), hostPath(path)) == 0 else {
            let error = Errno(errno)
            Glibc.unlink(hostPath(temporary))
            return error
        }
        let directoryDescriptor = Glibc.open(hostPath(directory.isEmpty ? "/" : directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
        return nil
    }
}

/// A negated errno's positive value, for FUSE answers.
public struct Errno: Error, Sendable, Equatable {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
}

/// Why an encrypted mount could not be served.
public enum EncryptedVolumeError: Error, Sendable, CustomStringConvertible {
    case directory(String, errno: Int32)
    case mount(String)
    case key(String)

    public var description: String {
        switch self {
        case .directory(let path, let errno):
            "cannot open the encrypted mount's host directory \(path): \(String(cString: strerror(errno))); create it before the program starts"
        case .mount(let message): "cannot mount the encrypted directory: \(message)"
        case .key(let message): "the encrypted mount's key: \(message)"
        }
    }
}

/// What the server tells the operator: a file it refused (wrong key, wrong path, damaged), named.
enum EncryptedVolumeLog {
    static func refused(path: String, _ error: any Error) {
        FileHandle.standardError.write(Data("cloister-premain: encrypted mount: refused \(path): \(error)\n".utf8))
    }
}
