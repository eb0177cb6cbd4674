import Crypto
import Foundation
import Hexadecimal
import OCI
import Tar

/// Where a converted image keeps what `cloister convert` adds, in its one new layer.
public enum ConvertedImageLayout {
    /// The signed Gramine application: `entrypoint.manifest.sgx` and `entrypoint.sig`.
    public static let application = "/cloister/entrypoint"
    public static let launcher = "/cloister/bin/cloister-premain"
    /// The launcher's shared libraries and its dynamic loader, so that it runs whatever the image's own libraries.
    public static let libraryDirectory = "/cloister/lib"
    public static let loader = libraryDirectory + "/ld-linux-x86-64.so.2"
    /// Writable by every user: the marble's UUID file lives here.
    public static let runDirectory = "/cloister/run"
    public static let uuidFile = runDirectory + "/uuid"
    /// The Gramine installation prefix inside the image.
    public static let graminePrefix = "/gramine"

    /// The launcher run through its own dynamic loader, whatever the image's own libraries.
    public static let loaderEntrypoint = [loader, "--library-path", libraryDirectory, launcher]
    /// The image's entrypoint: the launcher in converted-image mode.
    public static let entrypoint = loaderEntrypoint + ["--converted-image", application]

    public enum Label {
        public static let mrEnclave = "org.cloister.mrenclave"
        public static let mrSigner = "org.cloister.mrsigner"
        public static let productID = "org.cloister.isvprodid"
        public static let securityVersion = "org.cloister.isvsvn"
        /// The reference the image was converted from, and that image's manifest digest.
        public static let source = "org.cloister.source"
        public static let sourceDigest = "org.cloister.source.digest"
    }
}

/// The files of a Gramine installation as its meson install lays them out under a prefix, reduced to what the SGX PAL
/// needs at run time: the loader, `libpal.so`, the LibOS (`libsysdb.so`) and Gramine's patched glibc.
public struct GramineInstallation: Sendable, Hashable {
    public static let libraryDirectory = "lib/x86_64-linux-gnu/gramine"
    public let prefix: String

    public init(prefix: String) throws(ConversionError) {
        self.prefix = prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        for required in ["sgx/libpal.so", "sgx/loader", "libsysdb.so", "runtime/glibc"] {
            let path = self.prefix + "/" + Self.libraryDirectory + "/" + required
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConversionError(
                    .unusableInput, "--gramine \(prefix)", found: "no \(Self.libraryDirectory)/\(required)",
                    expected: "a Gramine installation prefix as Gramine's meson install lays it out",
                    hint: "give the prefix Gramine was installed to (for a package install, /usr)")
            }
        }
    }

    public var libpalPath: String { prefix + "/" + Self.libraryDirectory + "/sgx/libpal.so" }

    /// Relative paths (below the prefix) of the files the image gets.
    func files() throws(ConversionError) -> [String] {
        var files = ["sgx/libpal.so", "sgx/loader", "libsysdb.so"].map { Self.libraryDirectory + "/" + $0 }
        let runtime = Self.libraryDirectory + "/runtime/glibc"
        guard let enumerator = FileManager.default.enumerator(atPath: prefix + "/" + runtime) else {
            throw ConversionError(
                .unusableInput, prefix + "/" + runtime, found: "an unreadable directory", expected: "Gramine's glibc", hint: "check the installation")
        }
        while let name = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: prefix + "/" + runtime + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(runtime + "/" + name)
            }
        }
        return files.sorted()
    }
}

/// One file of the new layer: where it goes in the image, where its bytes come from, and their hash.
struct LayerFile: Sendable, Hashable {
    let imagePath: String
    let hostPath: String
    let mode: UInt32
    let size: UInt64
    let sha256: [UInt8]

    /// `hostPath` is resolved first: the image gets the file's content, never a link that would dangle there.
    init(imagePath: String, hostPath: String, mode: UInt32? = nil) throws(ConversionError) {
        self.imagePath = imagePath
        guard let resolved = realpath(hostPath, nil) else {
            throw ConversionError(
                .unusableInput, hostPath, found: "a path that does not resolve (\(String(cString: strerror(errno))))", expected: "an existing file",
                hint: "check the path")
        }
        let hostPath = String(cString: resolved)
        free(resolved)
        self.hostPath = hostPath
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: hostPath)
        } catch {
            throw ConversionError(
                .unusableInput, hostPath, found: "an unreadable file (\(error.localizedDescription))", expected: "a readable file",
                hint: "check the path")
        }
        self.mode = mode ?? UInt32((attributes[.posixPermissions] as? Int ?? 0o644) & 0o7777)
        size = UInt64((attributes[.size] as? NSNumber)?.int64Value ?? 0)
        guard let handle = FileHandle(forReadingAtPath: hostPath) else {
            throw ConversionError(
                .unusableInput, hostPath, found: "a file that cannot be opened", expected: "a readable file", hint: "check its permissions")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        sha256 = Array(hasher.finalize())
    }
}

/// A directory the new layer creates, with its mode and owner.
struct LayerDirectory: Sendable, Hashable {
    var mode: UInt32 = 0o755
    var uid: UInt64 = 0
    var gid: UInt64 = 0
}

/// The new layer as a gzip blob on disk, with its digest, size and diff ID.
struct WrittenLayer: Sendable {
    let path: String
    let digest: ContentDigest
    let size: Int64
    let diffID: ContentDigest

    /// Writes `files` (and the directories above them, plus `directories` with their modes) as a deterministic tar,
    /// gzip-compressed, to a new file in `directory`.
    static func write(
        files: [LayerFile], extra: [(imagePath: String, bytes: [UInt8])], directories: [String: LayerDirectory], to directory: String
    ) throws(ConversionError) -> WrittenLayer {
        let path = directory + "/layer-\(UUID().uuidString).tar.gz"
        guard FileManager.default.createFile(atPath: path, contents: nil), let output = FileHandle(forWritingAtPath: path) else {
            throw ConversionError(
                .unusableInput, directory, found: "a directory where no file can be created", expected: "a writable temporary directory",
                hint: "set TMPDIR to a writable directory")
        }
        defer { try? output.close() }
        var diffID = SHA256()
        var blob = SHA256()
        var size: Int64 = 0
        var writeFailure: String?
        do throws(TarError) {
            var gzip = try GzipCompressor(level: 1)
            var writer = TarWriter()
            func compressed(_ bytes: UnsafeRawBufferPointer) throws(TarError) {
                blob.update(bufferPointer: bytes)
                size += Int64(bytes.count)
                do {
                    try output.write(contentsOf: Data(bytes))
                } catch {
                    writeFailure = error.localizedDescription
                    throw TarError(
                        .inputFailed, "writing the layer failed", found: error.localizedDescription, expected: "free space", entry: nil, offset: nil,
                        hint: "check the temporary directory")
                }
            }
            func tar(_ bytes: UnsafeRawBufferPointer) throws(TarError) {
                diffID.update(bufferPointer: bytes)
                try gzip.compress(bytes, compressed)
            }
            var allDirectories = directories
            for file in files.map(\.imagePath) + extra.map(\.imagePath) {
                var parent = (file as NSString).deletingLastPathComponent
                while parent != "/" && !parent.isEmpty {
                    if allDirectories[parent] == nil { allDirectories[parent] = LayerDirectory() }
                    parent = (parent as NSString).deletingLastPathComponent
                }
            }
            for (directory, owner) in allDirectories.sorted(by: { $0.key < $1.key }) {
                try writer.writeHeaderOnly(.directory(String(directory.dropFirst()), mode: owner.mode, uid: owner.uid, gid: owner.gid), to: tar)
            }
            for file in files.sorted(by: { $0.imagePath < $1.imagePath }) {
                let descriptor = open(file.hostPath, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw TarError(
                        .inputFailed, "a file to add cannot be opened", found: file.hostPath, expected: "a readable file", entry: file.imagePath,
                        offset: nil, hint: "check the file")
                }
                defer { close(descriptor) }
                try writer.writeFile(.regularFile(String(file.imagePath.dropFirst()), size: file.size, mode: file.mode), from: descriptor, to: tar)
            }
            for (imagePath, bytes) in extra {
                try writer.beginEntry(.regularFile(String(imagePath.dropFirst()), size: UInt64(bytes.count), mode: 0o644), to: tar)
                try writer.writeContent(bytes, to: tar)
                try writer.endEntry(to: tar)
            }
            try writer.finish(to: tar)
            try gzip.finish(compressed)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw ConversionError(
                .unusableInput, "the new layer" + (error.entry.map { " (\($0))" } ?? ""), found: writeFailure ?? error.found,
                expected: error.expected, hint: error.hint)
        }
        return WrittenLayer(
            path: path, digest: try digest(blob.finalize()), size: size, diffID: try digest(diffID.finalize()))
    }

    private static func digest(_ hash: SHA256Digest) throws(ConversionError) -> ContentDigest {
        do {
            return try ContentDigest(parsing: "sha256:" + Array(hash).hexadecimal)
        } catch {
            throw ConversionError(.unusableInput, "the new layer", found: "\(error)", expected: "a digest", hint: "report this bug")
        }
    }
}
