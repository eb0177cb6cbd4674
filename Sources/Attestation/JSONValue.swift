/// A small JSON reader for the collateral documents (TCB Info, QE Identity).
///
/// Foundation's `JSONDecoder` spent more time on a TCB Info than all of a cold verification's signature checks; this
/// reader builds a plain value tree in one pass over the exact signed bytes, and ``JSONPath`` lookups produce errors
/// that name the path of a missing or mistyped field.
enum JSONValue: Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int64)
    case fraction(Double)
    case bool(Bool)
    case null

    struct SyntaxError: Error {
        let offset: Int
        let reason: String
    }

    /// Parses a complete JSON text (surrounding whitespace allowed).
    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(SyntaxError) -> JSONValue in
            var reader = Reader(bytes: buffer)
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw SyntaxError(offset: reader.index, reason: "text after the JSON value") }
            return value
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth < 64 else { throw SyntaxError(offset: index, reason: "nesting deeper than 64 levels") }
            skipWhitespace()
            guard index < bytes.count else { throw SyntaxError(offset: index, reason: "unexpected end of text") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members = [(key: String, value: JSONValue)]()
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw SyntaxError(offset: index, reason: "expected a member name") }
                    let key = try string()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw SyntaxError(offset: index, reason: "expected ':'") }
                    index += 1
                    members.append((key, try value(depth: depth + 1)))
                    skipWhitespace()
                    guard index < bytes.count else { throw SyntaxError(offset: index, reason: "unterminated object") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                    } else if bytes[index] == UInt8(ascii: "}") {
                        index += 1
                        return .object(members)
                    } else {
                        throw SyntaxError(offset: index, reason: "expected ',' or '}'")
                    }
                }
            case UInt8(ascii: "["):
                index += 1
                var elements = [JSONValue]()
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                }
                while true {
                    elements.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw SyntaxError(offset: index, reason: "unterminated array") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                    } else if bytes[index] == UInt8(ascii: "]") {
                        index += 1
                        return .array(elements)
                    } else {
                        throw SyntaxError(offset: index, reason: "expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default:
                return try number()
            }
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count,
                (0..<count).allSatisfy({ bytes[index + $0] == word.utf8Start[$0] })
            else { throw SyntaxError(offset: index, reason: "invalid literal") }
            index += count
        }

        mutating func number() throws(SyntaxError) -> JSONValue {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            var isInteger = true
            while index < bytes.count {
                let byte = bytes[index]
                if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                    index += 1
                } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") {
                    isInteger = false
                    index += 1
                } else {
                    break
                }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if isInteger, let value = Int64(text) { return .integer(value) }
            guard let value = Double(text), index > start else { throw SyntaxError(offset: start, reason: "invalid number") }
            return .fraction(value)
        }

        /// Reads a string starting at its opening quote.
        mutating func string() throws(SyntaxError) -> String {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                index += 1
            }
            guard index < bytes.count else { throw SyntaxError(offset: start - 1, reason: "unterminated string") }
            if bytes[index] == UInt8(ascii: "\"") {
                defer { index += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            }
            var scalars = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return String(decoding: scalars, as: UTF8.self)
                }
                guard byte >= 0x20 else { throw SyntaxError(offset: index, reason: "control character in a string") }
                guard byte == UInt8(ascii: "\\") else {
                    scalars.append(byte)
                    index += 1
                    continue
                }
                guard index + 1 < bytes.count else { break }
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw SyntaxError(offset: index, reason: "invalid surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw SyntaxError(offset: index, reason: "invalid \\u escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw SyntaxError(offset: index - 2, reason: "invalid escape")
                }
            }
            throw SyntaxError(offset: start - 1, reason: "unterminated string")
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw SyntaxError(offset: index, reason: "short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw SyntaxError(offset: index, reason: "invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }
    }
}

/// A position in a JSON document with typed accessors; failures name the path, such as `tcbLevels[3].tcb.pcesvn`.
///
/// The path is kept as a chain of steps and only rendered as text when a lookup fails.
struct JSONPath {
    struct Failure: Error {
        let path: String
        let problem: String
    }

    indirect enum Trail {
        case root
        case key(Trail, String)
        case index(Trail, Int)

        var text: String {
            switch self {
            case .root: ""
            case .key(let parent, let key):
                parent.text.isEmpty ? key : "\(parent.text).\(key)"
            case .index(let parent, let index): "\(parent.text)[\(index)]"
            }
        }
    }

    let value: JSONValue
    let trail: Trail

    init(_ value: JSONValue, trail: Trail = .root) {
        self.value = value
        self.trail = trail
    }

    var path: String { trail.text }

    private func failure(_ problem: String) -> Failure {
        let text = path
        return Failure(path: text.isEmpty ? "(top level)" : text, problem: problem)
    }

    func optional(_ key: String) throws(Failure) -> JSONPath? {
        guard case .object(let members) = value else { throw failure("is not an object") }
        guard let member = members.first(where: { $0.key == key }) else { return nil }
        if case .null = member.value { return nil }
        return JSONPath(member.value, trail: .key(trail, key))
    }

    subscript(_ key: String) -> JSONPath {
        get throws(Failure) {
            guard let child = try optional(key) else {
                throw Failure(path: Trail.key(trail, key).text, problem: "is missing")
            }
            return child
        }
    }

    func elements() throws(Failure) -> [JSONPath] {
        guard case .array(let values) = value else { throw failure("is not an array") }
        var children = [JSONPath]()
        children.reserveCapacity(values.count)
        for (index, child) in values.enumerated() { children.append(JSONPath(child, trail: .index(trail, index))) }
        return children
    }

    func string() throws(Failure) -> String {
        guard case .string(let text) = value else { throw failure("is not a string") }
        return text
    }

    func integer() throws(Failure) -> Int64 {
        guard case .integer(let number) = value else { throw failure("is not an integer") }
        return number
    }

    func strings() throws(Failure) -> [String] {
        var result = [String]()
        for element in try elements() { result.append(try element.string()) }
        return result
    }
}
