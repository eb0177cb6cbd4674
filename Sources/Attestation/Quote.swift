/// The 48-byte header that starts every DCAP quote.
public struct QuoteHeader: Sendable, Hashable {
    /// TEE type of SGX quotes.
    public static let sgxTEEType: UInt32 = 0x0000_0000
    /// TEE type of TDX quotes.
    public static let tdxTEEType: UInt32 = 0x0000_0081
    /// ECDSA-256-with-P-256, the only attestation key type verified.
    public static let ecdsaP256KeyType: UInt16 = 2
    /// Intel's QE vendor ID.
    public static let intelQEVendorID: [UInt8] = [
        0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
    ]

    public let version: UInt16
    public let attestationKeyType: UInt16
    /// 0 for SGX, 0x81 for TDX (reserved, zero, in v3 quotes).
    public let teeType: UInt32
    public let qeSVN: UInt16
    public let pceSVN: UInt16
    public let qeVendorID: [UInt8]
    public let userData: [UInt8]

    /// The first 16 bytes of the user data: the QE ID.
    public var qeID: [UInt8] { Array(userData.prefix(16)) }
}

/// The TEE a quote attests.
public enum TEE: String, Sendable, Hashable, Codable {
    case sgx = "SGX"
    case tdx = "TDX"
}

/// The attested report of a quote.
public enum QuoteBody: Sendable, Hashable {
    case sgx(EnclaveReport)
    case td(TDReport)

    public var tee: TEE {
        switch self {
        case .sgx: .sgx
        case .td: .tdx
        }
    }

    public var sgxReport: EnclaveReport? {
        if case .sgx(let report) = self { report } else { nil }
    }

    public var tdReport: TDReport? {
        if case .td(let report) = self { report } else { nil }
    }

    /// The 64 bytes of report data.
    public var reportData: [UInt8] {
        switch self {
        case .sgx(let report): report.reportData
        case .td(let report): report.reportData
        }
    }
}

/// Certification data of a quote: its type and raw payload. Type 5 carries the PEM PCK certificate chain.
public struct CertificationData: Sendable, Hashable {
    /// The type that carries a PEM PCK chain (leaf, PCK CA, root).
    public static let pckCertificateChainType: UInt16 = 5

    public let type: UInt16
    public let data: [UInt8]
}

/// The ECDSA signature data that follows the signed part of a quote.
public struct QuoteSignatureData: Sendable, Hashable {
    /// ECDSA P-256 signature r‖s by the attestation key over the header and body.
    public let isvSignature: [UInt8]
    /// The attestation key, raw x‖y.
    public let attestationKey: [UInt8]
    /// v4/v5: the type of the outer certification data that wraps the QE report (Intel: 6). Nil in v3.
    public let outerCertificationDataType: UInt16?
    /// The report of the quoting enclave, signed by the PCK key.
    public let qeReport: EnclaveReport
    /// ECDSA P-256 signature r‖s by the PCK key over the QE report.
    public let qeReportSignature: [UInt8]
    /// QE authentication data, hashed with the attestation key into the QE report data.
    public let qeAuthenticationData: [UInt8]
    public let certificationData: CertificationData
}

/// Byte offsets of the structures of a parsed quote, for diagnostics and tests.
public struct QuoteLayout: Sendable, Hashable, Codable {
    public let reportOffset: Int
    public let reportLength: Int
    /// The header and body, `0..<signedLength`, are what the attestation key signs.
    public let signedLength: Int
    public let signatureDataLength: Int
    public let isvSignatureOffset: Int
    public let attestationKeyOffset: Int
    public let outerCertificationDataTypeOffset: Int?
    public let qeReportOffset: Int
    public let qeReportSignatureOffset: Int
    public let qeAuthenticationDataLengthOffset: Int
    public let certificationDataTypeOffset: Int
    public let certificationDataOffset: Int
    /// Bytes after the signature data (ignored, like dcap-qvl; real TDX quotes carry zero padding).
    public let trailingByteCount: Int
}

/// A parsed Intel DCAP quote: SGX v3, TDX v4, or v5 (SGX, TD 1.0, TD 1.5, TD 1.5ex bodies).
///
/// Parsing checks structure only; authenticity is established by ``QuoteVerifier``. The raw bytes are kept, so that
/// the exact signed range (``signedBytes``) is what the signature is checked over.
public struct Quote: Sendable, Hashable {
    public let bytes: [UInt8]
    public let header: QuoteHeader
    /// v5 only: the body type (1 SGX, 2 TD 1.0, 3 TD 1.5, 4 TD 1.5ex).
    public let bodyType: UInt16?
    public let body: QuoteBody
    public let signatureData: QuoteSignatureData
    public let layout: QuoteLayout

    public var tee: TEE { body.tee }
    /// The bytes the attestation key signed: header, (v5 body descriptor,) body.
    public var signedBytes: ArraySlice<UInt8> { bytes[0..<layout.signedLength] }

    /// Parses a quote, tolerating trailing bytes after the signature data.
    ///
    /// - Throws: ``AttestationError`` with check ``Check/quoteStructure``, ``Check/quoteVersion`` or ``Check/teeType``,
    ///   naming the structure and byte offset where parsing stopped and the length seen versus needed.
    public init(bytes: [UInt8]) throws(AttestationError) {
        self.bytes = bytes
        var reader = ByteReader(bytes)
        let version = try reader.uint16("Header.version")
        let keyType = try reader.uint16("Header.attestation_key_type")
        let teeType = try reader.uint32("Header.tee_type")
        let qeSVN = try reader.uint16("Header.qe_svn")
        let pceSVN = try reader.uint16("Header.pce_svn")
        let vendor = try reader.skip(16, for: "Header.qe_vendor_id")
        let userData = try reader.skip(20, for: "Header.user_data")
        header = QuoteHeader(
            version: version, attestationKeyType: keyType, teeType: teeType, qeSVN: qeSVN, pceSVN: pceSVN,
            qeVendorID: bytes.bytes(at: vendor, count: 16), userData: bytes.bytes(at: userData, count: 20))

        let bodyKind: (tee: TEE, td: TDReport.Version?)
        switch version {
        case 3:
            guard teeType == QuoteHeader.sgxTEEType else { throw Self.invalidTEEType(teeType, version: version) }
            bodyType = nil
            bodyKind = (.sgx, nil)
        case 4:
            switch teeType {
            case QuoteHeader.sgxTEEType: bodyKind = (.sgx, nil)
            case QuoteHeader.tdxTEEType: bodyKind = (.tdx, .td10)
            default: throw Self.invalidTEEType(teeType, version: version)
            }
            bodyType = nil
        case 5:
            guard teeType == QuoteHeader.sgxTEEType || teeType == QuoteHeader.tdxTEEType else {
                throw Self.invalidTEEType(teeType, version: version)
            }
            let typeOffset = reader.offset
            let type = try reader.uint16("Body.type")
            let sizeOffset = reader.offset
            let size = try reader.uint32("Body.size")
            switch type {
            case 1: bodyKind = (.sgx, nil)
            case 2: bodyKind = (.tdx, .td10)
            case 3: bodyKind = (.tdx, .td15)
            case 4: bodyKind = (.tdx, .td15ex)
            default:
                throw AttestationError(
                    check: .quoteStructure, found: "body type \(type)",
                    expected: "1 (SGX), 2 (TD 1.0), 3 (TD 1.5) or 4 (TD 1.5ex)",
                    hint: "The quote is corrupt or from a newer quote format this verifier does not know.",
                    structure: "Body.type", offset: typeOffset)
            }
            let expectedSize = bodyKind.td?.length ?? EnclaveReport.length
            guard size == expectedSize else {
                throw AttestationError(
                    check: .quoteStructure, found: "body size \(size) for body type \(type)",
                    expected: "\(expectedSize)", hint: "The v5 body descriptor is corrupt; obtain the quote again.",
                    structure: "Body.size", offset: sizeOffset)
            }
            bodyType = type
        default:
            throw AttestationError(
                check: .quoteVersion, found: "version \(version)", expected: "3 (SGX), 4 or 5 (TDX)",
                hint: "This is not a DCAP ECDSA quote (EPID quotes are version 2), or its header is corrupt.",
                structure: "Header.version", offset: 0)
        }

        let reportOffset = reader.offset
        let reportLength: Int
        if let tdVersion = bodyKind.td {
            reportLength = tdVersion.length
            _ = try reader.skip(reportLength, for: "TDReport (\(tdVersion.rawValue))")
            body = .td(TDReport(version: tdVersion, storage: bytes, start: reportOffset))
        } else {
            reportLength = EnclaveReport.length
            _ = try reader.skip(reportLength, for: "EnclaveReport")
            body = .sgx(EnclaveReport(storage: bytes, start: reportOffset))
        }
        let signedLength = reader.offset

        let signatureDataLength = try reader.length32("SignatureData.length")
        try reader.require(signatureDataLength, for: "SignatureData (\(signatureDataLength) bytes declared)")
        let signatureDataEnd = reader.offset + signatureDataLength
        var signature = ByteReader(bytes, from: reader.offset, limit: signatureDataEnd, limitName: "the signature data")
        let isvSignatureOffset = try signature.skip(64, for: "SignatureData.isv_signature")
        let attestationKeyOffset = try signature.skip(64, for: "SignatureData.attestation_key")

        var outerType: UInt16?
        var outerTypeOffset: Int?
        var inner = signature
        if version != 3 {
            outerTypeOffset = signature.offset
            outerType = try signature.uint16("CertificationData.type (outer)")
            let outerSize = try signature.length32("CertificationData.size (outer)")
            try signature.require(outerSize, for: "CertificationData.body (outer, \(outerSize) bytes declared)")
            inner = ByteReader(
                bytes, from: signature.offset, limit: signature.offset + outerSize,
                limitName: "the QE report certification data")
        }
        let qeReportOffset = try inner.skip(EnclaveReport.length, for: "QEReportCertificationData.qe_report")
        let qeSignatureOffset = try inner.skip(64, for: "QEReportCertificationData.qe_report_signature")
        let authLengthOffset = inner.offset
        let authLength = try inner.length16("QEAuthData.length")
        let authOffset = try inner.skip(authLength, for: "QEAuthData.data (\(authLength) bytes declared)")
        let certTypeOffset = inner.offset
        let certType = try inner.uint16("CertificationData.type")
        let certLength = try inner.length32("CertificationData.size")
        let certOffset = try inner.skip(certLength, for: "CertificationData.data (\(certLength) bytes declared)")

        signatureData = QuoteSignatureData(
            isvSignature: bytes.bytes(at: isvSignatureOffset, count: 64),
            attestationKey: bytes.bytes(at: attestationKeyOffset, count: 64),
            outerCertificationDataType: outerType,
            qeReport: EnclaveReport(storage: bytes, start: qeReportOffset),
            qeReportSignature: bytes.bytes(at: qeSignatureOffset, count: 64),
            qeAuthenticationData: bytes.bytes(at: authOffset, count: authLength),
            certificationData: CertificationData(type: certType, data: bytes.bytes(at: certOffset, count: certLength)))
        layout = QuoteLayout(
            reportOffset: reportOffset, reportLength: reportLength, signedLength: signedLength,
            signatureDataLength: signatureDataLength, isvSignatureOffset: isvSignatureOffset,
            attestationKeyOffset: attestationKeyOffset, outerCertificationDataTypeOffset: outerTypeOffset,
            qeReportOffset: qeReportOffset, qeReportSignatureOffset: qeSignatureOffset,
            qeAuthenticationDataLengthOffset: authLengthOffset, certificationDataTypeOffset: certTypeOffset,
            certificationDataOffset: certOffset, trailingByteCount: bytes.count - signatureDataEnd)
    }

    private static func invalidTEEType(_ teeType: UInt32, version: UInt16) -> AttestationError {
        let expected = version == 3 ? "0 (SGX): v3 quotes are SGX only" : "0 (SGX) or 0x81 (TDX)"
        return AttestationError(
            check: .teeType, found: "0x\(String(teeType, radix: 16)) in a version \(version) quote", expected: expected,
            hint: "The quote header is corrupt, or the version does not match the TEE that produced it.",
            structure: "Header.tee_type", offset: 4)
    }
}
