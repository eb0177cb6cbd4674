import Coordinator
import Foundation
import SealedStore
import TestSupport
import Testing

/// MarbleRun's `SealMode: Disabled` (spec 6.3): a standalone Coordinator keeps its state in memory only.
@Suite struct SealModeDisabledTests {
    static func manifest(_ sealMode: String, users: [TestUser] = []) -> [UInt8] {
        TestManifests.standard(users: users, config: ["SealMode": sealMode])
    }

    @Test func stateLivesInMemoryAndTheSealedStateIsLeftAsItWas() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let admin = try TestUser(name: "admin")
        let coordinator = try await fixture.start()
        let rootBefore = try await coordinator.tlsIdentity().rootCertificatePEM
        #expect(coordinator.status().statePersisted)
        _ = try await coordinator.setManifest(Self.manifest("Disabled", users: [admin]))

        let status = coordinator.status()
        #expect(status.state == .acceptingMarbles)
        #expect(!status.statePersisted)
        #expect(status.message.contains("State is not persisted (SealMode Disabled)"))
        // The Coordinator works as usual, from memory.
        try await coordinator.writeSecrets(
            ["userKey": UserSecretUpload(key: [UInt8](repeating: 3, count: 16))], clientCertificateDER: admin.certificateDER)
        let marble = try TestMarble()
        _ = try await coordinator.activate(
            marble.request(type: "frontend", quote: try marble.quote(on: fixture.platform(TestMeasurements.frontend()))),
            clientCertificateDER: marble.certificateDER)
        #expect(try await coordinator.updateLog().count == 3)
        #expect(try await coordinator.verifyUpdateLog() == 3)
        #expect(try await coordinator.tlsIdentity().rootCertificatePEM == rootBefore)

        // Nothing of the manifest's state is on disk, and the sealed state from before the manifest is left as it was
        // (as MarbleRun leaves it): a restart returns to it, with no manifest.
        let disk = try SQLiteStorage(directory: fixture.dataDirectory)
        let (format, sealedKey) = try disk.read { storage in (try storage.metadata("format"), try storage.metadata("sealedDataKey")) }
        #expect(format != nil && sealedKey != nil, "the existing sealed state is not erased")

        let restarted = try await fixture.start()
        #expect(restarted.status().state == .acceptingManifest)
        #expect(restarted.status().statePersisted)
        #expect(try await restarted.tlsIdentity().rootCertificatePEM == rootBefore, "a restart returns to the sealed state")
        #expect(try await restarted.updateLog().isEmpty, "nothing the Coordinator did with SealMode Disabled was persisted")
    }

    @Test func updateCannotSwitchPersistence() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let admin = try TestUser(name: "admin")
        let persisted = try await fixture.start()
        _ = try await persisted.setManifest(TestManifests.standard(users: [admin]))
        let toMemory = await #expect(throws: CoordinatorError.self) {
            _ = try await persisted.update(Self.manifest("Disabled", users: [admin]), clientCertificateDER: admin.certificateDER)
        }
        #expect(toMemory?.reason == .invalidUpdate)
        #expect(toMemory?.found.contains("Config.SealMode 'Disabled' in an update of a Coordinator whose state is persisted") == true)
        #expect(toMemory?.hint.contains("spec 6.3") == true)

        let other = try CoordinatorFixture()
        defer { other.remove() }
        let inMemory = try await other.start()
        _ = try await inMemory.setManifest(Self.manifest("Disabled", users: [admin]))
        let toDisk = await #expect(throws: CoordinatorError.self) {
            _ = try await inMemory.update(Self.manifest("ProductKey", users: [admin]), clientCertificateDER: admin.certificateDER)
        }
        #expect(toDisk?.found.contains("not persisted (SealMode Disabled)") == true)
        #expect(!inMemory.status().statePersisted)
    }
}
