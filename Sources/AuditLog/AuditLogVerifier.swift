import CoordinatorPKI
import Foundation
import StrictJSON

/// Where a verified log ends: how many entries and the hash of the last line. The Coordinator keeps it in sealed
/// state so that removing entries from the end is detected too.
public struct AuditLogHead: Codable, Sendable, Hashable {
    public var count: Int
    /// ``AuditLogLine/hash(_:)`` of the last line, or ``AuditLogLine/genesisHash`` for an empty log.
    public var lastHash: String

    public static let empty = AuditLogHead(count: 0, lastHash: AuditLogLine.genesisHash)

    public init(count: Int, lastHash: String) {
        self.count = count
        self.lastHash = lastHash
    }
}

/// Checks an audit log: every line well formed, sequence numbers consecutive from 0, each `prev` the hash of the
/// line before, each signature valid under the Coordinator root key, and optionally the end matching a known head.
public enum AuditLogVerifier {
    /// Verifies `lines` (one entry each, no newlines) and returns the head, or throws the first ``AuditLogBreak``.
    public static func verify(
        lines: [String], rootKey: CoordinatorVerifyingKey, expectedHead: AuditLogHead? = nil
    ) throws(AuditLogBreak) -> AuditLogHead {
        var previousHash = AuditLogLine.genesisHash
        for (index, line) in lines.enumerated() {
            try verify(line: line, index: index, previousHash: previousHash, rootKey: rootKey)
            previousHash = AuditLogLine.hash(line)
        }
        let head = AuditLogHead(count: lines.count, lastHash: previousHash)
        if let expectedHead {
            guard head.count >= expectedHead.count else {
                throw AuditLogBreak(
                    index: head.count, problem: .missingEntries,
                    expected: "\(expectedHead.count) entries", found: "\(head.count) entries"
                )
            }
            if head.count == expectedHead.count, head.lastHash != expectedHead.lastHash {
                throw AuditLogBreak(
                    index: head.count - 1, problem: .headHash, expected: expectedHead.lastHash, found: head.lastHash
                )
            }
        }
        return head
    }

    /// Verifies a log as text: JSON lines separated by "\n"; a final newline is allowed.
    public static func verify(
        text: String, rootKey: CoordinatorVerifyingKey, expectedHead: AuditLogHead? = nil
    ) throws(AuditLogBreak) -> AuditLogHead {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return try verify(lines: lines, rootKey: rootKey, expectedHead: expectedHead)
    }

    private static func verify(
        line: String, index: Int, previousHash: String, rootKey: CoordinatorVerifyingKey
    )
        throws(AuditLogBreak)
    {
        guard !line.isEmpty else {
            throw AuditLogBreak(index: index, problem: .emptyLine, expected: "a JSON object", found: "an empty line")
        }
        guard let (signed, signature) = AuditLogLine.splitSignature(line) else {
            throw AuditLogBreak(
                index: index, problem: .truncated, expected: "a line ending in ,\"sig\":\"<base64>\"}",
                found: "…" + String(line.suffix(24))
            )
        }
        let members: [JSONMember]
        do {
            guard case .object(let parsed) = try JSONParser.parse(Array(line.utf8)) else {
                throw AuditLogBreak(index: index, problem: .malformedJSON, expected: "a JSON object", found: "another JSON value")
            }
            members = parsed
        } catch let error as AuditLogBreak {
            throw error
        } catch {
            throw AuditLogBreak(
                index: index, problem: .malformedJSON, expected: "a JSON object", found: "\(String(line.prefix(40)))… (\(error))"
            )
        }
        var object: [String: JSONValue] = [:]
        for member in members {
            // A signed line names each member once: a second value would let a reader and the signer disagree.
            guard object.updateValue(member.value, forKey: member.key) == nil else {
                throw AuditLogBreak(index: index, problem: .malformedJSON, expected: "each member once", found: "\"\(member.key)\" twice")
            }
        }
        var strings: [String: String] = [:]
        for name in ["time", "update", "kind", "prev", "sig"] {
            guard case .string(let value)? = object[name] else {
                throw AuditLogBreak(
                    index: index, problem: .missingField, expected: "string member \"\(name)\"",
                    found: object[name]?.kindDescription ?? "nothing"
                )
            }
            strings[name] = value
        }
        guard case .number(let literal)? = object["seq"], let sequence = Int(literal) else {
            throw AuditLogBreak(
                index: index, problem: .missingField, expected: "integer member \"seq\"",
                found: object["seq"]?.kindDescription ?? "nothing"
            )
        }
        guard sequence == index else {
            throw AuditLogBreak(index: index, problem: .sequence, expected: "\(index)", found: "\(sequence)")
        }
        let previous = strings["prev", default: ""]
        guard previous == previousHash else {
            throw AuditLogBreak(index: index, problem: .previousHash, expected: previousHash, found: previous)
        }
        guard let signatureBytes = Data(base64Encoded: signature),
            rootKey.isValidSignature(signatureBytes, for: Data(signed.utf8))
        else {
            throw AuditLogBreak(
                index: index, problem: .signature,
                expected: "an ECDSA signature by the Coordinator root key over SHA-256 of the line without \"sig\"",
                found: "\"\(signature.prefix(16))…\", which does not verify"
            )
        }
    }
}
