/// Where images are read from: a registry, an OCI layout or a docker-archive.
public protocol ImageSource: Sendable {
    /// The source as a reference, for messages.
    var location: String { get }

    /// The manifest the reference names, or, when it names an index, the one for `platform`.
    func resolveManifest(for platform: ImagePlatform) async throws(ImageTransferError) -> ResolvedManifest

    /// The blob's bytes as they arrive, not yet checked: use `openBlob(_:)`, which checks them.
    func openUnverifiedBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> BlobStream

    /// The registry repository the source reads, which a destination on the same registry can mount blobs from.
    var mountableRepository: RegistryRepository? { get }
}

extension ImageSource {
    public var mountableRepository: RegistryRepository? { nil }

    /// The blob's bytes, checked against the descriptor's digest and size while they stream.
    public func openBlob(_ descriptor: Descriptor, progress: (@Sendable (Int64) -> Void)? = nil) async throws(ImageTransferError) -> BlobStream {
        try await openUnverifiedBlob(descriptor).verified(against: descriptor, progress: progress)
    }

    /// The manifest's configuration: its exact bytes (keep them when the configuration is not changed, so that its
    /// digest stays) and their decoded form.
    public func configuration(of manifest: ImageManifest) async throws(ImageTransferError) -> (bytes: [UInt8], configuration: ImageConfiguration) {
        let stream = try await openBlob(manifest.config)
        let bytes = try await stream.collect(upTo: maximumConfigurationBytes, what: "image configuration")
        do {
            return (bytes, try ImageConfiguration.decode(bytes: bytes))
        } catch {
            throw .malformedDocument(location: stream.origin, error)
        }
    }
}

/// Where images are written: a registry or an OCI layout. Blobs first, then the manifest by digest, and last the
/// tag, so that a tag never names an incomplete image.
public protocol ImageDestination: Sendable {
    var location: String { get }

    /// Whether the destination already holds the blob (a registry answers HEAD; a layout has the file).
    func hasBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> Bool

    /// Asks the destination to link the blob from another repository of the same registry instead of uploading
    /// it. False when it cannot (another registry, not allowed, or the registry asks for an upload instead).
    func mountBlob(_ descriptor: Descriptor, from repository: RegistryRepository) async throws(ImageTransferError) -> Bool

    /// Stores the stream's bytes as a blob. With `expected`, the bytes are checked against it and refused when they
    /// differ; without it, their digest and size are computed while they pass. Returns the stored digest and size.
    func putBlob(_ stream: BlobStream, expected: ContentDigest?, progress: TransferProgress?) async throws(ImageTransferError) -> StoredBlob

    /// Stores a manifest or index under its digest; no tag names it yet.
    func putManifest(_ bytes: [UInt8], mediaType: MediaType) async throws(ImageTransferError) -> Descriptor

    /// Names a stored manifest with `tag`. A nil tag records the manifest without a name where the transport needs
    /// a record (an OCI layout's `index.json`) and does nothing where the digest is enough (a registry).
    func putTag(_ tag: String?, manifest: Descriptor, bytes: [UInt8]) async throws(ImageTransferError)
}

extension ImageDestination {
    public func mountBlob(_ descriptor: Descriptor, from repository: RegistryRepository) async throws(ImageTransferError) -> Bool {
        false
    }

    /// Stores a local file as a blob; with no `expected` digest the file is read twice (hash, then store) only where
    /// the transport needs the digest up front.
    public func putBlob(fileAt path: String, expected: ContentDigest?, progress: TransferProgress?) async throws(ImageTransferError) -> StoredBlob {
        try await putBlob(BlobStream(contentsOfFile: path), expected: expected, progress: progress)
    }

    public func putBlob(bytes: [UInt8], progress: TransferProgress? = nil) async throws(ImageTransferError) -> StoredBlob {
        try await putBlob(BlobStream(bytes: bytes, origin: "memory"), expected: .of(bytes), progress: progress)
    }
}

/// A blob as the destination stored it.
public struct StoredBlob: Sendable, Hashable {
    public var digest: ContentDigest
    public var size: Int64

    public init(digest: ContentDigest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}

/// The manifest a reference resolved to, with its exact bytes (its digest is over them).
public struct ResolvedManifest: Sendable, Hashable {
    public var manifest: ImageManifest
    public var bytes: [UInt8]
    public var descriptor: Descriptor
    /// The index the manifest was chosen from, when the reference named one.
    public var index: ImageIndex?

    public init(manifest: ImageManifest, bytes: [UInt8], descriptor: Descriptor, index: ImageIndex? = nil) {
        self.manifest = manifest
        self.bytes = bytes
        self.descriptor = descriptor
        self.index = index
    }
}

/// A repository of a registry, as mount sources are named.
public struct RegistryRepository: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var repository: String

    public init(host: String, repository: String) {
        self.host = host
        self.repository = repository
    }

    public var description: String { "\(host)/\(repository)" }
}

/// What happens to each blob of a copy, for progress displays. Events of one blob arrive in order; events of
/// different blobs may interleave.
public enum TransferEvent: Sendable, Hashable {
    /// A blob starts; `size` is known for blobs with descriptors.
    case started(ContentDigest, size: Int64?)
    /// Bytes read and hashed so far.
    case read(ContentDigest, bytes: Int64)
    /// Bytes the destination has accepted so far.
    case uploaded(ContentDigest, bytes: Int64)
    /// The destination already had the blob.
    case alreadyPresent(ContentDigest)
    /// The registry linked the blob from another repository instead of receiving it.
    case mounted(ContentDigest, from: RegistryRepository)
    /// The blob is stored and its digest checked.
    case completed(ContentDigest)
}

public typealias TransferProgress = @Sendable (TransferEvent) -> Void

/// Configurations are a few kilobytes; megabytes would mean a hostile or wrong blob.
let maximumConfigurationBytes = 8 << 20
/// containers/image and distribution refuse manifests over 4 MiB.
let maximumManifestBytes = 4 << 20
