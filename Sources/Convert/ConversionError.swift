/// Why a conversion stopped. Every error names the step and what failed, what was found against what was expected,
/// and what to do; nothing is tagged when one is thrown (the destination tag is written last).
public struct ConversionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Who has to act.
    public enum Kind: String, Sendable, Hashable {
        /// A flag, file or key the user gave cannot be used.
        case unusableInput
        /// The image itself is refused: its content is wrong, unsupported or already converted.
        case refusedImage
        /// A registry or file transfer failed.
        case transfer
    }

    public let kind: Kind
    /// What failed: a reference, a path in the image, a flag.
    public let subject: String
    public let found: String
    public let expected: String
    public let hint: String

    public init(_ kind: Kind, _ subject: String, found: String, expected: String, hint: String) {
        self.kind = kind
        self.subject = subject
        self.found = found
        self.expected = expected
        self.hint = hint
    }

    public var description: String { "\(subject): found \(found), expected \(expected); \(hint)" }

    /// The CLI's exit code: 1 for a refused image, 2 for unusable input or an unreachable registry.
    public var exitCode: Int32 { kind == .refusedImage ? 1 : 2 }
}
