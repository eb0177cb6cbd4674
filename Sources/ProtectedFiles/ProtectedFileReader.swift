import Crypto
import Foundation

/// Reads a protected file with random access, authenticating only the nodes on the path to the bytes asked for: the
/// metadata node and root MHT node when opened, then for each data node the MHT nodes above it (cached) and the node
/// itself.
///
/// No plaintext leaves the reader before the node holding it has been authenticated, so a damaged or forged file gives
/// a `ProtectedFileError`, never wrong bytes. Opening checks, in Gramine's order, the header, the metadata MAC (the
/// key), the bound path, then what Gramine leaves implicit: that the file has exactly the nodes its size implies.
public struct ProtectedFileReader<Storage: ProtectedFileStorage> {
    public let storage: Storage
    public let metadata: ProtectedFileMetadata
    private let rootMHTNode: [UInt8]
    /// Decrypted MHT nodes by logical number. Parents are looked up once per 96 data nodes, so a small cache suffices.
    private var mhtNodes: [UInt64: [UInt8]] = [:]
    private static var mhtCacheLimit: Int { 256 }

    public var plainSize: UInt64 { metadata.plainSize }
    public var boundPath: String { metadata.boundPath }

    /// Opens `storage`; with `expectedPath` nil the path is not checked (as `pf-crypt decrypt` without `-V`).
    public init(storage: Storage, key: ProtectedFileKey, expectedPath: BoundPath?) throws(ProtectedFileError) {
        let size = storage.byteCount
        guard size > 0 else { throw .empty }
        guard size % UInt64(ProtectedFileLayout.nodeSize) == 0 else { throw .notNodeAligned(size: size) }
        var node = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
        try node.withMutableBytes { (buffer) throws(ProtectedFileError) in try storage.read(at: 0, into: buffer) }
        let header = try node.withBytes { (buffer) throws(ProtectedFileError) in
            try ProtectedFileHeader(metadataNode: buffer, onDiskSize: size)
        }
        let metadata = try ProtectedFileMetadata(header: header, key: key)
        if let expectedPath { try metadata.checkBinding(to: expectedPath) }
        try metadata.checkSize()
        if metadata.shape.dataNodeCount > 0 {
            try node.withMutableBytes { (buffer) throws(ProtectedFileError) in
                try storage.read(at: UInt64(ProtectedFileLayout.nodeSize), into: buffer)
            }
            rootMHTNode = try Self.decryptMHTNode(0, ciphertext: node, key: metadata.rootMHTKey, tag: metadata.rootMHTTag)
        } else {
            rootMHTNode = []
        }
        self.storage = storage
        self.metadata = metadata
    }

    /// `count` plaintext bytes from `offset`.
    public mutating func read(at offset: UInt64, count: Int) throws(ProtectedFileError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withMutableBytes { (buffer) throws(ProtectedFileError) in try read(at: offset, into: buffer) }
        return bytes
    }

    /// Fills `buffer` with the plaintext from `offset`; the whole range must lie within the plaintext.
    public mutating func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ProtectedFileError) {
        guard offset <= plainSize, UInt64(buffer.count) <= plainSize - offset else {
            throw .rangeOutOfBounds(offset: offset, count: buffer.count, plainSize: plainSize)
        }
        var written = 0
        var position = offset
        let metadataData = UInt64(ProtectedFileLayout.metadataDataSize)
        let nodeSize = UInt64(ProtectedFileLayout.nodeSize)
        if position < metadataData, written < buffer.count {
            let take = min(buffer.count, Int(metadataData - position))
            metadata.leadingData.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<take])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(position)..<(Int(position) + take)]))
            }
            written += take
            position += UInt64(take)
        }
        var ciphertext = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
        var plaintext = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
        while written < buffer.count {
            let dataNode = (position - metadataData) / nodeSize
            let withinNode = Int((position - metadataData) % nodeSize)
            try ciphertext.withMutableBytes { (node) throws(ProtectedFileError) in
                try storage.read(at: ProtectedFileShape.physicalNode(ofDataNode: dataNode) * nodeSize, into: node)
            }
            try decryptDataNode(dataNode, ciphertext: ciphertext, into: &plaintext)
            let take = min(buffer.count - written, ProtectedFileLayout.nodeSize - withinNode)
            plaintext.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[written..<(written + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[withinNode..<(withinNode + take)]))
            }
            written += take
            position += UInt64(take)
        }
    }

    /// Hands the whole plaintext to `body` in order, in chunks of up to 1 MiB, reading the file sequentially in
    /// large batches. Each chunk is authenticated before it is handed over; a failure part-way stops the walk with
    /// the error, after the chunks before it.
    public mutating func forEachChunk(_ body: (UnsafeRawBufferPointer) throws(ProtectedFileError) -> Void) throws(ProtectedFileError) {
        if !metadata.leadingData.isEmpty {
            try metadata.leadingData.withBytes { (chunk) throws(ProtectedFileError) in try body(chunk) }
        }
        let shape = metadata.shape
        guard shape.dataNodeCount > 0 else { return }
        let nodeSize = ProtectedFileLayout.nodeSize
        let batchNodes = 256
        var ciphertext = [UInt8](repeating: 0, count: batchNodes * nodeSize)
        var plaintext = [UInt8](repeating: 0, count: batchNodes * nodeSize)
        var physical: UInt64 = 2  // the root MHT node (node 1) was authenticated on open
        var remaining = plainSize - UInt64(ProtectedFileLayout.metadataDataSize)
        while physical < shape.nodeCount {
            let count = Int(min(UInt64(batchNodes), shape.nodeCount - physical))
            try ciphertext.withMutableBytes { (batch) throws(ProtectedFileError) in
                try storage.read(at: physical * UInt64(nodeSize), into: UnsafeMutableRawBufferPointer(rebasing: batch[0..<(count * nodeSize)]))
            }
            var produced = 0
            for index in 0..<count {
                let range = (index * nodeSize)..<((index + 1) * nodeSize)
                switch ProtectedFileShape.role(ofPhysicalNode: physical + UInt64(index)) {
                case .metadata:
                    break
                case .mht(let number):
                    let parent = try mhtNode(ProtectedFileShape.parent(ofMHTNode: number))
                    let entry = ProtectedFileShape.entryOffset(ofMHTNode: number)
                    let decrypted = try Self.decryptMHTNode(
                        number, ciphertext: ciphertext[range], key: parent[entry..<(entry + 16)], tag: parent[(entry + 16)..<(entry + 32)])
                    remember(number, decrypted)
                case .data(let dataNode):
                    let mht = try mhtNode(ProtectedFileShape.mhtNode(ofDataNode: dataNode))
                    try Self.decryptDataNode(dataNode, ciphertext: ciphertext[range], mhtNode: mht, into: &plaintext, at: produced * nodeSize)
                    produced += 1
                }
            }
            let usable = Int(min(remaining, UInt64(produced * nodeSize)))
            try plaintext.withBytes { (chunk) throws(ProtectedFileError) in
                try body(UnsafeRawBufferPointer(rebasing: chunk[0..<usable]))
            }
            remaining -= UInt64(usable)
            physical += UInt64(count)
        }
    }

    /// Authenticates every node of the file.
    public mutating func verify() throws(ProtectedFileError) {
        try forEachChunk { _ in }
    }

    // MARK: Nodes

    private mutating func mhtNode(_ number: UInt64) throws(ProtectedFileError) -> [UInt8] {
        if number == 0 { return rootMHTNode }
        if let cached = mhtNodes[number] { return cached }
        let parent = try mhtNode(ProtectedFileShape.parent(ofMHTNode: number))
        var ciphertext = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
        try ciphertext.withMutableBytes { (node) throws(ProtectedFileError) in
            try storage.read(at: ProtectedFileShape.physicalNode(ofMHTNode: number) * UInt64(ProtectedFileLayout.nodeSize), into: node)
        }
        let entry = ProtectedFileShape.entryOffset(ofMHTNode: number)
        let decrypted = try Self.decryptMHTNode(
            number, ciphertext: ciphertext[...], key: parent[entry..<(entry + 16)], tag: parent[(entry + 16)..<(entry + 32)])
        remember(number, decrypted)
        return decrypted
    }

    private mutating func remember(_ number: UInt64, _ node: [UInt8]) {
        if mhtNodes.count >= Self.mhtCacheLimit { mhtNodes.removeAll(keepingCapacity: true) }
        mhtNodes[number] = node
    }

    private mutating func decryptDataNode(_ dataNode: UInt64, ciphertext: [UInt8], into plaintext: inout [UInt8]) throws(ProtectedFileError) {
        let mht = try mhtNode(ProtectedFileShape.mhtNode(ofDataNode: dataNode))
        try Self.decryptDataNode(dataNode, ciphertext: ciphertext[...], mhtNode: mht, into: &plaintext, at: 0)
    }

    private static func decryptDataNode(
        _ dataNode: UInt64, ciphertext: ArraySlice<UInt8>, mhtNode: [UInt8], into plaintext: inout [UInt8], at offset: Int
    ) throws(ProtectedFileError) {
        let entry = ProtectedFileShape.entryOffset(ofDataNode: dataNode)
        let authentic = ciphertext.withUnsafeBytes { source in
            mhtNode.withUnsafeBytes { mht in
                plaintext.withUnsafeMutableBytes { target in
                    NodeCipher.open(
                        source, key: UnsafeRawBufferPointer(rebasing: mht[entry..<(entry + 16)]),
                        tag: UnsafeRawBufferPointer(rebasing: mht[(entry + 16)..<(entry + 32)]),
                        into: UnsafeMutableRawBufferPointer(rebasing: target[offset..<(offset + ProtectedFileLayout.nodeSize)]))
                }
            }
        }
        guard authentic else {
            throw .dataNodeAuthenticationFailed(
                dataNode: dataNode, physicalNode: ProtectedFileShape.physicalNode(ofDataNode: dataNode),
                plainOffset: ProtectedFileShape.plainOffset(ofDataNode: dataNode), expectedTag: Array(mhtNode[(entry + 16)..<(entry + 32)]))
        }
    }

    private static func decryptMHTNode(
        _ number: UInt64, ciphertext: some ContiguousBytes, key: some ContiguousBytes & Collection<UInt8>,
        tag: some ContiguousBytes & Collection<UInt8>
    ) throws(ProtectedFileError) -> [UInt8] {
        var plaintext = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
        let authentic = ciphertext.withUnsafeBytes { source in
            key.withUnsafeBytes { key in
                tag.withUnsafeBytes { tag in
                    plaintext.withUnsafeMutableBytes { NodeCipher.open(source, key: key, tag: tag, into: $0) }
                }
            }
        }
        guard authentic else {
            throw .mhtNodeAuthenticationFailed(
                mhtNode: number, physicalNode: ProtectedFileShape.physicalNode(ofMHTNode: number), expectedTag: Array(tag))
        }
        return plaintext
    }
}
