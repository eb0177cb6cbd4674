import Crypto
import Foundation
import Platform
import Synchronization
import TestSupport
import Testing

@testable import Coordinator
@testable import SealedStore

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

extension CoordinatorFixture {
    /// The on-disk record identifier of a state key, as a host sees it.
    func recordID(_ key: String) throws -> Data {
        try StateCipher(dataKey: rawStore().dataKey).recordID(for: key)
    }

    func diskRecord(_ id: Data) throws -> Data? {
        try SQLiteStorage(directory: dataDirectory).read { storage in try storage.record(id) }
    }

    func setDiskRecord(_ id: Data, _ sealed: Data?) throws {
        try SQLiteStorage(directory: dataDirectory).write { storage in try storage.setRecord(id, sealed) }
    }
}

@Suite struct SealedStateIntegrityTests {
    func activate(_ coordinator: Coordinator, _ fixture: CoordinatorFixture) async throws {
        let marble = try TestMarble()
        _ = try await coordinator.activate(
            marble.request(type: "frontend", quote: try marble.quote(on: fixture.platform(TestMeasurements.frontend()))),
            clientCertificateDER: marble.certificateDER)
    }

    /// The host puts back the counter from before the last activation, to get one more activation than
    /// MaxActivations allows: the start is refused, saying the state was altered and what to do.
    @Test func rolledBackActivationCounterStopsTheStart() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(maxFrontend: 2))
        try await activate(coordinator, fixture)
        let counterID = try fixture.recordID(PersistedCore.activationKey("frontend"))
        let afterFirst = try #require(try fixture.diskRecord(counterID))
        try await activate(coordinator, fixture)
        try fixture.setDiskRecord(counterID, afterFirst)

        let error = await #expect(throws: CoordinatorError.self) { _ = try await fixture.start() }
        #expect(error?.reason == .storage)
        #expect(
            error?.found.hasPrefix(
                "the sealed state was altered: record 'coordinator/activations/frontend': found the value written by transaction") == true)
        #expect(error?.found.contains("this one was put back from an older copy of the state") == true)
        #expect(error?.hint.contains("restore the whole data directory from one backup") == true)
    }

    /// The host puts back the core record from before a manifest update that removed a user, to bring the user
    /// back: the start is refused, naming the core record.
    @Test func coreRecordPutBackToBringBackARemovedUserStopsTheStart() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let admin = try TestUser(name: "admin")
        let alice = try TestUser(name: "alice")
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(users: [admin, alice]))
        let coreID = try fixture.recordID(PersistedCore.key)
        let withAlice = try #require(try fixture.diskRecord(coreID))
        let withoutAlice = TestManifests.standard(users: [admin])
        _ = try await coordinator.update(withoutAlice, clientCertificateDER: admin.certificateDER)
        _ = try await coordinator.acknowledgeUpdate(withoutAlice, clientCertificateDER: alice.certificateDER)
        #expect(try await coordinator.signedManifest().manifest == withoutAlice)
        try fixture.setDiskRecord(coreID, withAlice)

        let error = await #expect(throws: CoordinatorError.self) { _ = try await fixture.start() }
        #expect(error?.found.hasPrefix("the sealed state was altered: record 'coordinator/core': found the value written by transaction") == true)
    }

    /// The host deletes an update-log entry and, to hide it, the log's head too: the start is refused.
    @Test func deletedUpdateLogEntryStopsTheStart() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard())
        try await activate(coordinator, fixture)
        let entryID = try fixture.recordID("auditlog/entry/000000000001")
        try fixture.setDiskRecord(entryID, nil)

        let error = await #expect(throws: CoordinatorError.self) { _ = try await fixture.start() }
        #expect(error?.found.contains("the record whose identifier starts with \(StateCipher.label(entryID).prefix(15))") == true)
        #expect(error?.found.contains("(this one was deleted)") == true)
    }

    /// Valid recovery shares for a state that was altered on disk: the error blames the data directory, not the
    /// shares.
    @Test func recoveryOfAnAlteredStateSaysSo() async throws {
        let key = try #require(CoordinatorRecoveryTests.sharedKeys.first)
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        let result = try await coordinator.setManifest(TestManifests.standard(recoveryKeys: [key.name: key.publicPEM]))
        try await activate(coordinator, fixture)
        try fixture.setDiskRecord(try fixture.recordID("auditlog/entry/000000000001"), nil)

        let moved = try await fixture.withOtherSealingIdentity().start()
        let (secret, signature) = try key.decryptAndSign(try #require(result.recoverySecrets[key.name]))
        let error = await #expect(throws: CoordinatorError.self) { _ = try await moved.recover(secret: secret, signature: signature) }
        #expect(error?.reason == .storage)
        #expect(error?.found.hasPrefix("the sealed state was altered: the record whose identifier starts with") == true)
        #expect(error?.hint.contains("restore the whole data directory from one backup") == true)
    }

    @Test func unreadableActivationCounterStopsTheStartInsteadOfResettingIt() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        _ = try await coordinator.setManifest(TestManifests.standard(maxFrontend: 1))
        let marble = try TestMarble()
        _ = try await coordinator.activate(
            marble.request(type: "frontend", quote: try marble.quote(on: fixture.platform(TestMeasurements.frontend()))),
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

/// SQLite storage whose writes start failing after a set number, as when the disk fills up.
final class DiskFillingStorage: SealedStorageBackend {
    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "no space left on device (simulated by the test)" }
    }

    let underlying: SQLiteStorage
    private let writesLeft = Mutex<Int?>(nil)

    init(_ underlying: SQLiteStorage) { self.underlying = underlying }

    func failWrites(after count: Int) { writesLeft.withLock { $0 = count } }

    func read<T>(_ body: (any StorageReading) throws -> T) throws -> T { try underlying.read(body) }

    func write<T>(_ body: (any StorageWriting) throws -> T) throws -> T {
        let allowed = writesLeft.withLock { left -> Bool in
            guard let remaining = left else { return true }
            left = max(0, remaining - 1)
            return remaining > 0
        }
        guard allowed else { throw DiskFull() }
        return try underlying.write(body)
    }
}

@Suite struct DataKeyRotationAtomicityTests {
    /// A full update that changes the recovery keys replaces the data key. Whatever write fails, the state after a
    /// restart is the old one (the old recovery secret recovers it, with the old manifest) or the new one (the
    /// secret the update returned recovers it, with the new manifest), never the new key beside the old manifest.
    @Test(arguments: [0, 1])
    func updateChangingRecoveryKeysIsOldOrNewWhenWritesFail(writesBeforeFailure: Int) async throws {
        let keys = Array(CoordinatorRecoveryTests.sharedKeys.prefix(2))
        try #require(keys.count == 2)
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let admin = try TestUser(name: "admin")
        var configuration = try fixture.configuration()
        let storage = DiskFillingStorage(try SQLiteStorage(directory: fixture.dataDirectory))
        configuration.storage = storage
        let coordinator = try await Coordinator.start(configuration)
        let original = TestManifests.standard(users: [admin], recoveryKeys: [keys[0].name: keys[0].publicPEM])
        let first = try await coordinator.setManifest(original)
        let updated = TestManifests.standard(users: [admin], recoveryKeys: [keys[1].name: keys[1].publicPEM])

        storage.failWrites(after: writesBeforeFailure)
        let result = try? await coordinator.update(updated, clientCertificateDER: admin.certificateDER)

        let moved = try await fixture.withOtherSealingIdentity().start()
        #expect(moved.status().state == .recovery)
        if let newSecrets = result?.recoverySecrets {
            let (secret, signature) = try keys[1].decryptAndSign(try #require(newSecrets[keys[1].name]))
            _ = try await moved.recover(secret: secret, signature: signature)
            #expect(try await moved.signedManifest().manifest == updated)
        } else {
            let (secret, signature) = try keys[0].decryptAndSign(try #require(first.recoverySecrets[keys[0].name]))
            _ = try await moved.recover(secret: secret, signature: signature)
            #expect(try await moved.signedManifest().manifest == original)
        }
        #expect(moved.status().state == .acceptingMarbles)
    }
}
