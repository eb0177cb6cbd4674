import Foundation

/// The verification collateral for one quote, in the layout of dcap-qvl's `QuoteCollateralV3` JSON.
///
/// The TCB Info and QE Identity texts are kept as the exact bytes Intel signed: they are never re-serialized, because
/// their signatures cover those bytes and nothing else.
public struct Collateral: Sendable, Hashable {
    /// PEM chain that issued the PCK CRL (PCK Platform/Processor CA, then the root).
    public var pckCRLIssuerChain: String
    /// DER of the Root CA CRL.
    public var rootCACRL: [UInt8]
    /// DER of the PCK CRL.
    public var pckCRL: [UInt8]
    /// PEM chain that issued TCB Info (TCB Signing certificate, then the root).
    public var tcbInfoIssuerChain: String
    /// The exact signed JSON text of the `tcbInfo` object.
    public var tcbInfo: [UInt8]
    /// ECDSA P-256 signature over `tcbInfo`, raw r||s (64 bytes).
    public var tcbInfoSignature: [UInt8]
    /// PEM chain that issued the QE Identity.
    public var qeIdentityIssuerChain: String
    /// The exact signed JSON text of the `enclaveIdentity` object.
    public var qeIdentity: [UInt8]
    /// ECDSA P-256 signature over `qeIdentity`, raw r||s (64 bytes).
    public var qeIdentitySignature: [UInt8]
    /// A PCK certificate chain (PEM) that replaces the one carried in the quote, when present.
    public var pckCertificateChain: String?

    public init(
        pckCRLIssuerChain: String, rootCACRL: [UInt8], pckCRL: [UInt8],
        tcbInfoIssuerChain: String, tcbInfo: [UInt8], tcbInfoSignature: [UInt8],
        qeIdentityIssuerChain: String, qeIdentity: [UInt8], qeIdentitySignature: [UInt8],
        pckCertificateChain: String? = nil
    ) {
        self.pckCRLIssuerChain = pckCRLIssuerChain
        self.rootCACRL = rootCACRL
        self.pckCRL = pckCRL
        self.tcbInfoIssuerChain = tcbInfoIssuerChain
        self.tcbInfo = tcbInfo
        self.tcbInfoSignature = tcbInfoSignature
        self.qeIdentityIssuerChain = qeIdentityIssuerChain
        self.qeIdentity = qeIdentity
        self.qeIdentitySignature = qeIdentitySignature
        self.pckCertificateChain = pckCertificateChain
    }
}

extension Collateral: Codable {
    enum CodingKeys: String, CodingKey {
        case pckCRLIssuerChain = "pck_crl_issuer_chain"
        case rootCACRL = "root_ca_crl"
        case pckCRL = "pck_crl"
        case tcbInfoIssuerChain = "tcb_info_issuer_chain"
        case tcbInfo = "tcb_info"
        case tcbInfoSignature = "tcb_info_signature"
        case qeIdentityIssuerChain = "qe_identity_issuer_chain"
        case qeIdentity = "qe_identity"
        case qeIdentitySignature = "qe_identity_signature"
        case pckCertificateChain = "pck_certificate_chain"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func hex(_ key: CodingKeys) throws -> [UInt8] {
            let text = try container.decode(String.self, forKey: key)
            guard let bytes = [UInt8](hexadecimal: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container,
                    debugDescription: "'\(key.stringValue)' must be hexadecimal with an even number of digits; found \(text.prefix(16))…")
            }
            return bytes
        }
        pckCRLIssuerChain = try container.decode(String.self, forKey: .pckCRLIssuerChain)
        rootCACRL = try hex(.rootCACRL)
        pckCRL = try hex(.pckCRL)
        tcbInfoIssuerChain = try container.decode(String.self, forKey: .tcbInfoIssuerChain)
        tcbInfo = Array(try container.decode(String.self, forKey: .tcbInfo).utf8)
        tcbInfoSignature = try hex(.tcbInfoSignature)
        qeIdentityIssuerChain = try container.decode(String.self, forKey: .qeIdentityIssuerChain)
        qeIdentity = Array(try container.decode(String.self, forKey: .qeIdentity).utf8)
        qeIdentitySignature = try hex(.qeIdentitySignature)
        pckCertificateChain = try container.decodeIfPresent(String.self, forKey: .pckCertificateChain)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pckCRLIssuerChain, forKey: .pckCRLIssuerChain)
        try container.encode(rootCACRL.hexadecimal, forKey: .rootCACRL)
        try container.encode(pckCRL.hexadecimal, forKey: .pckCRL)
        try container.encode(tcbInfoIssuerChain, forKey: .tcbInfoIssuerChain)
        try container.encode(String(decoding: tcbInfo, as: UTF8.self), forKey: .tcbInfo)
        try container.encode(tcbInfoSignature.hexadecimal, forKey: .tcbInfoSignature)
        try container.encode(qeIdentityIssuerChain, forKey: .qeIdentityIssuerChain)
        try container.encode(String(decoding: qeIdentity, as: UTF8.self), forKey: .qeIdentity)
        try container.encode(qeIdentitySignature.hexadecimal, forKey: .qeIdentitySignature)
        try container.encodeIfPresent(pckCertificateChain, forKey: .pckCertificateChain)
    }
}
