/// Copies images and blobs between any source and destination: blobs the destination has are skipped, blobs in
/// another repository of the same registry are mounted, the rest stream through with their digests checked.
public struct ImageCopier: Sendable {
    public var progress: TransferProgress?

    public init(progress: TransferProgress? = nil) {
        self.progress = progress
    }

    /// How a blob reached the destination.
    public enum BlobOutcome: Sendable, Hashable {
        case alreadyPresent
        case mounted(from: RegistryRepository)
        case uploaded(StoredBlob)
        /// A non-distributable (foreign) layer, which registries do not store: its descriptor's `urls` serve it.
        case skippedNondistributable
    }

    public func copyBlob(
        _ descriptor: Descriptor, from source: any ImageSource, to destination: any ImageDestination
    ) async throws(ImageTransferError) -> BlobOutcome {
        let digest = descriptor.digest
        progress?(.started(digest, size: descriptor.size))
        if descriptor.mediaType.isNondistributable, !(descriptor.urls ?? []).isEmpty {
            return .skippedNondistributable
        }
        if try await destination.hasBlob(descriptor) {
            progress?(.alreadyPresent(digest))
            return .alreadyPresent
        }
        if let repository = source.mountableRepository, try await destination.mountBlob(descriptor, from: repository) {
            progress?(.mounted(digest, from: repository))
            return .mounted(from: repository)
        }
        let progress = self.progress
        let stream = try await source.openBlob(descriptor) { progress?(.read(digest, bytes: $0)) }
        let stored = try await destination.putBlob(stream, expected: digest, progress: progress)
        progress?(.completed(digest))
        return .uploaded(stored)
    }

    /// Copies the image `source` names (for `platform` when it names an index) and tags it `tag` last. The manifest
    /// is copied byte for byte, so its digest stays. Returns the manifest's descriptor at the destination.
    @discardableResult
    public func copyImage(
        from source: any ImageSource, to destination: any ImageDestination, tag: String?, platform: ImagePlatform = .linuxAMD64
    ) async throws(ImageTransferError) -> Descriptor {
        let resolved = try await source.resolveManifest(for: platform)
        for layer in resolved.manifest.layers {
            _ = try await copyBlob(layer, from: source, to: destination)
        }
        _ = try await copyBlob(resolved.manifest.config, from: source, to: destination)
        return try await putImage(manifestBytes: resolved.bytes, mediaType: resolved.descriptor.mediaType, to: destination, tag: tag)
    }

    /// Stores a manifest whose blobs are already at the destination: by digest first, then under `tag`.
    @discardableResult
    public func putImage(
        manifestBytes: [UInt8], mediaType: MediaType, to destination: any ImageDestination, tag: String?
    ) async throws(ImageTransferError) -> Descriptor {
        let stored = try await destination.putManifest(manifestBytes, mediaType: mediaType)
        try await destination.putTag(tag, manifest: stored, bytes: manifestBytes)
        return stored
    }
}
