import StrictJSON

/// One fault or remark about a manifest: where (a JSON path such as `Marbles.frontend.Parameters.Env.KEY`), what is
/// wrong, and what to do about it.
public struct Finding: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        /// MarbleRun (or, where noted, Cloister) rejects the manifest.
        case error
        /// Accepted, but probably not what was meant, or unsafe for production.
        case warning
    }

    public let severity: Severity
    public let path: String
    public let message: String
    public let hint: String

    public init(_ severity: Severity, _ path: JSONPath, _ message: String, hint: String) {
        self.severity = severity
        self.path = path.description
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let location = path.isEmpty ? "(manifest)" : path
        return "\(location): \(message); \(hint)"
    }
}

/// Errors and warnings found in a manifest, each list sorted by path.
public struct ValidationReport: Sendable, Hashable, Codable {
    public let errors: [Finding]
    public let warnings: [Finding]

    public var isValid: Bool { errors.isEmpty }

    public init(findings: [Finding]) {
        let unique = Array(Set(findings))
        let ordered = unique.sorted { ($0.path, $0.message) < ($1.path, $1.message) }
        errors = ordered.filter { $0.severity == .error }
        warnings = ordered.filter { $0.severity == .warning }
    }
}
