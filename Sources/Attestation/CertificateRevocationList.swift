import Crypto
import Foundation
import SwiftASN1
import X509

/// An X.509 v2 certificate revocation list (RFC 5280 §5), parsed with swift-asn1 because swift-certificates has no CRL
/// type. Only what DCAP verification needs is kept: issuer, update times, revoked serial numbers, and the signed bytes.
public struct CertificateRevocationList: Sendable, Hashable {
    public let issuer: DistinguishedName
    /// Unix seconds.
    public let thisUpdate: Int64
    /// Unix seconds; nil when absent (DCAP CRLs always carry it).
    public let nextUpdate: Int64?
    let revokedSerials: Set<ExactBytes>
    let signedBytes: [UInt8]
    let signature: [UInt8]
    let signatureAlgorithm: ASN1ObjectIdentifier

    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]

    /// Parses DER. The failure names the structure that broke.
    public init(derEncoded bytes: [UInt8]) throws(AttestationError) {
        do {
            let root = try DER.parse(bytes)
            var parsed: (DistinguishedName, Int64, Int64?, Set<ExactBytes>, [UInt8], [UInt8], ASN1ObjectIdentifier)?
            try DER.sequence(root, identifier: .sequence) { nodes in
                guard let tbsNode = nodes.next(), let algorithmNode = nodes.next(), let signatureNode = nodes.next() else {
                    throw ASN1Error.invalidASN1Object(reason: "CertificateList needs tbsCertList, signatureAlgorithm and signatureValue")
                }
                let tbs = try Self.parseTBS(tbsNode)
                let algorithm = try DER.sequence(algorithmNode, identifier: .sequence) { inner in
                    try ASN1ObjectIdentifier(derEncoded: &inner)
                }
                let signature = try ASN1BitString(derEncoded: signatureNode)
                parsed = (tbs.issuer, tbs.thisUpdate, tbs.nextUpdate, tbs.revoked, Array(tbsNode.encodedBytes), Array(signature.bytes), algorithm)
            }
            guard let parsed else { throw ASN1Error.invalidASN1Object(reason: "empty CertificateList") }
            (issuer, thisUpdate, nextUpdate, revokedSerials, signedBytes, signature, signatureAlgorithm) = parsed
        } catch let error as AttestationError {
            throw error
        } catch {
            throw AttestationError(
                check: .collateralFormat, found: "\(bytes.count) bytes that are not a DER CRL (\(error))",
                expected: "a DER-encoded X.509 CRL",
                hint: "The collateral's CRL fields must be hexadecimal DER as served by Intel PCS or a PCCS; fetch the collateral again.")
        }
    }

    private static func parseTBS(_ node: ASN1Node) throws -> (issuer: DistinguishedName, thisUpdate: Int64, nextUpdate: Int64?, revoked: Set<ExactBytes>) {
        try DER.sequence(node, identifier: .sequence) { nodes in
            var next = nodes.next()
            if let version = next, version.identifier == .integer { next = nodes.next() }
            guard let algorithm = next, algorithm.identifier == .sequence, let issuerNode = nodes.next(), let thisNode = nodes.next() else {
                throw ASN1Error.invalidASN1Object(reason: "TBSCertList is missing signature, issuer or thisUpdate")
            }
            let issuer = try DistinguishedName(derEncoded: issuerNode)
            let thisUpdate = try UTCTimestamp.seconds(of: thisNode)
            var nextUpdate: Int64?
            var revoked = Set<ExactBytes>()
            next = nodes.next()
            if let node = next, node.identifier == UTCTime.defaultIdentifier || node.identifier == GeneralizedTime.defaultIdentifier {
                nextUpdate = try UTCTimestamp.seconds(of: node)
                next = nodes.next()
            }
            if let node = next, node.identifier == .sequence {
                try DER.sequence(node, identifier: .sequence) { entries in
                    while let entry = entries.next() {
                        try DER.sequence(entry, identifier: .sequence) { fields in
                            let serial = try ArraySlice<UInt8>(derEncoded: &fields)
                            revoked.insert(ExactBytes(serial))
                            while fields.next() != nil {}
                        }
                    }
                }
                next = nodes.next()
            }
            while next != nil { next = nodes.next() }
            return (issuer, thisUpdate, nextUpdate, revoked)
        }
    }

    /// Serial numbers of revoked certificates, as the DER INTEGER content bytes.
    public var revokedSerialNumbers: Set<[UInt8]> { Set(revokedSerials.map(\.bytes)) }

    /// Whether `certificate` is listed.
    public func revokes(_ certificate: Certificate) -> Bool {
        revokedSerials.contains(ExactBytes(certificate.serialNumber.bytes))
    }

    /// Whether the CRL's ECDSA P-256 SHA-256 signature was made by `issuer`'s key.
    public func isSigned(by issuer: Certificate) -> Bool {
        guard signatureAlgorithm == Self.ecdsaWithSHA256, let key = P256.Signing.PublicKey(issuer.publicKey),
            let signature = try? P256.Signing.ECDSASignature(derRepresentation: self.signature)
        else { return false }
        return key.isValidSignature(signature, for: SHA256.hash(data: signedBytes))
    }
}
