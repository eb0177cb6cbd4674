import CFuse
import Foundation
import ProtectedFiles

#if canImport(Glibc)
    import Glibc
#endif

/// Serves an ``EncryptedDirectory`` through FUSE at its own path, as Gramine serves an encrypted mount inside the
/// enclave: the simulated launcher starts one server per mount before it runs the program.
public enum EncryptedMountServer {
    /// Mounts `directory` over itself (its files stay reachable to the server through a descriptor), calls `ready`
    /// once mounted, and serves until it is unmounted, signalled, or `parent` is gone.
    public static func serve(
        _ directory: EncryptedDirectory, at mountpoint: String, parent: pid_t, ready: @escaping @Sendable () -> Void
    ) throws(EncryptedVolumeError) {
        let context = Context(directory: directory, ready: ready)
        var operations = fuse_operations()
        operations.getattr = { path, status, _ in
            guard let path, let status else { return -EINVAL }
            return Context.current.directory.attributes(String(cString: path), into: &status.pointee)
        }
        operations.readdir = { path, buffer, fill, _, _, _ in
            guard let path, let fill else { return -EINVAL }
            switch Context.current.directory.entries(String(cString: path)) {
            case .failure(let error): return -error.rawValue
            case .success(let names):
                for name in [".", ".."] + names { _ = fill(buffer, name, nil, 0, fuse_fill_dir_flags(rawValue: 0)) }
                return 0
            }
        }
        operations.open = { path, info in
            guard let path, let info else { return -EINVAL }
            let truncating = info.pointee.flags & O_TRUNC != 0
            switch Context.current.directory.open(String(cString: path), truncating: truncating) {
            case .success(let handle):
                info.pointee.fh = handle
                return 0
            case .failure(let error): return -error.rawValue
            }
        }
        operations.create = { path, mode, info in
            guard let path, let info else { return -EINVAL }
            switch Context.current.directory.create(String(cString: path), mode: mode) {
            case .success(let handle):
                info.pointee.fh = handle
                return 0
            case .failure(let error): return -error.rawValue
            }
        }
        operations.read = { _, buffer, size, offset, info in
            guard let buffer, let info else { return -EINVAL }
            return Context.current.directory.read(
                info.pointee.fh, offset: Int(offset), into: UnsafeMutableRawBufferPointer(start: buffer, count: size))
        }
        operations.write = { _, buffer, size, offset, info in
            guard let buffer, let info else { return -EINVAL }
            return Context.current.directory.write(info.pointee.fh, offset: Int(offset), from: UnsafeRawBufferPointer(start: buffer, count: size))
        }
        operations.truncate = { path, size, info in
            guard let path else { return -EINVAL }
            return Context.current.directory.truncate(String(cString: path), handle: info?.pointee.fh, size: Int(size))
        }
        operations.flush = { _, info in info.map { Context.current.directory.synchronize($0.pointee.fh) } ?? -EINVAL }
        operations.fsync = { _, _, info in info.map { Context.current.directory.synchronize($0.pointee.fh) } ?? -EINVAL }
        operations.release = { _, info in info.map { Context.current.directory.release($0.pointee.fh) } ?? -EINVAL }
        operations.unlink = { path in path.map { Context.current.directory.unlink(String(cString: $0)) } ?? -EINVAL }
        operations.mkdir = { path, mode in path.map { Context.current.directory.makeDirectory(String(cString: $0), mode: mode) } ?? -EINVAL }
        operations.rmdir = { path in path.map { Context.current.directory.removeDirectory(String(cString: $0)) } ?? -EINVAL }
        operations.chmod = { path, mode, _ in path.map { Context.current.directory.changeMode(String(cString: $0), mode: mode) } ?? -EINVAL }
        operations.utimens = { path, times, _ in path.map { Context.current.directory.setTimes(String(cString: $0), times) } ?? -EINVAL }
        operations.rename = { from, to, flags in
            guard let from, let to else { return -EINVAL }
            guard flags == 0 else { return -EINVAL }
            return Context.current.directory.rename(String(cString: from), to: String(cString: to))
        }
        var message = [CChar](repeating: 0, count: 512)
        let unmanaged = Unmanaged.passRetained(context)
        defer { unmanaged.release() }
        let served = cloister_fuse_serve(
            mountpoint, &operations, unmanaged.toOpaque(), { context in Context.from(context).ready() }, parent, &message, message.count)
        guard served == 0 else { throw .mount(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
    }

    /// What the C callbacks reach through FUSE's private data.
    final class Context: Sendable {
        let directory: EncryptedDirectory
        let ready: @Sendable () -> Void

        init(directory: EncryptedDirectory, ready: @escaping @Sendable () -> Void) {
            self.directory = directory
            self.ready = ready
        }

        static func from(_ pointer: UnsafeMutableRawPointer?) -> Context { Unmanaged<Context>.fromOpaque(pointer!).takeUnretainedValue() }

        /// The context of the request being served.
        static var current: Context { from(cloister_fuse_context()) }
    }
}
