/// Failures while writing or reading the audit log.
public enum AuditLogError: Error, Equatable, CustomStringConvertible {
    case reservedFieldName(name: String, reserved: [String])
    case signingFailed(detail: String)
    case corruptHead(detail: String)

    public var description: String {
        switch self {
        case .reservedFieldName(let name, let reserved):
            "audit event field '\(name)' uses a reserved name (\(reserved.joined(separator: ", "))); rename the field"
        case .signingFailed(let detail):
            "signing the audit log entry failed: \(detail); check the Coordinator root key in sealed state"
        case .corruptHead(let detail):
            "the audit log head in sealed state is unreadable: \(detail); verify the log with AuditLogVerifier and "
                + "restore the state from a backup"
        }
    }
}

/// The first place where an audit log fails verification.
public struct AuditLogBreak: Error, Equatable, CustomStringConvertible {
    public enum Problem: String, Sendable {
        case emptyLine = "empty line"
        case truncated = "truncated entry (no final \"sig\" member)"
        case malformedJSON = "malformed JSON"
        case missingField = "missing or mistyped field"
        case sequence = "sequence number"
        case previousHash = "previous-entry hash"
        case signature = "signature"
        case missingEntries = "entries missing at the end"
        case headHash = "last entry hash"
    }

    /// Zero-based index of the broken entry (line), or the expected count for problems at the end of the log.
    public let index: Int
    public let problem: Problem
    public let expected: String
    public let found: String

    public var description: String {
        "audit log entry \(index) is broken: \(problem.rawValue): expected \(expected), found \(found); entries "
            + "before \(index) are intact, this one and all after it cannot be trusted"
    }
}
