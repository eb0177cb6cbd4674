/// A bounds-checked little-endian cursor over a quote, producing parse errors that name the structure, the field and the
/// byte offset where the input ran out.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    /// Reads never go past this index, which lets a length-prefixed block be parsed in place.
    let limit: Int
    /// What the limit is, for messages ("the quote", "the signature data", ...).
    let limitName: String

    init(_ bytes: [UInt8], from offset: Int = 0, limit: Int? = nil, limitName: String = "the quote") {
        self.bytes = bytes
        self.offset = offset
        self.limit = limit ?? bytes.count
        self.limitName = limitName
    }

    var remaining: Int { limit - offset }

    /// Ensures `count` bytes are available for `field`, else reports how many were needed and how many were left.
    func require(_ count: Int, for field: String) throws(AttestationError) {
        guard count <= remaining else {
            throw AttestationError(
                check: .quoteStructure,
                found: "\(max(remaining, 0)) byte(s) left in \(limitName)",
                expected: "\(count) byte(s) for \(field)",
                hint: "The quote is truncated or a length field is wrong; obtain the complete quote from the quoting enclave again.",
                structure: field, offset: offset)
        }
    }

    /// Skips `count` bytes after checking they exist, returning the offset where they start.
    mutating func skip(_ count: Int, for field: String) throws(AttestationError) -> Int {
        try require(count, for: field)
        let start = offset
        offset += count
        return start
    }

    mutating func uint16(_ field: String) throws(AttestationError) -> UInt16 {
        try require(2, for: field)
        defer { offset += 2 }
        return bytes.uint16(at: offset)
    }

    mutating func uint32(_ field: String) throws(AttestationError) -> UInt32 {
        try require(4, for: field)
        defer { offset += 4 }
        return bytes.uint32(at: offset)
    }

    /// A length-prefixed block's length, capped like dcap-qvl caps it (1 MiB) so a corrupt length cannot allocate.
    mutating func length32(_ field: String) throws(AttestationError) -> Int {
        let start = offset
        let value = try uint32(field)
        try Self.checkCap(value, field: field, offset: start)
        return Int(value)
    }

    mutating func length16(_ field: String) throws(AttestationError) -> Int {
        Int(try uint16(field))
    }

    static let maximumLength = 1 << 20

    static func checkCap(_ value: UInt32, field: String, offset: Int) throws(AttestationError) {
        guard value <= maximumLength else {
            throw AttestationError(
                check: .quoteStructure, found: "length \(value)", expected: "at most \(maximumLength) bytes",
                hint: "The length field is corrupt; obtain the quote again.", structure: field, offset: offset)
        }
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    func uint16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    @inline(__always)
    func uint32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }

    @inline(__always)
    func uint64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(self[offset + index]) }
        return value
    }

    /// A zero-based copy of `count` bytes at `offset`.
    @inline(__always)
    func bytes(at offset: Int, count: Int) -> [UInt8] {
        Array(self[offset..<offset + count])
    }
}
