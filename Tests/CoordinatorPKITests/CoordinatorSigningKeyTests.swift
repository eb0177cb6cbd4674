import Crypto
import Foundation
import Testing
import X509

@testable import CoordinatorPKI

@Suite("Coordinator signing keys on either curve")
struct CoordinatorSigningKeyTests {
    @Test("a key restores from PKCS#8, signs, and its public half verifies", arguments: CoordinatorCurve.allCases)
    func roundTrip(curve: CoordinatorCurve) throws {
        let key = CoordinatorSigningKey(generatingOn: curve)
        #expect(key.curve == curve)
        let restored = try CoordinatorSigningKey(pkcs8DER: key.pkcs8DER)
        #expect(restored == key)
        #expect(restored.hashValue == key.hashValue)
        #expect(restored.curve == curve)
        #expect(key.pkcs8PEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(key.certificateSignatureAlgorithm == (curve == .p256 ? .ecdsaWithSHA256 : .ecdsaWithSHA384))

        let message = Array("manifest".utf8)
        let signature = try key.signature(for: message)
        let publicKey = try CoordinatorVerifyingKey(pem: key.publicKey.pem)
        #expect(publicKey == key.publicKey)
        #expect(publicKey.curve == curve)
        #expect(publicKey.isValidSignature(signature, for: message))
        #expect(!publicKey.isValidSignature(signature, for: Array("other".utf8)))
        #expect(!publicKey.isValidSignature([0x30, 0x00], for: message))
        #expect(!CoordinatorSigningKey(generatingOn: curve).publicKey.isValidSignature(signature, for: message))
    }

    @Test("the public key of a certificate is read on either curve", arguments: CoordinatorCurve.allCases)
    func certificateKey(curve: CoordinatorCurve) throws {
        let key = CoordinatorSigningKey(generatingOn: curve)
        let name = try DistinguishedName { CommonName("key test") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.certificateKey.publicKey,
            notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(3600), issuer: name, subject: name,
            signatureAlgorithm: key.certificateSignatureAlgorithm, extensions: Certificate.Extensions(),
            issuerPrivateKey: key.certificateKey)
        #expect(try CoordinatorVerifyingKey(certificate: certificate) == key.publicKey)
    }

    @Test("keys on different curves or with different values differ")
    func inequality() {
        let p256 = CoordinatorSigningKey(generatingOn: .p256)
        #expect(p256 != CoordinatorSigningKey(generatingOn: .p256))
        #expect(p256 != CoordinatorSigningKey(generatingOn: .p384))
        #expect(p256.publicKey != CoordinatorSigningKey(generatingOn: .p384).publicKey)
    }

    @Test("bytes that are no P-256 or P-384 key are refused with what was seen")
    func malformedKeys() {
        let privateError = #expect(throws: PKIError.self) { try CoordinatorSigningKey(pkcs8DER: Data([1, 2, 3])) }
        #expect("\(privateError.map { "\($0)" } ?? "")".contains("3 bytes are not a PKCS#8 ECDSA P-256 or P-384 private key"))
        let p521 = P521.Signing.PrivateKey().publicKey.pemRepresentation
        let publicError = #expect(throws: PKIError.self) { try CoordinatorVerifyingKey(pem: p521) }
        #expect("\(publicError.map { "\($0)" } ?? "")".contains("not an ECDSA P-256 or P-384 SubjectPublicKeyInfo"))
    }
}
