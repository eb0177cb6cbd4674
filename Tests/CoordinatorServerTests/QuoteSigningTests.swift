import Attestation
import CoordinatorAPI
import Crypto
import Foundation
import Platform
import SwiftASN1
import TestSupport
import Testing
import X509

/// The Open Enclave header MarbleRun's premain puts before a raw SGX quote: version 1, type 2, the quote's length
/// (all little-endian).
func withOpenEnclaveHeader(_ quote: [UInt8]) -> [UInt8] {
    func littleEndian<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    return littleEndian(UInt32(1)) + littleEndian(UInt32(2)) + littleEndian(UInt64(quote.count)) + quote
}

/// `POST /api/v2/sign-quote` over real TLS: refused while the manifest's feature gate is off, and with the gate on a
/// verdict whose signature verifies under the root key of the Coordinator's quote endpoint chain.
@Suite struct QuoteSigningTests {
    static let anyEnclave = EnclaveMeasurement(
        mrEnclave: [UInt8](repeating: 0x77, count: 32), mrSigner: [UInt8](repeating: 0x66, count: 32), productID: 99,
        securityVersion: 2, debug: true)

    /// The root certificate's public key, taken from `GET /api/v2/quote` (chain: intermediate, then root).
    static func rootPublicKey(_ client: APIClient, _ fixture: ServerFixture) async throws -> Certificate.PublicKey {
        let chain = try await client.get(fixture.clientURL + ClientAPIPath.quote).data(CertQuoteResponse.self).cert
        let documents = try PEMDocument.parseMultiple(pemString: chain)
        #expect(documents.count == 2)
        return try Certificate(derEncoded: try #require(documents.last).derBytes).publicKey
    }

    static func verifies(_ signature: Data, over message: Data, with key: Certificate.PublicKey) throws -> Bool {
        if let p384 = P384.Signing.PublicKey(key) {
            return p384.isValidSignature(try P384.Signing.ECDSASignature(derRepresentation: signature), for: SHA256.hash(data: message))
        }
        let p256 = try #require(P256.Signing.PublicKey(key), "the root key is neither P-384 nor P-256")
        return p256.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: signature), for: SHA256.hash(data: message))
    }

    @Test func featureGateOffIsRefusedWith403() async throws {
        let fixture = try await ServerFixture.start()
        let client = try fixture.client()
        let quote = try fixture.platform(Self.anyEnclave).quote(reportData: [UInt8](repeating: 1, count: 64))
        let body = try JSONEncoder().encode(SignQuoteRequest(sgxQuote: Data(quote)))

        let beforeManifest = try await client.post(fixture.clientURL + ClientAPIPath.signQuote, body: body)
        #expect(beforeManifest.status == 403, "\(String(decoding: beforeManifest.body, as: UTF8.self))")
        #expect(beforeManifest.jsendStatus == "error")

        let set = try await client.post(fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard())))
        #expect(set.status == 200)
        let gateOff = try await client.post(fixture.clientURL + ClientAPIPath.signQuote, body: body)
        #expect(gateOff.status == 403)
        #expect(gateOff.jsendStatus == "error")
        let message = try #require(gateOff.json["message"] as? String)
        #expect(message.contains("SignQuoteEndpoint"), "the refusal names the gate to enable: \(message)")
        await client.shutdown()
        await fixture.remove()
    }

    @Test func gateOnSignsRawAndHeaderedQuotesWithTheRootKey() async throws {
        let fixture = try await ServerFixture.start()
        let client = try fixture.client()
        let set = try await client.post(
            fixture.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(featureGates: ["signquoteendpoint"]))))
        #expect(set.status == 200, "\(String(decoding: set.body, as: UTF8.self))")
        let rootKey = try await Self.rootPublicKey(client, fixture)

        // An enclave the manifest does not know: sign-quote checks authenticity and TCB only.
        let raw = try fixture.platform(Self.anyEnclave).quote(reportData: [UInt8](repeating: 2, count: 64))
        for sent in [raw, withOpenEnclaveHeader(raw)] {
            let answer = try await client.post(fixture.clientURL + ClientAPIPath.signQuote, json: SignQuoteRequest(sgxQuote: Data(sent)))
            #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
            let verdict = try answer.data(SignQuoteResponse.self)
            #expect(verdict.tcbStatus == "UpToDate")
            #expect(verdict.simulation == true, "a verdict on the simulated machine says so")
            let message = SignQuoteResponse.signedMessage(sgxQuote: Data(sent), tcbStatus: verdict.tcbStatus)
            #expect(try Self.verifies(verdict.verificationSignature, over: message, with: rootKey))
            let otherStatus = SignQuoteResponse.signedMessage(sgxQuote: Data(sent), tcbStatus: "OutOfDate")
            #expect(try !Self.verifies(verdict.verificationSignature, over: otherStatus, with: rootKey))
        }
        await client.shutdown()
        await fixture.remove()
    }

    /// A platform whose TCB is out of date or revoked: the verdict carries that status (signed), as MarbleRun signs
    /// quotes whose TCB level is not up to date instead of refusing them. A revoked PCK certificate is no verdict
    /// but a refusal.
    @Test(arguments: [
        (SimulatedTCBState(platformStatus: .outOfDate, platformAdvisoryIDs: ["INTEL-SA-00615"]), "OutOfDate"),
        (SimulatedTCBState(platformStatus: .revoked), "Revoked"),
        (SimulatedTCBState(pckCertificateRevoked: true), nil),
    ])
    func tcbStatusIsSignedWithTheVerdict(_ state: SimulatedTCBState, _ expectedStatus: String?) async throws {
        let first = try await ServerFixture.start()
        let setupClient = try first.client()
        _ = try await setupClient.post(
            first.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(featureGates: ["SignQuoteEndpoint"]))))
        await setupClient.shutdown()
        await first.stop()
        _ = try first.machine.settingTCBState(state)

        let fixture = try await ServerFixture.start(directory: first.directory)
        let client = try fixture.client()
        let rootKey = try await Self.rootPublicKey(client, fixture)
        let quote = Data(try fixture.platform(Self.anyEnclave).quote(reportData: [UInt8](repeating: 4, count: 64)))
        let answer = try await client.post(fixture.clientURL + ClientAPIPath.signQuote, json: SignQuoteRequest(sgxQuote: quote))
        if let expectedStatus {
            #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
            let verdict = try answer.data(SignQuoteResponse.self)
            #expect(verdict.tcbStatus == expectedStatus)
            #expect(
                try Self.verifies(
                    verdict.verificationSignature, over: SignQuoteResponse.signedMessage(sgxQuote: quote, tcbStatus: verdict.tcbStatus), with: rootKey
                ))
        } else {
            #expect(answer.status == 400, "\(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.jsendStatus == "fail")
        }
        await client.shutdown()
        await fixture.remove()
    }

    @Test func invalidQuotesAndBodiesAre400Fail() async throws {
        let fixture = try await ServerFixture.start()
        let client = try fixture.client()
        _ = try await client.post(
            fixture.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(featureGates: ["SignQuoteEndpoint"]))))
        var tampered = try fixture.platform(Self.anyEnclave).quote(reportData: [UInt8](repeating: 3, count: 64))
        tampered[48 + 64] ^= 0x01  // a byte of the report body (MRENCLAVE): the attestation signature no longer covers it
        let cases: [(String, [UInt8])] = [
            ("tampered quote", tampered), ("truncated quote", Array(tampered.prefix(100))), ("empty quote", []),
            ("header naming another length", Array(withOpenEnclaveHeader(tampered).dropLast())),
        ]
        for (label, bytes) in cases {
            let answer = try await client.post(fixture.clientURL + ClientAPIPath.signQuote, json: SignQuoteRequest(sgxQuote: Data(bytes)))
            #expect(answer.status == 400, "\(label): \(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.jsendStatus == "fail", "\(label)")
            let data = try #require(answer.json["data"] as? [String: Any], "\(label)")
            #expect((data["sgxQuote"] as? String)?.isEmpty == false, "\(label): data.sgxQuote explains the refusal")
            #expect(data["reason"] as? String == "request.invalid_quote", "\(label)")
        }
        let malformed = try await client.post(fixture.clientURL + ClientAPIPath.signQuote, body: Data(#"{"sgxQuote": 5}"#.utf8))
        #expect(malformed.status == 400)
        #expect(malformed.failReason == "request.malformed")
        await client.shutdown()
        await fixture.remove()
    }
}
