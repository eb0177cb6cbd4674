import Crypto
import Foundation
import _CryptoExtras

/// A recovery secret as a recovery-key holder submits it (MarbleRun `POST /api/v2/recover`): decrypted, or encrypted to
/// the Coordinator's ``RecoveryTransportKey``, with the holder's signature over the decrypted secret
/// (``RecoveryKeyHolder/sign(_:)``) so the Coordinator knows who sent it.
public struct RecoveryShare: Sendable {
    public let secret: [UInt8]
    public let signature: [UInt8]

    public init(secret: [UInt8], signature: [UInt8]) {
        self.secret = secret
        self.signature = signature
    }
}

/// The lengths of a decrypted recovery secret: 32 (a data key or an XOR share), 33 (a threshold share), 16 (before
/// MarbleRun 1.9). The Coordinator takes any other length as encrypted to its ephemeral recovery key.
public enum RecoverySecretLength {
    public static let decrypted: Set<Int> = [16, 32, 33]

    public static func isDecrypted(_ secret: [UInt8]) -> Bool { decrypted.contains(secret.count) }
}

/// The private half of one of the manifest's `RecoveryKeys` (RSA, PEM): it decrypts the recovery secret the
/// Coordinator encrypted to it, and signs the decrypted secret.
public struct RecoveryKeyHolder {
    private let encryptionKey: _RSA.Encryption.PrivateKey
    private let signingKey: _RSA.Signing.PrivateKey

    public init(privateKeyPEM: String) throws(CoordinatorClientError) {
        do {
            encryptionKey = try _RSA.Encryption.PrivateKey(pemRepresentation: privateKeyPEM)
            signingKey = try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "the recovery key is not an RSA private key in PEM", found: "\(error)",
                expected: "the private key matching a public key in the manifest's RecoveryKeys", hint: "Check --recovery-key.")
        }
    }

    /// The secret the Coordinator encrypted to this key (`manifest set --recovery-data`), decrypted.
    public func decrypt(_ encryptedSecret: [UInt8]) throws(CoordinatorClientError) -> [UInt8] {
        do {
            return Array(try encryptionKey.decrypt(encryptedSecret, padding: .PKCS1_OAEP_SHA256))
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "the recovery secret cannot be decrypted with this recovery key", found: "\(error)",
                expected: "the secret the Coordinator encrypted to this key (manifest set --recovery-data)",
                hint: "Use the entry of the recovery data that belongs to this key.")
        }
    }

    /// `secret` as it is if it already has a decrypted length, else decrypted with this key.
    public func decryptedIfNeeded(_ secret: [UInt8]) throws(CoordinatorClientError) -> [UInt8] {
        RecoverySecretLength.isDecrypted(secret) ? secret : try decrypt(secret)
    }

    /// The PKCS#1 v1.5 signature over SHA-256(`secret`) that `POST /api/v2/recover` checks against this key.
    public func sign(_ secret: [UInt8]) throws(CoordinatorClientError) -> [UInt8] {
        do {
            return Array(try signingKey.signature(for: SHA256.hash(data: secret), padding: .insecurePKCS1v1_5).rawRepresentation)
        } catch {
            throw CoordinatorClientError(.invalidInput, "cannot sign the recovery secret", found: "\(error)", hint: "Check --recovery-key.")
        }
    }
}

/// The Coordinator's ephemeral recovery public key (`GET /api/v2/recover/public-key`, RSA-4096, recovery mode only), to
/// which a decrypted recovery secret is encrypted (RSA-OAEP-SHA256) so that it can travel through untrusted hands.
/// It only lives until the Coordinator restarts or is recovered.
public struct RecoveryTransportKey {
    private let key: _RSA.Encryption.PublicKey

    /// The key from the API answer (PKIX DER).
    public init(derRepresentation: [UInt8]) throws(CoordinatorClientError) {
        do {
            key = try _RSA.Encryption.PublicKey(derRepresentation: derRepresentation)
        } catch {
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's recovery public key is not an RSA public key", found: "\(error)",
                expected: "PKIX DER of an RSA-4096 key", hint: "Check that the Coordinator version is compatible.")
        }
    }

    /// The key as `recover-with-signature public-key` saved it (PEM `PUBLIC KEY`).
    public init(pemRepresentation: String, source: String) throws(CoordinatorClientError) {
        do {
            key = try _RSA.Encryption.PublicKey(pemRepresentation: pemRepresentation)
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "\(source) is not an RSA public key in PEM", found: "\(error)",
                expected: "the file `cloister recover-with-signature public-key -o FILE` wrote",
                hint: "Fetch the key again from the Coordinator in recovery mode.")
        }
    }

    public var pemRepresentation: String { key.pemRepresentation }
    public var keySizeInBits: Int { key.keySizeInBits }

    /// `secret` (decrypted) encrypted to this key with RSA-OAEP-SHA256.
    public func encrypt(_ secret: [UInt8]) throws(CoordinatorClientError) -> [UInt8] {
        guard RecoverySecretLength.isDecrypted(secret) else {
            throw CoordinatorClientError(
                .invalidInput, "only a decrypted recovery secret can be encrypted to the Coordinator's key",
                found: "\(secret.count) bytes", expected: "16, 32 or 33 bytes",
                hint: "Give the recovery key with -k so the secret is decrypted first.")
        }
        do {
            return Array(try key.encrypt(secret, padding: .PKCS1_OAEP_SHA256))
        } catch {
            throw CoordinatorClientError(.invalidInput, "cannot encrypt the recovery secret", found: "\(error)", hint: "Fetch the key again.")
        }
    }
}
