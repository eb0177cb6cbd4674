import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps the marble's UUID in a file on the host, so that a restarted marble keeps its identity and its per-marble
/// secrets (MarbleRun stores it the same way, mode 0600, as lowercase RFC 4122 text).
public enum MarbleUUIDStore {
    /// The UUID in `path`, or a new random one written there (mode 0600, missing directories created 0700).
    public static func loadOrCreate(at path: String) throws(LauncherError) -> UUID {
        if let existing = try load(at: path) { return existing }
        let uuid = UUID()
        try create(uuid, at: path)
        // Another launcher of the same marble may have created the file first; both must use the one on disk.
        return try load(at: path) ?? uuid
    }

    static func load(at path: String) throws(LauncherError) -> UUID? {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return nil
        } catch {
            throw LauncherError(
                .uuid, path, found: "a file that cannot be read (\(error.localizedDescription))",
                expected: "a readable UUID file", hint: "fix its permissions or point EDG_MARBLE_UUID_FILE elsewhere")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let uuid = UUID(uuidString: text) else {
            throw LauncherError(
                .uuid, path, found: text.quotedForError(limit: 60), expected: "an RFC 4122 UUID",
                hint: "delete the file to give the marble a new identity (its per-marble secrets change)")
        }
        return uuid
    }

    private static func create(_ uuid: UUID, at path: String) throws(LauncherError) {
        try LauncherError.createPrivateParentDirectory(
            of: path, stage: .uuid, expected: "a writable directory for the UUID file", hint: "set EDG_MARBLE_UUID_FILE to a writable path")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor < 0 {
            if errno == EEXIST { return }
            throw LauncherError(
                .uuid, path, found: "a file that cannot be created (\(String(cString: strerror(errno))))",
                expected: "a writable UUID file", hint: "set EDG_MARBLE_UUID_FILE to a writable path")
        }
        defer { close(descriptor) }
        let text = Array((uuid.uuidString.lowercased() + "\n").utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw LauncherError(
                .uuid, path, found: "a failed write (\(reason))", expected: "the UUID written",
                hint: "check free space and permissions")
        }
    }
}
