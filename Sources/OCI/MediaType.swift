import Foundation

/// A media type string as a descriptor or `Content-Type` carries it. Any string can be held (descriptors of
/// artifacts name types this module does not know); `kind` says what the module makes of it.
public struct MediaType: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public var description: String { rawValue }

    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    public static let ociLayerTar: MediaType = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerTarGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerTarZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociNondistributableLayerTar: MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociNondistributableLayerTarGzip: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociNondistributableLayerTarZstd: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerSchema1Manifest: MediaType = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1SignedManifest: MediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerTarGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerTarGzip: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Every manifest and index type, in the order a registry should prefer them (the distribution API's `Accept`).
    public static let acceptedManifestTypes: [MediaType] = [.ociManifest, .ociIndex, .dockerManifest, .dockerManifestList]

    /// What the type stands for.
    public var kind: MediaTypeKind {
        // Registries and layouts sometimes add parameters (`; charset=utf-8`); they never change the kind.
        let bare = MediaType(String(rawValue.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces))
        switch bare {
        case .ociManifest, .dockerManifest: return .manifest
        case .ociIndex, .dockerManifestList: return .index
        case .ociConfig, .dockerConfig: return .configuration
        case .ociLayerTar, .ociNondistributableLayerTar: return .layer(.none)
        case .ociLayerTarGzip, .ociNondistributableLayerTarGzip, .dockerLayerTarGzip, .dockerForeignLayerTarGzip:
            return .layer(.gzip)
        case .ociLayerTarZstd, .ociNondistributableLayerTarZstd: return .zstdLayer
        case .dockerSchema1Manifest, .dockerSchema1SignedManifest: return .dockerSchema1
        default: return .unknown
        }
    }

    /// Layers that registries do not serve themselves: their descriptor's `urls` name where the blob lives, and
    /// copies between registries leave them out (Windows base layers are the main case).
    public var isNondistributable: Bool {
        self == .dockerForeignLayerTarGzip || self == .ociNondistributableLayerTar || self == .ociNondistributableLayerTarGzip
            || self == .ociNondistributableLayerTarZstd
    }
}

/// What a media type stands for.
public enum MediaTypeKind: Sendable, Hashable {
    case manifest
    case index
    case configuration
    case layer(MediaType.LayerCompression)
    /// A zstd-compressed layer: valid OCI, but nothing in Cloister can decompress it yet.
    case zstdLayer
    /// Docker's image manifest schema 1, deprecated since 2017 and without content-addressed configs.
    case dockerSchema1
    case unknown
}

extension MediaType {
    /// How a layer tar is compressed.
    public enum LayerCompression: Sendable, Hashable {
        case none
        case gzip
    }
}
