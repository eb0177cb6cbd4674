import Foundation

/// The marble API: how a launcher activates a marble with the Coordinator.
///
/// The launcher connects over mutual TLS, presenting a self-signed certificate for a key it generated, and posts an
/// ``ActivationRequest`` to ``ActivationRequest/path``. The quote's report data must start with
/// SHA-256(DER of that client certificate), so the Coordinator knows the key belongs to the attested enclave
/// (MarbleRun binds the same way). The answer is a JSend envelope around ``ActivationResponse``.
public struct ActivationRequest: Codable, Sendable, Hashable {
    public static let path = "/api/v2/activate"
    /// The default port of the marble API, as in MarbleRun.
    public static let defaultPort = 2001

    /// The raw DCAP quote (SGX v3, no OpenEnclave header).
    public var quote: Data
    /// A PKCS#10 certificate signing request (DER) signed by the marble's key: its subject and SANs
    /// (DNS names and IP addresses) go into the marble's certificate.
    public var csr: Data
    /// The marble type, a key of the manifest's `Marbles`.
    public var marbleType: String
    /// The marble's UUID (RFC 4122 text), kept by the launcher across restarts.
    public var uuid: String

    public init(quote: Data, csr: Data, marbleType: String, uuid: String) {
        self.quote = quote
        self.csr = csr
        self.marbleType = marbleType
        self.uuid = uuid
    }
}

/// What an activated marble receives: the rendered `Parameters` of its manifest entry plus the predefined
/// `MARBLE_PREDEFINED_*` environment entries. Values are bytes (base64 in JSON) because files may be binary.
public struct ActivationResponse: Codable, Sendable, Hashable {
    /// Absolute path -> content.
    public var files: [String: Data]
    /// Name -> value. Values never contain NUL bytes.
    public var env: [String: Data]
    /// The program's argument vector; empty means "keep the launcher's own arguments".
    public var argv: [String]

    public init(files: [String: Data], env: [String: Data], argv: [String]) {
        self.files = files
        self.env = env
        self.argv = argv
    }
}

/// Asks, before an activation, which files it will write, so that the launcher can check every target (parents,
/// links, permissions) without using up one of the marble type's activations. Sent on the activation's own
/// connection, so it costs one round trip and no handshake.
public struct ActivationPlanRequest: Codable, Sendable, Hashable {
    public static let path = "/api/v2/activation-plan"

    /// The marble type, a key of the manifest's `Marbles`.
    public var marbleType: String

    public init(marbleType: String) {
        self.marbleType = marbleType
    }
}

/// What an activation of a marble type will write: the keys of its manifest `Files` (the manifest is public, so this
/// tells nothing secret).
public struct ActivationPlan: Codable, Sendable, Hashable {
    /// Paths as the manifest gives them: absolute, or relative to the marble's working directory.
    public var files: [String]

    public init(files: [String]) {
        self.files = files
    }
}
