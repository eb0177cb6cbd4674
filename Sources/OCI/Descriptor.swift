import StrictJSON

/// A reference to content by media type, digest and size (OCI image spec, "Content Descriptors").
public struct Descriptor: Sendable, Hashable {
    public var mediaType: MediaType
    public var digest: ContentDigest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    /// Set in index entries: the platform the referenced manifest runs on.
    public var platform: ImagePlatform?
    public var artifactType: String?

    public init(
        mediaType: MediaType, digest: ContentDigest, size: Int64, urls: [String]? = nil, annotations: [String: String]? = nil,
        platform: ImagePlatform? = nil, artifactType: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
    }

    /// The descriptor of `bytes` stored under `mediaType`.
    public init(of bytes: [UInt8], mediaType: MediaType) {
        self.init(mediaType: mediaType, digest: .of(bytes), size: Int64(bytes.count))
    }

    /// The OCI layout and skopeo name tags with this annotation in `index.json`.
    public static let referenceNameAnnotation = "org.opencontainers.image.ref.name"

    init(_ fields: JSONFields) throws(ImageFormatError) {
        mediaType = MediaType(try fields.requireString("mediaType"))
        guard let digest = try fields.digest("digest") else {
            throw .missingField(document: fields.document, field: fields.fieldPath("digest"))
        }
        self.digest = digest
        guard let size = try fields.integer("size") else {
            throw .missingField(document: fields.document, field: fields.fieldPath("size"))
        }
        self.size = size
        urls = try fields.stringArray("urls")
        annotations = try fields.stringMap("annotations")
        platform = try fields.object("platform").map { fields throws(ImageFormatError) in try ImagePlatform(fields) }
        artifactType = try fields.string("artifactType")
    }

    var jsonValue: JSONValue {
        var object = JSONObjectBuilder()
        object.add("mediaType", string: mediaType.rawValue)
        object.add("digest", string: digest.description)
        object.add("size", integer: size)
        object.add("urls", strings: urls)
        object.add("annotations", map: annotations)
        object.add("platform", platform?.jsonValue)
        object.add("artifactType", string: artifactType)
        return object.value
    }
}

/// The operating system and CPU an image runs on.
public struct ImagePlatform: Sendable, Hashable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?
    public var osVersion: String?
    public var osFeatures: [String]?

    public init(os: String, architecture: String, variant: String? = nil, osVersion: String? = nil, osFeatures: [String]? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
    }

    /// Cloister runs enclaves on x86-64 Linux only.
    public static let linuxAMD64 = ImagePlatform(os: "linux", architecture: "amd64")

    /// Reads `--platform` text: `os/arch` or `os/arch/variant`.
    public init(parsing text: String) throws(ImageFormatError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else {
            throw .malformedPlatform(text, reason: "it has \(parts.count) part\(parts.count == 1 ? "" : "s") separated by '/'")
        }
        for part in parts {
            guard !part.isEmpty,
                part.utf8.allSatisfy({ byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                })
            else {
                throw .malformedPlatform(text, reason: "'\(part)' is not a lower-case name (a-z, 0-9, '_', '.', '-')")
            }
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    public var description: String { [os, architecture, variant].compactMap { $0 }.joined(separator: "/") }

    /// Whether an image built for `self` serves a request for `requested`. A request without a variant takes any;
    /// variants are compared after filling in each architecture's default (arm64 is v8, arm is v7), as containerd does.
    public func serves(_ requested: ImagePlatform) -> Bool {
        guard os == requested.os, architecture == requested.architecture else { return false }
        guard let wanted = requested.variant else { return true }
        return Self.normalizedVariant(variant, architecture: architecture) == Self.normalizedVariant(wanted, architecture: architecture)
    }

    private static func normalizedVariant(_ variant: String?, architecture: String) -> String? {
        switch (architecture, variant) {
        case ("arm64", nil): "v8"
        case ("arm", nil): "v7"
        default: variant
        }
    }

    init(_ fields: JSONFields) throws(ImageFormatError) {
        os = try fields.requireString("os")
        architecture = try fields.requireString("architecture")
        variant = try fields.string("variant")
        osVersion = try fields.string("os.version")
        osFeatures = try fields.stringArray("os.features")
    }

    var jsonValue: JSONValue {
        var object = JSONObjectBuilder()
        object.add("architecture", string: architecture)
        object.add("os", string: os)
        object.add("os.version", string: osVersion)
        object.add("os.features", strings: osFeatures)
        object.add("variant", string: variant)
        return object.value
    }
}
