/// The fixed layout of a 512-byte tar header (ustar, with GNU's and v7's variants), and the number and string
/// encodings of its fields.
enum TarHeaderBlock {
    static let size = 512

    struct Field: Sendable {
        let name: String
        let offset: Int
        let length: Int
        var range: Range<Int> { offset..<(offset + length) }
    }

    static let name = Field(name: "name", offset: 0, length: 100)
    static let mode = Field(name: "mode", offset: 100, length: 8)
    static let uid = Field(name: "uid", offset: 108, length: 8)
    static let gid = Field(name: "gid", offset: 116, length: 8)
    static let contentSize = Field(name: "size", offset: 124, length: 12)
    static let modificationTime = Field(name: "mtime", offset: 136, length: 12)
    static let checksum = Field(name: "chksum", offset: 148, length: 8)
    static let typeFlagOffset = 156
    static let linkName = Field(name: "linkname", offset: 157, length: 100)
    static let magic = Field(name: "magic", offset: 257, length: 6)
    static let version = Field(name: "version", offset: 263, length: 2)
    static let userName = Field(name: "uname", offset: 265, length: 32)
    static let groupName = Field(name: "gname", offset: 297, length: 32)
    static let deviceMajor = Field(name: "devmajor", offset: 329, length: 8)
    static let deviceMinor = Field(name: "devminor", offset: 337, length: 8)
    static let prefix = Field(name: "prefix", offset: 345, length: 155)

    enum Format {
        /// POSIX ustar (`ustar\0` `00`): has the prefix field.
        case ustar
        /// GNU (`ustar ` ` \0`): the prefix's bytes hold access and change times instead.
        case gnu
        /// Unix v7: no magic, no user or group names.
        case v7
    }

    static func format(of block: UnsafeRawBufferPointer) -> Format {
        let magicBytes = Array(block[magic.range])
        if magicBytes == Array("ustar\0".utf8) { return .ustar }
        if magicBytes == Array("ustar ".utf8) { return .gnu }
        return .v7
    }

    static func isZero(_ block: UnsafeRawBufferPointer) -> Bool {
        // Eight bytes at a time: the end-of-archive check runs on every header.
        var combined: UInt64 = 0
        var index = 0
        while index + 8 <= block.count {
            combined |= block.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < block.count {
            combined |= UInt64(block[index])
            index += 1
        }
        return combined == 0
    }

    /// The sums the checksum field may hold: bytes taken as unsigned (the standard) and as signed (old Sun and BSD tars),
    /// with the checksum field itself counted as spaces.
    static func checksums(of block: UnsafeRawBufferPointer) -> (unsigned: Int64, signed: Int64) {
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for index in 0..<size {
            let byte = checksum.range.contains(index) ? UInt8(ascii: " ") : block[index]
            unsigned += Int64(byte)
            signed += Int64(Int8(bitPattern: byte))
        }
        return (unsigned, signed)
    }

    /// The bytes of a NUL-terminated (or field-filling) string field.
    static func stringBytes(_ block: UnsafeRawBufferPointer, _ field: Field) -> UnsafeRawBufferPointer.SubSequence {
        let bytes = block[field.range]
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return bytes[bytes.startIndex..<end]
    }

    enum NumberError: Error {
        case invalidCharacter(UInt8)
        case overflow
    }

    /// Parses an octal field (leading spaces, then digits, ended by a space or NUL) or a GNU base-256 field (first byte
    /// with the high bit set; two's complement, so `0xFF` starts a negative number). All arithmetic is checked: header
    /// numbers are attacker-controlled.
    static func number(_ block: UnsafeRawBufferPointer, _ field: Field) throws(NumberError) -> Int64 {
        let bytes = block[field.range]
        guard let first = bytes.first else { return 0 }
        if first & 0x80 != 0 { return try base256(bytes) }
        var value: Int64 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") { index += 1 }
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 0 || byte == UInt8(ascii: " ") { break }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { throw .invalidCharacter(byte) }
            let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: 8)
            let (sum, sumOverflow) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !shiftOverflow, !sumOverflow else { throw .overflow }
            value = sum
            index += 1
        }
        // After the terminator only spaces and NULs may follow.
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == 0 || byte == UInt8(ascii: " ") else { throw .invalidCharacter(byte) }
            index += 1
        }
        return value
    }

    private static func base256(_ bytes: UnsafeRawBufferPointer.SubSequence) throws(NumberError) -> Int64 {
        let isNegative = bytes[bytes.startIndex] & 0x40 != 0
        // Inverting a negative two's complement number gives -value - 1 as a positive magnitude.
        let inversion: UInt8 = isNegative ? 0xFF : 0x00
        var magnitude: UInt64 = 0
        for (position, byte) in bytes.enumerated() {
            var digit = byte ^ inversion
            if position == 0 { digit &= 0x7F }
            guard magnitude >> 56 == 0 else { throw .overflow }
            magnitude = magnitude << 8 | UInt64(digit)
        }
        guard magnitude >> 63 == 0 else { throw .overflow }
        return isNegative ? ~Int64(magnitude) : Int64(magnitude)
    }

    /// The largest value `field` can hold in octal with its terminating NUL.
    static func octalLimit(_ field: Field) -> Int64 {
        (Int64(1) << (3 * (field.length - 1))) - 1
    }

    /// Writes `value` (which must be within ``octalLimit(_:)``) as zero-padded octal ended by NUL.
    static func writeOctal(_ value: Int64, _ field: Field, into block: inout [UInt8]) {
        var remaining = value
        var position = field.offset + field.length - 2
        while position >= field.offset {
            block[position] = UInt8(ascii: "0") + UInt8(remaining & 7)
            remaining >>= 3
            position -= 1
        }
        block[field.offset + field.length - 1] = 0
    }

    static func writeBytes<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ field: Field, into block: inout [UInt8]) {
        for (position, byte) in zip(field.range, bytes) { block[position] = byte }
    }

    /// Fills the checksum field: six octal digits, NUL, space (what GNU tar writes).
    static func writeChecksum(into block: inout [UInt8]) {
        let sum = block.withUnsafeBytes { checksums(of: $0).unsigned }
        var remaining = sum
        for position in stride(from: checksum.offset + 5, through: checksum.offset, by: -1) {
            block[position] = UInt8(ascii: "0") + UInt8(remaining & 7)
            remaining >>= 3
        }
        block[checksum.offset + 6] = 0
        block[checksum.offset + 7] = UInt8(ascii: " ")
    }
}
