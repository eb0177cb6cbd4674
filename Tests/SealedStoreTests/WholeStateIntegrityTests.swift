import Crypto
import Foundation
import Testing

@testable import SealedStore

/// Everything a host can copy out of (and put back into) a data directory, row by row.
struct RawCopy {
    var metadata: [String: Data]
    var records: [Data: Data]

    static let metadataNames = [
        SealedStore.formatName, SealedStore.sealedDataKeyName, SealedStore.headName, SealedStore.recoveryDataName,
    ]

    init(_ backend: any SealedStorageBackend) throws {
        (metadata, records) = try backend.read { storage in
            var metadata: [String: Data] = [:]
            for name in Self.metadataNames { metadata[name] = try storage.metadata(name) }
            return (metadata, Dictionary(uniqueKeysWithValues: try storage.allRecords().map { ($0.id, $0.sealed) }))
        }
    }

    func restore(into backend: any SealedStorageBackend) throws {
        try backend.write { storage in
            for record in try storage.allRecords() { try storage.setRecord(record.id, nil) }
            for (id, sealed) in records { try storage.setRecord(id, sealed) }
            for name in Self.metadataNames { try storage.setMetadata(name, metadata[name]) }
        }
    }
}

/// The parts of a ``SealedStoreError/stateDoesNotMatchHead(part:found:expected:)``, or nil for any other outcome.
func headMismatch(_ body: () throws -> Void) -> (part: String, found: String, expected: String)? {
    do {
        try body()
        return nil
    } catch SealedStoreError.stateDoesNotMatchHead(let part, let found, let expected) {
        return (part, found, expected)
    } catch {
        return nil
    }
}

@Suite("Sealed store: the state is authenticated as a whole")
struct WholeStateIntegrityTests {
    let sealingKey = SymmetricKey(size: .bits256)

    /// A store with three records written in three transactions, and the identifier of each key's record.
    func populated(_ directory: ScratchDirectory) throws -> (store: SealedStore, ids: [String: Data]) {
        let store = try unlocked(openStore(directory, sealingKey))
        for (key, value) in [("coordinator/core", "core-1"), ("coordinator/activations/web", "1"), ("audit/0", "a")] {
            var change = StateChange()
            change.put(key, value)
            try store.commit(change)
        }
        let cipher = try StateCipher(dataKey: store.dataKey)
        var ids: [String: Data] = [:]
        for key in ["coordinator/core", "coordinator/activations/web", "audit/0"] { ids[key] = try cipher.recordID(for: key) }
        return (store, ids)
    }

    func reopen(_ directory: ScratchDirectory) throws {
        _ = try unlocked(openStore(directory, sealingKey))
    }

    @Test("an intact state opens, and each transaction advances the generation")
    func intactStateOpens() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        #expect(store.generation == 3)
        try store.verify()
        guard case .opened(let reopened) = try openStore(directory, sealingKey) else {
            Issue.record("an intact state must open")
            return
        }
        #expect(reopened.generation == 3)
        #expect(try reopened.values().count == 3)
    }

    @Test("a deleted record is detected on open and counted")
    func deletedRecord() throws {
        let directory = try ScratchDirectory()
        let (store, ids) = try populated(directory)
        try store.backend.write { storage in try storage.setRecord(ids["coordinator/activations/web"]!, nil) }
        let mismatch = try #require(headMismatch { try reopen(directory) })
        let label = StateCipher.label(ids["coordinator/activations/web"]!)
        #expect(mismatch.part == "the record whose identifier starts with \(label.prefix(15))")
        #expect(mismatch.found == "2 records, without it")
        #expect(mismatch.expected == "3 records as of transaction 3 (this one was deleted)")
        #expect(headMismatch { try store.verify() } != nil)
    }

    @Test("a record put back from an older copy (an activation counter rolled back) is detected")
    func rolledBackRecord() throws {
        let directory = try ScratchDirectory()
        let (store, ids) = try populated(directory)
        let counterID = try #require(ids["coordinator/activations/web"])
        let old = try RawCopy(store.backend).records[counterID]
        var change = StateChange()
        change.put("coordinator/activations/web", "2")
        try store.commit(change)
        try store.backend.write { storage in try storage.setRecord(counterID, old) }
        #expect(
            headMismatch { _ = try store.value(forKey: "coordinator/activations/web") }?.part == "record 'coordinator/activations/web'",
            "the running store notices at once")
        let mismatch = try #require(headMismatch { try reopen(directory) })
        #expect(mismatch.part == "record 'coordinator/activations/web'")
        #expect(mismatch.found == "the value written by transaction 2")
        #expect(mismatch.expected.contains("this one was put back from an older copy of the state"))
        let description = "\(SealedStoreError.stateDoesNotMatchHead(part: mismatch.part, found: mismatch.found, expected: mismatch.expected))"
        #expect(description.contains("Restore the whole data directory from one backup"))
    }

    @Test("a deleted record brought back is detected as added")
    func resurrectedRecord() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        let before = try RawCopy(store.backend)
        var change = StateChange()
        change.put("user/removed", "bob")
        try store.commit(change)
        let withUser = try RawCopy(store.backend)
        var removal = StateChange()
        removal.delete("user/removed")
        try store.commit(removal)
        let (id, sealed) = try #require(withUser.records.first { before.records[$0.key] == nil })
        try store.backend.write { storage in try storage.setRecord(id, sealed) }
        let mismatch = try #require(headMismatch { try reopen(directory) })
        #expect(mismatch.part == "record 'user/removed'")
        #expect(mismatch.found == "a record, written by transaction 4, that the head does not count")
        #expect(mismatch.expected.hasSuffix("(this one was added or brought back after its deletion)"))
    }

    @Test("several records put back at once are detected, without a name")
    func severalRolledBack() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        let earlier = try RawCopy(store.backend)
        var change = StateChange()
        change.put("coordinator/core", "core-2")
        change.put("coordinator/activations/web", "2")
        try store.commit(change)
        var mixed = try RawCopy(store.backend)
        mixed.records = earlier.records
        try mixed.restore(into: store.backend)
        let mismatch = try #require(headMismatch { try reopen(directory) })
        #expect(mismatch.part == "the record set")
        #expect(mismatch.found == "3 records whose digest differs from the head's")
        #expect(mismatch.expected.contains("a record was put back from an older copy of the state"))
    }

    @Test("records of two copies mixed: a record from the later copy is named")
    func mixedCopies() throws {
        let directory = try ScratchDirectory()
        let (store, ids) = try populated(directory)
        let earlier = try RawCopy(store.backend)
        var change = StateChange()
        change.put("coordinator/core", "core-2")
        try store.commit(change)
        let later = try RawCopy(store.backend)
        var mixed = earlier
        let coreID = try #require(ids["coordinator/core"])
        mixed.records[coreID] = later.records[coreID]
        try mixed.restore(into: store.backend)
        let mismatch = try #require(headMismatch { try reopen(directory) })
        #expect(mismatch.part == "record 'coordinator/core'")
        #expect(mismatch.found == "a value written by transaction 4")
        #expect(mismatch.expected.hasPrefix("at most transaction 3"))
    }

    @Test("a ciphertext moved or copied to another record's identifier does not authenticate")
    func movedRecord() throws {
        let directory = try ScratchDirectory()
        let (store, ids) = try populated(directory)
        let copy = try RawCopy(store.backend)
        let coreID = try #require(ids["coordinator/core"])
        let counterID = try #require(ids["coordinator/activations/web"])
        try store.backend.write { storage in try storage.setRecord(counterID, copy.records[coreID]) }
        #expect(headMismatch { _ = try store.value(forKey: "coordinator/activations/web") }?.part == "record 'coordinator/activations/web'")
        #expect {
            try reopen(directory)
        } throws: { error in
            guard case SealedStoreError.corruptRecord(let recordID, _) = error else { return false }
            return recordID == StateCipher.label(counterID)
        }
    }

    @Test("recovery data put back from an older copy is detected")
    func rolledBackRecoveryData() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        var first = StateChange()
        first.setRecoveryData(Data("shares of key 1".utf8))
        try store.commit(first)
        var second = StateChange()
        second.setRecoveryData(Data("shares of key 2".utf8))
        try store.commit(second)
        try store.backend.write { storage in
            try storage.setMetadata(SealedStore.recoveryDataName, Data("shares of key 1".utf8))
        }
        let mismatch = try #require(headMismatch { try reopen(directory) })
        #expect(mismatch.part == "the recovery data")
    }

    @Test("a missing head, or a head from another data key, is named")
    func replacedHead() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        let copy = try RawCopy(store.backend)
        try store.backend.write { storage in try storage.setMetadata(SealedStore.headName, nil) }
        #expect(headMismatch { try reopen(directory) }?.found == "no head")
        try store.backend.write { storage in
            try storage.setMetadata(SealedStore.headName, copy.metadata[SealedStore.headName]!.dropFirst(2))
        }
        #expect(headMismatch { try reopen(directory) }?.found.hasSuffix("do not authenticate under the unsealed data key") == true)
    }

    @Test("a write notices another process that changed the head while this one ran")
    func concurrentWriterNoticed() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        let other = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("audit/1", "b")
        try other.commit(change)
        let mismatch = try #require(headMismatch { try store.commit(change) })
        #expect(mismatch.part == "the head")
        #expect(mismatch.found == "the head of transaction 4")
        #expect(mismatch.expected.contains("another process wrote or replaced the data directory"))
    }

    @Test("the documented limit: a whole older copy put back opens, with its lower generation")
    func wholeCopyRollbackIsTheDocumentedLimit() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        let earlier = try RawCopy(store.backend)
        var change = StateChange()
        change.put("coordinator/activations/web", "2")
        try store.commit(change)
        try earlier.restore(into: store.backend)
        guard case .opened(let reopened) = try openStore(directory, sealingKey) else {
            Issue.record("a consistent older copy opens")
            return
        }
        #expect(reopened.generation == 3)
    }

    @Test("a record put back while the store is open is refused by the next data-key rotation, not re-sealed")
    func rotationRefusesARecordAlteredWhileOpen() throws {
        let directory = try ScratchDirectory()
        let (store, ids) = try populated(directory)
        let older = try RawCopy(store.backend)
        var change = StateChange()
        change.put("coordinator/activations/web", "2")
        try store.commit(change)
        let counter = try #require(ids["coordinator/activations/web"])
        try store.backend.write { storage in try storage.setRecord(counter, older.records[counter]) }

        let mismatch = headMismatch {
            try store.update(rotatingDataKeySealedWith: sealingKey, recoveryData: { _ in nil }) { _ in }
        }
        #expect(mismatch?.part == "record 'coordinator/activations/web'")
        #expect(headMismatch { try reopen(directory) }?.part == "record 'coordinator/activations/web'")
    }

    @Test("a record put back or deleted while the store is open is refused by the next read or write of it")
    func readsAndWritesRefuseARecordAlteredWhileOpen() throws {
        let directory = try ScratchDirectory()
        let (store, ids) = try populated(directory)
        let older = try RawCopy(store.backend)
        var change = StateChange()
        change.put("coordinator/activations/web", "2")
        try store.commit(change)
        let counter = try #require(ids["coordinator/activations/web"])
        let current = try RawCopy(store.backend)
        try store.backend.write { storage in try storage.setRecord(counter, older.records[counter]) }

        #expect(headMismatch { _ = try store.value(forKey: "coordinator/activations/web") }?.part == "record 'coordinator/activations/web'")
        #expect(headMismatch { _ = try store.values() }?.part == "record 'coordinator/activations/web'")
        #expect(headMismatch { try store.update { try $0.put("coordinator/activations/web", Data("3".utf8)) } } != nil)
        #expect(try store.value(forKey: "coordinator/core") == Data("core-1".utf8), "untouched records still read")

        try store.backend.write { storage in try storage.setRecord(counter, current.records[counter]) }
        #expect(try store.value(forKey: "coordinator/activations/web") == Data("2".utf8))
        let audit = try #require(ids["audit/0"])
        try store.backend.write { storage in try storage.setRecord(audit, nil) }
        #expect(headMismatch { _ = try store.value(forKey: "audit/0") }?.part == "record 'audit/0'")
        #expect(headMismatch { _ = try store.values(withPrefix: "coordinator/") }?.part == "the record set")
        #expect(headMismatch { try store.update { try $0.delete("audit/0") } } != nil)
    }

    @Test("a state whose format marker and records were deleted is refused, not silently created anew")
    func missingFormatMarkerBesideASealedKeyIsRefused() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        try store.backend.write { storage in
            for record in try storage.allRecords() { try storage.setRecord(record.id, nil) }
            try storage.setMetadata(SealedStore.formatName, nil)
        }
        #expect {
            try openStore(directory, sealingKey)
        } throws: { error in
            guard case SealedStoreError.corruptMetadata(let name, let found, _) = error else { return false }
            return name == SealedStore.formatName && found.contains("sealedDataKey")
        }
    }

    @Test("rotation and a change in one transaction; the rotated state verifies")
    func rotationWithChange() throws {
        struct Refused: Error {}
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        let oldKey = store.dataKey
        #expect(throws: Refused.self) {
            try store.update(rotatingDataKeySealedWith: sealingKey, recoveryData: { _ in Data("new".utf8) }) { transaction in
                try transaction.put("coordinator/core", Data("core-2".utf8))
                throw Refused()
            }
        }
        #expect(store.dataKey == oldKey)
        #expect(try store.value(forKey: "coordinator/core") == Data("core-1".utf8))
        #expect(try store.recoveryData() == nil)
        try store.update(rotatingDataKeySealedWith: sealingKey, recoveryData: { _ in Data("new".utf8) }) { transaction in
            try transaction.put("coordinator/core", Data("core-2".utf8))
        }
        #expect(store.dataKey != oldKey)
        guard case .opened(let reopened) = try openStore(directory, sealingKey) else {
            Issue.record("the rotated state must open")
            return
        }
        #expect(try reopened.value(forKey: "coordinator/core") == Data("core-2".utf8))
        #expect(try reopened.recoveryData() == Data("new".utf8))
        #expect(reopened.generation == 4)
    }

    @Test("a store of the previous format is refused with what to do")
    func previousFormatRefused() throws {
        let directory = try ScratchDirectory()
        let (store, _) = try populated(directory)
        try store.backend.write { storage in
            try storage.setMetadata(SealedStore.formatName, Data("cloister-sealed-store-v1".utf8))
        }
        #expect {
            try reopen(directory)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(
                "the data directory holds a sealed store of format 'cloister-sealed-store-v1', expected "
                    + "'cloister-sealed-store-v2'") && text.contains("start with an empty data directory")
        }
    }
}
