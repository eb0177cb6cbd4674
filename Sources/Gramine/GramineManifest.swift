import Crypto
import Foundation
import Hexadecimal

/// A manifest problem: which key, what it holds, what Gramine expects there, and what to do.
public struct GramineManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let key: String
    public let found: String
    public let expected: String
    public let hint: String

    public init(key: String, found: String, expected: String, hint: String) {
        self.key = key
        self.found = found
        self.expected = expected
        self.hint = hint
    }

    public var description: String { "manifest \(key): found \(found); expected \(expected). \(hint)" }
}

/// A Gramine manifest as `gramine-sgx-sign` (Gramine v1.9, `graminelibos/manifest.py`) handles it: parsed keeping
/// key order, completed with the signer's defaults, its trusted files hashed, and written back byte for byte as the
/// signer writes `.manifest.sgx`.
public struct GramineManifest: Sendable, Hashable {
    /// Where the LibOS lives in a GSC image; `gramine-sgx-sign` instead defaults to its own install's
    /// `<pkglibdir>/libsysdb.so`, so callers that mirror a plain Gramine install pass that URI.
    public static let gscLibOSURI = "file:/gramine/meson_build_output/lib/x86_64-linux-gnu/gramine/libsysdb.so"

    public var table: TOMLTable

    public init(table: TOMLTable) {
        self.table = table
    }

    public init(parsing bytes: [UInt8], reader: TOMLReader = TOMLReader()) throws(TOMLError) {
        self.table = try reader.parse(bytes)
    }

    /// The `.manifest.sgx` bytes: exactly what tomli-w writes for this table, and what MRENCLAVE measures.
    public var tomlBytes: [UInt8] { TOMLWriter.bytes(from: table) }

    /// Adds what `Manifest.__init__` adds, in its order and only where a key is missing: the `sgx` defaults
    /// (`trusted_files, max_threads, isvprodid, isvsvn, remote_attestation, debug, enable_stats, edmm_enable,
    /// enclave_size, use_exinfo, cpu_features`), trusted-file strings turned into `{uri = ...}` tables, and
    /// `loader.entrypoint.uri` and `.sha256`.
    ///
    /// - Parameters:
    ///   - entrypointFiles: where `loader.entrypoint.uri` is read to hash it. Gramine reads it on the host even when
    ///     signing with `--chroot` (`.host` reproduces that); a converter working on an extracted image passes the
    ///     image's `.chroot(...)` so that the hash is of the LibOS that will actually run.
    ///   - defaultLibOSURI: `loader.entrypoint.uri` when the manifest has none.
    public func addingSignerDefaults(
        entrypointFiles: TrustedFileSystem, defaultLibOSURI: String = GramineManifest.gscLibOSURI
    ) throws(GramineManifestError) -> GramineManifest {
        var root = table
        var sgx = try Self.table(root.setDefault("sgx", .table(TOMLTable())), key: "sgx")
        sgx.setDefault("trusted_files", .array([]))
        sgx.setDefault("max_threads", .integer(4))
        sgx.setDefault("isvprodid", .integer(0))
        sgx.setDefault("isvsvn", .integer(0))
        sgx.setDefault("remote_attestation", .string("none"))
        sgx.setDefault("debug", .boolean(false))
        sgx.setDefault("enable_stats", .boolean(false))
        let edmm = try Self.boolean(sgx.setDefault("edmm_enable", .boolean(false)), key: "sgx.edmm_enable")
        sgx.setDefault("enclave_size", .string(edmm ? "1024G" : "256M"))
        sgx.setDefault("use_exinfo", .boolean(false))
        var cpuFeatures = try Self.table(sgx.setDefault("cpu_features", .table(TOMLTable())), key: "sgx.cpu_features")
        for (feature, value) in [
            ("avx", "unspecified"), ("avx512", "unspecified"), ("amx", "unspecified"), ("mpx", "disabled"), ("pkru", "disabled"),
        ] {
            cpuFeatures.setDefault(feature, .string(value))
        }
        sgx["cpu_features"] = .table(cpuFeatures)

        guard let entries = sgx["trusted_files"]?.array else {
            throw GramineManifestError(
                key: "sgx.trusted_files", found: "a \(sgx["trusted_files"]!.typeName)", expected: "an array of URIs or {uri, sha256} tables",
                hint: "See https://gramine.readthedocs.io/en/latest/manifest-syntax.html#trusted-files")
        }
        let normalized = try entries.enumerated().map { index, entry throws(GramineManifestError) -> TOMLValue in
            switch entry {
            case .string: return .table(TOMLTable(["uri": entry]))
            case .table(let file) where file["uri"] != nil: return entry
            default:
                throw GramineManifestError(
                    key: "sgx.trusted_files[\(index)]", found: "a \(entry.typeName) \(entry.table == nil ? "" : "without 'uri'")",
                    expected: "a \"file:...\" string or a {uri, sha256} table", hint: "Write each trusted file as a URI string.")
            }
        }

        var loader = try Self.table(root.setDefault("loader", .table(TOMLTable())), key: "loader")
        var entrypoint = try Self.table(loader.setDefault("entrypoint", .table(TOMLTable())), key: "loader.entrypoint")
        entrypoint.setDefault("uri", .string(defaultLibOSURI))
        if entrypoint["sha256"] == nil {
            guard let uri = entrypoint["uri"]?.string else {
                throw GramineManifestError(
                    key: "loader.entrypoint.uri", found: "a \(entrypoint["uri"]!.typeName)", expected: "a \"file:...\" string",
                    hint: "Name the LibOS (libsysdb.so) with a file: URI.")
            }
            let file = try entrypointFiles.locate(uri: uri, key: "loader.entrypoint.uri")
            entrypoint["sha256"] = .string(try entrypointFiles.sha256(of: file, uri: uri, key: "loader.entrypoint.uri"))
        }
        loader["entrypoint"] = .table(entrypoint)
        root["loader"] = .table(loader)

        sgx["trusted_files"] = .array(normalized)
        root["sgx"] = .table(sgx)
        return GramineManifest(table: root)
    }

    /// `expand_all_trusted_files`: expands `file:/dir/` entries recursively (sorted by name, not descending into
    /// symlinked directories, skipping what is neither a file nor a directory or is unreadable), drops duplicate
    /// URIs (an entry with a hash wins; conflicting hashes are an error), hashes every entry that has no hash, and
    /// writes them back as `{uri, sha256}` tables.
    public func expandingTrustedFiles(in files: TrustedFileSystem) throws(GramineManifestError) -> GramineManifest {
        guard var sgx = table["sgx"]?.table, let entries = sgx["trusted_files"]?.array else {
            throw GramineManifestError(
                key: "sgx.trusted_files", found: "no array", expected: "an array of trusted files",
                hint: "Add the signer defaults (addingSignerDefaults) before expanding trusted files.")
        }
        var order: [String] = []
        var expanded: [String: TrustedFile] = [:]
        for (index, entry) in entries.enumerated() {
            let key = "sgx.trusted_files[\(index)]"
            for file in try files.expand(try TrustedFile(manifestEntry: entry, key: key, files: files), key: key) {
                if let existing = expanded[file.uri] {
                    if let existingHash = existing.sha256 {
                        if let hash = file.sha256, hash != existingHash {
                            throw GramineManifestError(
                                key: key, found: "sha256 \(hash) for \(file.uri)", expected: "the same sha256 as its earlier entry (\(existingHash))",
                                hint: "Remove one of the two entries for this URI.")
                        }
                        continue
                    }
                } else {
                    order.append(file.uri)
                }
                expanded[file.uri] = file
            }
        }
        var hashed: [TOMLValue] = []
        for uri in order {
            let file = expanded[uri]!
            let sha256: String
            if let known = file.sha256 {
                sha256 = known
            } else {
                sha256 = try files.sha256(of: file.hostPath, uri: uri, key: "sgx.trusted_files")
            }
            hashed.append(.table(TOMLTable(["uri": .string(uri), "sha256": .string(sha256)])))
        }
        sgx["trusted_files"] = .array(hashed)
        var root = table
        root["sgx"] = .table(sgx)
        return GramineManifest(table: root)
    }

    private static func table(_ value: TOMLValue, key: String) throws(GramineManifestError) -> TOMLTable {
        guard let table = value.table else {
            throw GramineManifestError(key: key, found: "a \(value.typeName)", expected: "a table", hint: "Write '\(key)' as a [\(key)] table.")
        }
        return table
    }

    private static func boolean(_ value: TOMLValue, key: String) throws(GramineManifestError) -> Bool {
        guard let flag = value.boolean else {
            throw GramineManifestError(key: key, found: "a \(value.typeName)", expected: "true or false", hint: "Write '\(key) = true' or 'false'.")
        }
        return flag
    }
}

/// One `sgx.trusted_files` entry on its way to being hashed.
struct TrustedFile {
    var uri: String
    var sha256: String?
    /// Where the bytes are read: inside the chroot after resolving symlinks there, or the host path.
    var hostPath: String
    /// The absolute path as the enclave sees it, symlinks resolved (chroot only); children of a directory are
    /// named from it, as Gramine does.
    var resolvedPath: [String]?

    init(uri: String, sha256: String?, key: String, files: TrustedFileSystem) throws(GramineManifestError) {
        self.uri = uri
        self.sha256 = sha256
        (hostPath, resolvedPath) = try files.locateWithResolution(uri: uri, key: key)
    }

    init(manifestEntry entry: TOMLValue, key: String, files: TrustedFileSystem) throws(GramineManifestError) {
        switch entry {
        case .string(let uri):
            try self.init(uri: uri, sha256: nil, key: key, files: files)
        case .table(let table):
            guard let uri = table["uri"]?.string else {
                throw GramineManifestError(
                    key: key + ".uri", found: table["uri"].map { "a \($0.typeName)" } ?? "nothing", expected: "a \"file:...\" string",
                    hint: "Give each trusted file a uri.")
            }
            let leftover = table.keys.filter { $0 != "uri" && $0 != "sha256" }
            guard leftover.isEmpty else {
                throw GramineManifestError(
                    key: key, found: "the keys \(leftover.joined(separator: ", "))", expected: "only uri and sha256",
                    hint: "Remove the other keys from the trusted file entry.")
            }
            let sha256: String?
            switch table["sha256"] {
            case nil: sha256 = nil
            case .string(let hash): sha256 = hash
            case let other?:
                throw GramineManifestError(
                    key: key + ".sha256", found: "a \(other.typeName)", expected: "a hexadecimal SHA-256 string",
                    hint: "Remove the sha256 to have it computed.")
            }
            try self.init(uri: uri, sha256: sha256, key: key, files: files)
        default:
            throw GramineManifestError(
                key: key, found: "a \(entry.typeName)", expected: "a \"file:...\" string or a {uri, sha256} table",
                hint: "Write each trusted file as a URI string.")
        }
    }
}

/// Where `file:` URIs are read from when hashing: the host file system as it is, or a directory standing for the
/// enclave's root, inside which absolute symlinks and `..` are resolved without leaving it (Gramine's
/// `resolve_symlinks(path, chroot=...)`).
///
/// Inside a chroot, the "is it a file or a directory" checks of a directory listing also follow symlinks inside
/// the chroot; Gramine makes those checks on the host path of the link, which for an absolute link looks outside
/// the chroot. Both agree whenever the image's links do not escape.
public struct TrustedFileSystem: Sendable, Hashable {
    public let chroot: String?

    public static let host = TrustedFileSystem(chroot: nil)

    public static func chroot(_ directory: String) -> TrustedFileSystem {
        TrustedFileSystem(chroot: directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory)
    }

    /// Where the file for `uri` is read on this machine.
    public func locate(uri: String, key: String) throws(GramineManifestError) -> String {
        try locateWithResolution(uri: uri, key: key).hostPath
    }

    func locateWithResolution(uri: String, key: String) throws(GramineManifestError) -> (hostPath: String, resolvedPath: [String]?) {
        guard uri.hasPrefix("file:") else {
            throw GramineManifestError(
                key: key, found: "the URI \"\(uri)\"", expected: "a file: URI", hint: "Trusted files and the LibOS are named with file: URIs.")
        }
        let path = String(uri.dropFirst("file:".count))
        guard let chroot else { return (Self.normalize(path), nil) }
        guard path.hasPrefix("/") else {
            throw GramineManifestError(
                key: key, found: "the relative path \"\(path)\"", expected: "an absolute path",
                hint: "Only absolute paths can be measured inside a chroot.")
        }
        var seen: [[String]: [String]?] = [:]
        let resolved: [String]
        do {
            resolved = try resolve(components(path), seen: &seen)
        } catch let failure as ResolutionFailure {
            throw GramineManifestError(
                key: key, found: "\(failure.reason) at \"/\(failure.path.joined(separator: "/"))\" while resolving \(uri) in \(chroot)",
                expected: "a path that resolves inside the chroot", hint: "Fix the image's symlinks or the URI.")
        } catch {
            throw GramineManifestError(key: key, found: "\(error)", expected: "a readable path", hint: "Check the chroot directory.")
        }
        return (hostPath(resolved), resolved)
    }

    private func hostPath(_ inner: [String]) -> String {
        inner.isEmpty ? chroot! : chroot! + "/" + inner.joined(separator: "/")
    }

    private func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// pathlib's normalisation of a host path: repeated slashes collapse and `.` components disappear.
    private static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        let joined = parts.joined(separator: "/")
        if path.hasPrefix("/") { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    private struct ResolutionFailure: Error {
        var reason: String
        var path: [String]
    }

    private func resolve(_ parts: [String], seen: inout [[String]: [String]?]) throws -> [String] {
        var inner: [String] = []
        for part in parts {
            guard isDirectory(hostPath(inner)) else { throw ResolutionFailure(reason: "not a directory", path: inner) }
            if part == "." { continue }
            if part == ".." {
                inner = Array(inner.dropLast())
                continue
            }
            inner.append(part)
            guard isSymlink(hostPath(inner)) else { continue }
            if seen.index(forKey: inner) == nil {
                seen[inner] = .some(nil)
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: hostPath(inner))
                let next = target.hasPrefix("/") ? components(target) : Array(inner.dropLast()) + components(target)
                seen[inner] = .some(try resolve(next, seen: &seen))
            }
            guard case .some(.some(let resolved)) = seen[inner] else { throw ResolutionFailure(reason: "a symlink loop", path: inner) }
            inner = resolved
        }
        return inner
    }

    /// The files a trusted-file entry stands for: itself, or for a `file:/dir/` URI every readable file below it.
    func expand(_ file: TrustedFile, key: String) throws(GramineManifestError) -> [TrustedFile] {
        guard file.uri.hasSuffix("/") else {
            guard !isDirectory(file.hostPath) else {
                throw GramineManifestError(
                    key: key, found: "the directory \(file.uri) without a trailing '/'", expected: "a file, or a directory URI ending in '/'",
                    hint: "Add '/' to include the whole directory.")
            }
            return [file]
        }
        guard isDirectory(file.hostPath) else {
            throw GramineManifestError(
                key: key, found: "\(file.uri) ending in '/' but \(file.hostPath) is not a directory", expected: "a directory",
                hint: "Remove the trailing '/' for a single file.")
        }
        guard file.sha256 == nil else {
            throw GramineManifestError(
                key: key, found: "a sha256 for the directory \(file.uri)", expected: "no sha256 for a directory",
                hint: "Remove the sha256; each file below it is hashed.")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: file.hostPath)
        } catch {
            throw GramineManifestError(
                key: key, found: "an unreadable directory \(file.hostPath)", expected: "a readable directory", hint: "Check permissions.")
        }
        var result: [TrustedFile] = []
        for name in names.sorted(by: { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }) {
            let listedPath = file.hostPath + "/" + name
            let enclavePath = chroot == nil ? listedPath : "/" + ((file.resolvedPath ?? []) + [name]).joined(separator: "/")
            let target: String
            if chroot == nil {
                target = listedPath
            } else if let located = try? locate(uri: "file:" + enclavePath, key: key) {
                target = located
            } else {
                continue
            }
            let targetIsDirectory = isDirectory(target)
            guard targetIsDirectory || isRegularFile(target), access(target, R_OK) == 0 else { continue }
            let child = try TrustedFile(uri: "file:" + enclavePath + (targetIsDirectory ? "/" : ""), sha256: nil, key: key, files: self)
            if isSymlink(listedPath) && targetIsDirectory { continue }
            result.append(contentsOf: try expand(child, key: key))
        }
        return result
    }

    /// The lower-case hexadecimal SHA-256 of the file's content.
    func sha256(of path: String, uri: String, key: String) throws(GramineManifestError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw GramineManifestError(
                key: key, found: "no readable file at \(path) for \(uri)", expected: "the file to hash",
                hint: chroot == nil
                    ? "Check the path, or sign with a chroot directory holding the image." : "Check that the image in \(chroot!) contains the file.")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
            }
        } catch {
            throw GramineManifestError(key: key, found: "a read error on \(path): \(error)", expected: "a readable file", hint: "Check the file.")
        }
        return hasher.finalize().hexadecimal
    }

    private func isDirectory(_ path: String) -> Bool { Self.fileType(path, followingSymlinks: true) == S_IFDIR }
    private func isRegularFile(_ path: String) -> Bool { Self.fileType(path, followingSymlinks: true) == S_IFREG }
    private func isSymlink(_ path: String) -> Bool { Self.fileType(path, followingSymlinks: false) == S_IFLNK }

    private static func fileType(_ path: String, followingSymlinks: Bool) -> mode_t? {
        var status = stat()
        let result = followingSymlinks ? stat(path, &status) : lstat(path, &status)
        return result == 0 ? status.st_mode & S_IFMT : nil
    }
}
