import Crypto
import Hexadecimal

/// The plaintext part of the metadata node: everything the format reveals without the key (gramine.md §11.2).
///
/// In the clear are bytes 0..<59: `file_id` (0..<8), `major_version` (8), `minor_version` (9), `metadata_key_nonce`
/// (10..<42), `metadata_mac` (42..<58, the GCM tag over the encrypted part: the root MAC that authenticates the whole
/// file) and `feature_flags` (58), plus the file's size on disk, hence its node count and a 4096-byte range for the
/// plaintext size. The path, the exact plaintext size, the root MHT key and tag and the first 3072 bytes of plaintext
/// are all inside the 3884-byte encrypted part.
public struct ProtectedFileHeader: Sendable, Equatable {
    public let majorVersion: UInt8
    public let minorVersion: UInt8
    public let metadataKeyNonce: [UInt8]
    /// The tag over the encrypted metadata, which holds the root MHT node's tag: it authenticates the entire file.
    public let metadataTag: [UInt8]
    public let featureFlags: UInt8
    public let onDiskSize: UInt64
    /// The encrypted part (3884 bytes), moved to its v2 position for a v1 file as Gramine does when it opens one.
    let encryptedPart: [UInt8]

    public var nodeCount: UInt64 { onDiskSize / UInt64(ProtectedFileLayout.nodeSize) }

    /// Parses and checks the metadata node (the file's first 4096 bytes) of a file of `onDiskSize` bytes.
    ///
    /// Beyond what Gramine checks, this refuses what Gramine never writes (non-zero padding, unknown flags, another
    /// minor version), so that no byte of the file can change unnoticed.
    public init(metadataNode node: UnsafeRawBufferPointer, onDiskSize: UInt64) throws(ProtectedFileError) {
        guard onDiskSize > 0 else { throw .empty }
        guard onDiskSize % UInt64(ProtectedFileLayout.nodeSize) == 0, node.count == ProtectedFileLayout.nodeSize else {
            throw .notNodeAligned(size: onDiskSize)
        }
        let fileID = Array(node[0..<8])
        guard fileID == ProtectedFileLayout.fileID else { throw .notProtectedFile(foundFileID: fileID) }
        let major = node[ProtectedFileLayout.majorVersionOffset]
        let minor = node[ProtectedFileLayout.minorVersionOffset]
        let encryptedOffset: Int
        switch (major, minor) {
        case (ProtectedFileLayout.majorVersion, ProtectedFileLayout.minorVersion):
            encryptedOffset = ProtectedFileLayout.encryptedPartOffset
            featureFlags = node[ProtectedFileLayout.featureFlagsOffset]
        case (ProtectedFileLayout.legacyMajorVersion, 0):
            encryptedOffset = ProtectedFileLayout.featureFlagsOffset
            featureFlags = 0
        default:
            throw .unsupportedVersion(major: major, minor: minor)
        }
        if featureFlags & ProtectedFileLayout.pendingWriteFlag != 0 { throw .pendingWrite }
        guard featureFlags == 0 else { throw .unknownFeatureFlags(featureFlags) }
        let paddingStart = encryptedOffset + ProtectedFileLayout.encryptedPartSize
        if let offset = (paddingStart..<ProtectedFileLayout.nodeSize).first(where: { node[$0] != 0 }) {
            throw .metadataPaddingAltered(offset: offset, found: node[offset])
        }
        majorVersion = major
        minorVersion = minor
        metadataKeyNonce = Array(node[ProtectedFileLayout.nonceOffset..<(ProtectedFileLayout.nonceOffset + ProtectedFileLayout.nonceSize)])
        metadataTag = Array(node[ProtectedFileLayout.metadataTagOffset..<(ProtectedFileLayout.metadataTagOffset + ProtectedFileLayout.tagSize)])
        encryptedPart = Array(node[encryptedOffset..<paddingStart])
        self.onDiskSize = onDiskSize
    }

    /// The plaintext sizes whose tree has exactly this file's node count, or nil when none has.
    public var plainSizeRange: ClosedRange<UInt64>? { ProtectedFileShape.plainSizeRange(nodeCount: nodeCount) }
}

/// The decrypted metadata: what the key reveals on top of the header.
public struct ProtectedFileMetadata: Sendable, Equatable {
    public let header: ProtectedFileHeader
    /// The `file_path` field up to its NUL: the path the file is bound to.
    public let boundPath: String
    public let plainSize: UInt64
    public let rootMHTKey: [UInt8]
    public let rootMHTTag: [UInt8]
    /// The first `min(plainSize, 3072)` bytes of plaintext.
    let leadingData: [UInt8]

    public var shape: ProtectedFileShape { ProtectedFileShape(plainSize: plainSize) }

    /// Authenticates and decrypts the metadata with the key derived from `key` and the stored nonce.
    public init(header: ProtectedFileHeader, key: ProtectedFileKey) throws(ProtectedFileError) {
        let metadataKey = key.metadataKey(nonce: header.metadataKeyNonce)
        var decrypted = [UInt8](repeating: 0, count: ProtectedFileLayout.encryptedPartSize)
        let authentic = header.encryptedPart.withUnsafeBytes { ciphertext in
            header.metadataTag.withUnsafeBytes { tag in
                decrypted.withUnsafeMutableBytes { NodeCipher.open(ciphertext, key: metadataKey, tag: tag, into: $0) }
            }
        }
        guard authentic else { throw .metadataAuthenticationFailed(storedTag: header.metadataTag) }
        guard let pathEnd = decrypted[0..<ProtectedFileLayout.pathFieldSize].firstIndex(of: 0) else { throw .malformedPathField }
        self.header = header
        boundPath = String(decoding: decrypted[0..<pathEnd], as: UTF8.self)
        plainSize = decrypted[ProtectedFileLayout.plainSizeOffset..<(ProtectedFileLayout.plainSizeOffset + 8)]
            .reversed().reduce(0) { $0 << 8 | UInt64($1) }
        rootMHTKey = Array(decrypted[ProtectedFileLayout.rootKeyOffset..<(ProtectedFileLayout.rootKeyOffset + 16)])
        rootMHTTag = Array(decrypted[ProtectedFileLayout.rootTagOffset..<(ProtectedFileLayout.rootTagOffset + 16)])
        let leading = Int(min(plainSize, UInt64(ProtectedFileLayout.metadataDataSize)))
        leadingData = Array(decrypted[ProtectedFileLayout.fileDataOffset..<(ProtectedFileLayout.fileDataOffset + leading)])
    }

    /// The path check of Gramine's `pf_open`: the stored path must equal the normalised path the file is opened
    /// under, in length and in every byte.
    public func checkBinding(to expected: BoundPath) throws(ProtectedFileError) {
        guard Array(boundPath.utf8) == Array(expected.normalized.utf8) else {
            throw .pathMismatch(bound: boundPath, expected: expected.normalized)
        }
    }

    /// The tree the plaintext size implies must be exactly the file on disk.
    public func checkSize() throws(ProtectedFileError) {
        guard let expected = shape.onDiskSize, expected == header.onDiskSize else {
            throw .sizeMismatch(onDisk: header.onDiskSize, expected: shape.onDiskSize, plainSize: plainSize)
        }
    }
}

extension ProtectedFileShape {
    /// Inverts `nodeCount`: the range of plaintext sizes with that many nodes, or nil if no size has.
    public static func plainSizeRange(nodeCount: UInt64) -> ClosedRange<UInt64>? {
        if nodeCount == 1 { return 0...UInt64(ProtectedFileLayout.metadataDataSize) }
        guard nodeCount >= 3 else { return nil }
        // nodeCount = 1 + D + ceil(D / 96); every 97 nodes past the metadata hold 96 data nodes.
        let beyondMetadata = nodeCount - 1
        let groups = beyondMetadata / 97
        let remainder = beyondMetadata % 97
        guard remainder != 1 else { return nil }
        let dataNodes = groups * 96 + (remainder == 0 ? 0 : remainder - 1)
        let metadataData = UInt64(ProtectedFileLayout.metadataDataSize)
        let nodeSize = UInt64(ProtectedFileLayout.nodeSize)
        let (upper, overflow) = dataNodes.multipliedReportingOverflow(by: nodeSize)
        guard !overflow, upper <= UInt64.max - metadataData else { return nil }
        return (metadataData + (dataNodes - 1) * nodeSize + 1)...(metadataData + upper)
    }
}
