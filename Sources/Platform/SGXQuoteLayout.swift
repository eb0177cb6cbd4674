import Crypto

/// The 384-byte SGX enclave report body (Intel `sgx_report_body_t`, dcap-verification.md §4.3).
struct SGXReportBody: Sendable, Hashable {
    static let size = 384

    /// Attribute flag bits (SDM `SECS.ATTRIBUTES.FLAGS`).
    enum AttributeFlag {
        static let initialized: UInt64 = 0x01
        static let debug: UInt64 = 0x02
        static let mode64Bit: UInt64 = 0x04
        static let provisionKey: UInt64 = 0x10
    }

    var cpuSVN: [UInt8]
    var miscSelect: UInt32 = 0
    var attributeFlags: UInt64
    var xfrm: UInt64
    var mrEnclave: [UInt8]
    var mrSigner: [UInt8]
    var productID: UInt16
    var securityVersion: UInt16
    var reportData: [UInt8]

    var bytes: [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.size)
        bytes += cpuSVN.fixedSize(16)
        bytes.append(littleEndian: miscSelect)
        bytes += [UInt8](repeating: 0, count: 12 + 16)  // reserved, ISVEXTPRODID
        bytes.append(littleEndian: attributeFlags)
        bytes.append(littleEndian: xfrm)
        bytes += mrEnclave.fixedSize(32)
        bytes += [UInt8](repeating: 0, count: 32)
        bytes += mrSigner.fixedSize(32)
        bytes += [UInt8](repeating: 0, count: 32 + 64)  // reserved, CONFIGID
        bytes.append(littleEndian: productID)
        bytes.append(littleEndian: securityVersion)
        bytes += [UInt8](repeating: 0, count: 2 + 42 + 16)  // CONFIGSVN, reserved, ISVFAMILYID
        bytes += reportData.fixedSize(ReportData.size)
        return bytes
    }

    /// The identity fields of a report body, read back from its bytes.
    static func measurement(from bytes: [UInt8]) -> EnclaveMeasurement {
        EnclaveMeasurement(
            mrEnclave: Array(bytes[64..<96]), mrSigner: Array(bytes[128..<160]),
            productID: UInt16(bytes[256]) | UInt16(bytes[257]) << 8,
            securityVersion: UInt16(bytes[258]) | UInt16(bytes[259]) << 8,
            debug: bytes[48] & UInt8(AttributeFlag.debug) != 0)
    }
}

/// Assembles an SGX DCAP quote v3 (dcap-verification.md §3, §5.1) from its signed parts.
struct SGXQuoteV3 {
    static let intelQEVendorID: [UInt8] = [
        0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
    ]
    static let ecdsaP256AttestationKeyType: UInt16 = 2
    static let pckCertificateChainType: UInt16 = 5
    static let headerSize = 48

    var qeSecurityVersion: UInt16
    var pceSecurityVersion: UInt16
    var qeID: [UInt8]
    var enclaveReport: SGXReportBody
    var attestationKey: P256.Signing.PrivateKey
    var qeCertification: QECertification
    var pckCertificateChainPEM: String

    /// The QE's report over its attestation key and the PCK key's signature of it. Real hardware makes this once,
    /// when the attestation key is certified, and every quote of the platform carries the same bytes; verifiers
    /// (ours included) cache its check.
    struct QECertification: Sendable {
        let report: [UInt8]
        let signature: [UInt8]
        let authenticationData: [UInt8]

        init(report: SGXReportBody, authenticationData: [UInt8], pckKey: P256.Signing.PrivateKey) throws {
            self.report = report.bytes
            signature = Array(try pckKey.signature(for: self.report).rawRepresentation)
            self.authenticationData = authenticationData
        }
    }

    /// The QE binds the attestation key by putting SHA-256(key ‖ authentication data) into its own report data.
    static func qeReportData(attestationKey: P256.Signing.PublicKey, authenticationData: [UInt8]) -> [UInt8] {
        let digest = SHA256.hash(data: attestationKey.rawRepresentation + authenticationData)
        return Array(digest) + [UInt8](repeating: 0, count: ReportData.size - SHA256.byteCount)
    }

    func bytes() throws -> [UInt8] {
        var quote = [UInt8]()
        quote.append(littleEndian: UInt16(3))
        quote.append(littleEndian: Self.ecdsaP256AttestationKeyType)
        quote.append(littleEndian: UInt32(0))  // TEE type: SGX
        quote.append(littleEndian: qeSecurityVersion)
        quote.append(littleEndian: pceSecurityVersion)
        quote += Self.intelQEVendorID
        quote += qeID.fixedSize(16) + [0, 0, 0, 0]
        quote += enclaveReport.bytes

        let enclaveSignature = try attestationKey.signature(for: quote).rawRepresentation
        let chain = Array(pckCertificateChainPEM.utf8)

        var signatureData = [UInt8]()
        signatureData += enclaveSignature
        signatureData += attestationKey.publicKey.rawRepresentation
        signatureData += qeCertification.report
        signatureData += qeCertification.signature
        signatureData.append(littleEndian: UInt16(qeCertification.authenticationData.count))
        signatureData += qeCertification.authenticationData
        signatureData.append(littleEndian: Self.pckCertificateChainType)
        signatureData.append(littleEndian: UInt32(chain.count))
        signatureData += chain

        quote.append(littleEndian: UInt32(signatureData.count))
        quote += signatureData
        return quote
    }
}

extension Array where Element == UInt8 {
    /// Exactly `size` bytes: truncated or zero-padded at the end.
    func fixedSize(_ size: Int) -> [UInt8] {
        count >= size ? Array(prefix(size)) : self + [UInt8](repeating: 0, count: size - count)
    }
}
