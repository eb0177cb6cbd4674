import Attestation
import Foundation
import Testing

func decodePolicy(_ json: String) throws -> AttestationPolicy {
    try JSONDecoder().decode(AttestationPolicy.self, from: Data(json.utf8))
}

@Suite struct PolicyDecodingTests {
    @Test func emptyObjectIsTheDCAPQVLDefault() throws {
        #expect(try decodePolicy("{}") == .dcapQVLDefault)
    }

    @Test func roundTripsThroughJSON() throws {
        let policy = try decodePolicy(
            """
            {"mrSigner": "\(String(repeating: "ab", count: 32))", "isvProdID": 3, "minimumISVSVN": 2, "allowDebug": true,
             "acceptedTCBStatuses": ["OutOfDate"], "acceptedAdvisories": ["INTEL-SA-00615"], "requireSEPTVEDisable": false,
             "allowServiceTD": true, "reportData": {"prefix": "00112233"}}
            """)
        #expect(policy.signer == .init(mrSigner: [UInt8](repeating: 0xAB, count: 32), productID: 3, minimumSecurityVersion: 2))
        #expect(policy.acceptedTCBStatuses == [.upToDate, .outOfDate])
        #expect(policy.reportData == .prefix([0x00, 0x11, 0x22, 0x33]))
        let encoded = try JSONEncoder().encode(policy)
        #expect(try JSONDecoder().decode(AttestationPolicy.self, from: encoded) == policy)
    }

    @Test func emptyAcceptedStatusesMeanMarbleRunsDefault() throws {
        #expect(try decodePolicy(#"{"acceptedTCBStatuses": []}"#).acceptedTCBStatuses == [.upToDate, .swHardeningNeeded])
    }

    @Test(arguments: [
        (#"{"mrSigner": "\#(String(repeating: "00", count: 32))"}"#, "must be given together"),
        (#"{"acceptedTCBStatuses": ["Fine"]}"#, "unknown TCB status(es) Fine"),
        (#"{"mrEnclaves": ["abcd"]}"#, "is not 32 bytes of hexadecimal"),
        (#"{"reportData": {"exact": "00", "prefix": "00"}}"#, "needs exactly one of"),
        (
            #"{"mrEnclaves": ["\#(String(repeating: "00", count: 32))"], "mrSigner": "\#(String(repeating: "00", count: 32))", "isvProdID": 1, "minimumISVSVN": 1}"#,
            "not both"
        ),
    ])
    func invalidPoliciesNameTheProblem(json: String, message: String) {
        do {
            _ = try decodePolicy(json)
            Issue.record("\(json) decoded")
        } catch let error as AttestationError {
            #expect(error.check == .policyFormat)
            #expect(error.found.contains(message), "\(error.found)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func marbleRunStatusListAlwaysAcceptsUpToDate() {
        let (accepted, unknown) = AttestationPolicy.marbleRunAcceptedStatuses(["ConfigurationNeeded", "Bogus"])
        #expect(accepted == [.upToDate, .configurationNeeded])
        #expect(unknown == ["Bogus"])
    }
}

@Suite(.enabled(if: Corpus.directory != nil, "\(Corpus.missing)"))
struct PolicyAppraisalTests {
    func verified(_ id: String) throws -> VerifiedQuote {
        let corpus = try #require(Corpus.shared)
        let item = try #require(corpus.cases.first { $0.id == id })
        return try QuoteVerifier().verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
    }

    func rejection(_ policy: AttestationPolicy, _ verified: VerifiedQuote) -> AttestationError? {
        do {
            try policy.appraise(verified)
            return nil
        } catch {
            return error
        }
    }

    @Test func outOfDateNeedsToBeAcceptedExplicitly() throws {
        let quote = try verified("sgx-v3-dcaprs-quote-b69ac41b")
        #expect(quote.status == .outOfDate)
        #expect(rejection(.dcapQVLDefault, quote) == nil)
        let strict = try decodePolicy(#"{"acceptedTCBStatuses": []}"#)
        let error = try #require(rejection(strict, quote))
        #expect(error.check == .policyTCBStatus)
        #expect(error.hint.contains("OutOfDate since 20"))
        #expect(error.hint.contains("INTEL-SA-00960"))
        #expect(error.hint.contains("update BIOS/microcode"))
        #expect(error.hint.contains("accept OutOfDate in the manifest's AcceptedTCBStatuses"))
        #expect(rejection(try decodePolicy(#"{"acceptedTCBStatuses": ["OutOfDate"]}"#), quote) == nil)
    }

    @Test func advisoriesAreCheckedForSWHardeningNeeded() throws {
        let quote = try verified("sgx-v3-automata-sample_quotes-268c0681")
        #expect(quote.status == .swHardeningNeeded && quote.advisoryIDs == ["INTEL-SA-00615"])
        let other = try decodePolicy(#"{"acceptedTCBStatuses": [], "acceptedAdvisories": ["INTEL-SA-00001"]}"#)
        let error = try #require(rejection(other, quote))
        #expect(error.check == .policyAdvisories && error.found.contains("INTEL-SA-00615"))
        #expect(rejection(try decodePolicy(#"{"acceptedTCBStatuses": [], "acceptedAdvisories": ["INTEL-SA-00615"]}"#), quote) == nil)
        #expect(rejection(try decodePolicy(#"{"acceptedTCBStatuses": []}"#), quote) == nil)
    }

    @Test func enclaveIdentityRules() throws {
        let quote = try verified("sgx-v3-automata-sample_quotes-268c0681")
        let report = try #require(quote.quote.body.sgxReport)
        #expect(rejection(AttestationPolicy(mrEnclaves: [report.mrEnclave]), quote) == nil)
        #expect(rejection(AttestationPolicy(mrEnclaves: [[UInt8](repeating: 0, count: 32)]), quote)?.check == .policyMREnclave)
        let signer = AttestationPolicy.Signer(mrSigner: report.mrSigner, productID: report.isvProductID, minimumSecurityVersion: report.isvSVN)
        #expect(rejection(AttestationPolicy(signer: signer), quote) == nil)
        var newer = signer
        newer.minimumSecurityVersion = report.isvSVN + 1
        #expect(rejection(AttestationPolicy(signer: newer), quote)?.check == .policySecurityVersion)
        var otherProduct = signer
        otherProduct.productID = report.isvProductID &+ 1
        #expect(rejection(AttestationPolicy(signer: otherProduct), quote)?.check == .policyProductID)
        var otherSigner = signer
        otherSigner.mrSigner[0] ^= 1
        #expect(rejection(AttestationPolicy(signer: otherSigner), quote)?.check == .policyMRSigner)
        #expect(rejection(AttestationPolicy(mrTDs: [[UInt8](repeating: 0, count: 48)]), quote)?.check == .policyMRTD)
    }

    @Test func reportDataBinding() throws {
        let quote = try verified("tdx-v4-dcapqvl-tdx_quote-c42f9164")
        let data = quote.quote.body.reportData
        #expect(rejection(AttestationPolicy(reportData: .exact(data)), quote) == nil)
        #expect(rejection(AttestationPolicy(reportData: .prefix(Array(data.prefix(32)))), quote) == nil)
        var wrong = Array(data.prefix(32))
        wrong[31] ^= 0x80
        let error = try #require(rejection(AttestationPolicy(reportData: .prefix(wrong)), quote))
        #expect(error.check == .policyReportData && error.expected == wrong.hexadecimal && error.hint.contains("fresh quote"))
    }

    @Test func tdxRulesCanBeRelaxedExplicitly() throws {
        let serviceTD = try verified("tdx-v5-automata-alibaba_quote_5-d0010db6")
        #expect(rejection(.dcapQVLDefault, serviceTD)?.check == .policyServiceTD)
        #expect(rejection(AttestationPolicy(allowServiceTD: true), serviceTD) == nil)
        let noSEPT = try verified("tdx-v4-teekit-tdx-v4-azure-aada49fa")
        let error = try #require(rejection(.dcapQVLDefault, noSEPT))
        #expect(error.check == .policySEPTVEDisable && error.hint.contains("#VE"))
        #expect(rejection(AttestationPolicy(requireSEPTVEDisable: false), noSEPT) == nil)
        let debugTD = try verified("tdx-v4-teekit-tdx-v4-trustee-12b401a8")
        #expect(rejection(.dcapQVLDefault, debugTD)?.check == .policyDebug)
    }

    @Test func debugEnclaveNeedsAllowDebug() throws {
        let quote = try verified("sgx-v3-dcaprs-quote_sgx-743a7a64")
        let error = try #require(rejection(.dcapQVLDefault, quote))
        #expect(error.check == .policyDebug && error.hint.contains("Debug: true"))
        #expect(rejection(AttestationPolicy(allowDebug: true), quote) == nil)
    }
}
