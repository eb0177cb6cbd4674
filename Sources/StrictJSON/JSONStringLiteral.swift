extension JSONValue {
    /// `text` as a JSON string literal (RFC 8259): quotes, backslashes and control characters escaped, everything else
    /// written as it is, so that the parser reads back exactly `text`.
    public static func stringLiteral(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let digits = Array("0123456789abcdef".unicodeScalars)
                result += "\\u00"
                result.unicodeScalars.append(digits[Int(scalar.value >> 4)])
                result.unicodeScalars.append(digits[Int(scalar.value & 0xF)])
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
