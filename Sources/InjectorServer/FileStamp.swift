import Foundation

/// A file's identity and version as `stat` sees them through symlinks (device, inode, size, modification time): a
/// Secret or ConfigMap volume that the kubelet swaps, or a file rewritten in place, gets a new stamp.
struct FileStamp: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int
    let modifiedNanoseconds: Int

    /// The stamp of `path`, or the reason `stat` gave for not reading it.
    static func of(_ path: String) -> Result<FileStamp, FileStampError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(FileStampError(reason: String(cString: strerror(errno)))) }
        return .success(
            FileStamp(
                device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size), modified: info.st_mtim.tv_sec,
                modifiedNanoseconds: info.st_mtim.tv_nsec))
    }
}

struct FileStampError: Error, Sendable {
    let reason: String
}
