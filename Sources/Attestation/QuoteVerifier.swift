import Crypto
import Foundation
import X509

/// Verifies DCAP quotes against collateral at a caller-given instant, following dcap-qvl 0.7.0's order of checks.
///
/// Verification establishes authenticity and the TCB status; it applies no acceptance policy beyond refusing a
/// `Revoked` TCB (use ``AttestationPolicy`` for that). The wall clock is never read: every call names its instant.
///
/// ```swift
/// let quote = try Quote(bytes: quoteBytes)
/// let verified = try QuoteVerifier().verify(quote, collateral: collateral, at: now)
/// try AttestationPolicy.dcapQVLDefault.appraise(verified)
/// ```
///
/// A `QuoteVerifier` keeps nothing between calls. ``CachingQuoteVerifier`` keeps already-verified collateral and
/// platform results, so that a stream of quotes from known platforms costs about one ECDSA verification each.
public struct QuoteVerifier: Sendable {
    public let trustAnchor: TrustAnchor
    let cache: VerificationCache?

    public init(trustAnchor: TrustAnchor = .intelSGXRootCA) {
        self.init(trustAnchor: trustAnchor, cache: nil)
    }

    init(trustAnchor: TrustAnchor, cache: VerificationCache?) {
        self.trustAnchor = trustAnchor
        self.cache = cache
    }

    /// Verifies a parsed quote.
    public func verify(_ quote: Quote, collateral: Collateral, at instant: Date) throws(AttestationError) -> VerifiedQuote {
        var recorder = Recorder(enabled: false)
        return try run(quote, collateral: collateral, at: instant, recorder: &recorder)
    }

    /// Parses and verifies quote bytes.
    public func verify(quoteBytes: [UInt8], collateral: Collateral, at instant: Date) throws(AttestationError) -> VerifiedQuote {
        try verify(Quote(bytes: quoteBytes), collateral: collateral, at: instant)
    }

    /// Parses, verifies and (when `policy` is given) appraises, recording every check: never throws, the outcome is
    /// in the explanation.
    public func explain(quoteBytes: [UInt8], collateral: Collateral, at instant: Date, policy: AttestationPolicy? = nil) -> Explanation {
        var recorder = Recorder(enabled: true)
        let quote: Quote
        do {
            quote = try Quote(bytes: quoteBytes)
            recorder.passed(
                .quoteStructure,
                "\(quote.tee.rawValue) quote version \(quote.header.version)\(quote.bodyType.map { " body type \($0)" } ?? ""), \(quoteBytes.count) bytes, \(quote.layout.signedLength) signed, \(quote.layout.trailingByteCount) trailing"
            )
        } catch {
            recorder.failed(error)
            return recorder.explanation ?? Explanation()
        }
        do {
            let verified = try run(quote, collateral: collateral, at: instant, recorder: &recorder)
            recorder.update {
                $0.status = verified.status
                $0.advisoryIDs = verified.advisoryIDs
            }
            if let policy {
                try policy.appraise(verified, recorder: &recorder)
            }
        } catch {
            recorder.failed(error)
        }
        return recorder.explanation ?? Explanation()
    }

    // MARK: - The verification pipeline

    func run(_ quote: Quote, collateral: Collateral, at instant: Date, recorder: inout Recorder) throws(AttestationError) -> VerifiedQuote {
        do {
            return try pipeline(quote, collateral: collateral, at: instant, recorder: &recorder)
        } catch {
            recorder.failed(error)
            throw error
        }
    }

    private func pipeline(
        _ quote: Quote, collateral: Collateral, at instant: Date, recorder: inout Recorder
    ) throws(AttestationError) -> VerifiedQuote {
        let now = instant.unixSeconds
        recorder.update { $0.isSimulation = trustAnchor.isSimulation }
        recorder.passed(
            .trustAnchor, "\(trustAnchor.subject) (SHA-256 \(trustAnchor.fingerprint))\(trustAnchor.isSimulation ? ": SIMULATION root" : "")")

        // Step 0: the CRLs, and the root itself against the Root CA CRL.
        let lists = try revocationLists(collateral, at: now, recorder: &recorder)

        // Step 1: header.
        try checkHeader(quote, recorder: &recorder)

        // Steps 2 and 3: TCB Info and QE Identity.
        let (tcbInfo, tcbChain) = try tcbInformation(collateral, at: now, lists: lists, recorder: &recorder)
        let (qeIdentity, qeChain) = try qeIdentityDocument(collateral, tcbChain: tcbChain, at: now, lists: lists, recorder: &recorder)
        let expectedQEKind: (id: String, versions: [Int]) = quote.tee == .sgx ? ("QE", [2]) : ("TD_QE", [2, 3])
        guard qeIdentity.id == expectedQEKind.id, expectedQEKind.versions.contains(qeIdentity.version) else {
            throw AttestationError(
                check: .qeIdentityKind, found: "QE Identity \(qeIdentity.id) version \(qeIdentity.version) for a \(quote.tee.rawValue) quote",
                expected: "\(expectedQEKind.id) version \(expectedQEKind.versions.map(String.init).joined(separator: " or "))",
                hint: quote.tee == .sgx
                    ? "Fetch the SGX QE Identity (/sgx/certification/v4/qe/identity) for SGX quotes."
                    : "Fetch the TDX QE Identity (/tdx/certification/v4/qe/identity) for TDX quotes.")
        }
        recorder.passed(.qeIdentityKind, "\(qeIdentity.id) version \(qeIdentity.version)")

        // Step 4: the PCK chain and its SGX extension.
        let (pckPath, pck, pckChainKey) = try pckCertificate(quote, collateral: collateral, at: now, lists: lists, recorder: &recorder)

        // Steps 5 and 6: the QE report is signed by the PCK key and binds the attestation key.
        try checkQEReport(quote, pckLeaf: pckPath.leaf, pckChain: pckChainKey, recorder: &recorder)

        // Step 7: the QE matches its identity.
        let qeLevel = try appraiseQE(quote.signatureData.qeReport, identity: qeIdentity, recorder: &recorder)

        // Step 8: the quote signature.
        try checkISVSignature(quote, recorder: &recorder)

        // Steps 9 and 10: platform TCB, convergence.
        let platform = try matchPlatform(quote, tcbInfo: tcbInfo, pck: pck, recorder: &recorder)
        var status = platform.status
        if qeLevel.status == .revoked || qeLevel.status == .outOfDate { status = Self.converge(status, component: qeLevel.status) }
        var advisories = platform.advisoryIDs
        for advisory in qeLevel.advisoryIDs where !advisories.contains(advisory) { advisories.append(advisory) }
        guard status != .revoked else {
            throw AttestationError(
                check: .tcbStatus,
                found:
                    "Revoked (platform \(platform.platformLevel.status.rawValue), QE \(qeLevel.status.rawValue)\(platform.moduleLevel.map { ", TDX module \($0.status.rawValue)" } ?? ""))",
                expected: "a TCB status other than Revoked",
                hint: "Intel revoked this platform's TCB level: it cannot be trusted until its microcode/BIOS or QE is replaced.")
        }
        recorder.passed(
            .tcbStatus, "\(status.rawValue)\(advisories.isEmpty ? "" : " (advisories \(advisories.joined(separator: ", ")))"): \(status.advice)")

        var expiry = min(tcbInfo.nextUpdate, qeIdentity.nextUpdate, tcbChain.earliestExpiry, qeChain.earliestExpiry, pckPath.earliestExpiry)
        expiry = min(expiry, trustAnchor.certificate.notValidAfter.unixSeconds)
        if let next = lists.root.nextUpdate { expiry = min(expiry, next) }
        if let next = lists.pck.nextUpdate { expiry = min(expiry, next) }
        let tcbDate = min(platform.platformLevel.tcbDate, platform.moduleLevel?.tcbDate ?? .max)
        return VerifiedQuote(
            quote: quote, trustAnchor: trustAnchor, verificationTime: instant, status: status, advisoryIDs: advisories,
            platformStatus: platform.platformLevel.status, qeStatus: qeLevel.status, tdxModuleStatus: platform.moduleLevel?.status,
            platformTCBLevel: platform.platformLevel, qeTCBLevel: qeLevel, tdxModuleTCBLevel: platform.moduleLevel,
            tcbDate: Date(timeIntervalSince1970: TimeInterval(tcbDate)), pck: pck,
            collateralExpiry: Date(timeIntervalSince1970: TimeInterval(expiry)))
    }

    /// Intel's `convergeTcbStatuses`: only an OutOfDate or Revoked component changes the platform's status.
    static func converge(_ platform: TCBStatus, component: TCBStatus) -> TCBStatus {
        switch component {
        case .revoked: return .revoked
        case .outOfDate:
            switch platform {
            case .upToDate, .swHardeningNeeded: return .outOfDate
            case .configurationNeeded, .configurationAndSWHardeningNeeded: return .outOfDateConfigurationNeeded
            default: return platform
            }
        default: return platform
        }
    }

    // MARK: Step 0

    private func revocationLists(_ collateral: Collateral, at now: Int64, recorder: inout Recorder) throws(AttestationError) -> RevocationLists {
        let rootKey = ExactBytes(collateral.rootCACRL)
        let cachedRoot = cache?.lookup { $0.rootCRLs[rootKey] }
        let root: CertificateRevocationList
        if let cachedRoot {
            root = cachedRoot
        } else {
            root = try Self.parseCRL(collateral.rootCACRL, check: .rootCRL)
            guard root.issuer == trustAnchor.certificate.subject, root.isSigned(by: trustAnchor.certificate) else {
                throw AttestationError(
                    check: .rootCRL, found: "a CRL issued by \(root.issuer) whose signature does not verify with the trust anchor",
                    expected: "the Root CA CRL signed by \(trustAnchor.subject)",
                    hint:
                        "root_ca_crl must be the Root CA CRL (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der for Intel), not the PCK CRL; fetch it again."
                )
            }
            cache?.store { $0.rootCRLs.insertBounded(root, for: rootKey) }
        }
        if let nextUpdate = root.nextUpdate, now >= nextUpdate {
            throw AttestationError(
                check: .rootCRL, found: "a Root CA CRL that expired at \(UTCTimestamp.iso8601(nextUpdate))",
                expected: "a CRL valid at \(UTCTimestamp.iso8601(now))",
                hint: "Fetch a current Root CA CRL, or verify as of a time when this collateral was valid.")
        }
        if root.revokes(trustAnchor.certificate) {
            throw AttestationError(
                check: .rootCRL, found: "the trust anchor listed as revoked", expected: "a root that is not revoked",
                hint: "The root CA itself is revoked: nothing chained to it can be trusted.")
        }
        recorder.passed(
            .rootCRL, cached: cachedRoot != nil,
            "signed by the trust anchor, valid until \(root.nextUpdate.map(UTCTimestamp.iso8601) ?? "-"), root not revoked")

        let pckKey = ExactBytes(collateral.pckCRL)
        let cachedPCK = cache?.lookup { $0.pckCRLs[pckKey] }
        let pck: CertificateRevocationList
        if let cachedPCK {
            pck = cachedPCK
        } else {
            pck = try Self.parseCRL(collateral.pckCRL, check: .pckCRL)
            cache?.store { $0.pckCRLs.insertBounded(pck, for: pckKey) }
        }
        recorder.passed(
            .pckCRL, cached: cachedPCK != nil,
            "issued by \(pck.issuer), \(pck.revokedSerials.count) revoked serial(s); signature checked with the PCK chain")
        return RevocationLists(root: root, pck: pck)
    }

    private static func parseCRL(_ bytes: [UInt8], check: Check) throws(AttestationError) -> CertificateRevocationList {
        do {
            return try CertificateRevocationList(derEncoded: bytes)
        } catch {
            throw AttestationError(
                check: check, found: error.found, expected: error.expected,
                hint: check == .rootCRL
                    ? "root_ca_crl must be the DER (hex) of the Root CA CRL."
                    : "pck_crl must be the DER (hex) of the PCK Platform or Processor CA CRL.")
        }
    }

    // MARK: Step 1

    private func checkHeader(_ quote: Quote, recorder: inout Recorder) throws(AttestationError) {
        let header = quote.header
        switch (quote.tee, header.version) {
        case (.sgx, 3), (.tdx, 4), (.tdx, 5): break
        default:
            throw AttestationError(
                check: .quoteVersion, found: "a \(quote.tee.rawValue) quote of version \(header.version)",
                expected: quote.tee == .sgx ? "version 3 for SGX" : "version 4 or 5 for TDX",
                hint: "dcap-qvl and this verifier accept SGX quotes as version 3 only; regenerate the quote with a current DCAP quote library.")
        }
        recorder.passed(.quoteVersion, "\(quote.tee.rawValue) version \(header.version)")
        guard header.qeVendorID == QuoteHeader.intelQEVendorID else {
            throw AttestationError(
                check: .qeVendor, found: header.qeVendorID.hexadecimal, expected: QuoteHeader.intelQEVendorID.hexadecimal + " (Intel)",
                hint: "The quote was produced by a non-Intel quoting enclave, or its header is corrupt.")
        }
        recorder.passed(.qeVendor, "Intel (\(header.qeVendorID.hexadecimal))")
        guard header.attestationKeyType == QuoteHeader.ecdsaP256KeyType else {
            throw AttestationError(
                check: .attestationKeyType, found: "type \(header.attestationKeyType)\(header.attestationKeyType == 3 ? " (ECDSA P-384)" : "")",
                expected: "2 (ECDSA-256-with-P-256)",
                hint: "Only P-256 attestation keys are verified (as in dcap-qvl); configure the quoting enclave for ECDSA P-256.")
        }
        recorder.passed(.attestationKeyType, "ECDSA P-256")
    }

    // MARK: Steps 2 and 3

    private func issuerPath(
        _ pem: String, check: Check, what: String, recorder: inout Recorder
    ) throws(AttestationError) -> (CertifiedPath, cached: Bool) {
        let key = ExactText(pem)
        if let cached = cache?.lookup({ $0.issuerChains[key] }) { return (cached, true) }
        let certificates = try PEM.certificates(Array(pem.utf8), check: check, what: what, anchor: trustAnchor)
        let path = try CertifiedPath.build(certificates, anchor: trustAnchor, check: check, what: what)
        cache?.store { $0.issuerChains.insertBounded(path, for: key) }
        return (path, false)
    }

    private func verifiedPCKCRL(_ lists: RevocationLists, collateral: Collateral) -> (Certificate) -> Bool {
        { issuer in
            guard let cache else { return lists.pck.isSigned(by: issuer) }
            let key = VerificationCache.PCKCRLSignatureKey(
                crl: ExactBytes(collateral.pckCRL), issuerPublicKey: ExactBytes(issuer.publicKey.subjectPublicKeyInfoBytes))
            if cache.lookup({ $0.pckCRLSignatures.contains(key) ? true : nil }) == true { return true }
            guard lists.pck.isSigned(by: issuer) else { return false }
            cache.store { $0.pckCRLSignatures.insertBounded(key) }
            return true
        }
    }

    private func checkWindow(_ issueDate: Int64, _ nextUpdate: Int64, at now: Int64, check: Check, what: String) throws(AttestationError) {
        guard issueDate <= now else {
            throw AttestationError(
                check: check, found: "\(what) issued \(UTCTimestamp.iso8601(issueDate)), after the verification time \(UTCTimestamp.iso8601(now))",
                expected: "issueDate ≤ verification time ≤ nextUpdate",
                hint: "The \(what) is from the future relative to the verification time: check the --at time or use older collateral.")
        }
        guard now <= nextUpdate else {
            throw AttestationError(
                check: check, found: "\(what) expired at \(UTCTimestamp.iso8601(nextUpdate)) (verification time \(UTCTimestamp.iso8601(now)))",
                expected: "issueDate ≤ verification time ≤ nextUpdate",
                hint: "Fetch current collateral from Intel PCS or your PCCS (its cache may be stale), or verify as of an earlier time.")
        }
    }

    private func checkDocumentSignature(_ json: [UInt8], signature: [UInt8], signer: Certificate, check: Check, what: String) throws(AttestationError)
    {
        guard signature.count == 64, let key = P256.Signing.PublicKey(signer.publicKey),
            let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
            key.isValidSignature(ecdsa, for: json)
        else {
            throw AttestationError(
                check: check,
                found: "a signature (\(signature.count) bytes) that does not verify over the \(json.count) bytes of \(what) with \(signer.subject)",
                expected: "an ECDSA P-256 signature r‖s (64 bytes) over the exact bytes Intel signed",
                hint:
                    "The \(what) text was changed (even whitespace or key order breaks it) or the signature belongs to other text; keep the exact bytes from PCS."
            )
        }
    }

    private func tcbInformation(
        _ collateral: Collateral, at now: Int64, lists: RevocationLists, recorder: inout Recorder
    ) throws(AttestationError) -> (TCBInfo, CertifiedPath) {
        let key = VerificationCache.SignedDocumentKey(
            json: ExactBytes(collateral.tcbInfo), signature: ExactBytes(collateral.tcbInfoSignature),
            issuerChain: ExactText(collateral.tcbInfoIssuerChain))
        let cached = cache?.lookup { $0.tcbInfos[key] }
        let info: TCBInfo
        if let cached { info = cached } else { info = try TCBInfo(json: collateral.tcbInfo) }
        recorder.passed(
            .collateralFormat, cached: cached != nil,
            "TCB Info \(info.id) v\(info.version), FMSPC \(info.fmspc.hexadecimal), \(info.levels.count) level(s)")
        try checkWindow(info.issueDate, info.nextUpdate, at: now, check: .tcbInfoValidity, what: "TCB Info")
        recorder.passed(.tcbInfoValidity, "\(UTCTimestamp.iso8601(info.issueDate)) to \(UTCTimestamp.iso8601(info.nextUpdate))")
        let (path, pathCached) = try issuerPath(
            collateral.tcbInfoIssuerChain, check: .tcbInfoChain, what: "the TCB Info issuer chain", recorder: &recorder)
        try path.check(
            at: now, against: lists, anchor: trustAnchor, check: .tcbInfoChain, what: "the TCB Info issuer chain",
            verifiedPCKCRL: verifiedPCKCRL(lists, collateral: collateral))
        recorder.passed(.tcbInfoChain, cached: pathCached, "\(path.leaf.subject), issued by the trust anchor, valid and not revoked")
        if cached == nil {
            try checkDocumentSignature(
                collateral.tcbInfo, signature: collateral.tcbInfoSignature, signer: path.leaf, check: .tcbInfoSignature, what: "TCB Info")
            cache?.store { $0.tcbInfos.insertBounded(info, for: key) }
        }
        recorder.passed(.tcbInfoSignature, cached: cached != nil, "ECDSA P-256 over the exact \(collateral.tcbInfo.count) bytes")
        return (info, path)
    }

    private func qeIdentityDocument(
        _ collateral: Collateral, tcbChain: CertifiedPath, at now: Int64, lists: RevocationLists, recorder: inout Recorder
    ) throws(AttestationError) -> (QEIdentity, CertifiedPath) {
        let key = VerificationCache.SignedDocumentKey(
            json: ExactBytes(collateral.qeIdentity), signature: ExactBytes(collateral.qeIdentitySignature),
            issuerChain: ExactText(collateral.qeIdentityIssuerChain))
        let cached = cache?.lookup { $0.qeIdentities[key] }
        let identity: QEIdentity
        if let cached { identity = cached } else { identity = try QEIdentity(json: collateral.qeIdentity) }
        recorder.passed(
            .collateralFormat, cached: cached != nil, "QE Identity \(identity.id) v\(identity.version), \(identity.levels.count) level(s)")
        try checkWindow(identity.issueDate, identity.nextUpdate, at: now, check: .qeIdentityValidity, what: "QE Identity")
        recorder.passed(.qeIdentityValidity, "\(UTCTimestamp.iso8601(identity.issueDate)) to \(UTCTimestamp.iso8601(identity.nextUpdate))")
        let path: CertifiedPath
        if collateral.qeIdentityIssuerChain == collateral.tcbInfoIssuerChain {
            path = tcbChain
            recorder.passed(.qeIdentityChain, cached: true, "identical to the TCB Info issuer chain, already verified")
        } else {
            let (built, pathCached) = try issuerPath(
                collateral.qeIdentityIssuerChain, check: .qeIdentityChain, what: "the QE Identity issuer chain", recorder: &recorder)
            try built.check(
                at: now, against: lists, anchor: trustAnchor, check: .qeIdentityChain, what: "the QE Identity issuer chain",
                verifiedPCKCRL: verifiedPCKCRL(lists, collateral: collateral))
            recorder.passed(.qeIdentityChain, cached: pathCached, "\(built.leaf.subject), issued by the trust anchor, valid and not revoked")
            path = built
        }
        if cached == nil {
            try checkDocumentSignature(
                collateral.qeIdentity, signature: collateral.qeIdentitySignature, signer: path.leaf, check: .qeIdentitySignature, what: "QE Identity")
            cache?.store { $0.qeIdentities.insertBounded(identity, for: key) }
        }
        recorder.passed(.qeIdentitySignature, cached: cached != nil, "ECDSA P-256 over the exact \(collateral.qeIdentity.count) bytes")
        return (identity, path)
    }

    // MARK: Step 4

    private func pckCertificate(
        _ quote: Quote, collateral: Collateral, at now: Int64, lists: RevocationLists, recorder: inout Recorder
    ) throws(AttestationError) -> (CertifiedPath, PCKExtension, ExactBytes) {
        let chainBytes: [UInt8]
        let what: String
        let certification = quote.signatureData.certificationData
        if let override = collateral.pckCertificateChain {
            chainBytes = Array(override.utf8)
            what = "the collateral's PCK certificate chain"
            recorder.passed(.certificationDataType, "type \(certification.type); the collateral's pck_certificate_chain is used instead")
        } else {
            guard certification.type == CertificationData.pckCertificateChainType else {
                throw AttestationError(
                    check: .certificationDataType, found: "certification data type \(certification.type)",
                    expected: "type 5 (PEM PCK certificate chain), or a pck_certificate_chain in the collateral",
                    hint:
                        "This quote carries no PCK chain (types 1-3 carry an encrypted PPID): fetch the platform's PCK certificate from PCS/PCCS and put its chain in the collateral's pck_certificate_chain."
                )
            }
            chainBytes = certification.data
            what = "the quote's PCK certificate chain"
            recorder.passed(.certificationDataType, "type 5 (PEM PCK chain, \(certification.data.count) bytes)")
        }
        let chainKey = ExactBytes(chainBytes)
        let cached = cache?.lookup { $0.pckChains[chainKey] }
        let path: CertifiedPath
        let pck: PCKExtension
        if let cached {
            (path, pck) = cached
        } else {
            let certificates = try PEM.certificates(chainBytes, check: .pckChain, what: what, anchor: trustAnchor)
            path = try CertifiedPath.build(certificates, anchor: trustAnchor, check: .pckChain, what: what)
            pck = try PCKExtension(certificate: path.leaf)
            cache?.store { $0.pckChains.insertBounded((path, pck), for: chainKey) }
        }
        try path.check(
            at: now, against: lists, anchor: trustAnchor, check: .pckChain, what: what, verifiedPCKCRL: verifiedPCKCRL(lists, collateral: collateral))
        recorder.passed(
            .pckChain, cached: cached != nil,
            "\(path.leaf.subject) via \(path.certificates.dropFirst().map { "\($0.subject)" }.joined(separator: ", ")) to the trust anchor, valid and not revoked"
        )
        recorder.passed(
            .pckExtension, cached: cached != nil,
            "FMSPC \(pck.fmspc.hexadecimal), PCE-ID \(pck.pceID.hexadecimal), PCESVN \(pck.pceSVN), CPUSVN \(pck.cpuSVN.hexadecimal)")
        return (path, pck, chainKey)
    }

    // MARK: Steps 5 and 6

    private func checkQEReport(_ quote: Quote, pckLeaf: Certificate, pckChain: ExactBytes, recorder: inout Recorder) throws(AttestationError) {
        let signature = quote.signatureData
        let key = VerificationCache.QEReportKey(
            pckChain: pckChain, qeReport: ExactBytes(signature.qeReport.rawSlice), qeReportSignature: ExactBytes(signature.qeReportSignature),
            attestationKey: ExactBytes(signature.attestationKey), qeAuthenticationData: ExactBytes(signature.qeAuthenticationData))
        if cache?.lookup({ $0.qeReports.contains(key) ? true : nil }) == true {
            recorder.passed(.qeReportSignature, cached: true, "signed by the PCK key")
            recorder.passed(.qeAuthDataLength, cached: true, "32 bytes")
            recorder.passed(.qeReportData, cached: true, "SHA-256(attestation key ‖ QE auth data) matches")
            return
        }
        guard let pckKey = P256.Signing.PublicKey(pckLeaf.publicKey),
            let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature.qeReportSignature),
            pckKey.isValidSignature(ecdsa, for: signature.qeReport.rawSlice)
        else {
            throw AttestationError(
                check: .qeReportSignature, found: "a QE report signature that does not verify with the PCK key of \(pckLeaf.subject)",
                expected: "an ECDSA P-256 signature by the PCK leaf over the 384-byte QE report",
                hint: "The QE report or its signature was altered, or the PCK chain belongs to another platform.")
        }
        recorder.passed(.qeReportSignature, "signed by the PCK key")
        guard signature.qeAuthenticationData.count == 32 else {
            throw AttestationError(
                check: .qeAuthDataLength, found: "\(signature.qeAuthenticationData.count) bytes of QE authentication data",
                expected: "32 bytes (as dcap-qvl requires)",
                hint: "The quote's QE authentication data was altered or produced by a non-standard quoting enclave.")
        }
        recorder.passed(.qeAuthDataLength, "32 bytes")
        var hasher = SHA256()
        hasher.update(data: signature.attestationKey)
        hasher.update(data: signature.qeAuthenticationData)
        let digest = Array(hasher.finalize())
        guard signature.qeReport.reportDataPrefix(32).elementsEqual(digest) else {
            throw AttestationError(
                check: .qeReportData, found: "QE report data \(Array(signature.qeReport.reportDataPrefix(32)).hexadecimal)",
                expected: "SHA-256(attestation key ‖ QE auth data) = \(digest.hexadecimal)",
                hint: "The attestation key or QE authentication data was altered: the quote was not produced by this quoting enclave.")
        }
        recorder.passed(.qeReportData, "SHA-256(attestation key ‖ QE auth data) matches")
        cache?.store { $0.qeReports.insertBounded(key) }
    }

    // MARK: Step 7

    private func appraiseQE(_ report: EnclaveReport, identity: QEIdentity, recorder: inout Recorder) throws(AttestationError) -> TCBLevelSummary {
        let hint = "The quoting enclave is not the one Intel's QE Identity describes: check that the QE Identity is for this TEE type and current."
        guard report.mrSignerEquals(identity.mrSigner) else {
            throw AttestationError(check: .qeMRSigner, found: report.mrSigner.hexadecimal, expected: identity.mrSigner.hexadecimal, hint: hint)
        }
        recorder.passed(.qeMRSigner, identity.mrSigner.hexadecimal)
        guard !report.isDebug else {
            throw AttestationError(
                check: .qeDebug, found: "a debug quoting enclave", expected: "a production quoting enclave",
                hint: "A debug QE can be read by the host: use a production QE.")
        }
        recorder.passed(.qeDebug, "production QE")
        guard report.isvProductID == identity.isvProductID else {
            throw AttestationError(check: .qeProductID, found: "\(report.isvProductID)", expected: "\(identity.isvProductID)", hint: hint)
        }
        recorder.passed(.qeProductID, "\(identity.isvProductID)")
        guard report.miscSelect & identity.miscSelectMask == identity.miscSelect & identity.miscSelectMask else {
            throw AttestationError(
                check: .qeMiscSelect, found: String(format: "%08x (masked %08x)", report.miscSelect, report.miscSelect & identity.miscSelectMask),
                expected: String(format: "%08x under mask %08x", identity.miscSelect & identity.miscSelectMask, identity.miscSelectMask), hint: hint)
        }
        recorder.passed(.qeMiscSelect, "matches under the mask")
        let attributes = report.attributes
        for index in 0..<16 where attributes[index] & identity.attributesMask[index] != identity.attributes[index] & identity.attributesMask[index] {
            throw AttestationError(
                check: .qeAttributes, found: attributes.hexadecimal,
                expected: "\(identity.attributes.hexadecimal) under mask \(identity.attributesMask.hexadecimal)", hint: hint)
        }
        recorder.passed(.qeAttributes, "matches under the mask")
        let isvSVN = report.isvSVN
        guard let level = identity.levels.first(where: { isvSVN >= $0.isvSVN }) else {
            throw AttestationError(
                check: .qeTCBLevel, found: "QE ISVSVN \(isvSVN)", expected: "at least \(identity.levels.map(\.isvSVN).min() ?? 0)",
                hint: "The quoting enclave is older than any level Intel lists: update the platform's DCAP software (QE/PCE).")
        }
        let allowed: Set<TCBStatus> = [.upToDate, .outOfDate, .configurationNeeded, .revoked, .outOfDateConfigurationNeeded]
        guard allowed.contains(level.status) else {
            throw AttestationError(
                check: .qeTCBLevel, found: "QE level status \(level.status.rawValue)",
                expected: "one of \(allowed.map(\.rawValue).sorted().joined(separator: ", "))",
                hint: "The QE Identity is malformed; fetch it again.")
        }
        recorder.passed(.qeTCBLevel, "ISVSVN \(isvSVN) ≥ \(level.isvSVN): \(level.status.rawValue) since \(UTCTimestamp.iso8601(level.tcbDate))")
        return level.summary
    }

    // MARK: Step 8

    private func checkISVSignature(_ quote: Quote, recorder: inout Recorder) throws(AttestationError) {
        let signature = quote.signatureData
        guard let key = try? P256.Signing.PublicKey(rawRepresentation: signature.attestationKey),
            let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature.isvSignature),
            key.isValidSignature(ecdsa, for: quote.signedBytes)
        else {
            throw AttestationError(
                check: .isvSignature,
                found: "a quote signature that does not verify over bytes 0..<\(quote.layout.signedLength) with the attestation key",
                expected: "an ECDSA P-256 signature by the attestation key over the header and report",
                hint: "The quote's header or report was altered after signing: do not trust any of its fields.")
        }
        recorder.passed(.isvSignature, "ECDSA P-256 by the attestation key over bytes 0..<\(quote.layout.signedLength)")
    }

    // MARK: Step 9

    struct PlatformMatch {
        let status: TCBStatus
        let advisoryIDs: [String]
        let platformLevel: TCBLevelSummary
        let moduleLevel: TCBLevelSummary?
    }

    private func matchPlatform(
        _ quote: Quote, tcbInfo: TCBInfo, pck: PCKExtension, recorder: inout Recorder
    ) throws(AttestationError) -> PlatformMatch {
        guard tcbInfo.fmspc == pck.fmspc else {
            throw AttestationError(
                check: .fmspc, found: "TCB Info for FMSPC \(tcbInfo.fmspc.hexadecimal)",
                expected: "FMSPC \(pck.fmspc.hexadecimal) (from the PCK certificate)",
                hint:
                    "Fetch the TCB Info for this platform: /\(quote.tee == .sgx ? "sgx" : "tdx")/certification/v4/tcb?fmspc=\(pck.fmspc.hexadecimal.uppercased())."
            )
        }
        recorder.passed(.fmspc, pck.fmspc.hexadecimal)
        // dcap-qvl does not compare the PCE-ID; Intel's QVL does, and a mismatch means the TCB Info is for another PCE.
        guard tcbInfo.pceID == pck.pceID else {
            throw AttestationError(
                check: .pceID, found: "TCB Info for PCE-ID \(tcbInfo.pceID.hexadecimal)",
                expected: "PCE-ID \(pck.pceID.hexadecimal) (from the PCK certificate)",
                hint: "Fetch the TCB Info for this platform's FMSPC and PCE; this one describes a different provisioning enclave.")
        }
        recorder.passed(.pceID, pck.pceID.hexadecimal)
        let kindMatches = quote.tee == .sgx ? tcbInfo.id == "SGX" && tcbInfo.version >= 2 : tcbInfo.id == "TDX" && tcbInfo.version >= 3
        guard kindMatches else {
            throw AttestationError(
                check: .tcbInfoKind, found: "TCB Info \(tcbInfo.id) v\(tcbInfo.version) for a \(quote.tee.rawValue) quote",
                expected: quote.tee == .sgx ? "SGX TCB Info" : "TDX TCB Info v3",
                hint: "Fetch the TCB Info of the quote's TEE type.")
        }
        recorder.passed(.tcbInfoKind, "\(tcbInfo.id) v\(tcbInfo.version)")
        let td = quote.body.tdReport
        let launch = try match(tcbInfo: tcbInfo, pck: pck, td: td, svn: { td?.teeTCBSVNByte($0) }, recorder: &recorder)
        guard let td, td.version != .td10 else { return launch }
        // TD 1.5: the current TCB (after TD-preserving module updates) decides whether a relaunch is advised.
        var silent = Recorder(enabled: false)
        guard let current = try? match(tcbInfo: tcbInfo, pck: pck, td: td, svn: { td.teeTCBSVN2Byte($0) }, recorder: &silent) else {
            recorder.skipped(.tcbLevel, "TD 1.5 current TCB (tee_tcb_svn2 \(td.teeTCBSVN2?.hexadecimal ?? "")) matches no level: launch status kept")
            return launch
        }
        if current.status == .revoked {
            throw AttestationError(
                check: .tcbStatus, found: "Revoked for the TD's current TCB (tee_tcb_svn2)", expected: "a current TCB that is not revoked",
                hint: "The TDX module now running is revoked: update it.")
        }
        let outOfDate: Set<TCBStatus> = [.outOfDate, .outOfDateConfigurationNeeded]
        guard outOfDate.contains(launch.status), !outOfDate.contains(current.status) else { return launch }
        let relaunch: TCBStatus = launch.status == .outOfDate ? .tdRelaunchAdvised : .tdRelaunchAdvisedConfigurationNeeded
        recorder.passed(.tcbLevel, "TD 1.5 current TCB is \(current.status.rawValue): \(relaunch.rawValue)")
        return PlatformMatch(status: relaunch, advisoryIDs: launch.advisoryIDs, platformLevel: launch.platformLevel, moduleLevel: launch.moduleLevel)
    }

    private func match(
        tcbInfo: TCBInfo, pck: PCKExtension, td: TDReport?, svn: (Int) -> UInt8?, recorder: inout Recorder
    ) throws(AttestationError) -> PlatformMatch {
        let moduleVersion = svn(1) ?? 0
        let firstTDXComponent = moduleVersion > 0 ? 2 : 0
        var matched: TCBInfo.Level?
        for level in tcbInfo.levels {
            guard pck.pceSVN >= level.pceSVN else { continue }
            guard level.sgxComponents.count == 16 else {
                throw AttestationError(
                    check: .tcbLevel, found: "\(level.sgxComponents.count) SGX components in a TCB level", expected: "16",
                    hint: "The TCB Info is malformed; fetch it again.")
            }
            guard !zip(pck.cpuSVN, level.sgxComponents).contains(where: { $0 < $1 }) else { continue }
            if td != nil {
                guard let tdx = level.tdxComponents, tdx.count == 16 else {
                    throw AttestationError(
                        check: .tcbLevel, found: "a TDX TCB level without 16 TDX components", expected: "16 tdxtcbcomponents",
                        hint: "The TCB Info is malformed; fetch it again.")
                }
                guard !(firstTDXComponent..<16).contains(where: { (svn($0) ?? 0) < tdx[$0] }) else { continue }
            }
            matched = level
            break
        }
        guard let level = matched else {
            var found = "CPUSVN \(pck.cpuSVN.map(String.init).joined(separator: ",")) PCESVN \(pck.pceSVN)"
            if td != nil { found += " TEE TCB SVN \((0..<16).map { String(svn($0) ?? 0) }.joined(separator: ","))" }
            throw AttestationError(
                check: .tcbLevel, found: found,
                expected:
                    "SVNs at or above one of the \(tcbInfo.levels.count) TCB levels of FMSPC \(tcbInfo.fmspc.hexadecimal) (lowest: \(tcbInfo.levels.last?.summary.svns ?? "none"))",
                hint:
                    "The platform's TCB is older than every level Intel lists (or this TCB Info is from a different TCB evaluation): update BIOS/microcode (and the TDX module), or use TCB Info matching the platform's evaluation data number."
            )
        }
        let platformLevel = level.summary
        recorder.passed(.tcbLevel, "\(level.status.rawValue) since \(UTCTimestamp.iso8601(level.tcbDate)) (\(platformLevel.svns))")
        var status = level.status
        var advisories = level.advisoryIDs
        var moduleLevel: TCBLevelSummary?
        if let td {
            moduleLevel = try matchModule(tcbInfo: tcbInfo, td: td, isvSVN: svn(0) ?? 0, version: moduleVersion, recorder: &recorder)
            if let moduleLevel {
                if moduleLevel.status == .revoked || moduleLevel.status == .outOfDate {
                    status = Self.converge(status, component: moduleLevel.status)
                }
                for advisory in moduleLevel.advisoryIDs where !advisories.contains(advisory) { advisories.append(advisory) }
            }
        }
        return PlatformMatch(status: status, advisoryIDs: advisories, platformLevel: platformLevel, moduleLevel: moduleLevel)
    }

    private func matchModule(
        tcbInfo: TCBInfo, td: TDReport, isvSVN: UInt8, version: UInt8, recorder: inout Recorder
    ) throws(AttestationError) -> TCBLevelSummary? {
        guard let base = tcbInfo.module else {
            throw AttestationError(
                check: .tdxModule, found: "TDX TCB Info without tdxModule", expected: "a tdxModule entry",
                hint: "The TCB Info is malformed or not for TDX; fetch it again.")
        }
        var identity = base
        var levels: [(isvSVN: UInt8, tcbDate: Int64, status: TCBStatus, advisoryIDs: [String])]?
        if version > 0, !tcbInfo.moduleIdentities.isEmpty {
            let wanted = String(format: "TDX_%02X", version)
            guard let entry = tcbInfo.moduleIdentities.first(where: { $0.id.caseInsensitiveCompare(wanted) == .orderedSame }) else {
                throw AttestationError(
                    check: .tdxModule, found: "TDX module version \(version) (\(wanted))",
                    expected: "one of \(tcbInfo.moduleIdentities.map(\.id).joined(separator: ", "))",
                    hint: "The TDX module is newer or older than this TCB Info knows: fetch current TDX TCB Info, or update the TDX module.")
            }
            identity = entry
            levels = entry.levels
        }
        guard identity.mrSigner.count == 48, td.mrSignerSeamEquals(identity.mrSigner) else {
            throw AttestationError(
                check: .tdxModule, found: "MRSIGNER_SEAM \(td.mrSignerSeam.hexadecimal)",
                expected: "\(identity.mrSigner.hexadecimal) (\(identity.id))",
                hint: "The TDX module was not signed by Intel's module signer: the platform runs an unexpected TDX module.")
        }
        guard identity.attributes.count == 8, identity.attributesMask.count == 8 else {
            throw AttestationError(
                check: .tdxModule, found: "module attributes of the wrong length", expected: "8 bytes",
                hint: "The TCB Info is malformed; fetch it again.")
        }
        for index in 0..<8 {
            let actual = td.seamAttributeByte(index)
            let mask = identity.attributesMask[index]
            guard actual & mask == identity.attributes[index] & mask, actual & ~mask == 0 else {
                throw AttestationError(
                    check: .tdxModule, found: "SEAM attributes \(td.seamAttributes.hexadecimal)",
                    expected: "\(identity.attributes.hexadecimal) under mask \(identity.attributesMask.hexadecimal), no bits outside the mask",
                    hint: "The TDX module runs with unexpected attributes (for example a debug module).")
            }
        }
        guard let levels else {
            recorder.passed(.tdxModule, "module version \(version): MRSIGNER and attributes match \(identity.id)")
            return nil
        }
        guard let level = levels.first(where: { isvSVN >= $0.isvSVN }) else {
            throw AttestationError(
                check: .tdxModule, found: "TDX module ISVSVN \(isvSVN) (\(identity.id))", expected: "at least \(levels.map(\.isvSVN).min() ?? 0)",
                hint: "The TDX module is older than any level Intel lists: update the TDX module.")
        }
        recorder.passed(
            .tdxModule, "\(identity.id) ISVSVN \(isvSVN) ≥ \(level.isvSVN): \(level.status.rawValue) since \(UTCTimestamp.iso8601(level.tcbDate))")
        return TCBLevelSummary(
            status: level.status, tcbDate: level.tcbDate, advisoryIDs: level.advisoryIDs, svns: "\(identity.id) isvsvn=\(level.isvSVN)")
    }
}
