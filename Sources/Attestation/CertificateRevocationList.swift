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
    ///
    /// The outer structure and the (possibly long) revoked-certificate list are walked element by element; swift-asn1
    /// parses only the small pieces (names, times, the algorithm). A full tree parse of a PCK CRL cost more than the
    /// rest of a cold verification's parsing.
    public init(derEncoded bytes: [UInt8]) throws(AttestationError) {
        do {
            let list = try DERElement(in: bytes, at: 0, limit: bytes.count, tag: 0x30, what: "CertificateList")
            guard list.end == bytes.count else { throw DERElement.Malformed(reason: "bytes after the CertificateList", offset: list.end) }
            let tbs = try DERElement(in: bytes, at: list.contentStart, limit: list.end, tag: 0x30, what: "tbsCertList")
            let algorithm = try tbs.next(in: bytes, limit: list.end, tag: 0x30, what: "signatureAlgorithm")
            let signatureValue = try algorithm.next(in: bytes, limit: list.end, tag: 0x03, what: "signatureValue")
            guard signatureValue.end == list.end, signatureValue.contentStart < signatureValue.end, bytes[signatureValue.contentStart] == 0 else {
                throw DERElement.Malformed(
                    reason: "signatureValue is not a whole-byte BIT STRING ending the CertificateList", offset: signatureValue.start)
            }
            signatureAlgorithm = try DER.sequence(DER.parse(bytes[algorithm.start..<algorithm.end]), identifier: .sequence) { inner in
                try ASN1ObjectIdentifier(derEncoded: &inner)
            }
            signature = Array(bytes[(signatureValue.contentStart + 1)..<signatureValue.end])
            signedBytes = Array(bytes[tbs.start..<tbs.end])

            var field = try DERElement(in: bytes, at: tbs.contentStart, limit: tbs.end, tag: nil, what: "TBSCertList version or signature")
            if field.tag == 0x02 { field = try field.next(in: bytes, limit: tbs.end, tag: nil, what: "TBSCertList signature") }
            guard field.tag == 0x30 else { throw DERElement.Malformed(reason: "TBSCertList signature is not a SEQUENCE", offset: field.start) }
            let issuerElement = try field.next(in: bytes, limit: tbs.end, tag: 0x30, what: "issuer")
            issuer = try DistinguishedName(derEncoded: DER.parse(bytes[issuerElement.start..<issuerElement.end]))
            let thisElement = try issuerElement.next(in: bytes, limit: tbs.end, tag: nil, what: "thisUpdate")
            thisUpdate = try UTCTimestamp.seconds(of: DER.parse(bytes[thisElement.start..<thisElement.end]))
            var nextUpdate: Int64?
            var revoked = Set<ExactBytes>()
            var cursor = thisElement.end
            if cursor < tbs.end {
                field = try DERElement(in: bytes, at: cursor, limit: tbs.end, tag: nil, what: "TBSCertList field")
                if field.tag == 0x17 || field.tag == 0x18 {
                    nextUpdate = try UTCTimestamp.seconds(of: DER.parse(bytes[field.start..<field.end]))
                    cursor = field.end
                    if cursor < tbs.end { field = try DERElement(in: bytes, at: cursor, limit: tbs.end, tag: nil, what: "TBSCertList field") }
                }
                if cursor < tbs.end, field.tag == 0x30 {
                    var entryOffset = field.contentStart
                    while entryOffset < field.end {
                        let entry = try DERElement(in: bytes, at: entryOffset, limit: field.end, tag: 0x30, what: "revoked certificate entry")
                        let serial = try DERElement(in: bytes, at: entry.contentStart, limit: entry.end, tag: 0x02, what: "revoked serial number")
                        revoked.insert(Self.serialValue(bytes[serial.contentStart..<serial.end]))
                        entryOffset = entry.end
                    }
                }
            }
            revokedSerials = revoked
            self.nextUpdate = nextUpdate
        } catch {
            throw AttestationError(
                check: .collateralFormat, found: "\(bytes.count) bytes that are not a DER CRL (\(error))",
                expected: "a DER-encoded X.509 CRL",
                hint: "The collateral's CRL fields must be hexadecimal DER as served by Intel PCS or a PCCS; fetch the collateral again.")
        }
    }

    /// Serial numbers of revoked certificates, as big-endian magnitudes without leading zero bytes.
    public var revokedSerialNumbers: Set<[UInt8]> { Set(revokedSerials.map(\.bytes)) }

    /// Whether `certificate` is listed.
    public func revokes(_ certificate: Certificate) -> Bool {
        revokedSerials.contains(Self.serialValue(certificate.serialNumber.bytes))
    }

    /// A serial number compared by value: DER writes a leading zero byte before a magnitude whose high bit is set,
    /// and not every producer or parser keeps that byte, so both sides drop it before comparing.
    static func serialValue(_ bytes: ArraySlice<UInt8>) -> ExactBytes {
        ExactBytes(bytes.drop { $0 == 0 })
    }

    /// Whether the CRL's ECDSA P-256 SHA-256 signature was made by `issuer`'s key.
    public func isSigned(by issuer: Certificate) -> Bool {
        guard signatureAlgorithm == Self.ecdsaWithSHA256, let key = P256.Signing.PublicKey(issuer.publicKey),
            let signature = try? P256.Signing.ECDSASignature(derRepresentation: self.signature)
        else { return false }
        return key.isValidSignature(signature, for: SHA256.hash(data: signedBytes))
    }
}

/// One DER tag-length-value element: positions of its header, content and end in the enclosing bytes.
struct DERElement {
    struct Malformed: Error, CustomStringConvertible {
        let reason: String
        let offset: Int
        var description: String { "\(reason) at byte \(offset)" }
    }

    let tag: UInt8
    let start: Int
    let contentStart: Int
    let end: Int

    /// Reads the element at `offset`, which must end by `limit` and, when `tag` is given, carry that tag.
    init(in bytes: [UInt8], at offset: Int, limit: Int, tag expected: UInt8?, what: String) throws(Malformed) {
        guard offset + 2 <= limit else { throw Malformed(reason: "\(what) is missing or truncated", offset: offset) }
        tag = bytes[offset]
        if let expected, tag != expected {
            throw Malformed(reason: "\(what) has tag 0x\(String(tag, radix: 16)), expected 0x\(String(expected, radix: 16))", offset: offset)
        }
        let first = bytes[offset + 1]
        var length = 0
        var headerLength = 2
        if first & 0x80 != 0 {
            let count = Int(first & 0x7F)
            guard (1...4).contains(count), offset + 2 + count <= limit else {
                throw Malformed(reason: "\(what) has an unsupported length encoding", offset: offset)
            }
            for index in 0..<count { length = length << 8 | Int(bytes[offset + 2 + index]) }
            headerLength += count
        } else {
            length = Int(first)
        }
        start = offset
        contentStart = offset + headerLength
        end = contentStart + length
        guard end <= limit else { throw Malformed(reason: "\(what) runs past its enclosing structure", offset: offset) }
    }

    /// The element right after this one.
    func next(in bytes: [UInt8], limit: Int, tag: UInt8?, what: String) throws(Malformed) -> DERElement {
        try DERElement(in: bytes, at: end, limit: limit, tag: tag, what: what)
    }
}
