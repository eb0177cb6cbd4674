import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes the manifest's `Files` exactly where the manifest says, and nowhere else.
///
/// A host that controls the file system may plant a symbolic link in a directory on the way to a target, or a link at
/// the target itself, hoping the launcher writes a secret through it into a place the host reads. So every path is
/// walked one component at a time from `/` with `openat(O_NOFOLLOW)`: a symbolic link anywhere is refused and named,
/// except the merged-/usr links of the root directory (`/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` pointing
/// at `usr/<same name>`), which are part of the system layout, not a host's choice of destination. A file is written
/// as a new inode in its target directory and renamed into place, so an existing file (and any hard link to it) is
/// never written through; an existing target that is a link, a hard-linked file or not a regular file is refused.
public struct ConfinedFileWriter: Sendable {
    /// The root-directory links that are followed, each to `usr/<name>`.
    public static let systemLinks: Set<String> = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]

    /// The launcher's stage that errors are reported under.
    let stage: LauncherError.Stage

    public init(stage: LauncherError.Stage = .parameters) {
        self.stage = stage
    }

    /// Everything about `path` that can be known before its content exists: the directories on the way are real
    /// directories (missing ones are created 0700), the target is absent or a regular file with no other name, and a
    /// new file can be created beside it.
    public func check(_ path: String) throws(LauncherError) {
        let (directory, name) = try openParent(of: path)
        defer { close(directory) }
        try checkExistingTarget(name, in: directory, path: path)
        let probe = try createTemporary(in: directory, for: path)
        close(probe.descriptor)
        unlinkat(directory, probe.name, 0)
    }

    /// Writes `content` to `path` (mode 0600) as a new file renamed over the target.
    public func write(_ content: [UInt8], to path: String) throws(LauncherError) {
        let (directory, name) = try openParent(of: path)
        defer { close(directory) }
        try checkExistingTarget(name, in: directory, path: path)
        let temporary = try createTemporary(in: directory, for: path)
        var completed = false
        defer {
            close(temporary.descriptor)
            if !completed { unlinkat(directory, temporary.name, 0) }
        }
        try writeAll(content, to: temporary.descriptor, path: path)
        guard renameat(directory, temporary.name, directory, name) == 0 else {
            throw failure(path, found: "a target that cannot be replaced (\(Self.systemError()))", expected: "a replaceable file")
        }
        completed = true
    }

    /// The components of an absolute path; `.` is dropped, `..` is refused (the walk never climbs).
    func components(of path: String) throws(LauncherError) -> [String] {
        guard path.hasPrefix("/") else {
            throw failure(path, found: "a relative path", expected: "an absolute path")
        }
        guard !path.utf8.contains(0) else {
            throw failure(path.quotedForError(), found: "a NUL byte in the path", expected: "a path without NUL")
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        if components.contains("..") {
            throw failure(path, found: "a '..' component", expected: "a path that does not climb out of a directory")
        }
        guard !components.isEmpty else {
            throw failure(path, found: "the root directory", expected: "a file path")
        }
        return components
    }

    /// Opens the directory that holds the target, creating missing directories (0700), and returns it with the
    /// target's name.
    private func openParent(of path: String) throws(LauncherError) -> (descriptor: Int32, name: String) {
        let components = try components(of: path)
        var directory = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else {
            throw failure(path, found: "an unreadable root directory (\(Self.systemError()))", expected: "a readable '/'")
        }
        var walked = ""
        for component in components.dropLast() {
            let parent = walked.isEmpty ? "/" : walked
            walked += "/" + component
            let next: Int32
            do throws(LauncherError) {
                next = try openDirectory(component, in: directory, walked: walked, parent: parent, target: path)
            } catch {
                close(directory)
                throw error
            }
            close(directory)
            directory = next
        }
        return (directory, components[components.count - 1])
    }

    private func openDirectory(
        _ name: String, in directory: Int32, walked: String, parent: String, target: String
    ) throws(LauncherError) -> Int32 {
        for _ in 0..<2 {
            let descriptor = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if descriptor >= 0 { return descriptor }
            switch errno {
            case ENOENT:
                if mkdirat(directory, name, 0o700) != 0 && errno != EEXIST {
                    throw failure(
                        walked, found: "a directory that cannot be created (\(Self.systemError()))",
                        expected: "a writable directory on the way to \(target)")
                }
            case ELOOP, ENOTDIR:
                if parent == "/", Self.systemLinks.contains(name), readLink(name, in: directory).map(isSystemLinkTarget(name)) == true {
                    return try openSystemLink(name, target: target)
                }
                throw failure(walked, found: describeEntry(name, in: directory), expected: "a directory on the way to \(target)")
            default:
                throw failure(walked, found: "a directory that cannot be opened (\(Self.systemError()))", expected: "a directory")
            }
        }
        throw failure(walked, found: "a directory that vanished while it was created", expected: "a stable directory")
    }

    private func isSystemLinkTarget(_ name: String) -> (String) -> Bool {
        { target in target == "usr/" + name || target == "/usr/" + name }
    }

    /// `/usr/<name>`, walked without links itself.
    private func openSystemLink(_ name: String, target: String) throws(LauncherError) -> Int32 {
        let root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw failure("/", found: "an unreadable root (\(Self.systemError()))", expected: "a readable '/'") }
        defer { close(root) }
        let usr = openat(root, "usr", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard usr >= 0 else {
            throw failure("/usr", found: describeEntry("usr", in: root), expected: "the directory the merged-/usr link /\(name) points to")
        }
        defer { close(usr) }
        let descriptor = openat(usr, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw failure("/usr/\(name)", found: describeEntry(name, in: usr), expected: "a directory on the way to \(target)")
        }
        return descriptor
    }

    private func checkExistingTarget(_ name: String, in directory: Int32, path: String) throws(LauncherError) {
        var status = stat()
        guard fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw failure(path, found: "a target that cannot be examined (\(Self.systemError()))", expected: "a file path")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw failure(path, found: describeEntry(name, in: directory), expected: "no file yet, or a regular file")
        }
        guard status.st_nlink <= 1 else {
            throw failure(
                path, found: "a regular file with \(status.st_nlink) names (a hard link: writing it would also change the other names)",
                expected: "a file with one name")
        }
    }

    private func createTemporary(in directory: Int32, for path: String) throws(LauncherError) -> (descriptor: Int32, name: String) {
        for _ in 0..<8 {
            let name = ".cloister-" + String(UInt64.random(in: .min ... .max), radix: 36)
            let descriptor = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if descriptor >= 0 { return (descriptor, name) }
            guard errno == EEXIST else {
                throw failure(
                    path, found: "a directory where no file can be created (\(Self.systemError()))",
                    expected: "a writable directory")
            }
        }
        throw failure(path, found: "no free temporary name after 8 attempts", expected: "a writable directory")
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(LauncherError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw failure(
                    path, found: "a failed write after \(offset) of \(bytes.count) bytes (\(Self.systemError()))",
                    expected: "the whole file written")
            }
            offset += written
        }
    }

    private func readLink(_ name: String, in directory: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlinkat(directory, name, &buffer, buffer.count - 1)
        guard length >= 0 else { return nil }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What is at `name`, for an error message.
    private func describeEntry(_ name: String, in directory: Int32) -> String {
        var status = stat()
        guard fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return "nothing usable (\(Self.systemError()))" }
        switch status.st_mode & S_IFMT {
        case S_IFLNK: return "a symbolic link to '\(readLink(name, in: directory) ?? "?")'"
        case S_IFDIR: return "a directory"
        case S_IFREG: return "a regular file"
        case S_IFIFO: return "a named pipe"
        case S_IFSOCK: return "a socket"
        default: return "a device"
        }
    }

    private func failure(_ subject: String, found: String, expected: String) -> LauncherError {
        LauncherError(
            stage, subject, found: found, expected: expected,
            hint: "the launcher writes only where the manifest's Files say and never follows links planted on the way; "
                + "remove what is there, or change the path in the manifest")
    }

    static func systemError() -> String { String(cString: strerror(errno)) }
}
