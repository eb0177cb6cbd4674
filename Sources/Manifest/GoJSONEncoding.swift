import StrictJSON

/// Writes JSON byte for byte as Go's `json.Marshal` does for a `map[string]interface{}` tree: compact, object keys
/// sorted by their bytes, HTML characters escaped. The MarbleRun CLI uploads (and so hashes) YAML manifests in this form.
enum GoJSONEncoding {
    static func encode(_ value: JSONValue) -> [UInt8] {
        var output: [UInt8] = []
        // An explicit work list instead of recursion: the tree depth is bounded, but the encoder should not care.
        enum Step {
            case value(JSONValue)
            case literal(UInt8)
        }
        var work: [Step] = [.value(value)]
        while let step = work.popLast() {
            switch step {
            case .literal(let byte):
                output.append(byte)
            case .value(let value):
                switch value {
                case .null: output.append(contentsOf: Array("null".utf8))
                case .bool(let flag): output.append(contentsOf: Array((flag ? "true" : "false").utf8))
                case .number(let literal): output.append(contentsOf: Array(literal.utf8))
                case .string(let text): appendString(text, to: &output)
                case .array(let elements):
                    output.append(UInt8(ascii: "["))
                    work.append(.literal(UInt8(ascii: "]")))
                    for (position, element) in elements.enumerated().reversed() {
                        work.append(.value(element))
                        if position > 0 { work.append(.literal(UInt8(ascii: ","))) }
                    }
                case .object(let members):
                    output.append(UInt8(ascii: "{"))
                    work.append(.literal(UInt8(ascii: "}")))
                    let sorted = members.map { (Array($0.key.utf8), $0) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }.map(\.1)
                    for (position, member) in sorted.enumerated().reversed() {
                        work.append(.value(member.value))
                        work.append(.literal(UInt8(ascii: ":")))
                        work.append(.value(.string(member.key)))
                        if position > 0 { work.append(.literal(UInt8(ascii: ","))) }
                    }
                }
            }
        }
        return output
    }

    static func appendString(_ text: String, to output: inout [UInt8]) {
        let hexDigits = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "\""))
        let bytes = Array(text.utf8)
        output.reserveCapacity(output.count + bytes.count + 2)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(byte)
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"), 0x00..<0x20:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0xF)])
            case 0xE2 where index + 1 < bytes.count && bytes[index] == 0x80 && (bytes[index + 1] == 0xA8 || bytes[index + 1] == 0xA9):
                // U+2028 and U+2029 break JavaScript string literals, so Go escapes them.
                output.append(contentsOf: Array("\\u202".utf8))
                output.append(bytes[index + 1] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
                index += 2
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Go's `encoding/json` float format: shortest round-trip digits, `%f` style unless the magnitude is below 1e-6 or
    /// at least 1e21, then `%e` style with a two-digit-minimum exponent trimmed to `e-7`.
    static func formatFloat(_ value: Double) -> String? {
        guard value.isFinite else { return nil }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let (negative, digits, exponent) = shortestDigits(value)
        let sign = negative ? "-" : ""
        let magnitude = abs(value)
        if magnitude < 1e-6 || magnitude >= 1e21 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let power = exponent - 1
            return sign + mantissa + "e" + (power < 0 ? "-" : "+") + String(abs(power))
        }
        // Decimal point sits `exponent` digits into `digits`.
        if exponent <= 0 {
            return sign + "0." + String(repeating: "0", count: -exponent) + digits
        }
        if exponent >= digits.count {
            return sign + digits + String(repeating: "0", count: exponent - digits.count)
        }
        let split = digits.index(digits.startIndex, offsetBy: exponent)
        return sign + digits[..<split] + "." + digits[split...]
    }

    /// The shortest decimal digits that round-trip, and the position of the decimal point relative to them.
    private static func shortestDigits(_ value: Double) -> (negative: Bool, digits: String, exponent: Int) {
        // Swift's description is shortest round-trip; normalise its "1.5e-07" / "1500.0" forms.
        var text = "\(abs(value))"
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: marker)...])!
            text = String(text[..<marker])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fractionPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fractionPart
        var pointPosition = integerPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (value.sign == .minus, digits, pointPosition)
    }
}
