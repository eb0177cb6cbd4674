import Crypto
import Foundation
import SwiftASN1
import Testing

@testable import CoordinatorPKI

@Suite("Coordinator key generation and PEM text")
struct KeyGenerationAndPEMTests {
    @Test("generated keys are valid, distinct, and sign what their public key verifies", arguments: CoordinatorCurve.allCases)
    func generatedKeys(curve: CoordinatorCurve) throws {
        let keys = (0..<32).map { _ in CoordinatorSigningKey(generatingOn: curve) }
        #expect(Set(keys).count == keys.count)
        for key in keys {
            #expect(key.curve == curve)
            #expect(key.key.rawRepresentation.count == curve.scalarByteCount)
            let message = Data("activation \(curve)".utf8)
            #expect(key.publicKey.isValidSignature(try key.signature(for: message), for: message))
            #expect(try CoordinatorSigningKey(pkcs8DER: key.pkcs8DER) == key)
        }
    }

    @Test("PEM text is what SwiftASN1 and swift-crypto write, for lengths around the 48-byte line boundary")
    func pemMatchesLibraries() throws {
        for length in [1, 2, 3, 47, 48, 49, 95, 96, 97, 500, 1234] {
            let der = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(PEMText.encode(type: "CERTIFICATE", der: der) == PEMDocument(type: "CERTIFICATE", derBytes: der).pemString + "\n")
        }
        let p256 = P256.Signing.PrivateKey()
        #expect(PEMText.encode(type: "PRIVATE KEY", der: p256.derRepresentation) == p256.pemRepresentation + "\n")
        let p384 = P384.Signing.PrivateKey()
        #expect(PEMText.encode(type: "PRIVATE KEY", der: p384.derRepresentation) == p384.pemRepresentation + "\n")
    }
}
