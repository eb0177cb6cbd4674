import Attestation
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@Suite struct DiagnosticsTests {
    @Test func everyCheckHasADistinctTitleAndIdentifier() {
        #expect(Set(Check.allCases.map(\.title)).count == Check.allCases.count)
        #expect(Set(Check.allCases.map(\.rawValue)).count == Check.allCases.count)
        #expect(Check.allCases.allSatisfy { !$0.title.isEmpty })
        #expect(Check.allCases.filter(\.isPolicy).allSatisfy { $0.rawValue.hasPrefix("policy.") })
    }

    @Test func errorTextNamesCheckFoundExpectedAndHint() {
        let error = AttestationError(check: .tcbInfoValidity, found: "TCB Info expired", expected: "a current one", hint: "Fetch it again.")
        #expect(error.description == "TCB Info validity period check failed: found TCB Info expired; expected a current one. Fetch it again.")
        let located = AttestationError(
            check: .quoteStructure, found: "3 byte(s) left", expected: "4 byte(s)", hint: "Obtain it again.", structure: "Body.size", offset: 50)
        #expect(
            located.description
                == "quote structure check failed in Body.size at byte offset 50: found 3 byte(s) left; expected 4 byte(s). Obtain it again.")
        #expect(located.localizedDescription == located.description)
    }

    @Test func errorsEncodeAsJSON() throws {
        let error = AttestationError(check: .qeReportData, found: "x", expected: "y", hint: "z")
        let json = String(decoding: try JSONEncoder().encode(error), as: UTF8.self)
        #expect(json.contains(#""check":"qe_report.report_data""#))
        #expect(try JSONDecoder().decode(AttestationError.self, from: Data(json.utf8)) == error)
    }

    @Test func everyStatusHasAdvice() {
        #expect(TCBStatus.allCases.allSatisfy { !$0.advice.isEmpty })
        #expect(TCBStatus.outOfDate.advice.contains("update BIOS/microcode"))
    }

    @Test func embeddedIntelRootIsTheDocumentedOne() {
        let anchor = TrustAnchor.intelSGXRootCA
        #expect(anchor.fingerprint == "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3")
        #expect(!anchor.isSimulation)
        #expect(anchor.subject.contains("Intel SGX Root CA"))
    }

    @Test func malformedCollateralPiecesGiveClearErrors() throws {
        #expect {
            try CertificateRevocationList(derEncoded: [0x30, 0x03, 0x02, 0x01])
        } throws: { error in
            let error = error as! AttestationError
            return error.check == .collateralFormat && error.expected == "a DER-encoded X.509 CRL"
        }
    }
}

/// A self-signed P-256 CA made on the spot: a root that no corpus chain leads to.
func foreignRoot() throws -> Certificate {
    let key = P256.Signing.PrivateKey()
    let name = try DistinguishedName { CommonName("Not Intel Root") }
    return try Certificate(
        version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: Date(timeIntervalSince1970: 0),
        notValidAfter: Date(timeIntervalSince1970: 4_000_000_000), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
        extensions: try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)) },
        issuerPrivateKey: .init(key))
}

@Suite(.enabled(if: Corpus.directory != nil, "\(Corpus.missing)"))
struct TrustAnchorTests {
    @Test func simulationAnchorIsReportedLoudly() throws {
        let corpus = try #require(Corpus.shared)
        let item = try #require(corpus.cases.first { $0.id == "tdx-v4-dcapqvl-tdx_quote-c42f9164" })
        let anchor = TrustAnchor.simulation(root: TrustAnchor.intelSGXRootCA.certificate)
        let verified = try QuoteVerifier(trustAnchor: anchor).verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        #expect(verified.isSimulation)
        let explanation = QuoteVerifier(trustAnchor: anchor).explain(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        #expect(explanation.isSimulation && explanation.rendered().hasPrefix("WARNING: verified against a SIMULATION trust anchor"))
        #expect(try !QuoteVerifier().verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant).isSimulation)
    }

    @Test func anotherRootRejectsIntelCollateral() throws {
        let corpus = try #require(Corpus.shared)
        let item = try #require(corpus.cases.first { $0.id == "tdx-v4-dcapqvl-tdx_quote-c42f9164" })
        let verifier = QuoteVerifier(trustAnchor: .simulation(root: try foreignRoot()))
        #expect {
            try verifier.verify(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        } throws: { error in
            (error as! AttestationError).check == .rootCRL
        }
    }

    @Test func explanationListsEveryCheckAndEncodes() throws {
        let corpus = try #require(Corpus.shared)
        let item = try #require(corpus.cases.first { $0.id == "sgx-v3-dcaprs-quote-b69ac41b" })
        let explanation = QuoteVerifier().explain(
            quoteBytes: item.quote, collateral: item.collateral, at: item.instant, policy: try decodePolicy(#"{"acceptedTCBStatuses": []}"#))
        let checks = Set(explanation.steps.map(\.check))
        for check in [
            Check.quoteStructure, .rootCRL, .pckCRL, .tcbInfoSignature, .qeIdentitySignature, .pckChain, .qeReportSignature, .qeReportData,
            .qeTCBLevel, .isvSignature, .tcbLevel, .tcbStatus, .policyTCBStatus,
        ] {
            #expect(checks.contains(check), "\(check) missing")
        }
        #expect(explanation.error?.check == .policyTCBStatus)
        let report = explanation.rendered()
        #expect(report.contains("[ok  ] quote signature"))
        #expect(report.contains("REJECTED: accepted TCB status check failed"))
        let decoded = try JSONDecoder().decode(Explanation.self, from: JSONEncoder().encode(explanation))
        #expect(decoded == explanation)
    }

    @Test func cachedStepsAreMarkedInWarmExplanations() throws {
        let corpus = try #require(Corpus.shared)
        let item = try #require(corpus.cases.first { $0.id == "sgx-v3-dcapqvl-sgx_quote-f8b81014" })
        let warm = CachingQuoteVerifier()
        let first = warm.explain(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        let second = warm.explain(quoteBytes: item.quote, collateral: item.collateral, at: item.instant)
        #expect(first.accepted && second.accepted)
        #expect(second.steps.filter(\.cached).count > first.steps.filter(\.cached).count)
        #expect(second.rendered().contains("(cached)"))
        warm.removeAll()
        #expect(
            warm.explain(quoteBytes: item.quote, collateral: item.collateral, at: item.instant).steps.filter(\.cached).count
                == first.steps.filter(\.cached).count)
    }
}
