import Attestation
import CollateralSources
import Coordinator
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Foundation
import Hexadecimal
import Platform
import TestSupport
import Testing
import X509

@Suite struct ActivationTests {
    @Test func setManifestThenActivateEveryMarbleType() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        let result = try await coordinator.setManifest(TestManifests.standard())
        #expect(result.recoverySecrets.isEmpty)
        #expect(coordinator.status().state == .acceptingMarbles)

        let frontend = try TestMarble()
        let frontendPlatform = fixture.platform(TestMeasurements.frontend())
        let response = try await coordinator.activate(
            frontend.request(type: "frontend", quote: try frontend.quote(on: frontendPlatform)),
            clientCertificateDER: frontend.certificateDER)
        #expect(response.argv == ["frontend", "--serve"])
        #expect(response.env["MODE"] == Data("production".utf8))
        #expect(response.files["/secrets/shared.key"]?.count == 64)
        #expect(response.files["/secrets/unique.key"]?.count == 32)
        #expect(String(decoding: response.files["/secrets/cert.pem"] ?? Data(), as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        for name in [MarbleEnvironment.rootCA, MarbleEnvironment.certificateChain, MarbleEnvironment.privateKey, MarbleEnvironment.coordinatorRootCA]
        {
            #expect(response.env[name] != nil, "missing \(name)")
        }
        // The marble certificate: CN = UUID, marble type extension, chains to the Marble root.
        let chain = String(decoding: response.env[MarbleEnvironment.certificateChain]!, as: UTF8.self)
        let leaf = try Certificate(pemEncoded: String(chain[..<chain.range(of: "-----END CERTIFICATE-----")!.upperBound]))
        #expect(leaf.subject.description.contains(frontend.uuid.uuidString.lowercased()))
        let typeExtension = leaf.extensions[oid: CoordinatorPKI.marbleTypeExtensionOID]
        #expect(typeExtension.map { Array($0.value) } == Array("frontend".utf8))

        for type in ["backend", "worker"] {
            let marble = try TestMarble()
            let platform = fixture.platform(TestMeasurements.backend())
            let response = try await coordinator.activate(
                marble.request(type: type, quote: try marble.quote(on: platform)), clientCertificateDER: marble.certificateDER)
            #expect(!response.env.isEmpty || !response.files.isEmpty)
        }
    }

    @Test func perMarbleKeysAreStableAndSharedKeysShared() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard())
        let platform = fixture.platform(TestMeasurements.frontend())
        let uuid = UUID()
        func activate(_ uuid: UUID) async throws -> ActivationResponse {
            let marble = try TestMarble(uuid: uuid)
            return try await coordinator.activate(
                marble.request(type: "frontend", quote: try marble.quote(on: platform)), clientCertificateDER: marble.certificateDER)
        }
        let first = try await activate(uuid)
        let again = try await activate(uuid)
        let other = try await activate(UUID())
        #expect(first.files["/secrets/unique.key"] == again.files["/secrets/unique.key"])
        #expect(first.files["/secrets/unique.key"] != other.files["/secrets/unique.key"])
        #expect(first.files["/secrets/shared.key"] == other.files["/secrets/shared.key"])
        #expect(first.files["/secrets/unique-cert.pem"] != again.files["/secrets/unique-cert.pem"])
    }

    @Test func refusalsNameTheReason() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(maxFrontend: 1))

        func refusal(
            _ type: String, _ enclave: EnclaveMeasurement, marble: TestMarble? = nil, bind: [UInt8]? = nil, present: [UInt8]? = nil,
            quote: [UInt8]? = nil
        ) async throws -> CoordinatorError? {
            let marble = try marble ?? TestMarble()
            let quote = try quote ?? marble.quote(on: fixture.platform(enclave), boundCertificate: bind)
            do {
                _ = try await coordinator.activate(marble.request(type: type, quote: quote), clientCertificateDER: present ?? marble.certificateDER)
                return nil
            } catch {
                return error
            }
        }

        // Wrong MRENCLAVE for the backend package (UniqueID).
        var wrongEnclave = TestMeasurements.backend()
        wrongEnclave.mrEnclave = [UInt8](repeating: 0x01, count: 32)
        let mrenclave = try #require(await refusal("backend", wrongEnclave))
        #expect(mrenclave.reason == .quoteRejected)
        #expect(mrenclave.attestation?.check == .policyMREnclave)
        #expect(mrenclave.description.contains(TestMeasurements.backendEnclave.hexadecimal))

        // Wrong MRSIGNER for the frontend package (SignerID).
        var wrongSigner = TestMeasurements.frontend()
        wrongSigner.mrSigner = [UInt8](repeating: 0x02, count: 32)
        let mrsigner = try #require(await refusal("frontend", wrongSigner))
        #expect(mrsigner.attestation?.check == .policyMRSigner)

        // Debug enclave where the package is not Debug.
        let debug = try #require(await refusal("frontend", TestMeasurements.frontend(debug: true)))
        #expect(debug.reason == .debugMismatch)
        #expect(debug.found.contains("debug enclave"))

        // SecurityVersion below the package minimum.
        let svn = try #require(await refusal("frontend", TestMeasurements.frontend(securityVersion: 2)))
        #expect(svn.attestation?.check == .policySecurityVersion)
        #expect(svn.found.contains("ISVSVN 2"))
        #expect(svn.expected.contains("at least 3"))

        // A quote bound to another key than the presented certificate.
        let other = try TestMarble()
        let foreign = try #require(await refusal("frontend", TestMeasurements.frontend(), bind: other.certificateDER))
        #expect(foreign.reason == .reportDataMismatch)
        #expect(foreign.kind == .activationRefused)

        // A quote replayed by another client: the quote of a marble that activated, presented with another certificate.
        let victim = try TestMarble()
        let victimQuote = try victim.quote(on: fixture.platform(TestMeasurements.backend()))
        _ = try await coordinator.activate(victim.request(type: "backend", quote: victimQuote), clientCertificateDER: victim.certificateDER)
        let attacker = try TestMarble()
        let replay = try #require(await refusal("backend", TestMeasurements.backend(), marble: attacker, quote: victimQuote))
        #expect(replay.reason == .reportDataMismatch)
        #expect(replay.hint.contains("replayed"))

        // Unknown marble type.
        let unknown = try #require(await refusal("database", TestMeasurements.backend()))
        #expect(unknown.reason == .unknownMarbleType)
        #expect(unknown.expected.contains("frontend"))

        // Over MaxActivations (1 for frontend).
        #expect(try await refusal("frontend", TestMeasurements.frontend()) == nil)
        let over = try #require(await refusal("frontend", TestMeasurements.frontend()))
        #expect(over.reason == .maxActivationsReached)
        #expect(over.found.contains("1 activations"))

        // A garbage quote, and a CSR for another key than the connection's whose signature does not verify. (A CSR
        // for the connection's own key needs no signature check: the TLS handshake proved possession of that key.)
        let garbage = try #require(await refusal("backend", TestMeasurements.backend(), quote: [1, 2, 3]))
        #expect(garbage.reason == .quoteRejected)
        let marble = try TestMarble()
        let stranger = try TestMarble()
        var badCSR = marble.request(type: "backend", quote: try marble.quote(on: fixture.platform(TestMeasurements.backend())))
        badCSR.csr = Data(stranger.csrDER.dropLast(4) + [0, 0, 0, 0])
        let refused = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.activate(badCSR, clientCertificateDER: marble.certificateDER)
        }
        #expect(refused?.reason == .invalidCSR)
    }

    @Test func tcbStatusNotAcceptedIsRefused() async throws {
        let fixture = try CoordinatorFixture(tcbState: SimulatedTCBState(platformStatus: .outOfDate, platformAdvisoryIDs: ["INTEL-SA-00615"]))
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(frontendTCB: ["SWHardeningNeeded"]))
        let marble = try TestMarble()
        let quote = try marble.quote(on: fixture.platform(TestMeasurements.frontend()))
        let error = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.activate(marble.request(type: "frontend", quote: quote), clientCertificateDER: marble.certificateDER)
        }
        #expect(error?.attestation?.check == .policyTCBStatus)
        #expect(error?.found.contains("OutOfDate") == true)

        let accepting = try CoordinatorFixture(tcbState: SimulatedTCBState(platformStatus: .outOfDate))
        defer { accepting.remove() }
        let tolerant = try await accepting.start()
        _ = try await tolerant.setManifest(TestManifests.standard(frontendTCB: ["OutOfDate"]))
        let accepted = try TestMarble()
        _ = try await tolerant.activate(
            accepted.request(type: "frontend", quote: try accepted.quote(on: accepting.platform(TestMeasurements.frontend()))),
            clientCertificateDER: accepted.certificateDER)
    }

    @Test func collateralFromASourceSelectedByTheQuotesFMSPC() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let bundle = fixture.directory.appendingPathComponent("collateral.json")
        try JSONEncoder().encode(try fixture.machine.collateral(at: Date())).write(to: bundle)
        let cache = CollateralCache()
        let coordinator = try await fixture.start(
            quoteVerification: QuoteVerificationConfiguration(
                trustAnchor: .simulation(root: fixture.machine.rootCertificate),
                collateral: .source(CollateralBundleFile(path: bundle.path), cache: cache)))
        _ = try await coordinator.setManifest(TestManifests.standard())
        for _ in 0..<2 {
            let marble = try TestMarble()
            _ = try await coordinator.activate(
                marble.request(type: "backend", quote: try marble.quote(on: fixture.platform(TestMeasurements.backend()))),
                clientCertificateDER: marble.certificateDER)
        }
        #expect(await cache.statistics.fetches == 1)
        #expect(await cache.statistics.hits == 1)

        // A bundle for another platform family is refused with the FMSPC named.
        let otherMachine = try SimulatedSGXMachine.openOrCreate(
            stateDirectory: fixture.directory.appendingPathComponent("other-machine"),
            hardware: SimulatedHardware(fmspc: [0x00, 0x90, 0x6E, 0xA1, 0x00, 0x00]))
        let otherBundle = fixture.directory.appendingPathComponent("other-collateral.json")
        try JSONEncoder().encode(try otherMachine.collateral(at: Date())).write(to: otherBundle)
        let otherFixture = try CoordinatorFixture()
        defer { otherFixture.remove() }
        let mismatched = try await otherFixture.start(
            quoteVerification: QuoteVerificationConfiguration(
                trustAnchor: .simulation(root: fixture.machine.rootCertificate),
                collateral: .source(CollateralBundleFile(path: otherBundle.path), cache: CollateralCache())))
        _ = try await mismatched.setManifest(TestManifests.standard())
        let marble = try TestMarble()
        let error = await #expect(throws: CoordinatorError.self) {
            _ = try await mismatched.activate(
                marble.request(type: "backend", quote: try marble.quote(on: fixture.platform(TestMeasurements.backend()))),
                clientCertificateDER: marble.certificateDER)
        }
        #expect(error?.reason == .collateralUnavailable)
    }

    @Test func advisoriesNotAcceptedAreRefused() async throws {
        let fixture = try CoordinatorFixture(
            tcbState: SimulatedTCBState(platformStatus: .swHardeningNeeded, platformAdvisoryIDs: ["INTEL-SA-00615", "INTEL-SA-00657"]))
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(
            TestManifests.standard(frontendTCB: ["SWHardeningNeeded"], frontendAdvisories: ["INTEL-SA-00615"]))
        let marble = try TestMarble()
        let quote = try marble.quote(on: fixture.platform(TestMeasurements.frontend()))
        let error = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.activate(marble.request(type: "frontend", quote: quote), clientCertificateDER: marble.certificateDER)
        }
        #expect(error?.attestation?.check == .policyAdvisories)
        #expect(error?.found.contains("INTEL-SA-00657") == true)
        // The backend package accepts SWHardeningNeeded by default (an empty AcceptedTCBStatuses) with all advisories.
        let backend = try TestMarble()
        _ = try await coordinator.activate(
            backend.request(type: "backend", quote: try backend.quote(on: fixture.platform(TestMeasurements.backend()))),
            clientCertificateDER: backend.certificateDER)
    }

    @Test func maxActivationsIsExactUnderConcurrency() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(maxFrontend: 37))
        let platform = fixture.platform(TestMeasurements.frontend())
        var requests: [(ActivationRequest, [UInt8])] = []
        for _ in 0..<200 {
            let marble = try TestMarble()
            requests.append((marble.request(type: "frontend", quote: try marble.quote(on: platform)), marble.certificateDER))
        }
        let outcomes = await withTaskGroup(of: CoordinatorError.Reason?.self) { group in
            for (request, certificate) in requests {
                group.addTask {
                    do {
                        _ = try await coordinator.activate(request, clientCertificateDER: certificate)
                        return nil
                    } catch let error as CoordinatorError {
                        return error.reason
                    } catch {
                        return .storage
                    }
                }
            }
            var outcomes: [CoordinatorError.Reason?] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        #expect(outcomes.filter { $0 == nil }.count == 37)
        #expect(outcomes.filter { $0 == .maxActivationsReached }.count == 163)
        let log = try await coordinator.updateLog()
        #expect(log.filter { $0.contains("Marble activated") }.count == 37)
        #expect(try await coordinator.verifyUpdateLog() == log.count)
        // The durable counter agrees: after a restart the limit is still reached.
        let restarted = try await fixture.start()
        let marble = try TestMarble()
        let over = await #expect(throws: CoordinatorError.self) {
            _ = try await restarted.activate(
                marble.request(type: "frontend", quote: try marble.quote(on: platform)), clientCertificateDER: marble.certificateDER)
        }
        #expect(over?.reason == .maxActivationsReached)
    }
}
