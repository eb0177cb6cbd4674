/// Why a command against the Coordinator did not succeed: what failed, the value seen against the value expected, and
/// what to do. ``exitCode`` follows the CLI's convention: 1 refused or failed check, 2 usage or unreachable.
public struct CoordinatorClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// The Coordinator could not be reached (address, connection, TLS handshake).
        case unreachable
        /// The Coordinator failed verification: its quote, its policy, or the root it presents.
        case untrusted
        /// The Coordinator answered, and refused the request (JSend `fail` or `error`).
        case refused
        /// Local input is unusable: a flag, a policy file, a certificate or key file.
        case invalidInput
        /// The Coordinator answered with something that is not the documented JSend answer.
        case malformedAnswer
    }

    public let kind: Kind
    public let message: String
    public let found: String?
    public let expected: String?
    public let hint: String
    /// The attestation explanation (one line per check) when verification of the quote failed.
    public let explanation: String?

    public init(
        _ kind: Kind, _ message: String, found: String? = nil, expected: String? = nil, hint: String,
        explanation: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.found = found
        self.expected = expected
        self.hint = hint
        self.explanation = explanation
    }

    public var exitCode: Int32 {
        switch kind {
        case .unreachable, .invalidInput: 2
        case .untrusted, .refused, .malformedAnswer: 1
        }
    }

    public var description: String {
        var text = message
        if let found { text += "\n  found: \(found)" }
        if let expected { text += "\n  expected: \(expected)" }
        if let explanation { text += "\n" + explanation.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") }
        text += "\n  hint: \(hint)"
        return text
    }
}
