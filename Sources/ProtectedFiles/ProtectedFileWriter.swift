import Crypto

/// Encrypts a plaintext stream into a new protected file, as Gramine's `pf-crypt encrypt` would: data nodes as they
/// fill, then at `finish()` the MHT nodes bottom-up (children before parents), the root, and last the metadata node.
///
/// Data nodes go to the sink as soon as they are sealed, in runs of up to 64 nodes. The MHT nodes stay in memory
/// until the end, since a node's own tag depends on all of its children: about 1% of the plaintext size (4 KiB per
/// 96 data nodes). Node keys and the metadata nonce come from `randomness`, drawn in this order: each data node's key
/// as it is sealed, then each MHT node's key from the last MHT node to the first (the root), then the 32-byte nonce.
public struct ProtectedFileWriter<Sink: ProtectedFileSink, Randomness: ProtectedFileRandomness> {
    public private(set) var sink: Sink
    private var randomness: Randomness
    private let key: ProtectedFileKey
    private let path: BoundPath
    private var plainSize: UInt64 = 0
    private var leadingData = [UInt8](repeating: 0, count: ProtectedFileLayout.metadataDataSize)
    private var partialNode = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
    private var partialNodeFill = 0
    private var dataNodesSealed: UInt64 = 0
    /// The plaintext of every MHT node by logical number: `{key, tag}` of its data nodes, then of its child MHT nodes.
    private var mhtNodes: [[UInt8]] = []
    private var pending: [UInt8]
    private var pendingFirstNode: UInt64 = 0
    private var pendingNodes = 0
    private var nodeKey = [UInt8](repeating: 0, count: ProtectedFileLayout.keySize)
    private static var pendingCapacity: Int { 64 }

    public init(sink: Sink, key: ProtectedFileKey, path: BoundPath, randomness: Randomness) {
        self.sink = sink
        self.key = key
        self.path = path
        self.randomness = randomness
        pending = [UInt8](repeating: 0, count: Self.pendingCapacity * ProtectedFileLayout.nodeSize)
    }

    public mutating func write(_ bytes: [UInt8]) throws(ProtectedFileError) {
        try bytes.withBytes { (buffer) throws(ProtectedFileError) in try write(buffer) }
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(ProtectedFileError) {
        var rest = bytes[...]
        let metadataData = ProtectedFileLayout.metadataDataSize
        let nodeSize = ProtectedFileLayout.nodeSize
        if plainSize < UInt64(metadataData), !rest.isEmpty {
            let start = Int(plainSize)
            let take = min(rest.count, metadataData - start)
            leadingData.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            }
            rest = rest.dropFirst(take)
            plainSize += UInt64(take)
        }
        while !rest.isEmpty {
            // Whole nodes are sealed straight from the caller's buffer.
            if partialNodeFill == 0, rest.count >= nodeSize {
                try sealDataNode(UnsafeRawBufferPointer(rebasing: rest.prefix(nodeSize)))
                rest = rest.dropFirst(nodeSize)
                plainSize += UInt64(nodeSize)
                continue
            }
            let take = min(rest.count, nodeSize - partialNodeFill)
            let fill = partialNodeFill
            partialNode.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[fill..<(fill + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            }
            partialNodeFill += take
            rest = rest.dropFirst(take)
            plainSize += UInt64(take)
            if partialNodeFill == nodeSize {
                try sealPartialNode()
            }
        }
    }

    /// Seals what is left and writes the MHT and metadata nodes: `sink` then holds the complete file. Mutating rather
    /// than consuming, so that a sink holding a buffer is never copied on its last writes.
    @discardableResult
    public mutating func finish() throws(ProtectedFileError) -> ProtectedFileSummary {
        if partialNodeFill > 0 {
            let fill = partialNodeFill
            // Gramine pads the last data node with zeros.
            partialNode.replaceSubrange(fill..., with: repeatElement(0, count: ProtectedFileLayout.nodeSize - fill))
            try sealPartialNode()
        }
        try flushPending()
        var rootKey = [UInt8](repeating: 0, count: ProtectedFileLayout.keySize)
        var rootTag = [UInt8](repeating: 0, count: ProtectedFileLayout.tagSize)
        if !mhtNodes.isEmpty {
            var ciphertext = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
            for number in stride(from: UInt64(mhtNodes.count - 1), through: 0, by: -1) {
                var key = [UInt8](repeating: 0, count: ProtectedFileLayout.keySize)
                var tag = [UInt8](repeating: 0, count: ProtectedFileLayout.tagSize)
                key.withUnsafeMutableBytes { randomness.fill($0) }
                mhtNodes[Int(number)].withUnsafeBytes { plaintext in
                    key.withUnsafeBytes { key in
                        ciphertext.withUnsafeMutableBytes { target in
                            tag.withUnsafeMutableBytes { NodeCipher.seal(plaintext, key: key, into: target, tag: $0) }
                        }
                    }
                }
                try ciphertext.withBytes { (bytes) throws(ProtectedFileError) in
                    try sink.write(bytes, at: ProtectedFileShape.physicalNode(ofMHTNode: number) * UInt64(ProtectedFileLayout.nodeSize))
                }
                if number == 0 {
                    rootKey = key
                    rootTag = tag
                } else {
                    let parent = Int(ProtectedFileShape.parent(ofMHTNode: number))
                    let entry = ProtectedFileShape.entryOffset(ofMHTNode: number)
                    mhtNodes[parent].replaceSubrange(entry..<(entry + 32), with: key + tag)
                }
            }
        }
        var nonce = [UInt8](repeating: 0, count: ProtectedFileLayout.nonceSize)
        nonce.withUnsafeMutableBytes { randomness.fill($0) }
        var plaintextSize = plainSize
        let sizeField = (0..<8).map { _ -> UInt8 in
            defer { plaintextSize >>= 8 }
            return UInt8(truncatingIfNeeded: plaintextSize)
        }
        let decrypted = path.field + sizeField + rootKey + rootTag + leadingData
        var encrypted = [UInt8](repeating: 0, count: ProtectedFileLayout.encryptedPartSize)
        var metadataTag = [UInt8](repeating: 0, count: ProtectedFileLayout.tagSize)
        let metadataKey = key.metadataKey(nonce: nonce)
        decrypted.withUnsafeBytes { plaintext in
            encrypted.withUnsafeMutableBytes { target in
                metadataTag.withUnsafeMutableBytes { NodeCipher.seal(plaintext, key: metadataKey, into: target, tag: $0) }
            }
        }
        let node =
            ProtectedFileLayout.fileID + [ProtectedFileLayout.majorVersion, ProtectedFileLayout.minorVersion] + nonce
            + metadataTag + [0] + encrypted
            + [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize - ProtectedFileLayout.paddingOffset)
        try node.withBytes { (bytes) throws(ProtectedFileError) in try sink.write(bytes, at: 0) }
        let shape = ProtectedFileShape(plainSize: plainSize)
        return ProtectedFileSummary(boundPath: path.normalized, shape: shape, metadataTag: metadataTag)
    }

    private mutating func sealPartialNode() throws(ProtectedFileError) {
        // The node buffer is moved out so that sealing can read it while `self` is mutated.
        let node = partialNode
        try node.withBytes { (bytes) throws(ProtectedFileError) in try sealDataNode(bytes) }
        partialNodeFill = 0
    }

    private mutating func sealDataNode(_ plaintext: UnsafeRawBufferPointer) throws(ProtectedFileError) {
        let dataNode = dataNodesSealed
        let mhtNode = Int(ProtectedFileShape.mhtNode(ofDataNode: dataNode))
        if mhtNode == mhtNodes.count {
            mhtNodes.append([UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize))
        }
        let physical = ProtectedFileShape.physicalNode(ofDataNode: dataNode)
        if pendingNodes == Self.pendingCapacity || (pendingNodes > 0 && physical != pendingFirstNode + UInt64(pendingNodes)) {
            try flushPending()
        }
        if pendingNodes == 0 { pendingFirstNode = physical }
        nodeKey.withUnsafeMutableBytes { randomness.fill($0) }
        let entry = ProtectedFileShape.entryOffset(ofDataNode: dataNode)
        let slot = pendingNodes * ProtectedFileLayout.nodeSize
        nodeKey.withUnsafeBytes { key in
            mhtNodes[mhtNode].withUnsafeMutableBytes { mht in
                UnsafeMutableRawBufferPointer(rebasing: mht[entry..<(entry + 16)]).copyMemory(from: key)
                pending.withUnsafeMutableBytes { target in
                    NodeCipher.seal(
                        plaintext, key: key,
                        into: UnsafeMutableRawBufferPointer(rebasing: target[slot..<(slot + ProtectedFileLayout.nodeSize)]),
                        tag: UnsafeMutableRawBufferPointer(rebasing: mht[(entry + 16)..<(entry + 32)]))
                }
            }
        }
        pendingNodes += 1
        dataNodesSealed += 1
    }

    private mutating func flushPending() throws(ProtectedFileError) {
        guard pendingNodes > 0 else { return }
        let count = pendingNodes * ProtectedFileLayout.nodeSize
        let offset = pendingFirstNode * UInt64(ProtectedFileLayout.nodeSize)
        let batch = pending
        try batch.withBytes { (bytes) throws(ProtectedFileError) in
            try sink.write(UnsafeRawBufferPointer(rebasing: bytes[0..<count]), at: offset)
        }
        pendingNodes = 0
    }
}

extension ProtectedFileWriter where Randomness == SystemRandomness {
    public init(sink: Sink, key: ProtectedFileKey, path: BoundPath) {
        self.init(sink: sink, key: key, path: path, randomness: SystemRandomness())
    }
}

/// What a finished write produced.
public struct ProtectedFileSummary: Sendable, Equatable {
    public let boundPath: String
    public let shape: ProtectedFileShape
    public let metadataTag: [UInt8]
}

/// Whole-buffer conveniences over the reader and writer.
public enum ProtectedFileCodec {
    public static func encrypt(_ plaintext: [UInt8], key: ProtectedFileKey, path: BoundPath) throws(ProtectedFileError) -> [UInt8] {
        try encrypt(plaintext, key: key, path: path, randomness: SystemRandomness())
    }

    public static func encrypt(
        _ plaintext: [UInt8], key: ProtectedFileKey, path: BoundPath, randomness: some ProtectedFileRandomness
    ) throws(ProtectedFileError) -> [UInt8] {
        var writer = ProtectedFileWriter(sink: ProtectedFileBytes(), key: key, path: path, randomness: randomness)
        try writer.write(plaintext)
        try writer.finish()
        return writer.sink.bytes
    }

    /// The pure entry point for untrusted input (and for fuzzing): the plaintext of `protectedFile` if, and only if,
    /// every node authenticates under `key` and the file is bound to `path` (unchecked when nil).
    public static func decrypt(_ protectedFile: [UInt8], key: ProtectedFileKey, path: BoundPath?) throws(ProtectedFileError) -> [UInt8] {
        var reader = try ProtectedFileReader(storage: ProtectedFileBytes(protectedFile), key: key, expectedPath: path)
        var plaintext = [UInt8]()
        plaintext.reserveCapacity(Int(clamping: min(reader.plainSize, UInt64(protectedFile.count))))
        try reader.forEachChunk { chunk in plaintext.append(contentsOf: chunk) }
        return plaintext
    }
}
