import Crypto
import Foundation
import SwiftASN1
import X509

/// The fresh key a marble proves itself with, as MarbleRun's premain makes it: an ECDSA key, a self-signed
/// certificate for it (the TLS client certificate whose SHA-256 the quote binds) and a CSR with the same key and
/// names. The Coordinator issues the marble's real certificate from the CSR's names.
///
/// The key is P-256 where MarbleRun's premain uses P-384: MarbleRun's Coordinator and Cloister's accept a CSR and
/// client certificate on any ECDSA curve, and P-256 handshakes and signatures cost several times less.
public struct MarbleKey: Sendable {
    public static let commonName = "Cloister Marble"
    /// RFC 5280's "no well-defined expiration" date; MarbleRun's premain certificate is likewise effectively unlimited.
    static let unlimitedValidity = Date(timeIntervalSince1970: 253_402_300_799)

    public let privateKey: P256.Signing.PrivateKey
    public let certificate: Certificate
    public let certificateDER: [UInt8]
    public let csrDER: [UInt8]

    /// A new key, with certificate and CSR for `names` plus the loopback addresses.
    public init(names: MarbleNames, now: Date = Date()) throws(LauncherError) {
        let key = Self.randomKey()
        let signingKey = Certificate.PrivateKey(key)
        do {
            let subject = try DistinguishedName { CommonName(Self.commonName) }
            let alternativeNames = Self.alternativeNames(names.withLoopback)
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: signingKey.publicKey,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: Self.unlimitedValidity,
                issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    alternativeNames
                },
                issuerPrivateKey: signingKey)
            let request = try CertificateSigningRequest(
                version: .v1, subject: subject, privateKey: signingKey,
                attributes: CertificateSigningRequest.Attributes([
                    try .init(ExtensionRequest(extensions: try Certificate.Extensions { alternativeNames }))
                ]),
                signatureAlgorithm: .ecdsaWithSHA256)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            certificateDER = serializer.serializedBytes
            serializer = DER.Serializer()
            try serializer.serialize(request)
            csrDER = serializer.serializedBytes
            self.certificate = certificate
        } catch {
            throw LauncherError(
                .marbleKey, "self-signed certificate and CSR", found: "\(error)", expected: "a certificate and CSR",
                hint: "this is a bug in the launcher; report it with the DNS names used")
        }
        privateKey = key
    }

    /// The 64 bytes of report data that bind this key into the quote: SHA-256(certificate DER), zero-padded.
    public var reportData: [UInt8] {
        Array(SHA256.hash(data: certificateDER)) + [UInt8](repeating: 0, count: 32)
    }

    /// A uniformly random key. swift-crypto's `init()` draws until the key is "compact representable" (every other
    /// key is not) and runs a FIPS pairwise sign-and-verify on each draw, which a launcher starting a program need not
    /// pay; `init(rawRepresentation:)` rejects 0 and scalars >= n, so drawing again keeps the distribution uniform.
    static func randomKey() -> P256.Signing.PrivateKey {
        while true {
            let scalar = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            if let key = try? P256.Signing.PrivateKey(rawRepresentation: scalar) { return key }
        }
    }

    static func alternativeNames(_ names: MarbleNames) -> SubjectAlternativeNames {
        SubjectAlternativeNames(
            names.dnsNames.map { GeneralName.dnsName($0) }
                + names.ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) })
    }
}
