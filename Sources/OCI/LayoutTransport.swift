import Foundation
import NIOCore

/// The files of an OCI image layout (OCI image spec, "Image Layout"): `oci-layout`, `index.json` and
/// `blobs/sha256/<hex>`.
struct LayoutFiles: Sendable {
    let directory: String

    var indexPath: String { directory + "/index.json" }
    var markerPath: String { directory + "/oci-layout" }
    var blobDirectory: String { directory + "/blobs/sha256" }
    func blobPath(_ digest: ContentDigest) -> String { blobDirectory + "/" + digest.hex }

    /// Reads a small file whole, refusing more than `limit` bytes.
    static func read(_ path: String, limit: Int, what: String) throws(ImageTransferError) -> [UInt8] {
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let data = try handle.read(upToCount: limit + 1) ?? Data()
            guard data.count <= limit else { throw ImageTransferError.tooLarge(location: path, what: what, limit: limit) }
            return Array(data)
        } catch let error as ImageTransferError {
            throw error
        } catch {
            throw .fileSystem(path: path, operation: "read", reason: BlobStream.reason(error))
        }
    }

    func readIndex() throws(ImageTransferError) -> ImageIndex {
        let bytes = try Self.read(indexPath, limit: maximumManifestBytes, what: "index.json")
        do {
            return try ImageIndex.decode(bytes: bytes)
        } catch {
            throw .malformedDocument(location: indexPath, error)
        }
    }

    /// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so that readers see the old or
    /// the new file whole, never a part.
    static func replace(_ path: String, with bytes: [UInt8]) throws(ImageTransferError) {
        let temporary = path + ".tmp-\(UUID().uuidString)"
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw ImageTransferError.fileSystem(path: path, operation: "replace", reason: String(cString: strerror(errno)))
            }
        } catch let error as ImageTransferError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .fileSystem(path: path, operation: "write", reason: BlobStream.reason(error))
        }
    }
}

/// An image in an OCI image layout directory.
public struct LayoutSource: ImageSource {
    public let reference: LayoutReference
    let files: LayoutFiles

    public init(_ reference: LayoutReference) {
        self.reference = reference
        files = LayoutFiles(directory: reference.directory)
    }

    public var location: String { "oci:\(reference)" }

    public func resolveManifest(for platform: ImagePlatform) async throws(ImageTransferError) -> ResolvedManifest {
        guard FileManager.default.fileExists(atPath: files.markerPath) else {
            throw .notALayout(directory: reference.directory, reason: "it has no oci-layout file")
        }
        let index = try files.readIndex()
        let tags = index.manifests.compactMap { $0.annotations?[Descriptor.referenceNameAnnotation] }
        let entry: Descriptor
        if let tag = reference.tag {
            guard let named = index.manifests.last(where: { $0.annotations?[Descriptor.referenceNameAnnotation] == tag }) else {
                throw .layoutReferenceNotFound(directory: reference.directory, tag: tag, available: tags)
            }
            entry = named
        } else {
            guard index.manifests.count == 1 else {
                throw .layoutReferenceNotFound(directory: reference.directory, tag: nil, available: tags)
            }
            entry = index.manifests[0]
        }
        let (document, bytes) = try await readDocument(entry)
        switch document {
        case .manifest(let manifest):
            return ResolvedManifest(manifest: manifest, bytes: bytes, descriptor: entry)
        case .index(let nested):
            let chosen: Descriptor
            do {
                chosen = try nested.manifest(for: platform)
            } catch {
                throw .malformedDocument(location: files.blobPath(entry.digest), error)
            }
            let (inner, innerBytes) = try await readDocument(chosen)
            guard case .manifest(let manifest) = inner else {
                throw .malformedDocument(
                    location: files.blobPath(chosen.digest),
                    .documentKindMismatch(document: "manifest for \(platform)", expected: "an image manifest", found: "an image index"))
            }
            return ResolvedManifest(manifest: manifest, bytes: innerBytes, descriptor: chosen, index: nested)
        }
    }

    private func readDocument(_ descriptor: Descriptor) async throws(ImageTransferError) -> (ManifestDocument, [UInt8]) {
        guard descriptor.size <= maximumManifestBytes else {
            throw .tooLarge(location: files.blobPath(descriptor.digest), what: "manifest", limit: maximumManifestBytes)
        }
        let bytes = try await openBlob(descriptor).collect(upTo: maximumManifestBytes, what: "manifest")
        do {
            return (try ManifestDocument.decode(bytes: bytes, mediaType: descriptor.mediaType), bytes)
        } catch {
            throw .malformedDocument(location: files.blobPath(descriptor.digest), error)
        }
    }

    public func openUnverifiedBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> BlobStream {
        let path = files.blobPath(descriptor.digest)
        guard FileManager.default.fileExists(atPath: path) else {
            throw .fileSystem(path: path, operation: "read blob \(descriptor.digest) from", reason: "the file does not exist")
        }
        return try BlobStream(contentsOfFile: path)
    }
}

/// An OCI image layout directory that images are written to; created when missing. Blobs are written under a
/// temporary name and renamed once their digest is checked; `index.json` is replaced whole, last.
public actor LayoutDestination: ImageDestination {
    public nonisolated let reference: LayoutReference
    let files: LayoutFiles

    public init(_ reference: LayoutReference) throws(ImageTransferError) {
        self.reference = reference
        files = LayoutFiles(directory: reference.directory)
        do {
            try FileManager.default.createDirectory(atPath: files.blobDirectory, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(path: files.blobDirectory, operation: "create", reason: BlobStream.reason(error))
        }
        if !FileManager.default.fileExists(atPath: files.markerPath) {
            try LayoutFiles.replace(files.markerPath, with: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        }
    }

    public nonisolated var location: String { "oci:\(reference)" }

    public func hasBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> Bool {
        // Blobs are renamed into place only after their digest was checked, so a present file of the right size
        // holds the right content.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: files.blobPath(descriptor.digest)),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else { return false }
        return size == descriptor.size
    }

    public func putBlob(_ stream: BlobStream, expected: ContentDigest?, progress: TransferProgress?) async throws(ImageTransferError) -> StoredBlob {
        let temporary = files.blobDirectory + "/.tmp-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw .fileSystem(path: temporary, operation: "create", reason: String(cString: strerror(errno)))
        }
        var accumulator = DigestAccumulator()
        do throws(ImageTransferError) {
            for try await chunk in stream {
                accumulator.update(chunk)
                try Self.writing(temporary) { try chunk.withUnsafeReadableBytes { try handle.write(contentsOf: $0) } }
                if let expected { progress?(.uploaded(expected, bytes: accumulator.byteCount)) }
            }
            try Self.writing(temporary) {
                try handle.synchronize()
                try handle.close()
            }
            let digest = accumulator.finalize()
            if let expected, digest != expected {
                throw ImageTransferError.digestMismatch(location: stream.origin, expected: expected, found: digest)
            }
            let path = files.blobPath(digest)
            guard rename(temporary, path) == 0 else {
                throw ImageTransferError.fileSystem(path: path, operation: "rename \(temporary) to", reason: String(cString: strerror(errno)))
            }
            return StoredBlob(digest: digest, size: accumulator.byteCount)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    private static func writing(_ path: String, _ body: () throws -> Void) throws(ImageTransferError) {
        do {
            try body()
        } catch {
            throw .fileSystem(path: path, operation: "write", reason: BlobStream.reason(error))
        }
    }

    public func putManifest(_ bytes: [UInt8], mediaType: MediaType) async throws(ImageTransferError) -> Descriptor {
        let stored = try await putBlob(bytes: bytes)
        return Descriptor(mediaType: mediaType, digest: stored.digest, size: stored.size)
    }

    public func putTag(_ tag: String?, manifest: Descriptor, bytes: [UInt8]) async throws(ImageTransferError) {
        var index =
            FileManager.default.fileExists(atPath: files.indexPath) ? try files.readIndex() : ImageIndex(manifests: [])
        var entry = Descriptor(mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: manifest.platform)
        if let tag {
            index.manifests.removeAll { $0.annotations?[Descriptor.referenceNameAnnotation] == tag }
            entry.annotations = [Descriptor.referenceNameAnnotation: tag]
        } else if index.manifests.contains(where: { $0.digest == manifest.digest && $0.annotations?[Descriptor.referenceNameAnnotation] == nil }) {
            return
        }
        index.manifests.append(entry)
        try LayoutFiles.replace(files.indexPath, with: index.encoded())
    }
}
