/// An image in a registry, read through the distribution API.
public struct RegistrySource: ImageSource {
    public let client: RegistryClient
    public let reference: RegistryReference

    public init(client: RegistryClient, reference: RegistryReference) {
        self.client = client
        self.reference = reference
    }

    public var location: String { "docker://\(reference)" }

    var repository: RegistryRepository { RegistryRepository(host: reference.host, repository: reference.repository) }

    public var mountableRepository: RegistryRepository? { repository }

    public func resolveManifest(for platform: ImagePlatform) async throws(ImageTransferError) -> ResolvedManifest {
        let top = try await fetch(reference.manifestReference, expected: reference.digest)
        switch top.document {
        case .manifest(let manifest):
            return ResolvedManifest(manifest: manifest, bytes: top.bytes, descriptor: top.descriptor)
        case .index(let index):
            let chosen: Descriptor
            do {
                chosen = try index.manifest(for: platform)
            } catch {
                throw .malformedDocument(location: top.url, error)
            }
            let entry = try await fetch(chosen.digest.description, expected: chosen.digest)
            guard case .manifest(let manifest) = entry.document else {
                throw .malformedDocument(
                    location: entry.url,
                    .documentKindMismatch(document: "manifest for \(platform)", expected: "an image manifest", found: "an image index"))
            }
            guard Int64(entry.bytes.count) == chosen.size else {
                throw .sizeMismatch(
                    location: entry.url, digest: chosen.digest, expected: chosen.size, found: Int64(entry.bytes.count), stoppedEarly: false)
            }
            return ResolvedManifest(manifest: manifest, bytes: entry.bytes, descriptor: entry.descriptor, index: index)
        }
    }

    /// A manifest or index by tag or digest, its bytes checked against the digest asked for or, for a tag, against
    /// the digest the registry states.
    private func fetch(
        _ reference: String, expected: ContentDigest?
    ) async throws(ImageTransferError) -> (document: ManifestDocument, bytes: [UInt8], descriptor: Descriptor, url: String) {
        let answer = try await client.manifest(repository, reference: reference)
        let found = ContentDigest.of(answer.bytes)
        if let expected, found != expected {
            throw .digestMismatch(location: answer.url, expected: expected, found: found)
        }
        if expected == nil, let stated = answer.digestHeader, stated != found.description {
            let statedDigest: ContentDigest
            do {
                statedDigest = try ContentDigest(parsing: stated)
            } catch {
                throw .malformedDocument(location: "\(answer.url) (Docker-Content-Digest header)", error)
            }
            throw .digestMismatch(location: answer.url, expected: statedDigest, found: found)
        }
        let document: ManifestDocument
        do {
            document = try ManifestDocument.decode(bytes: answer.bytes, mediaType: answer.mediaType)
        } catch {
            throw .malformedDocument(location: answer.url, error)
        }
        let mediaType: MediaType =
            switch document {
            case .manifest(let manifest): manifest.mediaType
            case .index(let index): index.mediaType
            }
        return (document, answer.bytes, Descriptor(of: answer.bytes, mediaType: mediaType), answer.url)
    }

    public func openUnverifiedBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> BlobStream {
        try await client.blob(repository, descriptor: descriptor)
    }
}

/// A repository of a registry that images are pushed to.
public struct RegistryDestination: ImageDestination {
    public let client: RegistryClient
    public let repository: RegistryRepository

    public init(client: RegistryClient, repository: RegistryRepository) {
        self.client = client
        self.repository = repository
    }

    public var location: String { "docker://\(repository)" }

    public func hasBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> Bool {
        try await client.blobExists(repository, digest: descriptor.digest, push: true)
    }

    public func mountBlob(_ descriptor: Descriptor, from source: RegistryRepository) async throws(ImageTransferError) -> Bool {
        guard source.host == repository.host, source.repository != repository.repository else { return false }
        return try await client.mount(repository, digest: descriptor.digest, from: source)
    }

    public func putBlob(_ stream: BlobStream, expected: ContentDigest?, progress: TransferProgress?) async throws(ImageTransferError) -> StoredBlob {
        try await client.upload(repository, stream: stream, expected: expected, progress: progress)
    }

    public func putManifest(_ bytes: [UInt8], mediaType: MediaType) async throws(ImageTransferError) -> Descriptor {
        let descriptor = Descriptor(of: bytes, mediaType: mediaType)
        try await client.putManifest(repository, reference: descriptor.digest.description, bytes: bytes, mediaType: mediaType)
        return descriptor
    }

    public func putTag(_ tag: String?, manifest: Descriptor, bytes: [UInt8]) async throws(ImageTransferError) {
        guard let tag else { return }
        guard RegistryReference.isValidTag(tag) else {
            throw .invalidReference(.malformedTag(reference: "\(location):\(tag)", tag: tag))
        }
        guard Descriptor(of: bytes, mediaType: manifest.mediaType).digest == manifest.digest else {
            throw .digestMismatch(location: "the manifest given for tag \(tag)", expected: manifest.digest, found: .of(bytes))
        }
        try await client.putManifest(repository, reference: tag, bytes: bytes, mediaType: manifest.mediaType)
    }
}
