/// Writes TOML exactly as tomli-w (1.0 to 1.2, default options) does, which is how `gramine-sgx-sign` writes the
/// `.manifest.sgx` whose bytes are measured into MRENCLAVE: a single changed byte changes the enclave identity.
///
/// The rules, per table: plain values first (in insertion order), then sub-tables and arrays of tables (in insertion
/// order), separated by blank lines. A table gets a `[name]` header only if it has plain values or nothing else.
/// Arrays are always multi-line with a 4-space indent and a trailing comma. An array of tables stays inline only
/// when every element, written as `    { ... },`, fits in 100 characters on one line; otherwise every element
/// becomes a `[[name]]` section. Tables nested in values are written inline.
public enum TOMLWriter {
    static let indent = "    "
    static let maximumLineLength = 100

    public static func string(from table: TOMLTable) -> String {
        var output = ""
        appendTable(table, name: "", isArrayElement: false, to: &output)
        return output
    }

    public static func bytes(from table: TOMLTable) -> [UInt8] {
        Array(string(from: table).utf8)
    }

    private static func appendTable(_ table: TOMLTable, name: String, isArrayElement: Bool, to output: inout String) {
        var plain: [(key: String, value: TOMLValue)] = []
        var sections: [(key: String, table: TOMLTable, isArrayElement: Bool)] = []
        for (key, value) in table.entries {
            switch value {
            case .table(let nested):
                sections.append((key, nested, false))
            case .array(let elements) where isArrayOfTables(elements) && !elements.allSatisfy(fitsOnOneLine):
                sections.append(contentsOf: elements.map { (key, $0.table!, true) })
            default:
                plain.append((key, value))
            }
        }
        var wroteSomething = false
        if isArrayElement || (!name.isEmpty && (!plain.isEmpty || sections.isEmpty)) {
            output += isArrayElement ? "[[\(name)]]\n" : "[\(name)]\n"
            wroteSomething = true
        }
        for (key, value) in plain {
            output += "\(formatKeyPart(key)) = \(literal(value, nesting: 0))\n"
            wroteSomething = true
        }
        for section in sections {
            if wroteSomething { output += "\n" }
            wroteSomething = true
            let keyPart = formatKeyPart(section.key)
            appendTable(section.table, name: name.isEmpty ? keyPart : "\(name).\(keyPart)", isArrayElement: section.isArrayElement, to: &output)
        }
    }

    private static func isArrayOfTables(_ elements: [TOMLValue]) -> Bool {
        !elements.isEmpty && elements.allSatisfy { $0.table != nil }
    }

    private static func fitsOnOneLine(_ element: TOMLValue) -> Bool {
        let line = indent + literal(element, nesting: 0) + ","
        return line.unicodeScalars.count <= maximumLineLength && !line.contains("\n")
    }

    static func literal(_ value: TOMLValue, nesting: Int) -> String {
        switch value {
        case .boolean(let flag): flag ? "true" : "false"
        case .integer(let number): String(number)
        case .float(let number): pythonFloat(number)
        case .string(let text): basicString(text)
        case .array(let elements): array(elements, nesting: nesting)
        case .table(let table): inlineTable(table)
        }
    }

    private static func array(_ elements: [TOMLValue], nesting: Int) -> String {
        guard !elements.isEmpty else { return "[]" }
        let itemIndent = String(repeating: indent, count: nesting + 1)
        let closingIndent = String(repeating: indent, count: nesting)
        let items = elements.map { itemIndent + literal($0, nesting: nesting + 1) }
        return "[\n" + items.joined(separator: ",\n") + ",\n\(closingIndent)]"
    }

    /// tomli-w restarts the array indentation inside inline tables (nesting 0), so an array there spans lines
    /// even though the table is "inline"; this is reproduced because it decides whether an array of tables fits.
    private static func inlineTable(_ table: TOMLTable) -> String {
        guard !table.isEmpty else { return "{}" }
        let entries = table.entries.map { "\(formatKeyPart($0.key)) = \(literal($0.value, nesting: 0))" }
        return "{ " + entries.joined(separator: ", ") + " }"
    }

    /// Python's `repr(float)`, which Swift's shortest round-trip `description` matches except for NaN's sign.
    static func pythonFloat(_ number: Double) -> String {
        number.isNaN ? "nan" : number.description
    }

    /// A double-quoted TOML string; `"`, `\` and control characters other than tab are escaped, the common ones
    /// compactly and the rest as `\u00XX` with lower-case digits.
    static func basicString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\u{08}": result += "\\b"
            case "\n": result += "\\n"
            case "\u{0C}": result += "\\f"
            case "\r": result += "\\r"
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\t": result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let digits = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// A key as written in a header or before `=`: bare when it is non-empty and only letters, digits, `_` and `-`,
/// quoted otherwise.
func formatKeyPart(_ key: String) -> String {
    let isBare =
        !key.isEmpty
        && key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    return isBare ? key : TOMLWriter.basicString(key)
}
