import CoordinatorClient
import Crypto
import Foundation
import Testing
import _CryptoExtras

/// The key holder's side of recovery: decrypt what the Coordinator encrypted, sign the decrypted secret, and encrypt
/// it to the Coordinator's ephemeral key; each refusal says what was wrong.
@Suite struct RecoveryKeyTests {
    let recoveryKey: _RSA.Encryption.PrivateKey
    let transportKey: _RSA.Encryption.PrivateKey

    init() throws {
        recoveryKey = try _RSA.Encryption.PrivateKey(keySize: .bits2048)
        transportKey = try _RSA.Encryption.PrivateKey(keySize: .bits2048)
    }

    @Test func decryptSignAndEncryptRoundTrip() throws {
        let holder = try RecoveryKeyHolder(privateKeyPEM: recoveryKey.pemRepresentation)
        let secret = [UInt8](repeating: 7, count: 32)
        let encrypted = Array(try recoveryKey.publicKey.encrypt(secret, padding: .PKCS1_OAEP_SHA256))
        #expect(try holder.decrypt(encrypted) == secret)
        #expect(try holder.decryptedIfNeeded(encrypted) == secret)
        #expect(try holder.decryptedIfNeeded(secret) == secret)

        let signature = try holder.sign(secret)
        let verifier = try _RSA.Signing.PublicKey(derRepresentation: recoveryKey.publicKey.derRepresentation)
        #expect(
            verifier.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: secret), padding: .insecurePKCS1v1_5))

        let transport = try RecoveryTransportKey(derRepresentation: Array(transportKey.publicKey.derRepresentation))
        let reloaded = try RecoveryTransportKey(pemRepresentation: transport.pemRepresentation, source: "key.pem")
        #expect(reloaded.keySizeInBits == 2048)
        let transported = try reloaded.encrypt(secret)
        #expect(Array(try transportKey.decrypt(transported, padding: .PKCS1_OAEP_SHA256)) == secret)
    }

    @Test func refusalsNameTheProblem() throws {
        let notAKey = #expect(throws: CoordinatorClientError.self) { try RecoveryKeyHolder(privateKeyPEM: "garbage") }
        #expect(notAKey?.kind == .invalidInput && notAKey?.hint == "Check --recovery-key.")

        let holder = try RecoveryKeyHolder(privateKeyPEM: recoveryKey.pemRepresentation)
        let foreign = Array(try transportKey.publicKey.encrypt([UInt8](repeating: 1, count: 32), padding: .PKCS1_OAEP_SHA256))
        let wrongKey = #expect(throws: CoordinatorClientError.self) { try holder.decrypt(foreign) }
        #expect(wrongKey?.message.contains("cannot be decrypted with this recovery key") == true)

        let transport = try RecoveryTransportKey(derRepresentation: Array(transportKey.publicKey.derRepresentation))
        let stillEncrypted = #expect(throws: CoordinatorClientError.self) { try transport.encrypt(foreign) }
        #expect(stillEncrypted?.found == "256 bytes" && stillEncrypted?.hint.contains("-k") == true)

        let badAnswer = #expect(throws: CoordinatorClientError.self) { try RecoveryTransportKey(derRepresentation: [1, 2, 3]) }
        #expect(badAnswer?.kind == .malformedAnswer)
        let badFile = #expect(throws: CoordinatorClientError.self) { try RecoveryTransportKey(pemRepresentation: "x", source: "key.pem") }
        #expect(badFile?.message.contains("key.pem") == true)
    }
}
