import Foundation

/// What a verified quote must show to be accepted: kept apart from verification, which only proves authenticity and
/// the TCB status.
///
/// ``dcapQVLDefault`` (also what an empty JSON object `{}` decodes to) reproduces the rules dcap-qvl 0.7.0 hard-codes:
/// no debug enclaves or TDs, TDX SEPT_VE_DISABLE required, no service TD, any TCB status but Revoked.
///
/// JSON keys (all optional; byte values are hexadecimal, either case), as read by `cloister quote verify --policy FILE`:
///
/// | key | meaning |
/// |---|---|
/// | `mrEnclaves` | SGX: accepted MRENCLAVE values. |
/// | `mrSigner`, `isvProdID`, `minimumISVSVN` | SGX: signer identity; all three together (MarbleRun `SignerID`, `ProductID`, `SecurityVersion`). |
/// | `mrTDs` | TDX: accepted MRTD values. |
/// | `allowDebug` | accept debug enclaves/TDs (default false). |
/// | `acceptedTCBStatuses` | absent: any status but Revoked (dcap-qvl). Present: MarbleRun `AcceptedTCBStatuses` semantics, `UpToDate` is always accepted and an empty list means `["SWHardeningNeeded"]`. |
/// | `acceptedAdvisories` | MarbleRun `AcceptedAdvisories`: when the status is `SWHardeningNeeded`, every advisory must be listed; absent or empty accepts all. |
/// | `requireSEPTVEDisable` | TDX: require TD attribute SEPT_VE_DISABLE (default true). |
/// | `allowServiceTD` | TDX: accept SERVTD_EXT and a non-zero MRSERVICETD (default false). |
/// | `reportData` | `{"exact": "<64 bytes>"}` or `{"prefix": "<1-64 bytes>"}`, e.g. SHA-256 of a key, or a nonce. |
public struct AttestationPolicy: Sendable, Hashable, Codable {
    /// SGX signer identity: MRSIGNER, ISVPRODID and the minimum ISVSVN.
    public struct Signer: Sendable, Hashable {
        public var mrSigner: [UInt8]
        public var productID: UInt16
        public var minimumSecurityVersion: UInt16

        public init(mrSigner: [UInt8], productID: UInt16, minimumSecurityVersion: UInt16) {
            self.mrSigner = mrSigner
            self.productID = productID
            self.minimumSecurityVersion = minimumSecurityVersion
        }
    }

    /// How the report data must bind an expected value.
    public enum ReportDataBinding: Sendable, Hashable {
        /// All 64 bytes must equal these.
        case exact([UInt8])
        /// The report data must start with these bytes (for example SHA-256 of a public key, or a nonce).
        case prefix([UInt8])
    }

    public var mrEnclaves: [[UInt8]]
    public var signer: Signer?
    public var mrTDs: [[UInt8]]
    public var allowDebug: Bool
    /// Nil: any status but Revoked. Otherwise the accepted statuses (``UpToDate`` is always accepted).
    public var acceptedTCBStatuses: Set<TCBStatus>?
    /// Empty: all advisories accepted.
    public var acceptedAdvisories: [String]
    public var requireSEPTVEDisable: Bool
    public var allowServiceTD: Bool
    public var reportData: ReportDataBinding?

    public init(
        mrEnclaves: [[UInt8]] = [], signer: Signer? = nil, mrTDs: [[UInt8]] = [], allowDebug: Bool = false,
        acceptedTCBStatuses: Set<TCBStatus>? = nil, acceptedAdvisories: [String] = [], requireSEPTVEDisable: Bool = true,
        allowServiceTD: Bool = false, reportData: ReportDataBinding? = nil
    ) {
        self.mrEnclaves = mrEnclaves
        self.signer = signer
        self.mrTDs = mrTDs
        self.allowDebug = allowDebug
        self.acceptedTCBStatuses = acceptedTCBStatuses
        self.acceptedAdvisories = acceptedAdvisories
        self.requireSEPTVEDisable = requireSEPTVEDisable
        self.allowServiceTD = allowServiceTD
        self.reportData = reportData
    }

    /// The rules dcap-qvl 0.7.0 applies after verification.
    public static let dcapQVLDefault = AttestationPolicy()

    /// The accepted statuses for MarbleRun's `AcceptedTCBStatuses` list: `UpToDate` always, and an empty list means
    /// `["SWHardeningNeeded"]`. Unknown names are returned in `unknown` so the caller can report them.
    public static func marbleRunAcceptedStatuses(_ names: [String]) -> (accepted: Set<TCBStatus>, unknown: [String]) {
        var accepted: Set<TCBStatus> = [.upToDate]
        var unknown = [String]()
        for name in names.isEmpty ? ["SWHardeningNeeded"] : names {
            if let status = TCBStatus(rawValue: name) { accepted.insert(status) } else { unknown.append(name) }
        }
        return (accepted, unknown)
    }

    /// Applies the policy to a verified quote.
    public func appraise(_ verified: VerifiedQuote) throws(AttestationError) {
        var recorder = Recorder(enabled: false)
        try appraise(verified, recorder: &recorder)
    }

    func appraise(_ verified: VerifiedQuote, recorder: inout Recorder) throws(AttestationError) {
        switch verified.quote.body {
        case .sgx(let report): try appraiseSGX(report, recorder: &recorder)
        case .td(let report): try appraiseTD(report, recorder: &recorder)
        }
        try appraiseTCB(verified, recorder: &recorder)
        try appraiseReportData(verified.quote.body.reportData, recorder: &recorder)
    }

    private func appraiseSGX(_ report: EnclaveReport, recorder: inout Recorder) throws(AttestationError) {
        guard allowDebug || !report.isDebug else {
            throw AttestationError(
                check: .policyDebug, found: "an enclave with the DEBUG attribute set", expected: "a production enclave",
                hint:
                    "A debug enclave's memory is readable by the host. Sign the enclave for production, or allow debug (MarbleRun Debug: true, policy allowDebug) only for development."
            )
        }
        recorder.passed(.policyDebug, report.isDebug ? "debug enclave allowed by the policy" : "production enclave")
        guard mrTDs.isEmpty else {
            throw AttestationError(
                check: .policyMRTD, found: "an SGX quote", expected: "a TDX quote (the policy lists MRTD values)",
                hint: "Use a policy for SGX enclaves with this quote.")
        }
        if mrEnclaves.isEmpty {
            recorder.skipped(.policyMREnclave, "no MRENCLAVE required")
        } else {
            let mrEnclave = report.mrEnclave
            guard mrEnclaves.contains(mrEnclave) else {
                throw AttestationError(
                    check: .policyMREnclave, found: mrEnclave.hexadecimal,
                    expected: "one of \(mrEnclaves.map(\.hexadecimal).joined(separator: ", "))",
                    hint:
                        "The enclave's code or configuration differs from what the policy (manifest UniqueID) allows: rebuild the expected enclave, or add this MRENCLAVE."
                )
            }
            recorder.passed(.policyMREnclave, mrEnclave.hexadecimal)
        }
        guard let signer else {
            recorder.skipped(.policyMRSigner, "no signer identity required")
            return
        }
        guard report.mrSigner == signer.mrSigner else {
            throw AttestationError(
                check: .policyMRSigner, found: report.mrSigner.hexadecimal, expected: signer.mrSigner.hexadecimal,
                hint: "The enclave was signed with another key than the manifest's SignerID: sign it with the expected key.")
        }
        recorder.passed(.policyMRSigner, signer.mrSigner.hexadecimal)
        guard report.isvProductID == signer.productID else {
            throw AttestationError(
                check: .policyProductID, found: "\(report.isvProductID)", expected: "\(signer.productID)",
                hint: "The enclave is another product of the same signer: check the manifest's ProductID.")
        }
        recorder.passed(.policyProductID, "\(signer.productID)")
        guard report.isvSVN >= signer.minimumSecurityVersion else {
            throw AttestationError(
                check: .policySecurityVersion, found: "ISVSVN \(report.isvSVN)", expected: "at least \(signer.minimumSecurityVersion)",
                hint: "The enclave is an older security version than the manifest's SecurityVersion: deploy the current build.")
        }
        recorder.passed(.policySecurityVersion, "\(report.isvSVN) ≥ \(signer.minimumSecurityVersion)")
    }

    private func appraiseTD(_ report: TDReport, recorder: inout Recorder) throws(AttestationError) {
        typealias Bit = TDReport.AttributeBit
        let attributes = report.tdAttributes
        let attributeText = String(format: "td_attributes 0x%016llx", attributes)
        guard allowDebug || attributes & (Bit.debug | Bit.debugRelated) == 0 else {
            throw AttestationError(
                check: .policyDebug, found: "\(attributeText) (DEBUG or debug-related bits 4-6 set)", expected: "a production TD",
                hint: "A debug TD's memory and state are readable by the host: launch the TD without debug, or allow debug only for development.")
        }
        recorder.passed(.policyDebug, report.isDebug ? "debug TD allowed by the policy" : "production TD")
        guard attributes & Bit.reservedMustBeZero == 0, attributes & Bit.migratable == 0,
            allowServiceTD || attributes & Bit.serviceTDExtension == 0
        else {
            throw AttestationError(
                check: .policyTDAttributes, found: attributeText,
                expected: "reserved bits and MIGRATABLE (bit 29) clear\(allowServiceTD ? "" : ", SERVTD_EXT (bit 17) clear")",
                hint: "The TD was launched with attributes this policy does not accept; relaunch it with standard attributes.")
        }
        recorder.passed(.policyTDAttributes, "\(attributeText): no reserved, MIGRATABLE or unexpected service-TD bits")
        if requireSEPTVEDisable {
            guard attributes & Bit.septVEDisable != 0 else {
                throw AttestationError(
                    check: .policySEPTVEDisable, found: "\(attributeText) with SEPT_VE_DISABLE (bit 28) clear", expected: "SEPT_VE_DISABLE set",
                    hint:
                        "Without SEPT_VE_DISABLE the host can inject #VE exceptions into the TD; launch the TD with sept-ve-disable=on (or set requireSEPTVEDisable false)."
                )
            }
            recorder.passed(.policySEPTVEDisable, "set")
        } else {
            recorder.skipped(.policySEPTVEDisable, "not required by the policy")
        }
        guard allowServiceTD || report.mrServiceTDIsZero else {
            throw AttestationError(
                check: .policyServiceTD, found: "MRSERVICETD \(report.mrServiceTD?.hexadecimal ?? "")", expected: "all zero (no service TD bound)",
                hint:
                    "A service TD (for example a migration TD) is bound to this TD and can access its state: allow it explicitly (allowServiceTD) if that is intended."
            )
        }
        recorder.passed(.policyServiceTD, report.mrServiceTDIsZero ? "no service TD" : "service TD allowed by the policy")
        if mrTDs.isEmpty {
            recorder.skipped(.policyMRTD, "no MRTD required")
        } else {
            guard mrTDs.contains(report.mrTD) else {
                throw AttestationError(
                    check: .policyMRTD, found: report.mrTD.hexadecimal, expected: "one of \(mrTDs.map(\.hexadecimal).joined(separator: ", "))",
                    hint: "The TD's initial image differs from what the policy allows.")
            }
            recorder.passed(.policyMRTD, report.mrTD.hexadecimal)
        }
        guard mrEnclaves.isEmpty, signer == nil else {
            throw AttestationError(
                check: .policyMREnclave, found: "a TDX quote", expected: "an SGX quote (the policy names an enclave identity)",
                hint: "Use a policy for TDs with this quote.")
        }
    }

    private func appraiseTCB(_ verified: VerifiedQuote, recorder: inout Recorder) throws(AttestationError) {
        let status = verified.status
        let advisories = verified.advisoryIDs.isEmpty ? "" : " (advisories \(verified.advisoryIDs.joined(separator: ", ")))"
        let since = UTCTimestamp.iso8601(verified.tcbDate.unixSeconds)
        if let accepted = acceptedTCBStatuses, status != .upToDate, !accepted.contains(status) {
            throw AttestationError(
                check: .policyTCBStatus, found: "\(status.rawValue) since \(since)\(advisories)",
                expected:
                    "one of \(([TCBStatus.upToDate] + accepted.filter { $0 != .upToDate }.sorted { $0.rawValue < $1.rawValue }).map(\.rawValue).joined(separator: ", "))",
                hint:
                    "The platform's TCB is \(status.rawValue) since \(since)\(advisories): \(status.advice), or accept \(status.rawValue) in the manifest's AcceptedTCBStatuses."
            )
        }
        recorder.passed(.policyTCBStatus, "\(status.rawValue)\(advisories) accepted")
        guard status == .swHardeningNeeded, !acceptedAdvisories.isEmpty else {
            recorder.skipped(
                .policyAdvisories, acceptedAdvisories.isEmpty ? "all advisories accepted" : "advisories are checked for SWHardeningNeeded only")
            return
        }
        let unaccepted = verified.advisoryIDs.filter { !acceptedAdvisories.contains($0) }
        guard unaccepted.isEmpty else {
            throw AttestationError(
                check: .policyAdvisories, found: "advisories \(unaccepted.joined(separator: ", ")) not accepted",
                expected: "only \(acceptedAdvisories.joined(separator: ", "))",
                hint:
                    "Check that the enclave mitigates \(unaccepted.joined(separator: ", ")) in software, then add them to the manifest's AcceptedAdvisories."
            )
        }
        recorder.passed(.policyAdvisories, "all advisories accepted")
    }

    private func appraiseReportData(_ data: [UInt8], recorder: inout Recorder) throws(AttestationError) {
        guard let reportData else {
            recorder.skipped(.policyReportData, "no report data binding required")
            return
        }
        let expected: [UInt8]
        switch reportData {
        case .exact(let bytes): expected = bytes
        case .prefix(let bytes): expected = bytes
        }
        let matches =
            switch reportData {
            case .exact: data == expected
            case .prefix: expected.count <= data.count && data.starts(with: expected)
            }
        guard matches else {
            throw AttestationError(
                check: .policyReportData, found: Array(data.prefix(max(expected.count, 1))).hexadecimal,
                expected: expected.hexadecimal,
                hint:
                    "The quote does not bind the expected value (key hash or nonce): it may be replayed or made for another key. Request a fresh quote over the expected value."
            )
        }
        recorder.passed(.policyReportData, "binds \(expected.hexadecimal)")
    }

    // MARK: - JSON

    enum CodingKeys: String, CodingKey {
        case mrEnclaves, mrSigner, isvProdID, minimumISVSVN, mrTDs, allowDebug, acceptedTCBStatuses, acceptedAdvisories
        case requireSEPTVEDisable, allowServiceTD, reportData
    }

    enum BindingKeys: String, CodingKey {
        case exact, prefix
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func hex(_ text: String, _ key: String, count: ClosedRange<Int>) throws -> [UInt8] {
            guard let bytes = [UInt8](hexadecimal: text), count.contains(bytes.count) else {
                throw Self.formatError(
                    "'\(key)' value \"\(text.prefix(20))\" is not \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)-\(count.upperBound)") bytes of hexadecimal"
                )
            }
            return bytes
        }
        mrEnclaves = try (container.decodeIfPresent([String].self, forKey: .mrEnclaves) ?? []).map { try hex($0, "mrEnclaves", count: 32...32) }
        mrTDs = try (container.decodeIfPresent([String].self, forKey: .mrTDs) ?? []).map { try hex($0, "mrTDs", count: 48...48) }
        let mrSigner = try container.decodeIfPresent(String.self, forKey: .mrSigner)
        let productID = try container.decodeIfPresent(UInt16.self, forKey: .isvProdID)
        let minimum = try container.decodeIfPresent(UInt16.self, forKey: .minimumISVSVN)
        switch (mrSigner, productID, minimum) {
        case (nil, nil, nil): signer = nil
        case (let mrSigner?, let productID?, let minimum?):
            signer = Signer(mrSigner: try hex(mrSigner, "mrSigner", count: 32...32), productID: productID, minimumSecurityVersion: minimum)
        default:
            throw Self.formatError(
                "'mrSigner', 'isvProdID' and 'minimumISVSVN' must be given together (as MarbleRun's SignerID, ProductID, SecurityVersion)")
        }
        if !mrEnclaves.isEmpty, signer != nil {
            throw Self.formatError("give either 'mrEnclaves' or the signer identity ('mrSigner', 'isvProdID', 'minimumISVSVN'), not both")
        }
        allowDebug = try container.decodeIfPresent(Bool.self, forKey: .allowDebug) ?? false
        if let names = try container.decodeIfPresent([String].self, forKey: .acceptedTCBStatuses) {
            let (accepted, unknown) = Self.marbleRunAcceptedStatuses(names)
            guard unknown.isEmpty else {
                throw Self.formatError(
                    "unknown TCB status(es) \(unknown.joined(separator: ", ")) in 'acceptedTCBStatuses'; known: \(TCBStatus.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            acceptedTCBStatuses = accepted
        } else {
            acceptedTCBStatuses = nil
        }
        acceptedAdvisories = try container.decodeIfPresent([String].self, forKey: .acceptedAdvisories) ?? []
        requireSEPTVEDisable = try container.decodeIfPresent(Bool.self, forKey: .requireSEPTVEDisable) ?? true
        allowServiceTD = try container.decodeIfPresent(Bool.self, forKey: .allowServiceTD) ?? false
        if container.contains(.reportData) {
            let binding = try container.nestedContainer(keyedBy: BindingKeys.self, forKey: .reportData)
            let exact = try binding.decodeIfPresent(String.self, forKey: .exact)
            let prefix = try binding.decodeIfPresent(String.self, forKey: .prefix)
            switch (exact, prefix) {
            case (let exact?, nil): reportData = .exact(try hex(exact, "reportData.exact", count: 64...64))
            case (nil, let prefix?): reportData = .prefix(try hex(prefix, "reportData.prefix", count: 1...64))
            default: throw Self.formatError("'reportData' needs exactly one of 'exact' (64 bytes hex) or 'prefix' (1-64 bytes hex)")
            }
        } else {
            reportData = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !mrEnclaves.isEmpty { try container.encode(mrEnclaves.map(\.hexadecimal), forKey: .mrEnclaves) }
        if let signer {
            try container.encode(signer.mrSigner.hexadecimal, forKey: .mrSigner)
            try container.encode(signer.productID, forKey: .isvProdID)
            try container.encode(signer.minimumSecurityVersion, forKey: .minimumISVSVN)
        }
        if !mrTDs.isEmpty { try container.encode(mrTDs.map(\.hexadecimal), forKey: .mrTDs) }
        try container.encode(allowDebug, forKey: .allowDebug)
        if let acceptedTCBStatuses { try container.encode(acceptedTCBStatuses.map(\.rawValue).sorted(), forKey: .acceptedTCBStatuses) }
        if !acceptedAdvisories.isEmpty { try container.encode(acceptedAdvisories, forKey: .acceptedAdvisories) }
        try container.encode(requireSEPTVEDisable, forKey: .requireSEPTVEDisable)
        try container.encode(allowServiceTD, forKey: .allowServiceTD)
        if let reportData {
            var binding = container.nestedContainer(keyedBy: BindingKeys.self, forKey: .reportData)
            switch reportData {
            case .exact(let bytes): try binding.encode(bytes.hexadecimal, forKey: .exact)
            case .prefix(let bytes): try binding.encode(bytes.hexadecimal, forKey: .prefix)
            }
        }
    }

    private static func formatError(_ message: String) -> AttestationError {
        AttestationError(check: .policyFormat, found: message, expected: "a policy as documented on AttestationPolicy", hint: "Fix the policy file.")
    }
}
