import CoordinatorPKI
import Crypto
import Foundation
import Hexadecimal
import StrictJSON

/// The wire form of one audit log entry: a single JSON line
///
///     {"time":"2026-11-29T04:55:00.123Z","update":"Secret set",<event fields>,"kind":"secretWrite","seq":3,
///      "prev":"<hex SHA-256 of the previous line>","sig":"<base64 ECDSA signature>"}
///
/// - `time` and `update` come first and the event fields follow, as in MarbleRun's update log.
/// - `seq` counts entries from 0; `prev` is the lower-case hex SHA-256 of the previous line's UTF-8 bytes (without
///   its newline), 64 zeros for the first entry.
/// - `sig` is always the last member. It is the Coordinator root key's ECDSA signature (ASN.1 DER, base64) over
///   SHA-256 of the *signed bytes*: the line with its final `,"sig":"…"` member removed, i.e.
///   `line[..<range(of: ",\"sig\":\"", backwards)] + "}"`. Any tool can recompute them without re-encoding JSON.
public enum AuditLogLine {
    public static let reservedNames: Set<String> = ["time", "update", "kind", "seq", "prev", "sig"]
    public static let genesisHash = String(repeating: "0", count: 64)
    static let signatureMarker = ",\"sig\":\""

    /// Encodes and signs `event` as entry `sequence` following the line whose hash is `previousHash`.
    public static func make(
        _ event: AuditEvent, sequence: Int, previousHash: String, signer: CoordinatorSigningKey
    ) throws(AuditLogError) -> String {
        if let clash = event.fields.first(where: { reservedNames.contains($0.name) }) {
            throw AuditLogError.reservedFieldName(name: clash.name, reserved: reservedNames.sorted())
        }
        var body =
            "{\"time\":" + JSONValue.stringLiteral(timestamp(event.time))
            + ",\"update\":" + JSONValue.stringLiteral(event.message)
        for field in event.fields {
            body += "," + JSONValue.stringLiteral(field.name) + ":" + encoded(field.value)
        }
        body +=
            ",\"kind\":" + JSONValue.stringLiteral(event.kind.rawValue) + ",\"seq\":\(sequence),\"prev\":"
            + JSONValue.stringLiteral(previousHash)
        let signed = body + "}"
        let signature: Data
        do {
            signature = try signer.signature(for: Data(signed.utf8))
        } catch {
            throw AuditLogError.signingFailed(detail: "\(error)")
        }
        return body + signatureMarker + signature.base64EncodedString() + "\"}"
    }

    /// Lower-case hex SHA-256 of a line's UTF-8 bytes: the `prev` of the entry after it.
    public static func hash(_ line: String) -> String {
        Array(SHA256.hash(data: Data(line.utf8))).hexadecimal
    }

    /// The bytes the signature covers and the signature, or nil when the line does not end in a `sig` member.
    static func splitSignature(_ line: String) -> (signed: String, signature: String)? {
        guard line.hasSuffix("\"}"), let marker = line.range(of: signatureMarker, options: .backwards) else {
            return nil
        }
        let signature = line[marker.upperBound..<line.index(line.endIndex, offsetBy: -2)]
        guard !signature.contains("\"") else { return nil }
        return (String(line[..<marker.lowerBound]) + "}", String(signature))
    }

    static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    private static func encoded(_ value: AuditFieldValue) -> String {
        switch value {
        case .string(let text): JSONValue.stringLiteral(text)
        case .integer(let number): "\(number)"
        case .strings(let texts): "[" + texts.map(JSONValue.stringLiteral).joined(separator: ",") + "]"
        }
    }
}
