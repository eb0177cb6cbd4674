import Foundation
import Manifest
import Platform

/// The Coordinator's state, with MarbleRun's codes (`coordinator/state/state.go`).
public enum CoordinatorState: Int, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case uninitialized = 0
    /// Sealed state exists but cannot be unsealed: waiting for recovery shares, or for a new manifest.
    case recovery = 1
    case acceptingManifest = 2
    case acceptingMarbles = 3

    /// MarbleRun's status message for the state (`Core.GetState`).
    public var message: String {
        switch self {
        case .uninitialized: "Coordinator is in uninitialized state."
        case .recovery:
            "Coordinator is in recovery mode. Either upload a key to unseal the saved state, or set a new manifest. "
                + "For more information on how to proceed, consult the documentation."
        case .acceptingManifest: "Coordinator is ready to accept a manifest."
        case .acceptingMarbles: "Coordinator is running correctly and ready to accept marbles."
        }
    }

    public var description: String {
        switch self {
        case .uninitialized: "uninitialized"
        case .recovery: "recovery"
        case .acceptingManifest: "accepting manifest"
        case .acceptingMarbles: "accepting marbles"
        }
    }
}

/// `GET /api/v2/status`: MarbleRun's `{"code", "message"}`, plus the platform, so that simulation is never silent.
public struct CoordinatorStatus: Sendable, Hashable {
    public let state: CoordinatorState
    public let platform: PlatformKind
    /// Why the Coordinator is in recovery mode, when it is.
    public let recoveryReason: String?
    /// False when the manifest's `SealMode` is `Disabled`: the state is kept in memory only, and a restart starts
    /// afresh.
    public let statePersisted: Bool

    /// MarbleRun's status code (0-3).
    public var code: Int { state.rawValue }

    /// MarbleRun's message; on a simulated platform a warning that nothing is protected is appended.
    public var message: String {
        var message = state.message
        if !statePersisted { message += " " + CoordinatorStatus.notPersistedNotice }
        if !platform.isSecure { message += " " + CoordinatorStatus.simulationNotice }
        return message
    }

    public var isSimulation: Bool { !platform.isSecure }

    /// Appended to status messages when the state is not persisted.
    public static let notPersistedNotice =
        "State is not persisted (SealMode Disabled): it is lost when the Coordinator stops."

    /// Appended to status messages and attached to results on a simulated platform.
    public static let simulationNotice =
        "WARNING: SIMULATION MODE: no SGX enclave protects this Coordinator and its quotes prove nothing."
}

/// `GET /api/v2/quote`: the certificate chain clients pin and the quote that binds its root.
public struct CoordinatorQuote: Sendable, Hashable {
    /// PEM of the intermediate followed by PEM of the root (MarbleRun's `cert`).
    public let certificateChainPEM: String
    /// The DCAP quote whose report data is SHA-256(root DER [‖ nonce]) followed by zeros.
    public let quote: [UInt8]
    /// The nonce the quote binds, if the client sent one.
    public let nonce: [UInt8]?
    public let platform: PlatformKind

    public var isSimulation: Bool { !platform.isSecure }
}

/// `GET /api/v2/manifest`: the raw manifest as uploaded, with the root key's signature over its SHA-256.
public struct SignedManifest: Sendable, Hashable {
    /// The exact bytes uploaded.
    public let manifest: [UInt8]
    /// ASN.1 DER ECDSA signature by the root key over SHA-256(`manifest`) (`manifestSignatureRootECDSA`).
    public let signature: [UInt8]
    /// Lower-case hex SHA-256 of `manifest` (`manifestFingerprint`).
    public let fingerprint: String
}

/// The answer to setting a manifest: `{"RecoverySecrets": {keyName: RSA-OAEP ciphertext}}`.
public struct ManifestSetResult: Sendable, Hashable {
    /// Per recovery key name, the recovery secret (the data key or a share of it) encrypted to that key with
    /// RSA-OAEP-SHA256. Empty when the manifest has no recovery keys.
    public let recoverySecrets: [String: [UInt8]]
    /// Warnings of the manifest validation (accepted, but likely mistakes).
    public let warnings: [String]
}

/// The answer to `POST /api/v2/update` and `POST /api/v2/update-manifest`.
public struct UpdateResult: Sendable, Hashable {
    public let message: String
    /// Acknowledgements still needed before a full update is applied; 0 when it was applied.
    public let missingAcknowledgments: Int
    /// Users who may still acknowledge, sorted.
    public let missingUsers: [String]
    /// New recovery secrets when the applied update changed the recovery keys or threshold.
    public let recoverySecrets: [String: [UInt8]]?
}

/// `GET /api/v2/update-manifest`: the pending full update.
public struct PendingUpdate: Sendable, Hashable {
    public let manifest: [UInt8]
    public let message: String
    public let missingUsers: [String]
    public let missingAcknowledgments: Int
}

/// A secret as the client API returns it (MarbleRun's `Secret` JSON: `Type`, `Size`, `Shared`, `UserDefined`,
/// `Cert`, `ValidFor`, `Private`, `Public`).
public struct SecretRecord: Sendable, Hashable, Codable {
    public var type: String
    public var size: UInt64
    public var shared: Bool
    public var userDefined: Bool
    public var validFor: UInt64
    /// DER certificate, empty when the secret has none.
    public var certificate: [UInt8]
    /// PKCS#8 private key, or the key/data itself for symmetric and plain secrets.
    public var privateKey: [UInt8]
    /// PKIX public key, or the key/data itself for symmetric and plain secrets.
    public var publicKey: [UInt8]

    public init(
        type: String, size: UInt64, shared: Bool, userDefined: Bool, validFor: UInt64, certificate: [UInt8],
        privateKey: [UInt8], publicKey: [UInt8]
    ) {
        self.type = type
        self.size = size
        self.shared = shared
        self.userDefined = userDefined
        self.validFor = validFor
        self.certificate = certificate
        self.privateKey = privateKey
        self.publicKey = publicKey
    }

    var value: SecretValue {
        SecretValue(type: SecretType(rawValue: type), certificate: certificate, publicKey: publicKey, privateKey: privateKey)
    }
}

/// A user-defined secret as uploaded with `POST /api/v2/secrets` (MarbleRun's `UserSecret`: `Cert`, `Private`, `Key`).
public struct UserSecretUpload: Sendable, Hashable {
    /// DER certificate, for `cert-*` secrets.
    public var certificate: [UInt8]
    /// PKCS#8 private key, for `cert-*` secrets (optional).
    public var privateKey: [UInt8]
    /// The key or data, for `symmetric-key` and `plain` secrets.
    public var key: [UInt8]

    public init(certificate: [UInt8] = [], privateKey: [UInt8] = [], key: [UInt8] = []) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.key = key
    }
}

/// The answer to `POST /api/v2/recover`.
public struct RecoveryProgress: Sendable, Hashable {
    /// Shares still needed; 0 when the state was recovered.
    public let remaining: Int
    public let message: String
}
