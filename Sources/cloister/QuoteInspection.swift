import Attestation
import CollateralSources
import Foundation
import Hexadecimal

/// Every field of a parsed quote, named and typed, in quote order.
enum QuoteInspection {
    static func tree(of quote: Quote, path: String) -> QuoteReportTree {
        var members: [(String, QuoteReportTree)] = [
            ("file", .string(path)),
            ("tee", .string(quote.tee.rawValue)),
            ("size", .number(quote.bytes.count)),
            ("header", header(quote.header)),
        ]
        if let bodyType = quote.bodyType { members.append(("bodyType", .number(bodyType))) }
        switch quote.body {
        case .sgx(let report): members.append(("enclaveReport", enclaveReport(report)))
        case .td(let report): members.append(("tdReport", tdReport(report)))
        }
        members.append(("signatureData", signatureData(quote.signatureData)))
        members.append(("pckCertificate", pckCertificate(quote)))
        members.append(("layout", layout(quote.layout)))
        return .object(members)
    }

    private static func header(_ header: QuoteHeader) -> QuoteReportTree {
        .object([
            ("version", .number(header.version)),
            ("attestationKeyType", .number(header.attestationKeyType)),
            ("attestationKeyTypeName", .string(header.attestationKeyType == QuoteHeader.ecdsaP256KeyType ? "ECDSA-256-with-P-256" : "unsupported")),
            ("teeType", .string(String(format: "0x%08x", header.teeType))),
            ("qeSVN", .number(header.qeSVN)),
            ("pceSVN", .number(header.pceSVN)),
            ("qeVendorID", .bytes(header.qeVendorID)),
            ("qeVendorIsIntel", .bool(header.qeVendorID == QuoteHeader.intelQEVendorID)),
            ("userData", .bytes(header.userData)),
            ("qeID", .bytes(header.qeID)),
        ])
    }

    static func enclaveReport(_ report: EnclaveReport) -> QuoteReportTree {
        .object([
            ("cpuSVN", .bytes(report.cpuSVN)),
            ("miscSelect", .string(String(format: "0x%08x", report.miscSelect))),
            ("isvExtendedProductID", .bytes(report.isvExtendedProductID)),
            ("attributes", .bytes(report.attributes)),
            ("attributeFlags", .string(String(format: "0x%016llx", report.attributeFlags))),
            ("xfrm", .string(String(format: "0x%016llx", report.xfrm))),
            ("debug", .bool(report.isDebug)),
            ("mrEnclave", .bytes(report.mrEnclave)),
            ("mrSigner", .bytes(report.mrSigner)),
            ("configID", .bytes(report.configID)),
            ("isvProdID", .number(report.isvProductID)),
            ("isvSVN", .number(report.isvSVN)),
            ("configSVN", .number(report.configSVN)),
            ("isvFamilyID", .bytes(report.isvFamilyID)),
            ("reportData", .bytes(report.reportData)),
        ])
    }

    private static func tdReport(_ report: TDReport) -> QuoteReportTree {
        let attributes = report.tdAttributes
        var members: [(String, QuoteReportTree)] = [
            ("version", .string(report.version.rawValue)),
            ("teeTCBSVN", .bytes(report.teeTCBSVN)),
            ("mrSeam", .bytes(report.mrSeam)),
            ("mrSignerSeam", .bytes(report.mrSignerSeam)),
            ("seamAttributes", .bytes(report.seamAttributes)),
            ("tdAttributes", .string(String(format: "0x%016llx", attributes))),
            (
                "tdAttributeFlags",
                .object([
                    ("debug", .bool(attributes & TDReport.AttributeBit.debug != 0)),
                    ("septVEDisable", .bool(attributes & TDReport.AttributeBit.septVEDisable != 0)),
                    ("serviceTDExtension", .bool(attributes & TDReport.AttributeBit.serviceTDExtension != 0)),
                    ("migratable", .bool(attributes & TDReport.AttributeBit.migratable != 0)),
                ])
            ),
            ("xfam", .string(String(format: "0x%016llx", report.xfam))),
            ("mrTD", .bytes(report.mrTD)),
            ("mrConfigID", .bytes(report.mrConfigID)),
            ("mrOwner", .bytes(report.mrOwner)),
            ("mrOwnerConfig", .bytes(report.mrOwnerConfig)),
            ("rtmr0", .bytes(report.rtmrs[0])),
            ("rtmr1", .bytes(report.rtmrs[1])),
            ("rtmr2", .bytes(report.rtmrs[2])),
            ("rtmr3", .bytes(report.rtmrs[3])),
            ("reportData", .bytes(report.reportData)),
        ]
        if let value = report.teeTCBSVN2 { members.append(("teeTCBSVN2", .bytes(value))) }
        if let value = report.mrServiceTD { members.append(("mrServiceTD", .bytes(value))) }
        if let value = report.vmID { members.append(("vmID", .number(value))) }
        if let value = report.tdID { members.append(("tdID", .bytes(value))) }
        if let value = report.deviceInfo { members.append(("deviceInfo", .bytes(value))) }
        if let value = report.initialServiceTDHash { members.append(("initialServiceTDHash", .bytes(value))) }
        if let value = report.initialServiceTDAttributes { members.append(("initialServiceTDAttributes", .bytes(value))) }
        if let value = report.initialCPUSVN { members.append(("initialCPUSVN", .bytes(value))) }
        if let value = report.initialTEETCBSVN { members.append(("initialTEETCBSVN", .bytes(value))) }
        if let value = report.initialTEEFMSPC { members.append(("initialTEEFMSPC", .bytes(value))) }
        if let value = report.currentServiceTDHash { members.append(("currentServiceTDHash", .bytes(value))) }
        if let value = report.currentServiceTDAttributes { members.append(("currentServiceTDAttributes", .bytes(value))) }
        return .object(members)
    }

    private static func signatureData(_ data: QuoteSignatureData) -> QuoteReportTree {
        var members: [(String, QuoteReportTree)] = [
            ("isvSignature", .bytes(data.isvSignature)),
            ("attestationKey", .bytes(data.attestationKey)),
        ]
        if let outer = data.outerCertificationDataType { members.append(("outerCertificationDataType", .number(outer))) }
        members += [
            ("qeReport", enclaveReport(data.qeReport)),
            ("qeReportSignature", .bytes(data.qeReportSignature)),
            ("qeAuthenticationData", .bytes(data.qeAuthenticationData)),
            ("certificationDataType", .number(data.certificationData.type)),
            ("certificationDataSize", .number(data.certificationData.data.count)),
        ]
        return .object(members)
    }

    private static func pckCertificate(_ quote: Quote) -> QuoteReportTree {
        do {
            let pck = try QuotePCKCertificate(quote: quote)
            let sgx = pck.sgxExtension
            return .object([
                ("subject", .string(pck.subject)),
                ("issuer", .string(pck.issuer)),
                ("issuingCA", .string(pck.authority.rawValue)),
                ("notValidBefore", .string(QuoteInput.iso8601(pck.notValidBefore))),
                ("notValidAfter", .string(QuoteInput.iso8601(pck.notValidAfter))),
                ("fmspc", .string(sgx.fmspc.hexadecimal.uppercased())),
                ("ppid", .bytes(sgx.ppid)),
                ("cpuSVN", .bytes(sgx.cpuSVN)),
                ("pceSVN", .number(sgx.pceSVN)),
                ("pceID", .bytes(sgx.pceID)),
                ("sgxType", .optional(sgx.sgxType.map { .string("\($0)") })),
                ("platformInstanceID", .optional(sgx.platformInstanceID.map { .bytes($0) })),
            ])
        } catch {
            return .object([("unreadable", .string(error.description))])
        }
    }

    private static func layout(_ layout: QuoteLayout) -> QuoteReportTree {
        var members: [(String, QuoteReportTree)] = [
            ("reportOffset", .number(layout.reportOffset)),
            ("reportLength", .number(layout.reportLength)),
            ("signedLength", .number(layout.signedLength)),
            ("signatureDataLength", .number(layout.signatureDataLength)),
            ("isvSignatureOffset", .number(layout.isvSignatureOffset)),
            ("attestationKeyOffset", .number(layout.attestationKeyOffset)),
        ]
        if let offset = layout.outerCertificationDataTypeOffset { members.append(("outerCertificationDataTypeOffset", .number(offset))) }
        members += [
            ("qeReportOffset", .number(layout.qeReportOffset)),
            ("qeReportSignatureOffset", .number(layout.qeReportSignatureOffset)),
            ("qeAuthenticationDataLengthOffset", .number(layout.qeAuthenticationDataLengthOffset)),
            ("certificationDataTypeOffset", .number(layout.certificationDataTypeOffset)),
            ("certificationDataOffset", .number(layout.certificationDataOffset)),
            ("trailingBytes", .number(layout.trailingByteCount)),
        ]
        return .object(members)
    }
}
