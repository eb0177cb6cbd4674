/// File-level operations: what the CLI and the directory helpers do to one file. Outputs go through
/// `AtomicOutputFile`, so a refused input leaves no output behind.
public enum ProtectedFileOperations {
    private static var chunkSize: Int { 1 << 20 }

    /// Encrypts the plaintext file at `plainPath` into a new protected file at `outputPath`, bound to `path`.
    @discardableResult
    public static func encryptFile(
        at plainPath: String, to outputPath: String, key: ProtectedFileKey, path: BoundPath
    ) throws(ProtectedFileError) -> ProtectedFileSummary {
        let input = try ReadOnlyFile(readingAt: plainPath)
        let output = try AtomicOutputFile(path: outputPath)
        var writer = ProtectedFileWriter(sink: output, key: key, path: path)
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var offset: UInt64 = 0
        while offset < input.byteCount {
            let count = Int(min(UInt64(chunkSize), input.byteCount - offset))
            try buffer.withMutableBytes { (chunk) throws(ProtectedFileError) in
                let slice = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<count])
                try input.read(at: offset, into: slice)
                try writer.write(UnsafeRawBufferPointer(slice))
            }
            offset += UInt64(count)
        }
        let summary = try writer.finish()
        try output.commit()
        return summary
    }

    /// Decrypts the protected file at `protectedPath` into `outputPath`, which appears only once every node has been
    /// authenticated.
    @discardableResult
    public static func decryptFile(
        at protectedPath: String, to outputPath: String, key: ProtectedFileKey, expectedPath: BoundPath?
    ) throws(ProtectedFileError) -> ProtectedFileMetadata {
        var reader = try ProtectedFileReader(storage: try ReadOnlyFile(readingAt: protectedPath), key: key, expectedPath: expectedPath)
        let output = try AtomicOutputFile(path: outputPath)
        var offset: UInt64 = 0
        try reader.forEachChunk { (chunk) throws(ProtectedFileError) in
            try output.write(chunk, at: offset)
            offset += UInt64(chunk.count)
        }
        try output.commit(permissions: 0o600)
        return reader.metadata
    }

    /// Authenticates every node of the protected file at `protectedPath`.
    @discardableResult
    public static func verifyFile(
        at protectedPath: String, key: ProtectedFileKey, expectedPath: BoundPath?
    ) throws(ProtectedFileError) -> ProtectedFileMetadata {
        var reader = try ProtectedFileReader(storage: try ReadOnlyFile(readingAt: protectedPath), key: key, expectedPath: expectedPath)
        try reader.verify()
        return reader.metadata
    }

    /// What the file reveals: its header always, its metadata too when `key` is given.
    public static func inspectFile(at protectedPath: String, key: ProtectedFileKey?) throws(ProtectedFileError) -> ProtectedFileInspection {
        let file = try ReadOnlyFile(readingAt: protectedPath)
        guard file.byteCount > 0 else { throw .empty }
        var node = [UInt8](repeating: 0, count: ProtectedFileLayout.nodeSize)
        if file.byteCount >= UInt64(ProtectedFileLayout.nodeSize) {
            try node.withMutableBytes { (buffer) throws(ProtectedFileError) in try file.read(at: 0, into: buffer) }
        }
        return try ProtectedFileInspection(metadataNode: node, onDiskSize: file.byteCount, key: key)
    }
}

/// The result of `inspect`.
public struct ProtectedFileInspection: Sendable, Equatable {
    public let header: ProtectedFileHeader
    /// Present when a key was given (and it opened the metadata).
    public let metadata: ProtectedFileMetadata?
    /// With a key: the size problem, if the file does not have exactly the nodes its plaintext size needs.
    public let sizeProblem: ProtectedFileError?

    public init(metadataNode: [UInt8], onDiskSize: UInt64, key: ProtectedFileKey?) throws(ProtectedFileError) {
        header = try metadataNode.withBytes { (node) throws(ProtectedFileError) in
            try ProtectedFileHeader(metadataNode: node, onDiskSize: onDiskSize)
        }
        guard let key else {
            metadata = nil
            sizeProblem = nil
            return
        }
        let metadata = try ProtectedFileMetadata(header: header, key: key)
        self.metadata = metadata
        do throws(ProtectedFileError) {
            try metadata.checkSize()
            sizeProblem = nil
        } catch {
            sizeProblem = error
        }
    }
}
