import Attestation
import Foundation
import Testing

/// Builds structurally valid (unsigned) quotes, so that parsing is tested without shared data.
enum SyntheticQuote {
    static func header(version: UInt16, teeType: UInt32) -> [UInt8] {
        var bytes = [UInt8]()
        bytes += le16(version) + le16(2) + le32(teeType) + le16(7) + le16(11) + QuoteHeader.intelQEVendorID
        bytes += [UInt8](repeating: 0xAB, count: 20)
        return bytes
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }

    static func qeBlock(certificationData: [UInt8] = Array("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".utf8)) -> [UInt8] {
        var block = [UInt8](repeating: 0x11, count: 384) + [UInt8](repeating: 0x22, count: 64)
        block += le16(32) + [UInt8](repeating: 0x33, count: 32)
        block += le16(5) + le32(UInt32(certificationData.count)) + certificationData
        return block
    }

    /// version 3 (SGX), 4 (TDX TD 1.0) or 5 with `bodyType`.
    static func make(version: UInt16, bodyType: UInt16? = nil, trailing: Int = 0) -> [UInt8] {
        var quote: [UInt8]
        let bodyLength: Int
        switch (version, bodyType) {
        case (3, _):
            quote = header(version: 3, teeType: 0)
            bodyLength = 384
        case (4, _):
            quote = header(version: 4, teeType: 0x81)
            bodyLength = 584
        default:
            let type = bodyType ?? 3
            quote = header(version: 5, teeType: type == 1 ? 0 : 0x81)
            bodyLength = [1: 384, 2: 584, 3: 648, 4: 885][type]!
            quote += le16(type) + le32(UInt32(bodyLength))
        }
        quote += (0..<bodyLength).map { UInt8(truncatingIfNeeded: $0) }
        var signatureData = [UInt8](repeating: 0x44, count: 64) + [UInt8](repeating: 0x55, count: 64)
        let block = qeBlock()
        if version == 3 {
            signatureData += block
        } else {
            signatureData += le16(6) + le32(UInt32(block.count)) + block
        }
        quote += le32(UInt32(signatureData.count)) + signatureData
        return quote + [UInt8](repeating: 0, count: trailing)
    }
}

@Suite struct QuoteParsingTests {
    @Test func parsesSyntheticSGXQuoteWithTrailingPadding() throws {
        let quote = try Quote(bytes: SyntheticQuote.make(version: 3, trailing: 70))
        #expect(quote.tee == .sgx)
        #expect(quote.header.qeSVN == 7 && quote.header.pceSVN == 11)
        #expect(quote.layout.signedLength == 432 && quote.layout.trailingByteCount == 70)
        #expect(quote.layout.qeReportOffset == 564 && quote.layout.certificationDataOffset == 1052)
        #expect(quote.signatureData.qeAuthenticationData == [UInt8](repeating: 0x33, count: 32))
        #expect(quote.signatureData.certificationData.type == 5)
        #expect(quote.signatureData.outerCertificationDataType == nil)
        let report = try #require(quote.body.sgxReport)
        #expect(report.mrEnclave == Array(64..<96).map { UInt8($0) })
        #expect(report.reportData == Array(320..<384).map { UInt8(truncatingIfNeeded: $0) })
        #expect(report.isvProductID == UInt16(0x01_00))
    }

    @Test(arguments: [(UInt16(4), UInt16?.none, TDReport.Version.td10, 632), (5, 2, .td10, 638), (5, 3, .td15, 702), (5, 4, .td15ex, 939)])
    func parsesSyntheticTDXQuotes(version: UInt16, bodyType: UInt16?, expected: TDReport.Version, signedLength: Int) throws {
        let quote = try Quote(bytes: SyntheticQuote.make(version: version, bodyType: bodyType, trailing: 3065))
        let report = try #require(quote.body.tdReport)
        #expect(report.version == expected)
        #expect(quote.layout.signedLength == signedLength)
        #expect(quote.signatureData.outerCertificationDataType == 6)
        #expect(report.rtmrs.count == 4)
        #expect((report.mrServiceTD == nil) == (expected == .td10))
        #expect((report.tdID == nil) == (expected != .td15ex))
    }

    @Test func emptyInputNamesTheHeader() {
        #expect {
            try Quote(bytes: [])
        } throws: { error in
            guard let error = error as? AttestationError else { return false }
            return error.check == .quoteStructure && error.structure == "Header.version" && error.offset == 0
                && error.found == "0 byte(s) left in the quote" && error.expected == "2 byte(s) for Header.version"
        }
    }

    @Test(arguments: [47, 48, 100, 431, 432, 435, 436, 500, 1012, 1050])
    func truncationNamesStructureAndOffset(length: Int) throws {
        let bytes = Array(SyntheticQuote.make(version: 3).prefix(length))
        do {
            _ = try Quote(bytes: bytes)
            Issue.record("a quote truncated to \(length) bytes parsed")
        } catch {
            #expect(error.check == .quoteStructure)
            #expect(error.offset != nil && error.offset! <= length)
            #expect(error.description.contains("at byte offset \(error.offset!)"))
            #expect(error.description.contains("byte(s) left"))
        }
    }

    @Test func unsupportedVersionIsNamed() {
        var bytes = SyntheticQuote.make(version: 3)
        bytes[0] = 2
        #expect {
            try Quote(bytes: bytes)
        } throws: { error in
            let error = error as! AttestationError
            return error.check == .quoteVersion && error.found == "version 2" && error.hint.contains("EPID")
        }
    }

    @Test func v3WithTDXTypeIsRejected() {
        var bytes = SyntheticQuote.make(version: 3)
        bytes[4] = 0x81
        #expect(throws: AttestationError.self) { try Quote(bytes: bytes) }
    }

    @Test func v5BodySizeMustMatchItsType() {
        var bytes = SyntheticQuote.make(version: 5, bodyType: 3)
        bytes[50] &+= 1
        #expect {
            try Quote(bytes: bytes)
        } throws: { error in
            let error = error as! AttestationError
            return error.structure == "Body.size" && error.offset == 50 && error.found == "body size 649 for body type 3" && error.expected == "648"
        }
    }

    @Test func oversizedLengthIsCapped() {
        var bytes = SyntheticQuote.make(version: 3)
        bytes.replaceSubrange(432..<436, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect {
            try Quote(bytes: bytes)
        } throws: { error in
            let error = error as! AttestationError
            return error.structure == "SignatureData.length" && error.found == "length 4294967295" && error.expected == "at most 1048576 bytes"
        }
    }
}

/// Field values in the corpus's naming, for comparison with `quote_fields`.
func corpusFields(_ quote: Quote) -> (header: [String: String], report: [String: String], qeReport: [String: String], layout: [String: String]) {
    let header = quote.header
    let headerFields = [
        "version": "\(header.version)", "att_key_type": "\(header.attestationKeyType)", "tee_type": "\(header.teeType)",
        "qe_svn": "\(header.qeSVN)", "pce_svn": "\(header.pceSVN)", "qe_vendor_id": header.qeVendorID.hexadecimal,
        "user_data": header.userData.hexadecimal,
    ]
    func enclave(_ report: EnclaveReport) -> [String: String] {
        [
            "cpu_svn": report.cpuSVN.hexadecimal, "misc_select": "\(report.miscSelect)", "attributes": report.attributes.hexadecimal,
            "mr_enclave": report.mrEnclave.hexadecimal, "mr_signer": report.mrSigner.hexadecimal,
            "isv_prod_id": "\(report.isvProductID)", "isv_svn": "\(report.isvSVN)", "report_data": report.reportData.hexadecimal,
        ]
    }
    var report: [String: String]
    switch quote.body {
    case .sgx(let sgx): report = enclave(sgx)
    case .td(let td):
        report = [
            "tee_tcb_svn": td.teeTCBSVN.hexadecimal, "mr_seam": td.mrSeam.hexadecimal, "mr_signer_seam": td.mrSignerSeam.hexadecimal,
            "seam_attributes": td.seamAttributes.hexadecimal, "td_attributes": td.tdAttributeBytes.hexadecimal,
            "xfam": (0..<8).map { UInt8((td.xfam >> (8 * UInt64($0))) & 0xFF) }.hexadecimal, "mr_td": td.mrTD.hexadecimal,
            "mr_config_id": td.mrConfigID.hexadecimal, "mr_owner": td.mrOwner.hexadecimal, "mr_owner_config": td.mrOwnerConfig.hexadecimal,
            "report_data": td.reportData.hexadecimal,
        ]
        for (index, rtmr) in td.rtmrs.enumerated() { report["rt_mr\(index)"] = rtmr.hexadecimal }
        if let svn2 = td.teeTCBSVN2 { report["tee_tcb_svn2"] = svn2.hexadecimal }
        if let service = td.mrServiceTD { report["mr_service_td"] = service.hexadecimal }
    }
    let layout = quote.layout
    var layoutFields = [
        "report_offset": layout.reportOffset, "report_len": layout.reportLength, "signed_len": layout.signedLength,
        "sig_data_len_offset": layout.signedLength, "sig_data_len": layout.signatureDataLength,
        "isv_sig_offset": layout.isvSignatureOffset, "att_key_offset": layout.attestationKeyOffset,
        "qe_report_offset": layout.qeReportOffset, "qe_report_sig_offset": layout.qeReportSignatureOffset,
        "qe_auth_len_offset": layout.qeAuthenticationDataLengthOffset, "qe_auth_len": quote.signatureData.qeAuthenticationData.count,
        "cert_type_offset": layout.certificationDataTypeOffset, "cert_type": Int(quote.signatureData.certificationData.type),
        "cert_data_offset": layout.certificationDataOffset, "cert_data_len": quote.signatureData.certificationData.data.count,
        "trailing_bytes": layout.trailingByteCount, "total_len": quote.bytes.count,
    ].mapValues { "\($0)" }
    if let outer = quote.signatureData.outerCertificationDataType, let offset = layout.outerCertificationDataTypeOffset {
        layoutFields["outer_cert_type"] = "\(outer)"
        layoutFields["outer_cert_type_offset"] = "\(offset)"
    }
    return (headerFields, report, enclave(quote.signatureData.qeReport), layoutFields)
}

func expectFields(_ expected: [String: String], _ actual: [String: String], _ context: String) {
    for (key, text) in expected {
        #expect(actual[key] == text.lowercased(), "\(context).\(key): expected \(text), parsed \(actual[key] ?? "nothing")")
    }
}

@Suite(.enabled(if: Corpus.directory != nil, "\(Corpus.missing)"))
struct CorpusParsingTests {
    @Test func parseOnlyQuotesParseWithTheirFields() throws {
        let corpus = try #require(Corpus.shared)
        #expect(corpus.parseOnly.count == corpus.counts["parse_only"])
        for item in corpus.parseOnly {
            let quote = try Quote(bytes: item.quote)
            let fields = corpusFields(quote)
            expectFields(item.header, fields.header, "\(item.file) header")
            expectFields(item.report, fields.report, "\(item.file) report")
        }
    }

    @Test func caseQuotesMatchTheirQuoteFields() throws {
        let corpus = try #require(Corpus.shared)
        for item in corpus.cases {
            let quote = try Quote(bytes: item.quote)
            let fields = corpusFields(quote)
            let expected = try #require(item.quoteFields)
            expectFields(expected["header"] ?? [:], fields.header, "\(item.id) header")
            expectFields(expected["report"] ?? [:], fields.report, "\(item.id) report")
            expectFields(expected["qe_report"] ?? [:], fields.qeReport, "\(item.id) qe_report")
            expectFields(expected["layout"] ?? [:], fields.layout, "\(item.id) layout")
        }
    }
}
