/// A strict RFC 8259 parser (what Go's `json.Valid` accepts) that never recurses, so hostile nesting cannot exhaust
/// the stack, and that refuses nesting deeper than `maximumDepth` before building it.
public struct JSONParser {
    /// Real manifests nest about eight levels; anything far deeper is an attack or a mistake.
    public static let defaultMaximumDepth = 512

    private let bytes: [UInt8]
    private let maximumDepth: Int
    private var index = 0

    private init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    public static func parse(_ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        return try parser.parseDocument()
    }

    private enum Container {
        case array([JSONValue])
        case object([JSONMember], pendingKey: String)
    }

    private mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        var stack: [Container] = []
        var completed: JSONValue
        skipWhitespace()
        parsing: while true {
            // Read one value; containers push a frame and continue with their first element.
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of input; a value is missing") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                try checkDepth(stack.count + 1)
                index += 1
                skipWhitespace()
                if peek(UInt8(ascii: "}")) {
                    index += 1
                    completed = .object([])
                } else {
                    let key = try parseKey()
                    stack.append(.object([], pendingKey: key))
                    continue parsing
                }
            case UInt8(ascii: "["):
                try checkDepth(stack.count + 1)
                index += 1
                skipWhitespace()
                if peek(UInt8(ascii: "]")) {
                    index += 1
                    completed = .array([])
                } else {
                    stack.append(.array([]))
                    continue parsing
                }
            default:
                completed = try parseScalar()
            }
            // Attach the completed value to its parent, closing as many containers as the input closes.
            while let parent = stack.popLast() {
                skipWhitespace()
                switch parent {
                case .array(var elements):
                    elements.append(completed)
                    if peek(UInt8(ascii: ",")) {
                        index += 1
                        stack.append(.array(elements))
                        continue parsing
                    }
                    guard peek(UInt8(ascii: "]")) else { throw failure("expected ',' or ']' after an array element") }
                    index += 1
                    completed = .array(elements)
                case .object(var members, let key):
                    members.append(JSONMember(key: key, value: completed))
                    if peek(UInt8(ascii: ",")) {
                        index += 1
                        skipWhitespace()
                        let nextKey = try parseKey()
                        stack.append(.object(members, pendingKey: nextKey))
                        continue parsing
                    }
                    guard peek(UInt8(ascii: "}")) else { throw failure("expected ',' or '}' after an object member") }
                    index += 1
                    completed = .object(members)
                }
            }
            break parsing
        }
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected text after the JSON value") }
        return completed
    }

    private func checkDepth(_ depth: Int) throws(JSONSyntaxError) {
        if depth > maximumDepth {
            throw failure("nesting deeper than \(maximumDepth) levels; a manifest needs fewer than 10")
        }
    }

    /// Reads `"key"` and the `:` after it.
    private mutating func parseKey() throws(JSONSyntaxError) -> String {
        guard peek(UInt8(ascii: "\"")) else { throw failure("expected a quoted object key") }
        let key = try parseString()
        skipWhitespace()
        guard peek(UInt8(ascii: ":")) else { throw failure("expected ':' after the object key \"\(key)\"") }
        index += 1
        return key
    }

    private mutating func parseScalar() throws(JSONSyntaxError) -> JSONValue {
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default:
            throw failure("unexpected character \(describe(bytes[index])); expected a value")
        }
    }

    private mutating func expectLiteral(_ literal: String) throws(JSONSyntaxError) {
        for expected in literal.utf8 {
            guard index < bytes.count, bytes[index] == expected else {
                throw failure("invalid literal; expected '\(literal)'")
            }
            index += 1
        }
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = index
        if peek(UInt8(ascii: "-")) { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("a number needs digits") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if peek(UInt8(ascii: ".")) {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("a decimal point must be followed by digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("an exponent needs digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Decodes a string. Invalid UTF-8 and lone surrogates become U+FFFD, as in Go.
    private mutating func parseString() throws(JSONSyntaxError) -> String {
        index += 1
        var scalars: [UInt8] = []
        var segmentStart = index
        while true {
            guard index < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                scalars.append(contentsOf: bytes[segmentStart..<index])
                index += 1
                return String(decoding: scalars, as: UTF8.self)
            }
            if byte < 0x20 {
                throw failure("control character \(describe(byte)) inside a string; escape it (for a newline write \\n)")
            }
            if byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            scalars.append(contentsOf: bytes[segmentStart..<index])
            index += 1
            guard index < bytes.count else { throw failure("unterminated escape sequence") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                var codeUnit = try parseHexQuad()
                if (0xD800...0xDBFF).contains(codeUnit), index + 1 < bytes.count,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                {
                    let saved = index
                    index += 2
                    let low = try parseHexQuad()
                    if (0xDC00...0xDFFF).contains(low) {
                        codeUnit = 0x10000 + ((codeUnit - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        index = saved
                    }
                }
                let scalar = Unicode.Scalar(codeUnit) ?? "\u{FFFD}"
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw failure("invalid escape sequence '\\\(describe(escape))'")
            }
            segmentStart = index
        }
    }

    private mutating func parseHexQuad() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("\\u must be followed by four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexDigitValue(bytes[index]) else { throw failure("\\u must be followed by four hex digits") }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "0x" + String(byte, radix: 16, uppercase: true)
    }

    private func failure(_ message: String) -> JSONSyntaxError {
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
        return JSONSyntaxError(line: line, column: column, message: message)
    }
}

func hexDigitValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
