/// The path a protected file is bound to: stored in its encrypted metadata, and compared byte for byte with the path
/// it is opened under (gramine.md §11.8).
///
/// Gramine compares against the *host* path of the file, not the path the application sees inside the enclave: the
/// mount's `uri` without `file:`, plus `/` and the file's path inside the mount, normalised by `get_norm_path` (`.`
/// and empty components dropped, `..` resolved, a leading `..` kept on a relative path, `/..` collapsed to `/`). So
/// with `{ path = "/files/", uri = "file:enc_files/", type = "encrypted" }` the enclave file `/files/a/b.txt` is bound
/// to `enc_files/a/b.txt`. The stored bytes are compared as they are, so only a normalised path can ever match.
public struct BoundPath: Sendable, Hashable, CustomStringConvertible {
    /// The normalised path: exactly the bytes stored in, and compared with, the metadata.
    public let normalized: String

    /// Normalises `path` as Gramine does before it opens or creates a protected file.
    public init(_ path: String) throws(BoundPathError) {
        let normalized = Self.normalize(path)
        guard !normalized.isEmpty else {
            throw BoundPathError(
                path: path, message: "normalises to an empty path", hint: "give the file's host path, e.g. /data/secret.bin or enc_files/input.txt")
        }
        guard !normalized.utf8.contains(0) else {
            throw BoundPathError(path: path, message: "contains a NUL byte", hint: "Gramine stores the path as a C string")
        }
        let limit = ProtectedFileLayout.pathFieldSize - 1
        guard normalized.utf8.count <= limit else {
            throw BoundPathError(
                path: path, message: "is \(normalized.utf8.count) bytes long once normalised; the metadata holds at most \(limit)",
                hint: "mount the directory at a shorter host path")
        }
        self.normalized = normalized
    }

    /// The path Gramine binds a file to when it lies at `relativePath` inside a directory mounted from `mountURI`
    /// (a manifest `uri` such as `file:enc_files/`, or the same without `file:`): `uri + "/" + relativePath`,
    /// normalised, with an empty `uri` read as `.` as Gramine's `dentry_uri` does.
    public init(mountURI: String, relativePath: String) throws(BoundPathError) {
        var root = mountURI.hasPrefix("file:") ? String(mountURI.dropFirst(5)) : mountURI
        if root.isEmpty { root = "." }
        try self.init(relativePath.isEmpty ? root : root + "/" + relativePath)
    }

    public var description: String { normalized }

    /// The 772-byte, NUL-padded `file_path` field.
    var field: [UInt8] {
        Array(normalized.utf8) + [UInt8](repeating: 0, count: ProtectedFileLayout.pathFieldSize - normalized.utf8.count)
    }

    /// Gramine's `get_norm_path`, component by component.
    public static func normalize(_ path: String) -> String {
        let isAbsolute = path.hasPrefix("/")
        var components: [Substring] = []
        var leadingParents = 0
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".":
                continue
            case "..":
                if !components.isEmpty {
                    components.removeLast()
                } else if !isAbsolute {
                    leadingParents += 1
                }
            default:
                components.append(component)
            }
        }
        let parts = [Substring](repeating: "..", count: leadingParents) + components
        return (isAbsolute ? "/" : "") + parts.joined(separator: "/")
    }
}

public struct BoundPathError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public let hint: String
    public var description: String { "bound path '\(path)' \(message)" }
}
