import StrictJSON

/// Why a digest, media type, platform, manifest, index or image configuration cannot be used. Each description names
/// the document and field, what was found against what was expected, and what to do.
public enum ImageFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedDigest(String, reason: String)
    case unsupportedDigestAlgorithm(String, digest: String)
    /// The bytes are not JSON at all.
    case invalidJSON(document: String, syntax: JSONSyntaxError)
    case missingField(document: String, field: String)
    /// A field the module reads appears twice; parsers disagree on which one wins, so neither is trusted.
    case duplicateField(document: String, field: String)
    /// A field differs from one the module reads only in letter case: Go-based tools (containers/image, Docker)
    /// match field names case-insensitively and would read it, so the document means different things to each.
    case fieldCaseMismatch(document: String, found: String, expected: String)
    case wrongType(document: String, field: String, expected: String, found: String)
    case invalidValue(document: String, field: String, value: String, expected: String)
    case unsupportedSchemaVersion(document: String, found: String)
    /// A media type that the module cannot handle where it appears.
    case unknownMediaType(document: String, field: String, mediaType: String, expected: [String])
    case zstdLayer(document: String, field: String, mediaType: String)
    case dockerSchema1(mediaType: String)
    /// The document is an index where a manifest was expected, or the other way round.
    case documentKindMismatch(document: String, expected: String, found: String)
    case malformedPlatform(String, reason: String)
    /// The index offers no manifest for the requested platform.
    case platformNotInIndex(requested: String, available: [String])

    public var description: String {
        switch self {
        case .malformedDigest(let text, let reason):
            return "digest '\(Self.clip(text))' is malformed: \(reason). Expected sha256: followed by 64 lower-case "
                + "hexadecimal digits."
        case .unsupportedDigestAlgorithm(let algorithm, let digest):
            return "digest '\(Self.clip(digest))' uses algorithm '\(Self.clip(algorithm))', expected sha256. Only sha256 "
                + "content is supported; re-push the image with sha256 digests (the default of every registry client)."
        case .invalidJSON(let document, let syntax):
            return "the \(document) is not valid JSON (\(syntax)). The source sent damaged or non-JSON content."
        case .missingField(let document, let field):
            return "the \(document) has no '\(field)', which it must have. The document is incomplete or not a \(document)."
        case .duplicateField(let document, let field):
            return "the \(document) has '\(field)' more than once. Tools disagree about which copy wins, so the "
                + "document is refused; rebuild it with a single '\(field)'."
        case .fieldCaseMismatch(let document, let found, let expected):
            return "the \(document) has a field '\(Self.clip(found))', expected '\(expected)' in that exact case. Go-based "
                + "tools would read it as '\(expected)' while others ignore it, so the document is refused."
        case .wrongType(let document, let field, let expected, let found):
            return "'\(field)' in the \(document) is \(found), expected \(expected)."
        case .invalidValue(let document, let field, let value, let expected):
            return "'\(field)' in the \(document) is '\(Self.clip(value))', expected \(expected)."
        case .unsupportedSchemaVersion(let document, let found):
            return "the \(document) has schemaVersion \(Self.clip(found)), expected 2 (OCI and Docker schema 2)."
        case .unknownMediaType(let document, let field, let mediaType, let expected):
            return "'\(field)' in the \(document) is the media type '\(Self.clip(mediaType))', expected one of: "
                + expected.joined(separator: ", ") + ". The image uses a format Cloister does not handle."
        case .zstdLayer(let document, let field, let mediaType):
            return "'\(field)' in the \(document) is a zstd-compressed layer (\(mediaType)), expected a tar or "
                + "tar+gzip layer. zstd layers are not supported yet: rebuild or re-push the image with gzip "
                + "compression (e.g. `skopeo copy --dest-compress-format gzip`)."
        case .dockerSchema1(let mediaType):
            return "the image manifest is Docker schema 1 (\(mediaType)), expected OCI or Docker schema 2. Schema 1 "
                + "is deprecated and has no content-addressed config: re-push the image with a current client."
        case .documentKindMismatch(let document, let expected, let found):
            return "the \(document) is \(found), expected \(expected)."
        case .malformedPlatform(let text, let reason):
            return "platform '\(Self.clip(text))' is malformed: \(reason). Expected os/arch or os/arch/variant, "
                + "e.g. linux/amd64 or linux/arm64/v8."
        case .platformNotInIndex(let requested, let available):
            let offered = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "the image index has no manifest for platform \(requested); it offers: \(offered). Choose one of "
                + "these with --platform."
        }
    }

    /// Untrusted text goes into messages: keep it short and on one line.
    static func clip(_ text: String) -> String {
        let oneLine = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return oneLine.count > 120 ? String(oneLine.prefix(120)) + "..." : oneLine
    }
}
