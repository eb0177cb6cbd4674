import Crypto
import Foundation
import Platform
import SealedStore
import Testing

@testable import Coordinator

extension CoordinatorFixture {
    /// The Coordinator's sealed store, opened the way the Coordinator opens it, to play an attacker (or a bug) that
    /// writes well-encrypted but wrong values.
    func rawStore() throws -> SealedStore {
        let configuration = try configuration()
        let sealingKey = try configuration.stateSealingKey(configuration.sealingKeyPolicy)
        guard case .opened(let store) = try SealedStore.open(backend: configuration.storage, sealingKey: sealingKey) else {
            throw CoordinatorError(
                .internal, .storage, found: "no unsealed state", expected: "the state the test wrote", hint: "fix the test")
        }
        return store
    }
}

@Suite struct SealedStateIntegrityTests {
    @Test func unreadableActivationCounterStopsTheStartInsteadOfResettingIt() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(maxFrontend: 1))
        let marble = try TestMarble()
        _ = try await coordinator.activate(
            marble.request(type: "frontend", quote: try marble.quote(on: fixture.platform(CoordinatorFixture.frontend()))),
            clientCertificateDER: marble.certificateDER)

        var change = StateChange()
        change.put(PersistedCore.activationKey("frontend"), "one")
        try fixture.rawStore().commit(change)

        let error = await #expect(throws: CoordinatorError.self) { _ = try await fixture.start() }
        #expect(error?.reason == .storage)
        #expect(error?.found.contains("activation counter 'coordinator/activations/frontend'") == true)
        #expect(error?.found.contains("'one'") == true)
        #expect(error?.hint.contains("restore the whole data directory from a backup") == true)
    }
}
