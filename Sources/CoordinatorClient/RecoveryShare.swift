import Crypto
import Foundation
import _CryptoExtras

/// A recovery secret as a recovery-key holder submits it: decrypted with the holder's RSA key (OAEP-SHA256, as the
/// Coordinator encrypted it), then signed with the same key (PKCS#1 v1.5 over SHA-256) so the Coordinator knows who
/// sent it (MarbleRun `POST /api/v2/recover`).
public struct RecoveryShare: Sendable {
    public let secret: [UInt8]
    public let signature: [UInt8]

    public init(encryptedSecret: [UInt8], privateKeyPEM: String) throws(CoordinatorClientError) {
        let encryptionKey: _RSA.Encryption.PrivateKey
        let signingKey: _RSA.Signing.PrivateKey
        do {
            encryptionKey = try _RSA.Encryption.PrivateKey(pemRepresentation: privateKeyPEM)
            signingKey = try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "the recovery key is not an RSA private key in PEM", found: "\(error)",
                expected: "the private key matching a public key in the manifest's RecoveryKeys", hint: "Check --recovery-key.")
        }
        do {
            secret = Array(try encryptionKey.decrypt(encryptedSecret, padding: .PKCS1_OAEP_SHA256))
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "the recovery secret cannot be decrypted with this recovery key", found: "\(error)",
                expected: "the secret the Coordinator encrypted to this key (manifest set --recovery-data)",
                hint: "Use the entry of the recovery data that belongs to this key.")
        }
        do {
            signature = Array(try signingKey.signature(for: SHA256.hash(data: secret), padding: .insecurePKCS1v1_5).rawRepresentation)
        } catch {
            throw CoordinatorClientError(.invalidInput, "cannot sign the recovery secret", found: "\(error)", hint: "Check --recovery-key.")
        }
    }
}
