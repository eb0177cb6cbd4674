import SwiftASN1
import X509

/// The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1): what the platform's TCB is.
public struct PCKExtension: Sendable, Hashable, Codable {
    public static let oid: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1]
    private static let ppidOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 1]
    private static let tcbOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 2]
    private static let pceSVNOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 2, 17]
    private static let cpuSVNOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 2, 18]
    private static let pceIDOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 3]
    private static let fmspcOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 4]
    private static let sgxTypeOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 5]
    private static let platformInstanceOID: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1, 6]

    /// SGX type of the platform.
    public enum SGXType: Int, Sendable, Hashable, Codable {
        case standard = 0
        case scalable = 1
        case scalableWithIntegrity = 2
    }

    public let ppid: [UInt8]
    /// The 16 CPUSVN component values (byte i is component i+1).
    public let cpuSVN: [UInt8]
    public let pceSVN: UInt16
    public let pceID: [UInt8]
    /// The 6-byte family-model-stepping-platform-custom-SKU that selects the TCB Info.
    public let fmspc: [UInt8]
    public let sgxType: SGXType?
    public let platformInstanceID: [UInt8]?

    /// Reads the extension of `certificate`.
    public init(certificate: Certificate) throws(AttestationError) {
        guard let fieldExtension = certificate.extensions.first(where: { $0.oid == Self.oid }) else {
            throw Self.failure("no extension \(Self.oid) in \(certificate.subject)")
        }
        var ppid: [UInt8]?
        var cpuSVN: [UInt8]?
        var pceSVN: UInt16?
        var pceID: [UInt8]?
        var fmspc: [UInt8]?
        var sgxType: SGXType?
        var instance: [UInt8]?
        do {
            let root = try DER.parse(fieldExtension.value)
            try DER.sequence(root, identifier: .sequence) { entries in
                while let entry = entries.next() {
                    try DER.sequence(entry, identifier: .sequence) { pair in
                        let oid = try ASN1ObjectIdentifier(derEncoded: &pair)
                        guard let value = pair.next() else { throw ASN1Error.invalidASN1Object(reason: "\(oid) has no value") }
                        switch oid {
                        case Self.ppidOID: ppid = try Self.octets(value)
                        case Self.tcbOID:
                            try DER.sequence(value, identifier: .sequence) { components in
                                while let component = components.next() {
                                    try DER.sequence(component, identifier: .sequence) { field in
                                        let componentOID = try ASN1ObjectIdentifier(derEncoded: &field)
                                        guard let componentValue = field.next() else { return }
                                        if componentOID == Self.pceSVNOID {
                                            pceSVN = UInt16(try Int(derEncoded: componentValue))
                                        } else if componentOID == Self.cpuSVNOID {
                                            cpuSVN = try Self.octets(componentValue)
                                        }
                                    }
                                }
                            }
                        case Self.pceIDOID: pceID = try Self.octets(value)
                        case Self.fmspcOID: fmspc = try Self.octets(value)
                        case Self.sgxTypeOID:
                            if case .primitive(let content) = value.content, let raw = content.last {
                                sgxType = SGXType(rawValue: Int(raw))
                            }
                        case Self.platformInstanceOID: instance = try Self.octets(value)
                        default: break
                        }
                        while pair.next() != nil {}
                    }
                }
            }
        } catch {
            throw Self.failure("a malformed SGX extension (\(error))")
        }
        guard let ppid, let cpuSVN, cpuSVN.count == 16, let pceSVN, let pceID, let fmspc, fmspc.count == 6 else {
            throw Self.failure("an SGX extension without PPID, 16-byte CPUSVN, PCESVN, PCE-ID or 6-byte FMSPC")
        }
        self.ppid = ppid
        self.cpuSVN = cpuSVN
        self.pceSVN = pceSVN
        self.pceID = pceID
        self.fmspc = fmspc
        self.sgxType = sgxType
        self.platformInstanceID = instance
    }

    private static func octets(_ node: ASN1Node) throws -> [UInt8] {
        Array(try ASN1OctetString(derEncoded: node).bytes)
    }

    private static func failure(_ found: String) -> AttestationError {
        AttestationError(
            check: .pckExtension, found: found,
            expected: "the Intel SGX extension (1.2.840.113741.1.13.1) with PPID, TCB, PCE-ID and FMSPC",
            hint: "The PCK leaf is not an Intel PCK certificate; check that the chain's first certificate is the PCK leaf.")
    }
}
