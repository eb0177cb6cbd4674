import Attestation
import Foundation
import Testing

/// The check each corpus `reason_category` corresponds to, so that rejections are for the stated reason.
let checksByReasonCategory: [String: Set<Check>] = [
    "parse": [.quoteStructure, .quoteVersion, .teeType],
    "header": [.attestationKeyType, .qeVendor, .quoteVersion],
    "isv_signature": [.isvSignature],
    "qe_report_data": [.qeReportData, .qeAuthDataLength],
    "qe_report_signature": [.qeReportSignature],
    "cert_type": [.certificationDataType],
    "x509": [.pckChain, .tcbInfoChain, .qeIdentityChain],
    "crl_scope": [.pckChain],
    "crl": [.rootCRL, .pckCRL],
    "collateral_signature": [.tcbInfoSignature, .qeIdentitySignature],
    "fmspc": [.fmspc],
    "collateral_id": [.qeIdentityKind, .tcbInfoKind],
    "collateral_time": [.tcbInfoValidity, .qeIdentityValidity],
    "crl_time": [.rootCRL, .pckCRL],
    "cert_time": [.pckChain, .tcbInfoChain, .qeIdentityChain],
    "tcb_no_match": [.tcbLevel],
    "collateral_decode": [.collateralFormat],
    "debug": [.policyDebug],
    "sept_ve_disable": [.policySEPTVEDisable],
    "service_td": [.policyServiceTD],
]

/// Verdicts where dcap-qvl 0.7.0 and Intel's QVL may differ (`implementation_defined`): the verdict this verifier
/// gives, which must stay stable. The reasons are documented in the Attestation documentation catalog.
let implementationDefinedVerdicts: [String: Bool] = [
    "sgx-v3-dcaprs-quote-b69ac41b-tcbinfo-v2": false,
    "sgx-certlen-minus1": true,
    "sgx-pem-noroot": true,
    "sgx-pem-garbage-between": true,
    "sgx-sigdata-inner-trailing": true,
    "sgx-pem-label-foo": true,
    "sgx-trailing-1": true,
    "sgx-trailing-1000": true,
    "sgx-coll-tcbchain-noroot": true,
    "tdx-outer-certtype-5": true,
    "tdx-outer-certtype-0": true,
    "tdx-outer-certdata-inner-trailing": true,
    "tdx-trailing-nonzero": true,
    "bnd-pckcrl-thisupdate-minus1": true,
]

/// The outcome of verification followed by the default policy.
enum Verdict: Equatable, CustomStringConvertible {
    case accepted(TCBStatus, [String])
    case rejectedByVerification(Check)
    case rejectedByPolicy(Check, TCBStatus, [String])

    var description: String {
        switch self {
        case .accepted(let status, let advisories): "accepted \(status.rawValue) \(advisories)"
        case .rejectedByVerification(let check): "rejected by verification (\(check.rawValue))"
        case .rejectedByPolicy(let check, let status, let advisories):
            "rejected by policy (\(check.rawValue)) with TCB \(status.rawValue) \(advisories)"
        }
    }
}

func verdict(_ item: Corpus.Case, verifier: (Corpus.Case) throws(AttestationError) -> VerifiedQuote) -> Verdict {
    do {
        let verified = try verifier(item)
        do {
            try AttestationPolicy.dcapQVLDefault.appraise(verified)
            return .accepted(verified.status, verified.advisoryIDs)
        } catch {
            return .rejectedByPolicy(error.check, verified.status, verified.advisoryIDs)
        }
    } catch {
        return .rejectedByVerification(error.check)
    }
}

func coldVerdict(_ item: Corpus.Case) -> Verdict {
    verdict(item) { (item) throws(AttestationError) in
        try QuoteVerifier().verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
    }
}

@Suite(.enabled(if: Corpus.directory != nil, "\(Corpus.missing)"))
struct CorpusTests {
    func check(_ item: Corpus.Case, _ verdict: Verdict) {
        let context = Comment(rawValue: "\(item.id) [\(item.expectationClass)]: got \(verdict)")
        switch item.expectationClass {
        case "must_accept_with_status", "must_accept":
            #expect(verdict == .accepted(item.expected.status!, item.expected.advisoryIDs), context)
        case "must_reject":
            guard case .rejectedByVerification(let check) = verdict else {
                Issue.record("\(context): expected a rejection by verification")
                return
            }
            let allowed = checksByReasonCategory[item.expected.reasonCategory ?? ""] ?? []
            #expect(
                allowed.contains(check), "\(context): expected a check among \(allowed.map(\.rawValue)) for \(item.expected.reasonCategory ?? "?")")
        case "policy_reject":
            let underlying = item.underlying!
            guard case .rejectedByPolicy(let check, let status, let advisories) = verdict else {
                Issue.record("\(context): expected a rejection by the default policy")
                return
            }
            #expect(checksByReasonCategory[item.expected.reasonCategory ?? ""]?.contains(check) == true, context)
            #expect(
                status == underlying.status && advisories == underlying.advisoryIDs,
                "\(context): expected TCB \(underlying.status.rawValue) \(underlying.advisoryIDs)")
        case "implementation_defined":
            let documented = implementationDefinedVerdicts[item.id]
            #expect(documented != nil, "\(context): no documented verdict")
            if documented == true {
                #expect(verdict == .accepted(item.expected.status!, item.expected.advisoryIDs), context)
            } else if documented == false, case .accepted = verdict {
                Issue.record("\(context): documented as rejected")
            }
        default:
            Issue.record("\(context): unknown expectation class")
        }
    }

    @Test func casesGiveTheExpectedVerdicts() throws {
        let corpus = try #require(Corpus.shared)
        #expect(corpus.cases.count == corpus.counts["cases"])
        for item in corpus.cases { check(item, coldVerdict(item)) }
    }

    @Test func negativeCasesGiveTheExpectedVerdicts() throws {
        let corpus = try #require(Corpus.shared)
        #expect(corpus.negatives.count == 178)
        for item in corpus.negatives { check(item, coldVerdict(item)) }
    }

    @Test func everyImplementationDefinedVerdictIsDocumented() throws {
        let corpus = try #require(Corpus.shared)
        let ids = Set((corpus.cases + corpus.negatives).filter { $0.expectationClass == "implementation_defined" }.map(\.id))
        #expect(ids == Set(implementationDefinedVerdicts.keys))
    }

    @Test func warmVerificationGivesTheColdResultsOnTheWholeCorpus() throws {
        let corpus = try #require(Corpus.shared)
        let items = corpus.cases + corpus.negatives
        let cold = items.map(coldVerdict)
        let warm = CachingQuoteVerifier()
        let warmVerify: (Corpus.Case) throws(AttestationError) -> VerifiedQuote = { (item) throws(AttestationError) in
            try warm.verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        }
        // Twice through: the first pass fills the cache, the second is served from it, in a different order.
        let first = items.map { verdict($0, verifier: warmVerify) }
        let second = items.reversed().map { verdict($0, verifier: warmVerify) }.reversed()
        for (index, item) in items.enumerated() {
            #expect(first[index] == cold[index], "\(item.id): warm (filling) \(first[index]) vs cold \(cold[index])")
            #expect(Array(second)[index] == cold[index], "\(item.id): warm (cached) \(Array(second)[index]) vs cold \(cold[index])")
        }
    }

    @Test func warmResultsAreCheckedAgainstEachInstant() throws {
        let corpus = try #require(Corpus.shared)
        let item = try #require(corpus.cases.first { $0.id == "sgx-v3-dcapqvl-sgx_quote-f8b81014" })
        let warm = CachingQuoteVerifier()
        let verified = try warm.verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        let late = verified.collateralExpiry.addingTimeInterval(1)
        #expect(throws: AttestationError.self) {
            try warm.verify(quoteBytes: item.quote, collateral: item.collateral, at: late)
        }
        #expect(throws: AttestationError.self) {
            try warm.verify(quoteBytes: item.quote, collateral: item.collateral, at: Date(timeIntervalSince1970: 0))
        }
        #expect(try warm.verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant).status == verified.status)
    }

    @Test func everyRejectionExplainsItself() throws {
        let corpus = try #require(Corpus.shared)
        var checks = Set<Check>()
        for item in corpus.cases + corpus.negatives {
            let explanation = QuoteVerifier().explain(quoteBytes: item.quote, collateral: item.collateral, at: item.instant, policy: .dcapQVLDefault)
            guard let error = explanation.error else { continue }
            checks.insert(error.check)
            #expect(!error.found.isEmpty && !error.expected.isEmpty && error.hint.count > 20, "\(item.id): \(error)")
            #expect(
                error.description.contains(error.check.title) && error.description.contains(error.found) && error.description.contains(error.hint))
            if error.check == .quoteStructure {
                #expect(error.structure != nil && error.offset != nil, "\(item.id): a parse error without its location")
            }
        }
        #expect(checks.count >= 25, "only \(checks.count) distinct checks failed across the corpus")
    }

    @Test func explanationAgreesWithVerification() throws {
        let corpus = try #require(Corpus.shared)
        for item in corpus.cases + corpus.negatives {
            let explanation = QuoteVerifier().explain(quoteBytes: item.quote, collateral: item.collateral, at: item.instant, policy: .dcapQVLDefault)
            let expected = coldVerdict(item)
            switch expected {
            case .accepted(let status, let advisories):
                #expect(explanation.accepted && explanation.status == status && explanation.advisoryIDs == advisories, "\(item.id)")
            case .rejectedByVerification(let check), .rejectedByPolicy(let check, _, _):
                #expect(explanation.error?.check == check, "\(item.id)")
                #expect(explanation.steps.last?.outcome == .failed, "\(item.id)")
            }
            #expect(!explanation.rendered().isEmpty)
        }
    }
}
