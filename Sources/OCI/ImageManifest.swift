import StrictJSON

/// An image manifest: OCI (`application/vnd.oci.image.manifest.v1+json`) or Docker schema 2
/// (`application/vnd.docker.distribution.manifest.v2+json`), which have the same shape.
public struct ImageManifest: Sendable, Hashable {
    /// OCI manifests may leave their media type out; such a manifest reads as OCI.
    public var mediaType: MediaType
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var artifactType: String?
    public var annotations: [String: String]?

    public init(
        mediaType: MediaType = .ociManifest, config: Descriptor, layers: [Descriptor], subject: Descriptor? = nil,
        artifactType: String? = nil, annotations: [String: String]? = nil
    ) {
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.subject = subject
        self.artifactType = artifactType
        self.annotations = annotations
    }

    static let documentName = "image manifest"

    /// Reads a manifest from untrusted bytes: strict JSON, known field names in their exact case, schema version 2,
    /// an image config and layers of types Cloister can unpack. Never traps, whatever the bytes.
    public static func decode(bytes: [UInt8]) throws(ImageFormatError) -> ImageManifest {
        try ImageManifest(parseObject(bytes, document: documentName))
    }

    init(_ fields: JSONFields) throws(ImageFormatError) {
        let document = fields.document
        mediaType = try documentMediaType(
            fields, kind: .manifest, name: "an image manifest", absent: .ociManifest, accepted: [.ociManifest, .dockerManifest])
        // A document with both shapes is what CVE-2021-41190 warned of: tools would disagree on what it is.
        if try fields.value("manifests") != nil {
            throw .documentKindMismatch(
                document: document, expected: "an image manifest", found: "a document with 'manifests', as an image index has")
        }
        guard let configFields = try fields.object("config") else { throw .missingField(document: document, field: "config") }
        config = try Descriptor(configFields)
        guard config.mediaType.kind == .configuration else {
            throw .unknownMediaType(
                document: document, field: "config.mediaType", mediaType: config.mediaType.rawValue,
                expected: [MediaType.ociConfig.rawValue, MediaType.dockerConfig.rawValue])
        }
        guard let layerFields = try fields.objectArray("layers") else { throw .missingField(document: document, field: "layers") }
        var layers: [Descriptor] = []
        layers.reserveCapacity(layerFields.count)
        for (index, entry) in layerFields.enumerated() {
            let layer = try Descriptor(entry)
            switch layer.mediaType.kind {
            case .layer: layers.append(layer)
            case .zstdLayer: throw .zstdLayer(document: document, field: "layers[\(index)].mediaType", mediaType: layer.mediaType.rawValue)
            default:
                throw .unknownMediaType(
                    document: document, field: "layers[\(index)].mediaType", mediaType: layer.mediaType.rawValue,
                    expected: Self.layerMediaTypes)
            }
        }
        self.layers = layers
        subject = try fields.object("subject").map { fields throws(ImageFormatError) in try Descriptor(fields) }
        artifactType = try fields.string("artifactType")
        annotations = try fields.stringMap("annotations")
    }

    static let layerMediaTypes = [
        MediaType.ociLayerTar, .ociLayerTarGzip, .ociNondistributableLayerTar, .ociNondistributableLayerTarGzip,
        .dockerLayerTarGzip, .dockerForeignLayerTarGzip,
    ].map(\.rawValue)

    /// The manifest as compact JSON, fields in the order the OCI spec lists them.
    public func encoded() -> [UInt8] {
        var object = JSONObjectBuilder()
        object.add("schemaVersion", integer: 2)
        object.add("mediaType", string: mediaType.rawValue)
        object.add("artifactType", string: artifactType)
        object.add("config", config.jsonValue)
        object.add("layers", .array(layers.map(\.jsonValue)))
        object.add("subject", subject?.jsonValue)
        object.add("annotations", map: annotations)
        return object.value.encodedBytes
    }
}

/// An image index (OCI) or manifest list (Docker): one manifest per platform.
public struct ImageIndex: Sendable, Hashable {
    public var mediaType: MediaType
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var artifactType: String?
    public var annotations: [String: String]?

    public init(
        mediaType: MediaType = .ociIndex, manifests: [Descriptor], subject: Descriptor? = nil, artifactType: String? = nil,
        annotations: [String: String]? = nil
    ) {
        self.mediaType = mediaType
        self.manifests = manifests
        self.subject = subject
        self.artifactType = artifactType
        self.annotations = annotations
    }

    static let documentName = "image index"

    /// Reads an index from untrusted bytes, as strictly as `ImageManifest.decode(bytes:)`. Entries may have any
    /// media type (indexes also list attestations and signatures); `manifest(for:)` picks image manifests only.
    public static func decode(bytes: [UInt8]) throws(ImageFormatError) -> ImageIndex {
        try ImageIndex(parseObject(bytes, document: documentName))
    }

    init(_ fields: JSONFields) throws(ImageFormatError) {
        let document = fields.document
        mediaType = try documentMediaType(
            fields, kind: .index, name: "an image index", absent: .ociIndex, accepted: [.ociIndex, .dockerManifestList])
        for manifestOnly in ["config", "layers"] where try fields.value(manifestOnly) != nil {
            throw .documentKindMismatch(
                document: document, expected: "an image index", found: "a document with '\(manifestOnly)', as an image manifest has")
        }
        guard let entries = try fields.objectArray("manifests") else { throw .missingField(document: document, field: "manifests") }
        var manifests: [Descriptor] = []
        for entry in entries { manifests.append(try Descriptor(entry)) }
        self.manifests = manifests
        subject = try fields.object("subject").map { fields throws(ImageFormatError) in try Descriptor(fields) }
        artifactType = try fields.string("artifactType")
        annotations = try fields.stringMap("annotations")
    }

    /// The first image manifest whose platform serves `platform`.
    public func manifest(for platform: ImagePlatform) throws(ImageFormatError) -> Descriptor {
        let images = manifests.filter { $0.mediaType.kind == .manifest }
        if let match = images.first(where: { $0.platform?.serves(platform) ?? false }) { return match }
        var offered: [String] = []
        for entry in images {
            let name = entry.platform?.description ?? "unspecified (\(entry.digest))"
            if !offered.contains(name) { offered.append(name) }
        }
        throw .platformNotInIndex(requested: platform.description, available: offered)
    }

    public func encoded() -> [UInt8] {
        var object = JSONObjectBuilder()
        object.add("schemaVersion", integer: 2)
        object.add("mediaType", string: mediaType.rawValue)
        object.add("artifactType", string: artifactType)
        object.add("manifests", .array(manifests.map(\.jsonValue)))
        object.add("subject", subject?.jsonValue)
        object.add("annotations", map: annotations)
        return object.value.encodedBytes
    }
}

/// A manifest or an index, as a registry or layout answers a reference.
public enum ManifestDocument: Sendable, Hashable {
    case manifest(ImageManifest)
    case index(ImageIndex)

    /// Decodes `bytes` as whichever kind `mediaType` (the `Content-Type` or descriptor type) names; when that is
    /// missing or generic (`application/json`), as the kind the body's own `mediaType` or shape says.
    public static func decode(bytes: [UInt8], mediaType: MediaType?) throws(ImageFormatError) -> ManifestDocument {
        switch mediaType?.kind {
        case .manifest: return .manifest(try ImageManifest.decode(bytes: bytes))
        case .index: return .index(try ImageIndex.decode(bytes: bytes))
        case .dockerSchema1: throw .dockerSchema1(mediaType: mediaType!.rawValue)
        default: break
        }
        let fields = try parseObject(bytes, document: "manifest document")
        let declared = try fields.string("mediaType").map { MediaType($0) }
        switch declared?.kind {
        case .manifest?: return .manifest(try ImageManifest(fields.renamed(ImageManifest.documentName)))
        case .index?: return .index(try ImageIndex(fields.renamed(ImageIndex.documentName)))
        case .dockerSchema1?: throw .dockerSchema1(mediaType: declared!.rawValue)
        case nil:
            if try fields.value("manifests") != nil { return .index(try ImageIndex(fields.renamed(ImageIndex.documentName))) }
            if try fields.value("layers") != nil { return .manifest(try ImageManifest(fields.renamed(ImageManifest.documentName))) }
        default: break
        }
        let hasSchema1Fields = try fields.value("fsLayers") != nil
        if hasSchema1Fields {
            throw .dockerSchema1(mediaType: mediaType?.rawValue ?? MediaType.dockerSchema1Manifest.rawValue)
        }
        throw .unknownMediaType(
            document: "manifest document", field: "mediaType",
            mediaType: declared?.rawValue ?? mediaType?.rawValue ?? "(none)",
            expected: MediaType.acceptedManifestTypes.map(\.rawValue))
    }
}

/// Checks `schemaVersion` 2 and returns the document's `mediaType`, `absent` when it declares none; one of another
/// kind is refused by what it is (CVE-2021-41190: tools must agree on what a document is).
private func documentMediaType(
    _ fields: JSONFields, kind: MediaTypeKind, name: String, absent: MediaType, accepted: [MediaType]
) throws(ImageFormatError) -> MediaType {
    try checkSchemaVersion(fields)
    guard let declared = try fields.string("mediaType") else { return absent }
    let type = MediaType(declared)
    if type.kind == kind { return type }
    switch type.kind {
    case .manifest: throw .documentKindMismatch(document: fields.document, expected: name, found: "an image manifest (\(declared))")
    case .index: throw .documentKindMismatch(document: fields.document, expected: name, found: "an image index (\(declared))")
    case .dockerSchema1: throw .dockerSchema1(mediaType: declared)
    default:
        throw .unknownMediaType(document: fields.document, field: "mediaType", mediaType: declared, expected: accepted.map(\.rawValue))
    }
}

private func checkSchemaVersion(_ fields: JSONFields) throws(ImageFormatError) {
    let version = try fields.require("schemaVersion")
    guard case .number("2") = version else {
        if case .number(let literal) = version { throw .unsupportedSchemaVersion(document: fields.document, found: literal) }
        throw .wrongType(document: fields.document, field: "schemaVersion", expected: "the number 2", found: version.kindDescription)
    }
}

extension JSONFields {
    func renamed(_ document: String) throws(ImageFormatError) -> JSONFields {
        try JSONFields(.object(members), document: document, path: path)
    }
}
