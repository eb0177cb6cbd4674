import Crypto
import Hexadecimal
import StrictJSON

/// The form a manifest file was written in.
public enum ManifestSourceFormat: String, Sendable, Hashable, Codable {
    case json
    /// Converted to JSON as the MarbleRun CLI does before upload; `Manifest.bytes` is the converted JSON.
    case yaml
}

/// Why a file could not be read as a manifest at all (as opposed to a manifest with faults).
public struct ManifestReadError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public let hint: String

    public var description: String { "\(message); \(hint)" }
}

/// An uploaded manifest: the exact bytes MarbleRun stores, hashes and signs, their SHA-256, and the decoded content.
public struct Manifest: Sendable {
    /// The JSON bytes the Coordinator stores and signs: the upload itself, or for YAML the JSON it converts to.
    public let bytes: [UInt8]
    public let sourceFormat: ManifestSourceFormat
    /// SHA-256 of `bytes` (MarbleRun's `manifestFingerprint`).
    public let sha256: [UInt8]
    public let json: JSONValue
    public let content: ManifestContent
    let readingFindings: [Finding]
    let failedPaths: [JSONPath]

    /// Lower-case hex of `sha256`, as `GET /api/v2/manifest` reports it.
    public var fingerprint: String { sha256.hexadecimal }

    init(bytes: [UInt8], sourceFormat: ManifestSourceFormat, json: JSONValue, readingFindings: [Finding] = []) {
        self.bytes = bytes
        self.sourceFormat = sourceFormat
        self.sha256 = Array(SHA256.hash(data: bytes))
        self.json = json
        let (content, findings, failedPaths) = ManifestDecoder.decode(json)
        self.content = content
        self.readingFindings = readingFindings + findings
        self.failedPaths = failedPaths
    }
}

/// Reading manifest files and uploads.
public enum ManifestDocument {
    public enum AcceptedFormats: Sendable {
        /// What the Coordinator API accepts: JSON only.
        case json
        /// What the MarbleRun CLI accepts: JSON, else YAML converted to JSON.
        case jsonOrYAML
    }

    /// Reads `bytes` as a manifest. Throws only when the bytes are not JSON (or YAML); faults in the content are
    /// reported by `Manifest.validate()`.
    public static func parse(_ bytes: [UInt8], formats: AcceptedFormats = .jsonOrYAML) throws(ManifestReadError) -> Manifest {
        let jsonError: JSONSyntaxError
        do {
            let json = try JSONParser.parse(bytes)
            return Manifest(bytes: bytes, sourceFormat: .json, json: json)
        } catch {
            jsonError = error
        }
        let looksLikeJSON =
            bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }.map { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "[") } ?? false
        guard case .jsonOrYAML = formats else {
            throw ManifestReadError(
                message: "the manifest is not valid JSON (\(jsonError))",
                hint: "upload JSON; convert YAML with `cloister manifest hash` or the MarbleRun CLI first")
        }
        let json: JSONValue
        do {
            json = try YAMLConversion.convert(bytes)
        } catch {
            if looksLikeJSON {
                throw ManifestReadError(message: "the manifest is not valid JSON (\(jsonError))", hint: "fix the JSON syntax at that position")
            }
            throw ManifestReadError(message: "the manifest is neither JSON nor YAML (\(error.message))", hint: error.hint)
        }
        var notes: [Finding] = []
        if looksLikeJSON {
            notes.append(
                Finding(
                    .warning, .root, "the file is not valid JSON (\(jsonError)) and was read as YAML, as the MarbleRun CLI does",
                    hint: "fix the JSON; the Coordinator API accepts only JSON"))
        }
        return Manifest(bytes: GoJSONEncoding.encode(json), sourceFormat: .yaml, json: json, readingFindings: notes)
    }
}
