/// PAX extended header records (`"%d %s=%s\n"`, the length counting the whole record including its own digits).
enum PAXRecords {
    enum ParseError: Error {
        case malformed(String)
    }

    /// Records in order of appearance; a later duplicate replaces an earlier one, as in GNU tar.
    static func parse(_ bytes: [UInt8]) throws(ParseError) -> [(key: String, value: [UInt8])] {
        var records: [(key: String, value: [UInt8])] = []
        var index = 0
        while index < bytes.count {
            // GNU tar pads a PAX body with NULs in some versions; nothing can follow them.
            if bytes[index] == 0 {
                guard bytes[index...].allSatisfy({ $0 == 0 }) else { throw .malformed("NUL byte inside the records") }
                break
            }
            let recordStart = index
            var length = 0
            while index < bytes.count, bytes[index] != UInt8(ascii: " ") {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                    throw .malformed("record length has the byte \(byte), not a decimal digit")
                }
                let (shifted, shiftOverflow) = length.multipliedReportingOverflow(by: 10)
                let (sum, sumOverflow) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                guard !shiftOverflow, !sumOverflow else { throw .malformed("record length overflows") }
                length = sum
                index += 1
            }
            guard index < bytes.count, index > recordStart else { throw .malformed("record without a length") }
            let (recordEnd, endOverflow) = recordStart.addingReportingOverflow(length)
            guard !endOverflow, recordEnd <= bytes.count, recordEnd > index + 1 else {
                throw .malformed("record length \(length) runs past the \(bytes.count - recordStart) bytes left")
            }
            guard bytes[recordEnd - 1] == UInt8(ascii: "\n") else { throw .malformed("record does not end with a newline") }
            let body = bytes[(index + 1)..<(recordEnd - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")), equals > body.startIndex else {
                throw .malformed("record has no key=value")
            }
            guard let key = String(validating: body[body.startIndex..<equals], as: UTF8.self) else {
                throw .malformed("key is not UTF-8")
            }
            // Values stay bytes: archives with `hdrcharset=BINARY` hold non-UTF-8 values, and only the keys that name
            // files must be exact.
            records.append((key, Array(body[(equals + 1)...])))
            index = recordEnd
        }
        return records
    }

    /// Encodes records sorted by key, so that the same entry always gives the same bytes.
    static func encode(_ records: [String: String]) -> [UInt8] {
        var output: [UInt8] = []
        for (key, value) in records.sorted(by: { $0.key < $1.key }) {
            let payloadLength = key.utf8.count + value.utf8.count + 3  // space, "=", newline
            // The length counts its own digits, which can carry it to one more digit.
            var length = payloadLength + String(payloadLength).count
            if String(length).count != String(length - payloadLength).count { length = payloadLength + String(length).count }
            output.append(contentsOf: String(length).utf8)
            output.append(UInt8(ascii: " "))
            output.append(contentsOf: key.utf8)
            output.append(UInt8(ascii: "="))
            output.append(contentsOf: value.utf8)
            output.append(UInt8(ascii: "\n"))
        }
        return output
    }
}
