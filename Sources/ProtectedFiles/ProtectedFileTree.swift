import Foundation

/// How Gramine will see a directory of protected files: the `uri` of the encrypted mount that serves it.
///
/// Only the `uri` matters for binding, not the mount's enclave `path`: Gramine binds a file to its host path, the `uri`
/// without `file:` plus `/` and the file's path inside the mount, normalised (gramine.md §11.8). With
/// `{ path = "/secrets", uri = "file:/data/enc", type = "encrypted" }`, the file `sub/f` of the directory is bound to
/// `/data/enc/sub/f`, and the enclave opens it as `/secrets/sub/f`.
public struct ProtectedFileMount: Sendable, Equatable {
    public let uri: String

    public init(uri: String) {
        self.uri = uri
    }

    public func boundPath(forRelativePath relativePath: String) throws(BoundPathError) -> BoundPath {
        try BoundPath(mountURI: uri, relativePath: relativePath)
    }
}

/// Encrypting, decrypting and verifying every regular file under a directory, recursively. Each file is handled on
/// its own: one refused file is reported and the others still go through.
public enum ProtectedFileTree {
    public struct Entry: Sendable {
        /// The file's path relative to the directory, with `/` separators.
        public let relativePath: String
        /// The path the file is (to be) bound to, when it could be computed.
        public let boundPath: String?
        public let outcome: Result<ProtectedFileShape, ProtectedFileTreeFailure>
    }

    public struct Report: Sendable {
        public let entries: [Entry]
        /// Directory entries that are neither regular files nor directories (symbolic links, sockets...), not touched.
        public let skipped: [String]

        public var failures: [Entry] { entries.filter { if case .failure = $0.outcome { true } else { false } } }
    }

    /// Encrypts `plainDirectory` into `outputDirectory` (same relative layout), binding each file for `mount`.
    public static func encrypt(
        directory plainDirectory: String, into outputDirectory: String, key: ProtectedFileKey, mount: ProtectedFileMount
    ) throws(ProtectedFileTreeFailure) -> Report {
        try walk(plainDirectory) { relativePath throws(ProtectedFileTreeFailure) in
            let bound = try bind(relativePath, mount)
            let output = try prepareOutput(outputDirectory, relativePath)
            do throws(ProtectedFileError) {
                let summary = try ProtectedFileOperations.encryptFile(
                    at: join(plainDirectory, relativePath), to: output, key: key, path: bound)
                return (bound.normalized, summary.shape)
            } catch {
                throw .file(error)
            }
        }
    }

    /// Decrypts `protectedDirectory` into `outputDirectory`; with a `mount`, each file must be bound to where that
    /// mount puts it.
    public static func decrypt(
        directory protectedDirectory: String, into outputDirectory: String, key: ProtectedFileKey, mount: ProtectedFileMount?
    ) throws(ProtectedFileTreeFailure) -> Report {
        try walk(protectedDirectory) { relativePath throws(ProtectedFileTreeFailure) in
            let bound = try mount.map { (mount) throws(ProtectedFileTreeFailure) in try bind(relativePath, mount) }
            let output = try prepareOutput(outputDirectory, relativePath)
            do throws(ProtectedFileError) {
                let metadata = try ProtectedFileOperations.decryptFile(
                    at: join(protectedDirectory, relativePath), to: output, key: key, expectedPath: bound)
                return (metadata.boundPath, metadata.shape)
            } catch {
                throw .file(error)
            }
        }
    }

    /// Authenticates every file under `protectedDirectory`, and with a `mount` its binding too.
    public static func verify(
        directory protectedDirectory: String, key: ProtectedFileKey, mount: ProtectedFileMount?
    ) throws(ProtectedFileTreeFailure) -> Report {
        try walk(protectedDirectory) { relativePath throws(ProtectedFileTreeFailure) in
            let bound = try mount.map { (mount) throws(ProtectedFileTreeFailure) in try bind(relativePath, mount) }
            do throws(ProtectedFileError) {
                let metadata = try ProtectedFileOperations.verifyFile(
                    at: join(protectedDirectory, relativePath), key: key, expectedPath: bound)
                return (metadata.boundPath, metadata.shape)
            } catch {
                throw .file(error)
            }
        }
    }

    /// Regular files under `directory`, as sorted relative paths, and the entries that are neither files nor
    /// directories.
    public static func listFiles(under directory: String) throws(ProtectedFileTreeFailure) -> (files: [String], skipped: [String]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notADirectory(directory)
        }
        var files: [String] = []
        var skipped: [String] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let absolute = join(directory, relative)
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: absolute)
            } catch {
                throw .unreadableDirectory(absolute)
            }
            for name in names {
                let child = relative.isEmpty ? name : relative + "/" + name
                let type = (try? FileManager.default.attributesOfItem(atPath: join(directory, child))[.type]) as? FileAttributeType
                switch type {
                case .typeRegular?: files.append(child)
                case .typeDirectory?: pending.append(child)
                default: skipped.append(child)
                }
            }
        }
        return (files.sorted(), skipped.sorted())
    }

    private static func walk(
        _ directory: String, _ body: (String) throws(ProtectedFileTreeFailure) -> (String, ProtectedFileShape)
    ) throws(ProtectedFileTreeFailure) -> Report {
        let listing = try listFiles(under: directory)
        let entries = listing.files.map { relativePath in
            do throws(ProtectedFileTreeFailure) {
                let (bound, shape) = try body(relativePath)
                return Entry(relativePath: relativePath, boundPath: bound, outcome: .success(shape))
            } catch {
                return Entry(relativePath: relativePath, boundPath: nil, outcome: .failure(error))
            }
        }
        return Report(entries: entries, skipped: listing.skipped)
    }

    private static func bind(_ relativePath: String, _ mount: ProtectedFileMount) throws(ProtectedFileTreeFailure) -> BoundPath {
        do throws(BoundPathError) {
            return try mount.boundPath(forRelativePath: relativePath)
        } catch {
            throw .path(error)
        }
    }

    private static func prepareOutput(_ outputDirectory: String, _ relativePath: String) throws(ProtectedFileTreeFailure) -> String {
        let output = join(outputDirectory, relativePath)
        let parent = (output as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw .unwritableDirectory(parent)
        }
        return output
    }

    private static func join(_ directory: String, _ relativePath: String) -> String {
        relativePath.isEmpty ? directory : (directory.hasSuffix("/") ? directory + relativePath : directory + "/" + relativePath)
    }
}

public enum ProtectedFileTreeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case file(ProtectedFileError)
    case path(BoundPathError)
    case notADirectory(String)
    case unreadableDirectory(String)
    case unwritableDirectory(String)

    public var description: String {
        switch self {
        case .file(let error): error.description
        case .path(let error): error.description
        case .notADirectory(let path): "\(path) is not a directory"
        case .unreadableDirectory(let path): "cannot list the directory \(path)"
        case .unwritableDirectory(let path): "cannot create the directory \(path)"
        }
    }

    public var hint: String {
        switch self {
        case .file(let error): error.hint
        case .path(let error): error.hint
        case .notADirectory: "pass a directory, or a single file without the tree options"
        case .unreadableDirectory: "check the directory's permissions"
        case .unwritableDirectory: "check that the output location is writable"
        }
    }
}
