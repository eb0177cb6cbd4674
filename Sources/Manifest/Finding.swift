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

/// A location in the manifest, written with the Go field spelling (`Secrets.key.Size`). Map keys that are not plain
/// words (file paths, names with dots) are quoted: `Files["/etc/app.conf"]`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public static let root = JSONPath()

    public func appending(_ key: String) -> JSONPath {
        JSONPath(components + [.key(key)])
    }

    public func appending(index: Int) -> JSONPath {
        JSONPath(components + [.index(index)])
    }

    public static func / (path: JSONPath, key: String) -> JSONPath { path.appending(key) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let position):
                text += "[\(position)]"
            case .key(let key):
                let plain = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "<" || $0 == ">" }
                if plain {
                    text += text.isEmpty ? key : "." + key
                } else {
                    var escaped = ""
                    for character in key {
                        switch character {
                        case "\"": escaped += "\\\""
                        case "\\": escaped += "\\\\"
                        case "\n": escaped += "\\n"
                        default: escaped.append(character)
                        }
                    }
                    text += "[\"\(escaped)\"]"
                }
            }
        }
        return text
    }
}
