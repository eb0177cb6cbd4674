/// Why an image layer could not be read, written or applied: what was wrong, the value found against the value
/// expected, where it was (entry and byte offset, when known) and what to do about it.
///
/// One type for the whole layer pipeline (decompression, tar, flattening), so that the handlers that chain the stages
/// can throw it through each other.
public struct TarError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        // Tar structure.
        case badChecksum
        case badNumericField
        case badPAXRecord
        case metadataTooLarge
        case truncatedArchive
        case invalidName
        case unsupportedEntryType
        case malformedHeader
        // Tar writing.
        case contentSizeMismatch
        case writerMisuse
        case valueOutOfRange
        // Compression.
        case unsupportedCompression
        case corruptCompressedData
        case truncatedCompressedData
        // The flattened root filesystem.
        case escapesRoot
        case tooManySymbolicLinks
        case notADirectory
        case missingHardLinkTarget
        case notFound
        // Reading a file descriptor given to the writer.
        case inputFailed
    }

    public let kind: Kind
    /// What was wrong, in a short sentence.
    public let problem: String
    public let found: String
    public let expected: String
    /// The entry's path as written in the archive, or the path being resolved.
    public let entry: String?
    /// The offset in the uncompressed tar stream (or in the compressed stream, for compression errors).
    public let offset: UInt64?
    public let hint: String

    public init(
        _ kind: Kind, _ problem: String, found: String, expected: String,
        entry: String? = nil, offset: UInt64? = nil, hint: String
    ) {
        self.kind = kind
        self.problem = problem
        self.found = found
        self.expected = expected
        self.entry = entry
        self.offset = offset
        self.hint = hint
    }

    public var description: String {
        var locationParts: [String] = []
        if let entry { locationParts.append("entry \"\(entry)\"") }
        if let offset { locationParts.append("byte offset \(offset)") }
        let location = locationParts.isEmpty ? "" : " (" + locationParts.joined(separator: ", ") + ")"
        return "\(problem)\(location): found \(found), expected \(expected). Hint: \(hint)"
    }
}
