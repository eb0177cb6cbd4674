import Foundation

/// A PCS v4 JSON response that carries a signed object and its signature, e.g.
/// `{"tcbInfo":{...},"signature":"<hex r||s>"}` or `{"enclaveIdentity":{...},"signature":"..."}`.
///
/// Intel signs the exact bytes of the inner object as they appear in the response, so the object is cut out of the
/// body by its byte range and never parsed and re-serialized (Intel PCS API v4, "TCB Info" and "Enclave Identity"
/// responses; dcap-qvl 0.7.0 `QuoteCollateralV3.tcb_info`).
struct SignedJSONResponse: Equatable {
    /// The exact bytes of the signed object's value.
    let signedBytes: [UInt8]
    /// The decoded `signature` value (raw r||s).
    let signature: [UInt8]

    struct Malformed: Error, Equatable {
        let reason: String
    }

    /// Splits `body`, whose top-level object must hold `signedKey` (an object) and `signature` (hexadecimal).
    init(body: [UInt8], signedKey: String) throws(Malformed) {
        var scanner = JSONScanner(bytes: body)
        let members = try scanner.topLevelMembers()
        guard let signedRange = members[signedKey] else {
            throw Malformed(reason: "no '\(signedKey)' member (members found: \(Self.list(members.keys)))")
        }
        guard body[signedRange.lowerBound] == UInt8(ascii: "{") else {
            throw Malformed(reason: "'\(signedKey)' is not a JSON object")
        }
        let signed = Array(body[signedRange])
        guard (try? JSONSerialization.jsonObject(with: Data(signed))) is [String: Any] else {
            throw Malformed(reason: "'\(signedKey)' is not valid JSON")
        }
        guard let signatureRange = members["signature"] else {
            throw Malformed(reason: "no 'signature' member (members found: \(Self.list(members.keys)))")
        }
        let signatureText = body[signatureRange]
        guard signatureText.count >= 2, signatureText.first == UInt8(ascii: "\""), signatureText.last == UInt8(ascii: "\""),
            let signature = [UInt8](hexadecimal: String(decoding: signatureText.dropFirst().dropLast(), as: UTF8.self))
        else {
            throw Malformed(reason: "'signature' is not a hexadecimal string")
        }
        guard signature.count == 64 else {
            throw Malformed(reason: "'signature' is \(signature.count) bytes, expected 64 (ECDSA P-256 r||s)")
        }
        signedBytes = signed
        self.signature = signature
    }

    private static func list(_ keys: some Sequence<String>) -> String {
        let sorted = keys.sorted()
        return sorted.isEmpty ? "none" : sorted.joined(separator: ", ")
    }
}

/// Finds the byte ranges of the members of a top-level JSON object without building any value.
private struct JSONScanner {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func topLevelMembers() throws(SignedJSONResponse.Malformed) -> [String: Range<Int>] {
        skipWhitespace()
        try expect(UInt8(ascii: "{"), what: "a JSON object")
        var members: [String: Range<Int>] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let keyRange = try skipString()
                guard let key = Self.decodeString(bytes[keyRange]) else {
                    throw fail("a member name is not a valid JSON string")
                }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), what: "':' after member '\(key)'")
                skipWhitespace()
                let start = position
                try skipValue(depth: 0)
                members[key] = start..<position
                skipWhitespace()
                guard let next = peek() else { throw fail("the object is not closed") }
                position += 1
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw fail("expected ',' or '}' after member '\(key)'", at: position - 1) }
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw fail("unexpected bytes after the top-level object") }
        return members
    }

    private static func decodeString(_ quoted: ArraySlice<UInt8>) -> String? {
        if !quoted.contains(UInt8(ascii: "\\")) {
            return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
        }
        return (try? JSONSerialization.jsonObject(with: Data(quoted), options: .fragmentsAllowed)) as? String
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, what: String) throws(SignedJSONResponse.Malformed) {
        guard peek() == byte else { throw fail("expected \(what)") }
        position += 1
    }

    /// Skips a string starting at the current position and returns its range including the quotes.
    private mutating func skipString() throws(SignedJSONResponse.Malformed) -> Range<Int> {
        let start = position
        try expect(UInt8(ascii: "\""), what: "a string")
        while let byte = peek() {
            position += 1
            if byte == UInt8(ascii: "\\") {
                guard peek() != nil else { break }
                position += 1
            } else if byte == UInt8(ascii: "\"") {
                return start..<position
            } else if byte < 0x20 {
                throw fail("control character inside a string", at: position - 1)
            }
        }
        throw fail("unterminated string", at: start)
    }

    private mutating func skipValue(depth: Int) throws(SignedJSONResponse.Malformed) {
        guard depth < 64 else { throw fail("nesting deeper than 64 levels") }
        guard let first = peek() else { throw fail("a value is missing") }
        switch first {
        case UInt8(ascii: "\""):
            _ = try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let closing = first == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            position += 1
            skipWhitespace()
            if peek() == closing {
                position += 1
                return
            }
            while true {
                skipWhitespace()
                if first == UInt8(ascii: "{") {
                    _ = try skipString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), what: "':'")
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = peek() else { throw fail("a nested value is not closed") }
                position += 1
                if next == closing { return }
                guard next == UInt8(ascii: ",") else { throw fail("expected ',' or the closing bracket", at: position - 1) }
            }
        default:
            let start = position
            while let byte = peek(), Self.isScalarByte(byte) { position += 1 }
            guard position > start else { throw fail("unexpected character '\(Self.printable(first))'") }
        }
    }

    private static func isScalarByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "E")
    }

    private static func printable(_ byte: UInt8) -> String {
        (0x21...0x7e).contains(byte) ? String(UnicodeScalar(byte)) : String(format: "0x%02x", byte)
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> SignedJSONResponse.Malformed {
        SignedJSONResponse.Malformed(reason: "\(reason) at byte \(offset ?? position) of \(bytes.count)")
    }
}
