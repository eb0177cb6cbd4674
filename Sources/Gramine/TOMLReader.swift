import Hexadecimal

/// Reads TOML (1.0, plus the 1.1 additions that tomli accepts: inline tables over several lines, `\e` and `\xHH`)
/// into order-preserving tables, with the same table-definition rules as tomli, the parser Gramine's signer uses.
///
/// Dates and times are refused (no Gramine key takes one). Integers must fit in 64 bits. The input size and the
/// nesting of arrays and inline tables are bounded so that hostile input fails quickly instead of exhausting the
/// stack or memory.
public struct TOMLReader: Sendable {
    public var maximumInputBytes: Int
    public var maximumNesting: Int

    public init(maximumInputBytes: Int = 64 << 20, maximumNesting: Int = 64) {
        self.maximumInputBytes = maximumInputBytes
        self.maximumNesting = maximumNesting
    }

    public func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        try parse(Array(text.utf8))
    }

    public func parse(_ bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        guard bytes.count <= maximumInputBytes else {
            throw TOMLError(
                line: 1, column: 1, found: "\(bytes.count) bytes", expected: "at most \(maximumInputBytes) bytes",
                hint: "A Gramine manifest this large is not plausible; check that the right file was given.")
        }
        if String(validating: bytes, as: UTF8.self) == nil {
            let offset = Self.firstInvalidUTF8Offset(bytes)
            var scanner = TOMLScanner(bytes: bytes, maximumNesting: maximumNesting)
            scanner.position = offset
            throw scanner.error(found: "a byte sequence that is not UTF-8", expected: "UTF-8 text", hint: "Save the manifest as UTF-8.")
        }
        var scanner = TOMLScanner(bytes: bytes, maximumNesting: maximumNesting)
        return try scanner.document()
    }

    private static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        var low = 0
        var high = bytes.count
        while low < high {
            let middle = (low + high + 1) / 2
            if Self.validPrefix(bytes, length: middle) { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Whether the first `length` bytes decode, allowing a sequence cut off at the end.
    private static func validPrefix(_ bytes: [UInt8], length: Int) -> Bool {
        var end = length
        while end > 0, end > length - 4, bytes[end - 1] & 0xC0 == 0x80 { end -= 1 }
        if end > 0, bytes[end - 1] >= 0xC0 { end -= 1 }
        return String(validating: bytes[0..<end], as: UTF8.self) != nil
    }
}

/// The document under construction: tables remember how they were created, because TOML allows a table header for
/// a table that only exists implicitly but not for one already defined by a header or by dotted keys.
private struct TableNode {
    enum Origin { case implicit, header, dotted }

    var origin: Origin
    var keys: [String] = []
    var children: [String: Node] = [:]

    var table: TOMLTable {
        var table = TOMLTable()
        for key in keys {
            switch children[key]! {
            case .value(let value): table[key] = value
            case .table(let node): table[key] = .table(node.table)
            case .tableArray(let nodes): table[key] = .array(nodes.map { .table($0.table) })
            }
        }
        return table
    }

    mutating func add(_ key: String, _ node: Node) {
        keys.append(key)
        children[key] = node
    }
}

/// A key's content: a finished value (scalars, arrays written inline and inline tables, none of which can be
/// extended later), a table that can still gain keys, or an array of tables made by `[[...]]` headers.
private enum Node {
    case value(TOMLValue)
    case table(TableNode)
    case tableArray([TableNode])
}

private struct Key {
    var parts: [String]
    var line: Int
    var column: Int
}

private struct TOMLScanner {
    let bytes: [UInt8]
    let maximumNesting: Int
    var position = 0

    init(bytes: [UInt8], maximumNesting: Int) {
        self.bytes = bytes
        self.maximumNesting = maximumNesting
    }

    // MARK: Document structure

    mutating func document() throws(TOMLError) -> TOMLTable {
        var root = TableNode(origin: .header)
        var currentPath: [String] = []
        while true {
            skipWhitespace()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "#"):
                try skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
            case UInt8(ascii: "["):
                let (headerLine, headerColumn) = lineAndColumn(position)
                position += 1
                let isArray = peek() == UInt8(ascii: "[")
                if isArray { position += 1 }
                skipWhitespace()
                var key = try key()
                (key.line, key.column) = (headerLine, headerColumn)
                skipWhitespace()
                try expect("]", what: isArray ? "']]' closing the array-of-tables header" : "']' closing the table header")
                if isArray { try expect("]", what: "']]' closing the array-of-tables header") }
                try Self.declare(key, isArray: isArray, in: &root, scanner: self)
                currentPath = key.parts
                try endOfLine()
            default:
                let key = try key()
                skipWhitespace()
                try expect("=", what: "'=' after the key")
                skipWhitespace()
                let value = try value(depth: 0)
                try Self.navigate(currentPath[...], in: &root, key: key, scanner: self) { table throws(TOMLError) in
                    try Self.insert(key.parts[...], value: value, into: &table, key: key, scanner: self)
                }
                try endOfLine()
            }
        }
        return root.table
    }

    /// Applies a `[table]` or `[[array]]` header: creates the missing tables on the way and checks that the last one
    /// may be declared here.
    private static func declare(_ key: Key, isArray: Bool, in root: inout TableNode, scanner: TOMLScanner) throws(TOMLError) {
        let name = key.parts.map(formatKeyPart).joined(separator: ".")
        try navigate(key.parts.dropLast(), in: &root, key: key, creating: true, scanner: scanner) { table throws(TOMLError) in
            let last = key.parts.last!
            switch (table.children[last], isArray) {
            case (nil, false):
                table.add(last, .table(TableNode(origin: .header)))
            case (nil, true):
                table.add(last, .tableArray([TableNode(origin: .header)]))
            case (.table(var existing), false) where existing.origin == .implicit:
                existing.origin = .header
                table.children[last] = .table(existing)
            case (.tableArray(var elements), true):
                elements.append(TableNode(origin: .header))
                table.children[last] = .tableArray(elements)
            case (.table(let existing), _):
                throw scanner.error(
                    at: key,
                    found: "[\(name)] declared again (it was already defined by \(existing.origin == .dotted ? "dotted keys" : "a table header"))",
                    expected: isArray ? "an array of tables under a new name" : "each table declared once",
                    hint: "Merge the keys into the first declaration of the table.")
            case (.tableArray, false):
                throw scanner.error(
                    at: key, found: "[\(name)] naming an array of tables", expected: "a table header for a name that is not an array of tables",
                    hint: "Use [[\(name)]] to add an element, or rename the table.")
            case (.value(let value), _):
                throw scanner.error(
                    at: key, found: "a header for '\(name)', which already holds a \(value.typeName) value",
                    expected: "a header for a new table",
                    hint: "A key written as a value (including inline tables and arrays) cannot be extended by a header.")
            }
        }
    }

    /// Runs `body` on the table at `path` (the last element of an array of tables stands for the array).
    private static func navigate(
        _ path: ArraySlice<String>, in table: inout TableNode, key: Key, creating: Bool = false, scanner: TOMLScanner,
        _ body: (inout TableNode) throws(TOMLError) -> Void
    ) throws(TOMLError) {
        guard let first = path.first else { return try body(&table) }
        let rest = path.dropFirst()
        switch table.children[first] {
        case nil:
            guard creating else { preconditionFailure("the current table always exists") }
            var child = TableNode(origin: .implicit)
            try navigate(rest, in: &child, key: key, creating: creating, scanner: scanner, body)
            table.add(first, .table(child))
        case .table(var child):
            table.children[first] = nil
            defer { table.children[first] = .table(child) }
            try navigate(rest, in: &child, key: key, creating: creating, scanner: scanner, body)
        case .tableArray(var elements):
            table.children[first] = nil
            defer { table.children[first] = .tableArray(elements) }
            try navigate(rest, in: &elements[elements.count - 1], key: key, creating: creating, scanner: scanner, body)
        case .value(let value):
            throw scanner.error(
                at: key, found: "'\(first)' holding a \(value.typeName) value", expected: "a table at '\(first)'",
                hint: "Values written with '=' (including inline tables and arrays) cannot be extended; write the whole table in one place.")
        }
    }

    /// Inserts `key = value` (a dotted key creates or extends tables on the way) into `table`.
    private static func insert(
        _ parts: ArraySlice<String>, value: TOMLValue, into table: inout TableNode, key: Key, scanner: TOMLScanner
    ) throws(TOMLError) {
        let first = parts.first!
        let fullName = key.parts.map(formatKeyPart).joined(separator: ".")
        guard parts.count > 1 else {
            guard table.children[first] == nil else {
                throw scanner.error(
                    at: key, found: "'\(fullName)' defined again", expected: "each key defined once", hint: "Remove the duplicate key.")
            }
            table.add(first, .value(value))
            return
        }
        switch table.children[first] {
        case nil:
            var child = TableNode(origin: .dotted)
            try insert(parts.dropFirst(), value: value, into: &child, key: key, scanner: scanner)
            table.add(first, .table(child))
        case .table(var child) where child.origin != .header:
            child.origin = .dotted
            table.children[first] = nil
            defer { table.children[first] = .table(child) }
            try insert(parts.dropFirst(), value: value, into: &child, key: key, scanner: scanner)
        case .table:
            throw scanner.error(
                at: key, found: "dotted key '\(fullName)' adding to [\(first)], a table defined by its own header",
                expected: "keys of that table written under its header", hint: "Move the key under the [\(first)] header.")
        case .tableArray:
            throw scanner.error(
                at: key, found: "dotted key '\(fullName)' reaching into the array of tables '\(first)'",
                expected: "a key that is not an array of tables", hint: "Write the key under a [[\(first)]] header.")
        case .value(let existing):
            throw scanner.error(
                at: key, found: "dotted key '\(fullName)' where '\(first)' already holds a \(existing.typeName) value",
                expected: "a table at '\(first)'", hint: "Values written with '=' (including inline tables) cannot be extended.")
        }
    }

    // MARK: Keys

    mutating func key() throws(TOMLError) -> Key {
        let (line, column) = lineAndColumn(position)
        var parts: [String] = []
        while true {
            parts.append(try simpleKey())
            guard parts.count <= maximumNesting else {
                throw error(
                    found: "a key with more than \(maximumNesting) dotted parts", expected: "at most \(maximumNesting) parts",
                    hint: "No Gramine manifest nests this deep; the input is damaged or hostile.")
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else { break }
            position += 1
            skipWhitespace()
        }
        return Key(parts: parts, line: line, column: column)
    }

    private mutating func simpleKey() throws(TOMLError) -> String {
        switch peek() {
        case UInt8(ascii: "\""):
            guard !lookingAt("\"\"\"") else {
                throw error(
                    found: "a multi-line string as a key", expected: "a bare or single-line quoted key", hint: "Keys are written on one line.")
            }
            return try basicString()
        case UInt8(ascii: "'"):
            guard !lookingAt("'''") else {
                throw error(
                    found: "a multi-line string as a key", expected: "a bare or single-line quoted key", hint: "Keys are written on one line.")
            }
            return try literalString()
        default:
            let start = position
            while let byte = peek(), Self.isBareKeyByte(byte) { position += 1 }
            guard position > start else {
                throw error(
                    found: describeHere(), expected: "a key (letters, digits, '_' or '-', or a quoted string)",
                    hint: "Quote keys that contain other characters.")
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    // MARK: Values

    mutating func value(depth: Int) throws(TOMLError) -> TOMLValue {
        guard depth < maximumNesting else {
            throw error(
                found: "arrays or inline tables nested more than \(maximumNesting) deep", expected: "at most \(maximumNesting) levels",
                hint: "No Gramine manifest nests this deep; the input is damaged or hostile.")
        }
        guard let byte = peek() else {
            throw error(found: "the end of the input", expected: "a value", hint: "Complete the 'key = value' line.")
        }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(lookingAt("\"\"\"") ? try multilineString(quote: UInt8(ascii: "\"")) : try basicString())
        case UInt8(ascii: "'"):
            return .string(lookingAt("'''") ? try multilineString(quote: UInt8(ascii: "'")) : try literalString())
        case UInt8(ascii: "["):
            return try array(depth: depth)
        case UInt8(ascii: "{"):
            return try inlineTable(depth: depth)
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if lookingAt("true"), !isTokenByte(at: position + 4) {
                position += 4
                return .boolean(true)
            }
            if lookingAt("false"), !isTokenByte(at: position + 5) {
                position += 5
                return .boolean(false)
            }
            throw error(found: describeHere(), expected: "true, false, a number, a string, an array or an inline table", hint: "Quote text values.")
        default:
            return try number()
        }
    }

    private func isTokenByte(at index: Int) -> Bool {
        guard index < bytes.count else { return false }
        let byte = bytes[index]
        return Self.isBareKeyByte(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ":")
    }

    private mutating func array(depth: Int) throws(TOMLError) -> TOMLValue {
        position += 1
        var elements: [TOMLValue] = []
        while true {
            try skipBlankSpace()
            if peek() == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            elements.append(try value(depth: depth + 1))
            try skipBlankSpace()
            switch peek() {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default:
                throw error(found: describeHere(), expected: "',' or ']' in the array", hint: "Separate array elements with commas.")
            }
        }
    }

    private mutating func inlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        position += 1
        var table = TableNode(origin: .header)
        try skipBlankSpace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return .table(table.table)
        }
        while true {
            try skipBlankSpace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return .table(table.table)
            }
            let key = try key()
            skipWhitespace()
            try expect("=", what: "'=' after the key")
            skipWhitespace()
            let value = try value(depth: depth + 1)
            try Self.insert(key.parts[...], value: value, into: &table, key: key, scanner: self)
            try skipBlankSpace()
            switch peek() {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .table(table.table)
            default:
                throw error(found: describeHere(), expected: "',' or '}' in the inline table", hint: "Separate inline table entries with commas.")
            }
        }
    }

    // MARK: Strings

    private mutating func basicString() throws(TOMLError) -> String {
        position += 1
        var content: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw error(found: "the end of the input", expected: "'\"' closing the string", hint: "Close the string on the same line.")
            }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &content)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error(
                    found: "a line break inside a single-line string", expected: "'\"' closing the string",
                    hint: "Use \\n, or a \"\"\" multi-line string.")
            default:
                try checkStringByte(byte)
                content.append(byte)
                position += 1
            }
        }
    }

    /// A `"""` (basic: escapes and line-ending backslashes apply) or `'''` (literal: bytes as written) multi-line
    /// string; up to two quotes right before the closing delimiter belong to the content, as TOML says.
    private mutating func multilineString(quote: UInt8) throws(TOMLError) -> String {
        let delimiter = String(repeating: Character(Unicode.Scalar(quote)), count: 3)
        let basic = quote == UInt8(ascii: "\"")
        position += 3
        try skipFirstNewline()
        var content: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw error(
                    found: "the end of the input", expected: "\(delimiter) closing the multi-line\(basic ? "" : " literal") string",
                    hint: "Close the string.")
            }
            if position + 3 <= bytes.count, bytes[position..<position + 3].allSatisfy({ $0 == quote }) {
                position += 3
                var extra = 0
                while extra < 2, peek() == quote {
                    content.append(quote)
                    position += 1
                    extra += 1
                }
                return String(decoding: content, as: UTF8.self)
            }
            if basic && byte == UInt8(ascii: "\\") {
                if try lineEndingBackslash() { continue }
                try escape(into: &content)
            } else if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") {
                try newline()
                content.append(UInt8(ascii: "\n"))
            } else {
                try checkStringByte(byte)
                content.append(byte)
                position += 1
            }
        }
    }

    /// A backslash followed only by whitespace up to the end of the line trims that whitespace and all blank space
    /// after it; returns false when the backslash starts an ordinary escape.
    private mutating func lineEndingBackslash() throws(TOMLError) -> Bool {
        var probe = position + 1
        while probe < bytes.count, bytes[probe] == UInt8(ascii: " ") || bytes[probe] == UInt8(ascii: "\t") { probe += 1 }
        guard probe < bytes.count, bytes[probe] == UInt8(ascii: "\n") || bytes[probe] == UInt8(ascii: "\r") else { return false }
        position = probe
        while let byte = peek() {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                position += 1
            } else if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                try newline()
            } else {
                break
            }
        }
        return true
    }

    private mutating func literalString() throws(TOMLError) -> String {
        position += 1
        let start = position
        while true {
            guard let byte = peek() else {
                throw error(found: "the end of the input", expected: "\"'\" closing the literal string", hint: "Close the string on the same line.")
            }
            if byte == UInt8(ascii: "'") {
                defer { position += 1 }
                return String(decoding: bytes[start..<position], as: UTF8.self)
            }
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                throw error(
                    found: "a line break inside a single-line literal string", expected: "\"'\" closing the string",
                    hint: "Use a ''' multi-line literal string.")
            }
            try checkStringByte(byte)
            position += 1
        }
    }

    private mutating func skipFirstNewline() throws(TOMLError) {
        if peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") { try newline() }
    }

    private func checkStringByte(_ byte: UInt8) throws(TOMLError) {
        if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
            throw error(
                found: "control character U+\(Self.hex(UInt32(byte), width: 4)) in a string", expected: "printable text or an escape",
                hint: "Write control characters as \\uXXXX escapes in a double-quoted string.")
        }
    }

    private mutating func escape(into content: inout [UInt8]) throws(TOMLError) {
        let start = position
        position += 1
        guard let letter = peek() else {
            throw error(found: "the end of the input", expected: "an escape after '\\'", hint: "Complete the escape sequence.")
        }
        position += 1
        let simple: UInt8? =
            switch letter {
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "t"): 0x09
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "e"): 0x1B
            case UInt8(ascii: "\""): UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): UInt8(ascii: "\\")
            default: nil
            }
        if let simple {
            content.append(simple)
            return
        }
        let digits: Int
        switch letter {
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default:
            position = start
            throw error(
                found: "the escape '\\\(String(decoding: [letter], as: UTF8.self))'",
                expected: "one of \\b \\t \\n \\f \\r \\e \\\" \\\\ \\xHH \\uXXXX \\UXXXXXXXX",
                hint: "Write a backslash as \\\\, or use a 'literal string' for paths.")
        }
        var scalarValue: UInt32 = 0
        for _ in 0..<digits {
            guard let digit = peek()?.hexadecimalDigitValue else {
                position = start
                throw error(
                    found: "an incomplete escape", expected: "\(digits) hexadecimal digits after \\\(String(decoding: [letter], as: UTF8.self))",
                    hint: "Complete the escape sequence.")
            }
            scalarValue = scalarValue << 4 | UInt32(digit)
            position += 1
        }
        guard let scalar = Unicode.Scalar(scalarValue) else {
            position = start
            throw error(
                found: "the escape for U+\(Self.hex(scalarValue, width: 4))", expected: "a Unicode scalar value (not a surrogate, at most U+10FFFF)",
                hint: "Fix the escape sequence.")
        }
        content.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    // MARK: Numbers

    private mutating func number() throws(TOMLError) -> TOMLValue {
        let start = position
        while position < bytes.count, isTokenByte(at: position) { position += 1 }
        let token = String(decoding: bytes[start..<position], as: UTF8.self)
        if let value = Self.parseNumber(token) { return value }
        let looksLikeDate =
            token.count >= 5 && token.utf8.prefix(4).allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && token.utf8.dropFirst(4).first == UInt8(ascii: "-")
        let looksLikeTime =
            token.count >= 3 && token.utf8.prefix(2).allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && token.utf8.dropFirst(2).first == UInt8(ascii: ":")
        position = start
        if looksLikeDate || looksLikeTime {
            throw error(
                found: "the date or time '\(token)'", expected: "a string, number, boolean, array or table",
                hint: "No Gramine manifest key takes a date or time; quote it if it is text.")
        }
        if token.isEmpty {
            throw error(found: describeHere(), expected: "a value", hint: "Quote text values.")
        }
        throw error(
            found: "'\(token)'",
            expected: "a value: a quoted string, true/false, an integer (within 64 bits) or a float, an array or an inline table",
            hint: "Quote text values; integers use digits with single '_' separators, no leading zeros, and 0x/0o/0b prefixes.")
    }

    static func parseNumber(_ token: String) -> TOMLValue? {
        var text = Substring(token)
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            let digits = text.dropFirst(2)
            guard validUnderscores(digits, isDigit: { $0.isHexDigit && Int(String($0), radix: 16)! < radix }) else { return nil }
            return UInt64(digits.filter { $0 != "_" }, radix: radix).flatMap { Int64(exactly: $0) }.map(TOMLValue.integer)
        }
        var negative = false
        if text.first == "+" || text.first == "-" {
            negative = text.first == "-"
            text = text.dropFirst()
        }
        let exponentIndex = text.firstIndex { $0 == "e" || $0 == "E" }
        let mantissa = exponentIndex.map { text[..<$0] } ?? text
        let dotIndex = mantissa.firstIndex(of: ".")
        let integerPart = dotIndex.map { mantissa[..<$0] } ?? mantissa
        let isDecimalDigit: (Character) -> Bool = { $0 >= "0" && $0 <= "9" }
        guard validUnderscores(integerPart, isDigit: isDecimalDigit) else { return nil }
        guard integerPart == "0" || integerPart.first != "0" else { return nil }
        if let dotIndex {
            guard validUnderscores(mantissa[mantissa.index(after: dotIndex)...], isDigit: isDecimalDigit) else { return nil }
        }
        if let exponentIndex {
            var exponent = text[text.index(after: exponentIndex)...]
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            guard validUnderscores(exponent, isDigit: isDecimalDigit) else { return nil }
        }
        let plain = (negative ? "-" : "") + text.filter { $0 != "_" }
        if dotIndex == nil, exponentIndex == nil {
            return Int64(plain).map(TOMLValue.integer)
        }
        return Double(plain).map(TOMLValue.float)
    }

    /// Non-empty digits where every '_' stands between two digits.
    private static func validUnderscores(_ text: Substring, isDigit: (Character) -> Bool) -> Bool {
        guard let first = text.first, let last = text.last, isDigit(first), isDigit(last) else { return false }
        var previous: Character = first
        for character in text.dropFirst() {
            if character == "_" {
                guard previous != "_" else { return false }
            } else if !isDigit(character) {
                return false
            }
            previous = character
        }
        return true
    }

    // MARK: Blank space, comments and line ends

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private func lookingAt(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        return text.withUTF8Buffer { buffer in bytes[position..<position + count].elementsEqual(buffer) }
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { position += 1 }
    }

    /// Whitespace, comments and line breaks, as allowed inside arrays and (TOML 1.1) inline tables.
    private mutating func skipBlankSpace() throws(TOMLError) {
        while true {
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: "#"): try skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            default: return
            }
        }
    }

    mutating func skipComment() throws(TOMLError) {
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "\n") { return }
            if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
                throw error(
                    found: "control character U+\(Self.hex(UInt32(byte), width: 4)) in a comment", expected: "printable text",
                    hint: "Remove the control character.")
            }
            position += 1
        }
    }

    mutating func newline() throws(TOMLError) {
        if peek() == UInt8(ascii: "\r") {
            guard position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "\n") else {
                throw error(
                    found: "a carriage return not followed by a line feed", expected: "a line break (LF or CRLF)",
                    hint: "Convert the file to Unix or Windows line endings.")
            }
            position += 2
        } else {
            position += 1
        }
    }

    private mutating func endOfLine() throws(TOMLError) {
        skipWhitespace()
        switch peek() {
        case nil: return
        case UInt8(ascii: "#"): try skipComment()
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): break
        default:
            throw error(found: describeHere(), expected: "the end of the line", hint: "Put each key/value pair and each header on its own line.")
        }
        if peek() != nil { try newline() }
    }

    private mutating func expect(_ character: Character, what: String) throws(TOMLError) {
        guard let byte = peek(), byte == character.asciiValue! else {
            throw error(found: describeHere(), expected: what, hint: "Check the syntax of this line.")
        }
        position += 1
    }

    // MARK: Errors

    private func describeHere() -> String {
        guard position < bytes.count else { return "the end of the input" }
        switch bytes[position] {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "the end of the line"
        default:
            var end = position + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            let character = String(decoding: bytes[position..<end], as: UTF8.self)
            return "'\(character)'"
        }
    }

    func lineAndColumn(_ offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[0..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    func error(found: String, expected: String, hint: String) -> TOMLError {
        let (line, column) = lineAndColumn(position)
        return TOMLError(line: line, column: column, found: found, expected: expected, hint: hint)
    }

    fileprivate func error(at key: Key, found: String, expected: String, hint: String) -> TOMLError {
        TOMLError(line: key.line, column: key.column, found: found, expected: expected, hint: hint)
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
