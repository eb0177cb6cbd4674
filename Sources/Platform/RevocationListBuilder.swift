import Crypto
import Foundation
import SwiftASN1
import X509

/// Builds and signs an X.509 v2 CRL (RFC 5280 §5) with ECDSA P-256 / SHA-256, shaped like Intel's PCS CRLs: CRL number
/// and authority key identifier extensions, UTCTime dates. swift-certificates has no CRL type, so the DER is written
/// here on swift-asn1.
struct RevocationListBuilder {
    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let crlNumberOID: ASN1ObjectIdentifier = [2, 5, 29, 20]

    var issuer: DistinguishedName
    var issuerKeyIdentifier: [UInt8]
    var thisUpdate: Date
    var nextUpdate: Date
    var number: Int = 1
    var revokedSerialNumbers: [Certificate.SerialNumber] = []

    func signed(with key: P256.Signing.PrivateKey) throws -> [UInt8] {
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1)  // version v2
            try Self.serializeAlgorithm(into: &coder)
            try coder.serialize(issuer)
            try coder.serialize(Self.utcTime(thisUpdate))
            try coder.serialize(Self.utcTime(nextUpdate))
            if !revokedSerialNumbers.isEmpty {
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    for serial in revokedSerialNumbers {
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            try coder.serialize(serial.bytes)
                            try coder.serialize(Self.utcTime(thisUpdate))
                        }
                    }
                }
            }
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                var numberValue = DER.Serializer()
                try numberValue.serialize(number)
                let extensions = [
                    Certificate.Extension(
                        oid: Self.crlNumberOID, critical: false, value: ArraySlice(numberValue.serializedBytes)),
                    try Certificate.Extension(
                        AuthorityKeyIdentifier(keyIdentifier: ArraySlice(issuerKeyIdentifier)), critical: false),
                ]
                try coder.serializeSequenceOf(extensions)
            }
        }
        let tbsBytes = tbs.serializedBytes
        let signature = try key.signature(for: tbsBytes).derRepresentation

        var list = DER.Serializer()
        try list.appendConstructedNode(identifier: .sequence) { coder in
            coder.serializeRawBytes(tbsBytes)
            try Self.serializeAlgorithm(into: &coder)
            try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
        }
        return list.serializedBytes
    }

    private static func serializeAlgorithm(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(ecdsaWithSHA256)
        }
    }

    private static func utcTime(_ date: Date) throws -> UTCTime {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return try UTCTime(
            year: parts.year!, month: parts.month!, day: parts.day!,
            hours: parts.hour!, minutes: parts.minute!, seconds: parts.second!)
    }
}
