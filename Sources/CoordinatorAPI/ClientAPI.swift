import Foundation

/// The client API: MarbleRun's REST API v2 (`coordinator/server/v2/types.go`), with its paths, JSON member names and
/// encodings, so that existing scripts and the MarbleRun CLI work against a Cloister Coordinator.
///
/// Every answer is a ``JSend`` envelope. Byte fields are base64 (Go `[]byte`); member names are exactly MarbleRun's,
/// including its Go-cased ones (`RecoverySecrets`, and `Type`, `Size`, ... in secrets).
public enum ClientAPIPath {
    /// The default port of the client API, as in MarbleRun.
    public static let defaultPort = 4433

    public static let status = "/api/v2/status"
    public static let quote = "/api/v2/quote"
    public static let manifest = "/api/v2/manifest"
    public static let update = "/api/v2/update"
    public static let updateManifest = "/api/v2/update-manifest"
    public static let updateCancel = "/api/v2/update-cancel"
    public static let secrets = "/api/v2/secrets"
    public static let recover = "/api/v2/recover"
    public static let recoveryPublicKey = "/api/v2/recover/public-key"
    public static let openAPI = "/api/v2/openapi.json"
    public static let metrics = "/metrics"
    public static let health = "/healthz"
    public static let readiness = "/readyz"
}

/// `GET /api/v2/status`.
public struct StatusResponse: Codable, Sendable, Hashable {
    /// MarbleRun's state code: 0 uninitialized, 1 recovery, 2 accepting manifest, 3 accepting marbles.
    public var code: Int
    /// What the Coordinator expects next; on a simulated platform it carries a warning that nothing is protected.
    public var message: String
    /// The Coordinator's release (``CloisterRelease/version``). Not in MarbleRun's answer, whose clients ignore it;
    /// absent when a MarbleRun Coordinator answers.
    public var version: String?

    public init(code: Int, message: String, version: String? = nil) {
        self.code = code
        self.message = message
        self.version = version
    }
}

/// `GET /api/v2/quote[?nonce=<base64url>]`.
public struct CertQuoteResponse: Codable, Sendable, Hashable {
    /// PEM of the intermediate followed by PEM of the root certificate.
    public var cert: String
    /// The DCAP quote whose report data is SHA-256(root certificate DER [‖ nonce]).
    public var quote: Data

    public init(cert: String, quote: Data) {
        self.cert = cert
        self.quote = quote
    }
}

/// `GET /api/v2/manifest`.
public struct ManifestGetResponse: Codable, Sendable, Hashable {
    /// ASN.1 DER ECDSA signature by the root key over SHA-256 of the manifest.
    public var manifestSignatureRootECDSA: Data
    /// Lower-case hex SHA-256 of the manifest as uploaded.
    public var manifestFingerprint: String
    /// The manifest exactly as uploaded.
    public var manifest: Data

    public init(manifestSignatureRootECDSA: Data, manifestFingerprint: String, manifest: Data) {
        self.manifestSignatureRootECDSA = manifestSignatureRootECDSA
        self.manifestFingerprint = manifestFingerprint
        self.manifest = manifest
    }
}

/// `POST /api/v2/manifest`, `POST /api/v2/update` and `POST /api/v2/update-manifest`: a manifest's exact bytes.
public struct ManifestRequest: Codable, Sendable, Hashable {
    public var manifest: Data

    public init(manifest: Data) {
        self.manifest = manifest
    }
}

/// `POST /api/v2/manifest`: the recovery secrets, per recovery key name, encrypted to that key (RSA-OAEP-SHA256).
public struct ManifestSetResponse: Codable, Sendable, Hashable {
    public var recoverySecrets: [String: Data]

    public init(recoverySecrets: [String: Data]) {
        self.recoverySecrets = recoverySecrets
    }

    enum CodingKeys: String, CodingKey {
        case recoverySecrets = "RecoverySecrets"
    }
}

/// `GET /api/v2/update`: the update log, one JSON line per state change, oldest first.
public struct UpdateLogResponse: Codable, Sendable, Hashable {
    public var updateLog: [String]

    public init(updateLog: [String]) {
        self.updateLog = updateLog
    }
}

/// `POST /api/v2/update`: a package update is applied at once; a full manifest update waits for acknowledgements.
public struct UpdateApplyResponse: Codable, Sendable, Hashable {
    public var missingAcknowledgments: Int
    public var missingUsers: [String]
    /// New recovery secrets, when an applied update changed the recovery keys.
    public var recoverySecrets: [String: Data]?

    public init(missingAcknowledgments: Int, missingUsers: [String], recoverySecrets: [String: Data]?) {
        self.missingAcknowledgments = missingAcknowledgments
        self.missingUsers = missingUsers
        self.recoverySecrets = recoverySecrets
    }
}

/// `GET /api/v2/update-manifest`: the pending full update.
public struct UpdateManifestGetResponse: Codable, Sendable, Hashable {
    public var manifest: Data
    public var message: String
    public var missingUsers: [String]

    public init(manifest: Data, message: String, missingUsers: [String]) {
        self.manifest = manifest
        self.message = message
        self.missingUsers = missingUsers
    }
}

/// `POST /api/v2/update-manifest`: an acknowledgement was counted; the update is applied when none is missing.
public struct UpdateManifestPostResponse: Codable, Sendable, Hashable {
    public var message: String
    public var missingUsers: [String]
    public var missingAcknowledgments: Int
    public var recoverySecrets: [String: Data]?

    public init(message: String, missingUsers: [String], missingAcknowledgments: Int, recoverySecrets: [String: Data]?) {
        self.message = message
        self.missingUsers = missingUsers
        self.missingAcknowledgments = missingAcknowledgments
        self.recoverySecrets = recoverySecrets
    }
}

/// `POST /api/v2/update-cancel`.
public struct UpdateCancelResponse: Codable, Sendable, Hashable {
    public var message: String

    public init(message: String) {
        self.message = message
    }
}

/// A secret as `GET /api/v2/secrets` returns it: MarbleRun's `manifest.Secret`, with its Go member names.
public struct SecretObject: Codable, Sendable, Hashable {
    public var type: String
    public var size: UInt64
    public var shared: Bool
    public var userDefined: Bool
    /// DER certificate; empty when the secret has none.
    public var cert: Data
    public var validFor: UInt64
    /// PKCS#8 private key, or the key/data itself for symmetric and plain secrets.
    public var privateKey: Data
    /// PKIX public key, or the key/data itself for symmetric and plain secrets.
    public var publicKey: Data

    public init(
        type: String, size: UInt64, shared: Bool, userDefined: Bool, cert: Data, validFor: UInt64, privateKey: Data,
        publicKey: Data
    ) {
        self.type = type
        self.size = size
        self.shared = shared
        self.userDefined = userDefined
        self.cert = cert
        self.validFor = validFor
        self.privateKey = privateKey
        self.publicKey = publicKey
    }

    enum CodingKeys: String, CodingKey {
        case type = "Type"
        case size = "Size"
        case shared = "Shared"
        case userDefined = "UserDefined"
        case cert = "Cert"
        case validFor = "ValidFor"
        case privateKey = "Private"
        case publicKey = "Public"
    }
}

/// `GET /api/v2/secrets?s=name&s=...`.
public struct SecretsGetResponse: Codable, Sendable, Hashable {
    public var secrets: [String: SecretObject]

    public init(secrets: [String: SecretObject]) {
        self.secrets = secrets
    }
}

/// A user-defined secret as `POST /api/v2/secrets` takes it: MarbleRun's `manifest.UserSecret`. Members that do not
/// apply to the secret's type are absent.
public struct UserSecretObject: Codable, Sendable, Hashable {
    /// DER certificate, for `cert-*` secrets.
    public var cert: Data?
    /// PKCS#8 private key, for `cert-*` secrets.
    public var privateKey: Data?
    /// The key or data, for `symmetric-key` and `plain` secrets.
    public var key: Data?

    public init(cert: Data? = nil, privateKey: Data? = nil, key: Data? = nil) {
        self.cert = cert
        self.privateKey = privateKey
        self.key = key
    }

    enum CodingKeys: String, CodingKey {
        case cert = "Cert"
        case privateKey = "Private"
        case key = "Key"
    }
}

/// `POST /api/v2/secrets`; the answer's `data` is `null`.
public struct SecretsSetRequest: Codable, Sendable, Hashable {
    public var secrets: [String: UserSecretObject]

    public init(secrets: [String: UserSecretObject]) {
        self.secrets = secrets
    }
}

/// `POST /api/v2/recover`: a decrypted recovery secret (or share), signed with the matching recovery key.
public struct RecoveryRequest: Codable, Sendable, Hashable {
    /// The maximum body MarbleRun reads for this request.
    public static let maximumBodySize = 20_480

    public var recoverySecret: Data
    /// RSA PKCS#1 v1.5 signature over SHA-256(`recoverySecret`) with the recovery key's private key.
    public var recoverySecretSignature: Data

    public init(recoverySecret: Data, recoverySecretSignature: Data) {
        self.recoverySecret = recoverySecret
        self.recoverySecretSignature = recoverySecretSignature
    }
}

/// `POST /api/v2/recover`.
public struct RecoveryResponse: Codable, Sendable, Hashable {
    /// Shares still needed; 0 when the state was recovered.
    public var remaining: Int
    public var message: String

    public init(remaining: Int, message: String) {
        self.remaining = remaining
        self.message = message
    }
}

/// `GET /api/v2/recover/public-key` (recovery mode only): an ephemeral RSA-4096 key to which a recovery key holder may
/// encrypt the decrypted recovery secret (RSA-OAEP-SHA256) before sending it, for transport through untrusted hands.
public struct RecoveryPublicKeyResponse: Codable, Sendable, Hashable {
    /// Always "RSA".
    public var algorithm: String
    /// PKIX (SubjectPublicKeyInfo) DER of the key.
    public var ephemeralPublicKey: Data

    public init(algorithm: String = "RSA", ephemeralPublicKey: Data) {
        self.algorithm = algorithm
        self.ephemeralPublicKey = ephemeralPublicKey
    }
}

/// `GET /healthz` and `GET /readyz`: whether the Coordinator answers, and in which state. Not part of MarbleRun's API.
public struct HealthResponse: Codable, Sendable, Hashable {
    /// MarbleRun's state code (see ``StatusResponse/code``).
    public var code: Int
    /// The state in words, e.g. "accepting marbles".
    public var state: String
    /// True when the Coordinator runs without an enclave: nothing it holds is protected.
    public var simulation: Bool

    public init(code: Int, state: String, simulation: Bool) {
        self.code = code
        self.state = state
        self.simulation = simulation
    }
}
