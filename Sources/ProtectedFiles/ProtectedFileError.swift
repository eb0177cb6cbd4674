import Hexadecimal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a protected file was refused or could not be read or written. Every case names the node or byte that failed,
/// and `hint` says what most likely happened.
public enum ProtectedFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file holds no bytes at all.
    case empty
    /// The file size is not a whole number of 4096-byte nodes.
    case notNodeAligned(size: UInt64)
    /// The first 8 bytes are not `GRAFS_PF`.
    case notProtectedFile(foundFileID: [UInt8])
    case unsupportedVersion(major: UInt8, minor: UInt8)
    /// `HAS_PENDING_WRITE` is set: Gramine was interrupted in the middle of a flush.
    case pendingWrite
    case unknownFeatureFlags(UInt8)
    /// A byte of the 153-byte metadata padding is not zero. Gramine neither writes nor authenticates these bytes.
    case metadataPaddingAltered(offset: Int, found: UInt8)
    /// The metadata node failed AES-GCM authentication under the key derived from the given key and stored nonce.
    case metadataAuthenticationFailed(storedTag: [UInt8])
    /// The authenticated `file_path` field has no terminating NUL (only a forger holding the key can write that).
    case malformedPathField
    case pathMismatch(bound: String, expected: String)
    /// The file has more or fewer nodes than its authenticated plaintext size implies.
    case sizeMismatch(onDisk: UInt64, expected: UInt64?, plainSize: UInt64)
    case mhtNodeAuthenticationFailed(mhtNode: UInt64, physicalNode: UInt64, expectedTag: [UInt8])
    case dataNodeAuthenticationFailed(dataNode: UInt64, physicalNode: UInt64, plainOffset: UInt64, expectedTag: [UInt8])
    case rangeOutOfBounds(offset: UInt64, count: Int, plainSize: UInt64)
    /// A system call on the underlying file failed.
    case io(operation: String, path: String, code: Int32)

    public var description: String {
        switch self {
        case .empty:
            return "the file is empty; a protected file has at least its 4096-byte metadata node"
        case .notNodeAligned(let size):
            return "the file is \(size) bytes, not a multiple of 4096 (\(size % 4096) bytes past the last whole node)"
        case .notProtectedFile(let found):
            return "bytes 0..<8 are \(found.hexadecimal), expected \(ProtectedFileLayout.fileID.hexadecimal) (\"GRAFS_PF\")"
        case .unsupportedVersion(let major, let minor):
            return "format version \(major).\(minor), expected \(ProtectedFileLayout.majorVersion).\(ProtectedFileLayout.minorVersion) (or 1.0)"
        case .pendingWrite:
            return "the metadata has HAS_PENDING_WRITE set (byte 58 = 0x01): a Gramine flush was interrupted"
        case .unknownFeatureFlags(let flags):
            return "feature_flags (byte 58) is 0x\([flags].hexadecimal), expected 0x00"
        case .metadataPaddingAltered(let offset, let found):
            return "metadata padding byte \(offset) is 0x\([found].hexadecimal), expected 0x00"
        case .metadataAuthenticationFailed(let tag):
            return "the metadata node (node 0) failed authentication: MAC mismatch against stored tag \(tag.hexadecimal)"
        case .malformedPathField:
            return "the authenticated file_path field (772 bytes) has no terminating NUL"
        case .pathMismatch(let bound, let expected):
            return "the file is bound to path '\(bound)', expected '\(expected)'"
        case .sizeMismatch(let onDisk, let expected, let plainSize):
            let expectation = expected.map { "\($0) bytes (\($0 / 4096) nodes)" } ?? "more than 2^64 bytes"
            return "the file is \(onDisk) bytes (\(onDisk / 4096) nodes); its authenticated plaintext size \(plainSize) needs \(expectation)"
        case .mhtNodeAuthenticationFailed(let mhtNode, let physicalNode, let tag):
            return
                "MHT node \(mhtNode) (node \(physicalNode), bytes \(physicalNode * 4096)..<\((physicalNode + 1) * 4096)) failed authentication: MAC mismatch against tag \(tag.hexadecimal) from its parent"
        case .dataNodeAuthenticationFailed(let dataNode, let physicalNode, let plainOffset, let tag):
            return
                "data node \(dataNode) (node \(physicalNode), bytes \(physicalNode * 4096)..<\((physicalNode + 1) * 4096), plaintext from offset \(plainOffset)) failed authentication: MAC mismatch against tag \(tag.hexadecimal) from its MHT node"
        case .rangeOutOfBounds(let offset, let count, let plainSize):
            return "cannot read \(count) bytes at offset \(offset): the plaintext is \(plainSize) bytes"
        case .io(let operation, let path, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    public var hint: String {
        switch self {
        case .empty, .notProtectedFile:
            return "this is not a Gramine encrypted file (was it encrypted at all, or given in place of its plaintext?)"
        case .notNodeAligned, .sizeMismatch:
            return "the file was truncated or extended (an interrupted copy or download, or bytes appended); restore it from the original"
        case .unsupportedVersion:
            return "the file was written by a Gramine with another protected-files format, or its header was altered"
        case .pendingWrite:
            return "Gramine can finish the write from its recovery file (mount with enable_recovery = true); copy the file again if there is none"
        case .unknownFeatureFlags, .metadataPaddingAltered:
            return "the metadata node was altered: Gramine never writes this value"
        case .metadataAuthenticationFailed:
            return "the key is not the one the file was written with, or the metadata node (bytes 0..<3943) was altered"
        case .malformedPathField:
            return "the file was written by a broken tool holding the key; re-encrypt it"
        case .pathMismatch(let bound, _):
            return
                "the file was renamed or moved: it is bound to \(bound); put it back at that path (or mount it so that Gramine opens it there), or re-encrypt it for the new path"
        case .mhtNodeAuthenticationFailed, .dataNodeAuthenticationFailed:
            return "the node was altered, swapped with another node, or taken from another file or an older version of this one"
        case .rangeOutOfBounds:
            return "read within the plaintext size"
        case .io:
            return "check that the path exists and is readable (or writable for output)"
        }
    }
}
