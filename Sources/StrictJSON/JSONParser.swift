/// A strict RFC 8259 parser (what Go's `json.Valid` accepts) that never recurses, so hostile nesting cannot exhaust
/// the stack, and that refuses nesting deeper than `maximumDepth` before building it.
///
/// The text must be UTF-8 (RFC 8259 §8.1): unlike Go, which turns invalid bytes into U+FFFD and so lets a document
/// that is signed byte for byte mean something else once decoded, the first invalid byte is refused with its offset.
/// A lone surrogate written as a `\u` escape becomes U+FFFD, as in Go.
public enum JSONParser {
    /// Real documents (manifests, Intel collateral) nest fewer than ten levels; anything far deeper is an attack or a
    /// mistake.
    public static let defaultMaximumDepth = 512

    /// Parses one complete JSON text (surrounding whitespace allowed).
    public static func parse(_ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) throws(JSONSyntaxError) -> JSONValue {
        var reader = JSONReader(bytes: bytes, maximumDepth: maximumDepth, recordsTopLevelRanges: false)
        return try reader.document()
    }

    /// Parses a JSON text that must be an object, and gives each of its members with the byte range of the member's
    /// value in `bytes`: signed JSON (Intel's TCB Info and QE Identity responses) is signed over those exact bytes.
    public static func parseObjectMembers(
        _ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONSyntaxError) -> [JSONRangedMember] {
        var reader = JSONReader(bytes: bytes, maximumDepth: maximumDepth, recordsTopLevelRanges: true)
        reader.skipWhitespace()
        guard reader.peek(UInt8(ascii: "{")) else { throw reader.failure("expected a JSON object") }
        guard case .object(let members) = try reader.document() else { throw reader.failure("expected a JSON object") }
        return zip(members, reader.topLevelRanges).map { JSONRangedMember(key: $0.key, value: $0.value, valueRange: $1) }
    }
}

/// A member of an object with the range of bytes its value was read from.
public struct JSONRangedMember: Sendable, Hashable {
    public let key: String
    public let value: JSONValue
    public let valueRange: Range<Int>
}

private struct JSONReader {
    /// A bounds-checked array, not a raw buffer: the input is untrusted (manifests, collateral from the network).
    let bytes: [UInt8]
    let maximumDepth: Int
    let recordsTopLevelRanges: Bool
    private(set) var index = 0
    /// With `recordsTopLevelRanges`, the range of each value directly inside the outermost container.
    private(set) var topLevelRanges: [Range<Int>] = []

    init(bytes: [UInt8], maximumDepth: Int, recordsTopLevelRanges: Bool) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
        self.recordsTopLevelRanges = recordsTopLevelRanges
    }

    /// An open container and what it holds so far. Frames are changed in place on the stack, so that appending
    /// never copies a container's array.
    private struct Frame {
        let isObject: Bool
        let start: Int
        var elements: [JSONValue] = []
        /// An object's members; the last one's value is a placeholder until its value is read.
        var members: [JSONMember] = []
    }

    mutating func document() throws(JSONSyntaxError) -> JSONValue {
        if let invalid = UTF8Validation.firstInvalidOffset(in: bytes) {
            index = invalid
            throw failure(
                "byte \(describe(bytes[invalid])) at offset \(invalid) is not valid UTF-8; JSON text must be UTF-8 "
                    + "(RFC 8259), so save the document as UTF-8")
        }
        var frames: [Frame] = []
        var completed: JSONValue?
        var valueStart = 0
        parsing: while true {
            // Read one value; containers push a frame and continue with their first element.
            skipWhitespace()
            valueStart = index
            guard index < bytes.count else { throw failure("unexpected end of input; a value is missing") }
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = bytes[index] == UInt8(ascii: "{")
                guard frames.count < maximumDepth else { throw failure("nesting deeper than \(maximumDepth) levels") }
                index += 1
                skipWhitespace()
                if peek(isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    index += 1
                    completed = isObject ? .object([]) : .array([])
                } else {
                    var frame = Frame(isObject: isObject, start: valueStart)
                    if isObject { frame.members.append(JSONMember(key: try key(), value: .null)) }
                    frames.append(frame)
                    continue parsing
                }
            default:
                completed = try scalar()
            }
            // Attach the completed value to its parent, closing as many containers as the input closes.
            while var frame = frames.popLast() {
                if recordsTopLevelRanges, frames.isEmpty { topLevelRanges.append(valueStart..<index) }
                // `take()` moves the value into its container instead of copying it.
                let value = completed.take()!
                if frame.isObject {
                    frame.members[frame.members.count - 1].value = value
                } else {
                    frame.elements.append(value)
                }
                skipWhitespace()
                if peek(UInt8(ascii: ",")) {
                    index += 1
                    if frame.isObject {
                        skipWhitespace()
                        frame.members.append(JSONMember(key: try key(), value: .null))
                    }
                    frames.append(frame)
                    continue parsing
                }
                if frame.isObject {
                    guard peek(UInt8(ascii: "}")) else { throw unclosed("object", expected: "',' or '}' after an object member") }
                    completed = .object(frame.members)
                } else {
                    guard peek(UInt8(ascii: "]")) else { throw unclosed("array", expected: "',' or ']' after an array element") }
                    completed = .array(frame.elements)
                }
                index += 1
                valueStart = frame.start
            }
            break parsing
        }
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected text after the JSON value") }
        return completed!
    }

    /// Reads `"key"` and the `:` after it.
    private mutating func key() throws(JSONSyntaxError) -> String {
        guard peek(UInt8(ascii: "\"")) else { throw failure("expected a quoted object key") }
        let key = try string()
        skipWhitespace()
        guard peek(UInt8(ascii: ":")) else { throw failure("expected ':' after the object key \"\(key)\"") }
        index += 1
        return key
    }

    private mutating func scalar() throws(JSONSyntaxError) -> JSONValue {
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw failure("unexpected character \(describe(bytes[index])); expected a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count, (0..<count).allSatisfy({ bytes[index + $0] == word.utf8Start[$0] }) else {
            throw failure("invalid literal; expected '\(word)'")
        }
        index += count
    }

    private mutating func number() throws(JSONSyntaxError) -> String {
        let start = index
        if peek(UInt8(ascii: "-")) { index += 1 }
        guard peekDigit() else { throw failure("a number needs digits") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if peek(UInt8(ascii: ".")) {
            index += 1
            guard peekDigit() else { throw failure("a decimal point must be followed by digits") }
            skipDigits()
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            index += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { index += 1 }
            guard peekDigit() else { throw failure("an exponent needs digits") }
            skipDigits()
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Reads a string starting at its opening quote.
    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1
        var segmentStart = index
        // Most strings hold no escape: they decode straight from the input.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
            index += 1
        }
        if peek(UInt8(ascii: "\"")) {
            defer { index += 1 }
            return String(decoding: bytes[segmentStart..<index], as: UTF8.self)
        }
        var decoded: [UInt8] = []
        while true {
            guard index < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                decoded.append(contentsOf: bytes[segmentStart..<index])
                index += 1
                return String(decoding: decoded, as: UTF8.self)
            }
            if byte < 0x20 {
                throw failure("control character \(describe(byte)) inside a string; escape it (for a newline write \\n)")
            }
            if byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            decoded.append(contentsOf: bytes[segmentStart..<index])
            index += 1
            guard index < bytes.count else { throw failure("unterminated escape sequence") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var codeUnit = try hexQuad()
                if (0xD800...0xDBFF).contains(codeUnit), index + 1 < bytes.count,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                {
                    let saved = index
                    index += 2
                    let low = try hexQuad()
                    if (0xDC00...0xDFFF).contains(low) {
                        codeUnit = 0x10000 + ((codeUnit - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        index = saved
                    }
                }
                decoded.append(contentsOf: String(Unicode.Scalar(codeUnit) ?? "\u{FFFD}").utf8)
            default:
                throw failure("invalid escape sequence '\\\(describe(escape))'")
            }
            segmentStart = index
        }
    }

    private mutating func hexQuad() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("\\u must be followed by four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("\\u must be followed by four hex digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while peekDigit() { index += 1 }
    }

    func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

    private func peekDigit() -> Bool {
        index < bytes.count && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9")
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "0x" + String(byte, radix: 16, uppercase: true)
    }

    private func unclosed(_ container: String, expected: String) -> JSONSyntaxError {
        failure(index < bytes.count ? "expected \(expected)" : "unexpected end of input; the \(container) is not closed")
    }

    func failure(_ message: String) -> JSONSyntaxError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(index, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONSyntaxError(offset: index, line: line, column: column, message: message)
    }
}
