/// The fixed geometry of Gramine's protected-files format v2 (gramine.md §11.1, §11.2, §11.5).
///
/// A file is an array of 4096-byte nodes: node 0 holds the metadata (and the first 3072 bytes of plaintext), then each
/// Merkle-hash-tree (MHT) node is followed by the up to 96 data nodes it authenticates. Every number here was checked
/// against Gramine's `protected_files_format.h` and the reference vectors.
public enum ProtectedFileLayout {
    public static let nodeSize = 4096
    /// Plaintext bytes carried inside the metadata node (`MD_USER_DATA_SIZE`).
    public static let metadataDataSize = 3072
    /// `{key, tag}` slots for data nodes in one MHT node (`ATTACHED_DATA_NODES_COUNT`).
    public static let dataNodesPerMHTNode = 96
    /// `{key, tag}` slots for child MHT nodes in one MHT node (`CHILD_MHT_NODES_COUNT`).
    public static let childMHTNodesPerMHTNode = 32
    public static let keySize = 16
    public static let tagSize = 16
    public static let cryptoEntrySize = keySize + tagSize

    /// "GRAFS_PF" as the little-endian u64 `0x46505f5346415247`.
    public static let fileID: [UInt8] = Array("GRAFS_PF".utf8)
    public static let majorVersion: UInt8 = 2
    public static let minorVersion: UInt8 = 0
    /// v1 files lack the `feature_flags` byte; Gramine migrates them on open by shifting the encrypted part.
    public static let legacyMajorVersion: UInt8 = 1
    public static let pendingWriteFlag: UInt8 = 0x01

    // Metadata node, plaintext part (packed, little-endian).
    static let fileIDOffset = 0
    static let majorVersionOffset = 8
    static let minorVersionOffset = 9
    static let nonceOffset = 10
    static let nonceSize = 32
    static let metadataTagOffset = 42
    static let featureFlagsOffset = 58
    static let encryptedPartOffset = 59
    static let encryptedPartSize = 3884
    static let paddingOffset = encryptedPartOffset + encryptedPartSize  // 3943

    // `metadata_decrypted_t`, inside the encrypted part.
    /// 260 + 512 bytes, NUL-terminated: a bound path is at most 771 bytes.
    public static let pathFieldSize = 772
    static let plainSizeOffset = 772
    static let rootKeyOffset = 780
    static let rootTagOffset = 796
    static let fileDataOffset = 812

    static let mhtChildEntriesOffset = dataNodesPerMHTNode * cryptoEntrySize  // 3072
}

/// The tree a plaintext size implies: how many nodes of each kind, and where each sits in the file.
///
/// Gramine always leaves a file with exactly these nodes (sequential writes, extensions and truncations all end in the
/// same layout), so the on-disk size is a function of the plaintext size and anything else is damage.
public struct ProtectedFileShape: Sendable, Equatable, CustomStringConvertible {
    public let plainSize: UInt64

    public init(plainSize: UInt64) {
        self.plainSize = plainSize
    }

    public var dataNodeCount: UInt64 {
        let beyondMetadata = plainSize > UInt64(ProtectedFileLayout.metadataDataSize) ? plainSize - UInt64(ProtectedFileLayout.metadataDataSize) : 0
        return (beyondMetadata + UInt64(ProtectedFileLayout.nodeSize) - 1) / UInt64(ProtectedFileLayout.nodeSize)
    }

    public var mhtNodeCount: UInt64 {
        (dataNodeCount + UInt64(ProtectedFileLayout.dataNodesPerMHTNode) - 1) / UInt64(ProtectedFileLayout.dataNodesPerMHTNode)
    }

    public var nodeCount: UInt64 { 1 + dataNodeCount + mhtNodeCount }

    /// The size of the file on disk, or nil when it would not fit in a UInt64 (only a forged size can ask for that).
    public var onDiskSize: UInt64? {
        let (size, overflow) = nodeCount.multipliedReportingOverflow(by: UInt64(ProtectedFileLayout.nodeSize))
        return overflow ? nil : size
    }

    /// Levels of MHT nodes below and including the root (0 when the plaintext fits in the metadata node).
    public var mhtLevels: Int {
        guard mhtNodeCount > 0 else { return 0 }
        var levels = 1
        var index = mhtNodeCount - 1
        while index > 0 {
            index = Self.parent(ofMHTNode: index)
            levels += 1
        }
        return levels
    }

    public var description: String {
        "\(plainSize) B plaintext: 1 metadata node, \(mhtNodeCount) MHT node(s) in \(mhtLevels) level(s), \(dataNodeCount) data node(s)"
    }

    public static func physicalNode(ofDataNode dataNode: UInt64) -> UInt64 {
        dataNode + 2 + dataNode / UInt64(ProtectedFileLayout.dataNodesPerMHTNode)
    }

    public static func physicalNode(ofMHTNode mhtNode: UInt64) -> UInt64 {
        1 + mhtNode * UInt64(ProtectedFileLayout.dataNodesPerMHTNode + 1)
    }

    public static func mhtNode(ofDataNode dataNode: UInt64) -> UInt64 {
        dataNode / UInt64(ProtectedFileLayout.dataNodesPerMHTNode)
    }

    /// The parent of MHT node `mhtNode` (which must be at least 1: the root has none).
    public static func parent(ofMHTNode mhtNode: UInt64) -> UInt64 {
        (mhtNode - 1) / UInt64(ProtectedFileLayout.childMHTNodesPerMHTNode)
    }

    /// The byte offset of the `{key, tag}` entry for a node inside its parent MHT node's plaintext.
    static func entryOffset(ofDataNode dataNode: UInt64) -> Int {
        Int(dataNode % UInt64(ProtectedFileLayout.dataNodesPerMHTNode)) * ProtectedFileLayout.cryptoEntrySize
    }

    static func entryOffset(ofMHTNode mhtNode: UInt64) -> Int {
        ProtectedFileLayout.mhtChildEntriesOffset
            + Int((mhtNode - 1) % UInt64(ProtectedFileLayout.childMHTNodesPerMHTNode)) * ProtectedFileLayout.cryptoEntrySize
    }

    /// What a physical node number holds in this layout.
    static func role(ofPhysicalNode physical: UInt64) -> NodeRole {
        if physical == 0 { return .metadata }
        let group = (physical - 1) / UInt64(ProtectedFileLayout.dataNodesPerMHTNode + 1)
        let position = (physical - 1) % UInt64(ProtectedFileLayout.dataNodesPerMHTNode + 1)
        if position == 0 { return .mht(group) }
        return .data(group * UInt64(ProtectedFileLayout.dataNodesPerMHTNode) + position - 1)
    }

    /// The plaintext offset where data node `dataNode` starts.
    public static func plainOffset(ofDataNode dataNode: UInt64) -> UInt64 {
        UInt64(ProtectedFileLayout.metadataDataSize) + dataNode * UInt64(ProtectedFileLayout.nodeSize)
    }
}

enum NodeRole: Equatable {
    case metadata
    case mht(UInt64)
    case data(UInt64)
}
