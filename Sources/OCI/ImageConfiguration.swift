import StrictJSON

/// An image configuration (OCI `application/vnd.oci.image.config.v1+json` or Docker
/// `application/vnd.docker.container.image.v1+json`): the parts `cloister convert` reads and changes, plus every
/// other field as it was, so that encoding a changed configuration keeps what this module does not model
/// (Healthcheck, OnBuild, Volumes, builder metadata...).
public struct ImageConfiguration: Sendable, Hashable {
    public var architecture: String
    public var os: String
    public var variant: String?
    public var created: String?
    public var author: String?
    public var config: ContainerConfiguration
    public var rootfs: RootFilesystem
    public var history: [HistoryEntry]?
    /// Top-level fields not modelled above, in their original order; encoded after the modelled ones.
    public var otherFields: [JSONMember]

    public init(
        architecture: String, os: String, variant: String? = nil, created: String? = nil, author: String? = nil,
        config: ContainerConfiguration = ContainerConfiguration(), rootfs: RootFilesystem = RootFilesystem(diffIDs: []),
        history: [HistoryEntry]? = nil, otherFields: [JSONMember] = []
    ) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.created = created
        self.author = author
        self.config = config
        self.rootfs = rootfs
        self.history = history
        self.otherFields = otherFields
    }

    static let documentName = "image configuration"
    private static let knownFields: Set = ["architecture", "os", "variant", "created", "author", "config", "rootfs", "history"]

    /// Reads a configuration from untrusted bytes, as strictly as `ImageManifest.decode(bytes:)`.
    public static func decode(bytes: [UInt8]) throws(ImageFormatError) -> ImageConfiguration {
        let fields = try parseObject(bytes, document: documentName)
        guard let architecture = try fields.string("architecture") else {
            throw .missingField(document: documentName, field: "architecture")
        }
        guard let os = try fields.string("os") else { throw .missingField(document: documentName, field: "os") }
        guard let rootfsFields = try fields.object("rootfs") else { throw .missingField(document: documentName, field: "rootfs") }
        var history: [HistoryEntry]?
        if let entries = try fields.objectArray("history") {
            var decoded: [HistoryEntry] = []
            for entry in entries { decoded.append(try HistoryEntry(entry)) }
            history = decoded
        }
        return ImageConfiguration(
            architecture: architecture, os: os, variant: try fields.string("variant"), created: try fields.string("created"),
            author: try fields.string("author"),
            config: try fields.object("config").map { fields throws(ImageFormatError) in try ContainerConfiguration(fields) }
                ?? ContainerConfiguration(),
            rootfs: try RootFilesystem(rootfsFields), history: history,
            otherFields: fields.unknownMembers(known: knownFields))
    }

    public func encoded() -> [UInt8] {
        var object = JSONObjectBuilder()
        object.add("created", string: created)
        object.add("author", string: author)
        object.add("architecture", string: architecture)
        object.add("variant", string: variant)
        object.add("os", string: os)
        object.add("config", config.jsonValue)
        object.add("rootfs", rootfs.jsonValue)
        object.add("history", history.map { .array($0.map(\.jsonValue)) })
        object.append(contentsOf: otherFields)
        return object.value.encodedBytes
    }

    /// The platform the configuration declares.
    public var platform: ImagePlatform { ImagePlatform(os: os, architecture: architecture, variant: variant) }

    /// Records a layer added on top: its uncompressed digest in `rootfs.diff_ids` and a history entry.
    public mutating func appendLayer(diffID: ContentDigest, history entry: HistoryEntry) {
        rootfs.diffIDs.append(diffID)
        history = (history ?? []) + [entry]
    }
}

/// The `config` member: how a container of the image starts. Field names are Docker's (capitalised).
public struct ContainerConfiguration: Sendable, Hashable {
    public var user: String?
    /// `port/protocol` keys, e.g. `8080/tcp`, in their original order.
    public var exposedPorts: [String]?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    /// Fields not modelled above (Volumes, Healthcheck, ArgsEscaped, OnBuild, Shell...), as they were.
    public var otherFields: [JSONMember]

    public init(
        user: String? = nil, exposedPorts: [String]? = nil, env: [String]? = nil, entrypoint: [String]? = nil,
        cmd: [String]? = nil, workingDir: String? = nil, labels: [String: String]? = nil, stopSignal: String? = nil,
        otherFields: [JSONMember] = []
    ) {
        self.user = user
        self.exposedPorts = exposedPorts
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.workingDir = workingDir
        self.labels = labels
        self.stopSignal = stopSignal
        self.otherFields = otherFields
    }

    private static let knownFields: Set = ["User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "WorkingDir", "Labels", "StopSignal"]

    init(_ fields: JSONFields) throws(ImageFormatError) {
        user = try fields.string("User")
        exposedPorts = try fields.keySet("ExposedPorts")
        env = try fields.stringArray("Env")
        entrypoint = try fields.stringArray("Entrypoint")
        cmd = try fields.stringArray("Cmd")
        workingDir = try fields.string("WorkingDir")
        labels = try fields.stringMap("Labels")
        stopSignal = try fields.string("StopSignal")
        otherFields = fields.unknownMembers(known: Self.knownFields)
    }

    var jsonValue: JSONValue {
        var object = JSONObjectBuilder()
        object.add("User", string: user)
        object.add("ExposedPorts", keySet: exposedPorts)
        object.add("Env", strings: env)
        object.add("Entrypoint", strings: entrypoint)
        object.add("Cmd", strings: cmd)
        object.add("WorkingDir", string: workingDir)
        object.add("Labels", map: labels)
        object.add("StopSignal", string: stopSignal)
        object.append(contentsOf: otherFields)
        return object.value
    }
}

/// One step of how the image was built. `emptyLayer` steps (ENV, CMD...) added no layer.
public struct HistoryEntry: Sendable, Hashable {
    public var created: String?
    public var createdBy: String?
    public var author: String?
    public var comment: String?
    public var emptyLayer: Bool?
    public var otherFields: [JSONMember]

    public init(
        created: String? = nil, createdBy: String? = nil, author: String? = nil, comment: String? = nil,
        emptyLayer: Bool? = nil, otherFields: [JSONMember] = []
    ) {
        self.created = created
        self.createdBy = createdBy
        self.author = author
        self.comment = comment
        self.emptyLayer = emptyLayer
        self.otherFields = otherFields
    }

    private static let knownFields: Set = ["created", "created_by", "author", "comment", "empty_layer"]

    init(_ fields: JSONFields) throws(ImageFormatError) {
        created = try fields.string("created")
        createdBy = try fields.string("created_by")
        author = try fields.string("author")
        comment = try fields.string("comment")
        emptyLayer = try fields.bool("empty_layer")
        otherFields = fields.unknownMembers(known: Self.knownFields)
    }

    var jsonValue: JSONValue {
        var object = JSONObjectBuilder()
        object.add("created", string: created)
        object.add("created_by", string: createdBy)
        object.add("author", string: author)
        object.add("comment", string: comment)
        object.add("empty_layer", emptyLayer.map(JSONValue.bool))
        object.append(contentsOf: otherFields)
        return object.value
    }
}

extension ImageConfiguration {
    /// `rootfs`: the uncompressed digests of the layers, bottom first.
    public struct RootFilesystem: Sendable, Hashable {
        /// Always `layers` in images that exist.
        public var type: String
        public var diffIDs: [ContentDigest]

        public init(type: String = "layers", diffIDs: [ContentDigest]) {
            self.type = type
            self.diffIDs = diffIDs
        }

        init(_ fields: JSONFields) throws(ImageFormatError) {
            type = try fields.requireString("type")
            guard type == "layers" else {
                throw .invalidValue(document: fields.document, field: "rootfs.type", value: type, expected: "'layers'")
            }
            guard let texts = try fields.stringArray("diff_ids") else {
                throw .missingField(document: fields.document, field: "rootfs.diff_ids")
            }
            var diffIDs: [ContentDigest] = []
            for text in texts { diffIDs.append(try ContentDigest(parsing: text)) }
            self.diffIDs = diffIDs
        }

        var jsonValue: JSONValue {
            .object([
                JSONMember(key: "type", value: .string(type)),
                JSONMember(key: "diff_ids", value: .array(diffIDs.map { .string($0.description) })),
            ])
        }
    }
}
