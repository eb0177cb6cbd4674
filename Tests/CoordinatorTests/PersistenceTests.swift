import Coordinator
import CoordinatorAPI
import Foundation
import Platform
import TestSupport
import Testing

@Suite struct PersistenceTests {
    @Test func restartKeepsRootSecretsCertificatesAndCounters() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let admin = try TestUser(name: "admin")
        let first = try await fixture.start()
        _ = try await first.setManifest(TestManifests.standard(users: [admin], maxFrontend: 2))
        try await first.writeSecrets(["userKey": UserSecretUpload(key: [UInt8](repeating: 7, count: 16))], clientCertificateDER: admin.certificateDER)
        let uuid = UUID()
        let marble = try TestMarble(uuid: uuid)
        let platform = fixture.platform(TestMeasurements.frontend())
        let before = try await first.activate(
            marble.request(type: "frontend", quote: try marble.quote(on: platform)), clientCertificateDER: marble.certificateDER)
        let identityBefore = try await first.tlsIdentity()
        let manifestBefore = try await first.signedManifest()
        let secretsBefore = try await first.readSecrets(["sharedKey", "userKey"], clientCertificateDER: admin.certificateDER)
        let logBefore = try await first.updateLog()

        let second = try await fixture.start()
        #expect(second.status().state == .acceptingMarbles)
        let identityAfter = try await second.tlsIdentity()
        #expect(identityAfter.rootCertificatePEM == identityBefore.rootCertificatePEM)
        #expect(identityAfter.certificateChainPEM == identityBefore.certificateChainPEM)
        #expect(try await second.signedManifest() == manifestBefore)
        #expect(try await second.readSecrets(["sharedKey", "userKey"], clientCertificateDER: admin.certificateDER) == secretsBefore)
        #expect(try await second.updateLog() == logBefore)
        #expect(try await second.verifyUpdateLog() == logBefore.count)

        let again = try TestMarble(uuid: uuid)
        let after = try await second.activate(
            again.request(type: "frontend", quote: try again.quote(on: platform)), clientCertificateDER: again.certificateDER)
        #expect(after.files["/secrets/unique.key"] == before.files["/secrets/unique.key"])
        #expect(after.files["/secrets/shared.key"] == before.files["/secrets/shared.key"])
        #expect(after.env[MarbleEnvironment.coordinatorRootCA] == before.env[MarbleEnvironment.coordinatorRootCA])

        // The counter survived: MaxActivations 2 is reached with the activation before and the one after the restart.
        let third = try TestMarble()
        let over = await #expect(throws: CoordinatorError.self) {
            _ = try await second.activate(
                third.request(type: "frontend", quote: try third.quote(on: platform)), clientCertificateDER: third.certificateDER)
        }
        #expect(over?.reason == .maxActivationsReached)
    }

    @Test func startupManifestIsSetOnce() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let manifest = TestManifests.standard()
        let first = try await fixture.start(startupManifest: manifest)
        #expect(first.status().state == .acceptingMarbles)
        let signature = try await first.signedManifest()
        let second = try await fixture.start(startupManifest: manifest)
        #expect(try await second.signedManifest() == signature)
        #expect(try await second.updateLog().count == 1)
    }

    @Test func uniqueKeySealModeBindsTheStateToMRENCLAVE() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let original = try await fixture.start()
        _ = try await original.setManifest(TestManifests.standard(config: ["SealMode": "UniqueKey"]))
        let root = try await original.tlsIdentity().rootCertificatePEM
        // Same MRENCLAVE, another MRSIGNER: the MRENCLAVE-bound key still opens the state.
        let resigned = try await fixture.withOtherSealingIdentity().start()
        #expect(resigned.status().state == .acceptingMarbles)
        #expect(try await resigned.tlsIdentity().rootCertificatePEM == root)

    }

    @Test func lostSealingKeyEntersRecoveryMode() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let original = try await fixture.start()
        _ = try await original.setManifest(TestManifests.standard())
        let originalRoot = try await original.tlsIdentity().rootCertificatePEM

        let moved = try await fixture.withOtherSealingIdentity().start()
        let status = moved.status()
        #expect(status.state == .recovery)
        #expect(status.code == 1)
        #expect(status.recoveryReason?.contains("does not open with this platform's sealing key") == true)
        #expect(try await moved.tlsIdentity().rootCertificatePEM != originalRoot, "a temporary root is served")
        let refused = await #expect(throws: CoordinatorError.self) {
            let marble = try TestMarble()
            _ = try await moved.activate(
                marble.request(type: "frontend", quote: try marble.quote(on: fixture.platform(TestMeasurements.frontend()))),
                clientCertificateDER: marble.certificateDER)
        }
        #expect(refused?.reason == .notAcceptingMarbles)
        #expect(refused?.hint.contains("recover") == true)

        // Setting a new manifest in recovery mode discards the old state and starts afresh.
        _ = try await moved.setManifest(TestManifests.standard(maxFrontend: 3))
        #expect(moved.status().state == .acceptingMarbles)
        let restarted = try await fixture.withOtherSealingIdentity().start()
        #expect(restarted.status().state == .acceptingMarbles)
    }
}
