import Crypto
import Foundation
import _CryptoExtras

/// The manifest's `RecoveryKeys`: name → RSA public key (PEM `-----BEGIN PUBLIC KEY-----`), in name order.
public struct RecoveryKeys: Sendable {
    public struct Key: Sendable {
        public let name: String
        /// SubjectPublicKeyInfo DER; checked to be an RSA key of 2048 bits or more.
        public let derRepresentation: Data

        /// RSA-OAEP with SHA-256 (MarbleRun's recovery secret encryption).
        func encrypt(_ plaintext: [UInt8]) throws -> Data {
            try _RSA.Encryption.PublicKey(derRepresentation: derRepresentation)
                .encrypt(plaintext, padding: .PKCS1_OAEP_SHA256)
        }

        /// RSA PKCS#1 v1.5 over SHA-256(`message`) (MarbleRun's recovery share signature).
        func isValidSignature(_ signature: Data, for message: Data) -> Bool {
            guard let key = try? _RSA.Signing.PublicKey(derRepresentation: derRepresentation) else { return false }
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: message),
                padding: .insecurePKCS1v1_5
            )
        }
    }

    public let keys: [Key]

    public var names: [String] { keys.map(\.name) }

    /// Parses every key; RSA keys below 2048 bits are refused.
    public init(pemByName: [String: String]) throws(RecoveryError) {
        guard !pemByName.isEmpty else { throw RecoveryError.noRecoveryKeys }
        var keys: [Key] = []
        for (name, pem) in pemByName.sorted(by: { $0.key < $1.key }) {
            let der: Data
            do {
                der = try _RSA.Encryption.PublicKey(unsafePEMRepresentation: pem).derRepresentation
            } catch {
                throw RecoveryError.invalidRecoveryKey(
                    name: name, detail: "not an RSA SubjectPublicKeyInfo PEM (\(error))"
                )
            }
            keys.append(try Self.key(name: name, der: der))
        }
        self.keys = keys
    }

    init(keys: [Key]) { self.keys = keys }

    static func key(name: String, der: Data) throws(RecoveryError) -> Key {
        let bits: Int
        do {
            bits = try _RSA.Encryption.PublicKey(unsafeDERRepresentation: der).keySizeInBits
            _ = try _RSA.Signing.PublicKey(unsafeDERRepresentation: der)
        } catch {
            throw RecoveryError.invalidRecoveryKey(name: name, detail: "not an RSA public key (\(error))")
        }
        guard bits >= 2048 else {
            throw RecoveryError.invalidRecoveryKey(name: name, detail: "it has \(bits) bits, expected at least 2048")
        }
        return Key(name: name, derRepresentation: der)
    }
}
