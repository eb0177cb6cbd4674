import SwiftASN1
import X509

/// The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1, dcap-verification.md §6), as DER.
struct PCKCertificateExtension: Sendable, Hashable {
    static let oid: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1]

    var ppid: [UInt8]
    /// The 16 CPUSVN component SVNs; byte i is TCB component i + 1.
    var cpuSVN: [UInt8]
    var pceSVN: UInt16
    var pceID: [UInt8]
    var fmspc: [UInt8]
    /// 0 Standard, 1 Scalable, 2 Scalable with Integrity.
    var sgxType: Int

    func extensionValue() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { coder in
            try Self.entry(&coder, 1) { try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(ppid))) }
            try Self.entry(&coder, 2) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    for (index, svn) in cpuSVN.enumerated() {
                        try Self.entry(&coder, 2, UInt(index + 1)) { try $0.serialize(Int(svn)) }
                    }
                    try Self.entry(&coder, 2, 17) { try $0.serialize(Int(pceSVN)) }
                    try Self.entry(&coder, 2, 18) {
                        try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(cpuSVN)))
                    }
                }
            }
            try Self.entry(&coder, 3) { try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(pceID))) }
            try Self.entry(&coder, 4) { try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(fmspc))) }
            try Self.entry(&coder, 5) { try sgxType.serialize(into: &$0, withIdentifier: .enumerated) }
        }
        return serializer.serializedBytes
    }

    func certificateExtension() throws -> Certificate.Extension {
        Certificate.Extension(oid: Self.oid, critical: false, value: ArraySlice(try extensionValue()))
    }

    /// One `SEQUENCE { OID 1.2.840.113741.1.13.1.<suffix>, value }` pair.
    private static func entry(
        _ coder: inout DER.Serializer, _ suffix: UInt..., value: (inout DER.Serializer) throws -> Void
    ) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(ASN1ObjectIdentifier(elements: [1, 2, 840, 113741, 1, 13, 1] + suffix))
            try value(&coder)
        }
    }
}
