import Foundation

/// Every check that parsing, verification or appraisal of a quote performs, named so that a failure (and a line of an
/// ``Explanation``) says which rule was applied.
///
/// The raw values are stable identifiers used in JSON output.
public enum Check: String, Sendable, Hashable, Codable, CaseIterable {
    // Parsing and header.
    case quoteStructure = "quote.structure"
    case quoteVersion = "quote.version"
    case teeType = "quote.tee_type"
    case attestationKeyType = "quote.attestation_key_type"
    case qeVendor = "quote.qe_vendor_id"
    // Collateral.
    case trustAnchor = "trust_anchor"
    case collateralFormat = "collateral.format"
    case rootCRL = "collateral.root_ca_crl"
    case pckCRL = "collateral.pck_crl"
    case tcbInfoValidity = "tcb_info.validity"
    case tcbInfoChain = "tcb_info.issuer_chain"
    case tcbInfoSignature = "tcb_info.signature"
    case qeIdentityValidity = "qe_identity.validity"
    case qeIdentityChain = "qe_identity.issuer_chain"
    case qeIdentitySignature = "qe_identity.signature"
    case qeIdentityKind = "qe_identity.id"
    // Platform.
    case certificationDataType = "quote.certification_data_type"
    case pckChain = "pck.chain"
    case pckExtension = "pck.sgx_extension"
    case qeReportSignature = "qe_report.signature"
    case qeAuthDataLength = "qe_report.auth_data_length"
    case qeReportData = "qe_report.report_data"
    case qeMRSigner = "qe_identity.mrsigner"
    case qeDebug = "qe_identity.debug"
    case qeProductID = "qe_identity.isvprodid"
    case qeMiscSelect = "qe_identity.miscselect"
    case qeAttributes = "qe_identity.attributes"
    case qeTCBLevel = "qe_identity.tcb_level"
    case isvSignature = "quote.isv_signature"
    case fmspc = "tcb_info.fmspc"
    case pceID = "tcb_info.pce_id"
    case tcbInfoKind = "tcb_info.id"
    case tcbLevel = "tcb_info.tcb_level"
    case tdxModule = "tcb_info.tdx_module"
    case tcbStatus = "tcb.status"
    // Appraisal policy.
    case policyFormat = "policy.format"
    case policyDebug = "policy.debug"
    case policyMREnclave = "policy.mrenclave"
    case policyMRSigner = "policy.mrsigner"
    case policyProductID = "policy.isvprodid"
    case policySecurityVersion = "policy.isvsvn"
    case policyTCBStatus = "policy.tcb_status"
    case policyAdvisories = "policy.advisories"
    case policyTDAttributes = "policy.td_attributes"
    case policySEPTVEDisable = "policy.sept_ve_disable"
    case policyServiceTD = "policy.mr_service_td"
    case policyMRTD = "policy.mrtd"
    case policyReportData = "policy.report_data"

    /// A short human title for reports.
    public var title: String {
        switch self {
        case .quoteStructure: "quote structure"
        case .quoteVersion: "quote version"
        case .teeType: "TEE type"
        case .attestationKeyType: "attestation key type"
        case .qeVendor: "QE vendor ID"
        case .trustAnchor: "trust anchor"
        case .collateralFormat: "collateral format"
        case .rootCRL: "Root CA CRL"
        case .pckCRL: "PCK CRL"
        case .tcbInfoValidity: "TCB Info validity period"
        case .tcbInfoChain: "TCB Info issuer chain"
        case .tcbInfoSignature: "TCB Info signature"
        case .qeIdentityValidity: "QE Identity validity period"
        case .qeIdentityChain: "QE Identity issuer chain"
        case .qeIdentitySignature: "QE Identity signature"
        case .qeIdentityKind: "QE Identity kind"
        case .certificationDataType: "certification data type"
        case .pckChain: "PCK certificate chain"
        case .pckExtension: "PCK SGX extension"
        case .qeReportSignature: "QE report signature"
        case .qeAuthDataLength: "QE authentication data length"
        case .qeReportData: "QE report data binding"
        case .qeMRSigner: "QE MRSIGNER"
        case .qeDebug: "QE debug attribute"
        case .qeProductID: "QE ISVPRODID"
        case .qeMiscSelect: "QE MISCSELECT"
        case .qeAttributes: "QE attributes"
        case .qeTCBLevel: "QE TCB level"
        case .isvSignature: "quote signature"
        case .fmspc: "FMSPC"
        case .pceID: "PCE-ID"
        case .tcbInfoKind: "TCB Info kind"
        case .tcbLevel: "platform TCB level"
        case .tdxModule: "TDX module identity"
        case .tcbStatus: "TCB status"
        case .policyFormat: "policy format"
        case .policyDebug: "debug enclave"
        case .policyMREnclave: "MRENCLAVE"
        case .policyMRSigner: "MRSIGNER"
        case .policyProductID: "ISVPRODID"
        case .policySecurityVersion: "ISVSVN"
        case .policyTCBStatus: "accepted TCB status"
        case .policyAdvisories: "accepted advisories"
        case .policyTDAttributes: "TD attributes"
        case .policySEPTVEDisable: "SEPT_VE_DISABLE"
        case .policyServiceTD: "MRSERVICETD"
        case .policyMRTD: "MRTD"
        case .policyReportData: "report data binding"
        }
    }

    /// Whether the check belongs to the appraisal policy rather than to the verification of authenticity.
    public var isPolicy: Bool { rawValue.hasPrefix("policy.") }
}

/// Why a quote could not be parsed, verified or accepted.
///
/// Every error names the ``check`` that failed, the value ``found``, the value ``expected`` and a ``hint`` saying what
/// to do about it. Parse errors also carry the ``structure`` and byte ``offset`` where the quote broke.
public struct AttestationError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public let check: Check
    public let found: String
    public let expected: String
    public let hint: String
    /// For quote parse errors: the structure and field being read, such as `EnclaveReport.report_data`.
    public let structure: String?
    /// For quote parse errors: the byte offset in the quote where the structure or field starts.
    public let offset: Int?

    public init(check: Check, found: String, expected: String, hint: String, structure: String? = nil, offset: Int? = nil) {
        self.check = check
        self.found = found
        self.expected = expected
        self.hint = hint
        self.structure = structure
        self.offset = offset
    }

    /// One readable sentence-per-part message: the check, where (for parse errors), found vs expected, and the hint.
    public var description: String {
        var text = "\(check.title) check failed"
        if let structure, let offset { text += " in \(structure) at byte offset \(offset)" }
        text += ": found \(found); expected \(expected). \(hint)"
        return text
    }
}

extension AttestationError: LocalizedError {
    public var errorDescription: String? { description }
}
