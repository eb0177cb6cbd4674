import Crypto
import Foundation
import Testing

@testable import SealedStore

/// A scratch data directory that is removed when the test ends.
final class ScratchDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sealed-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

func openStore(_ directory: ScratchDirectory, _ sealingKey: SymmetricKey) throws -> SealedStore.OpenOutcome {
    try SealedStore.open(backend: SQLiteStorage(directory: directory.url), sealingKey: sealingKey)
}

func unlocked(_ outcome: SealedStore.OpenOutcome) throws -> SealedStore {
    switch outcome {
    case .created(let store), .opened(let store): return store
    case .sealedWithAnotherKey(let locked): throw SealedStoreError.dataKeyDoesNotOpenState(detail: locked.reason)
    }
}

@Suite("Sealed store")
struct SealedStoreTests {
    let sealingKey = SymmetricKey(size: .bits256)

    @Test("values survive a reopen with the same sealing key, and nothing is stored in the clear")
    func roundTrip() throws {
        let directory = try ScratchDirectory()
        do {
            guard case .created(let store) = try openStore(directory, sealingKey) else {
                Issue.record("a new directory must give .created")
                return
            }
            var change = StateChange()
            change.put("manifest", "very-secret-manifest-text")
            change.put("secret/a", Data([1, 2, 3]))
            change.put("secret/b", Data([4]))
            change.put("temporary", "x")
            change.delete("temporary")
            try store.commit(change)
        }
        guard case .opened(let store) = try openStore(directory, sealingKey) else {
            Issue.record("an existing store with the right key must give .opened")
            return
        }
        #expect(try store.value(forKey: "manifest") == Data("very-secret-manifest-text".utf8))
        #expect(try store.value(forKey: "temporary") == nil)
        #expect(try store.values(withPrefix: "secret/") == ["secret/a": Data([1, 2, 3]), "secret/b": Data([4])])

        let files = try FileManager.default.contentsOfDirectory(at: directory.url, includingPropertiesForKeys: nil)
        #expect(files.map(\.lastPathComponent).contains("state.sqlite"))
        for file in files {
            let permissions = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
            #expect(permissions == 0o600, "\(file.lastPathComponent) has mode \(String(permissions ?? 0, radix: 8))")
            let bytes = try Data(contentsOf: file)
            #expect(bytes.range(of: Data("very-secret-manifest-text".utf8)) == nil, "\(file.lastPathComponent)")
            #expect(bytes.range(of: Data("secret/a".utf8)) == nil, "\(file.lastPathComponent) shows a state key")
        }
    }

    @Test("the wrong sealing key gives a locked state, changes nothing, and the data key unlocks it")
    func wrongSealingKeyThenRecovery() throws {
        let directory = try ScratchDirectory()
        let original = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("rootSecret", Data(repeating: 7, count: 32))
        change.setRecoveryData(Data(#"{"shares":1}"#.utf8))
        try original.commit(change)
        let dataKey = original.dataKey

        let newMachineKey = SymmetricKey(size: .bits256)
        guard case .sealedWithAnotherKey(let locked) = try openStore(directory, newMachineKey) else {
            Issue.record("another sealing key must give .sealedWithAnotherKey")
            return
        }
        #expect(locked.reason.contains("does not open with this platform's sealing key"))
        #expect(locked.recoveryData == Data(#"{"shares":1}"#.utf8))
        // Looking at the state with the wrong key must not have harmed it.
        #expect(try unlocked(openStore(directory, sealingKey)).value(forKey: "rootSecret") == Data(repeating: 7, count: 32))

        #expect {
            try locked.unlock(dataKey: SymmetricKey(size: .bits256), resealingWith: newMachineKey)
        } throws: { error in
            "\(error)".hasPrefix("the offered data key does not open the sealed state: the state head does not authenticate")
        }
        let recovered = try locked.unlock(dataKey: dataKey, resealingWith: newMachineKey)
        #expect(try recovered.value(forKey: "rootSecret") == Data(repeating: 7, count: 32))
        guard case .opened(let reopened) = try openStore(directory, newMachineKey) else {
            Issue.record("after recovery the new sealing key must open the state")
            return
        }
        #expect(try reopened.value(forKey: "rootSecret") == Data(repeating: 7, count: 32))
    }

    @Test("a corrupted record is reported, naming the record and what failed")
    func corruptCiphertext() throws {
        let directory = try ScratchDirectory()
        let store = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("manifest", "{}")
        try store.commit(change)
        try store.backend.write { storage in
            let record = try #require(try storage.allRecords().first)
            var damaged = record.sealed
            damaged[damaged.count / 2] ^= 0x40
            try storage.setRecord(record.id, damaged)
        }
        #expect {
            try openStore(directory, sealingKey)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("sealed record ") && text.contains("bytes do not authenticate with AES-256-GCM under the data key")
                && text.contains("restore the data directory from a backup")
        }
        try store.backend.write { storage in
            let record = try #require(try storage.allRecords().first)
            try storage.setRecord(record.id, record.sealed.prefix(5))
        }
        #expect(throws: SealedStoreError.self) { try store.values() }
    }

    @Test("a corrupted sealed data key locks the state instead of losing it")
    func corruptSealedKey() throws {
        let directory = try ScratchDirectory()
        let store = try unlocked(openStore(directory, sealingKey))
        let dataKey = store.dataKey
        try store.backend.write { storage in
            try storage.setMetadata(SealedStore.sealedDataKeyName, Data("garbage".utf8))
        }
        guard case .sealedWithAnotherKey(let locked) = try openStore(directory, sealingKey) else {
            Issue.record("a damaged sealed key must lead to recovery")
            return
        }
        _ = try locked.unlock(dataKey: dataKey, resealingWith: sealingKey)
        guard case .opened = try openStore(directory, sealingKey) else {
            Issue.record("after unlocking, the store must open normally")
            return
        }
    }

    @Test("a failing transaction keeps nothing; a transaction sees its own writes")
    func transactionAtomicity() throws {
        struct Abort: Error {}
        let directory = try ScratchDirectory()
        let store = try unlocked(openStore(directory, sealingKey))
        var first = StateChange()
        first.put("counter", "1")
        try store.commit(first)
        #expect(throws: Abort.self) {
            try store.update { transaction in
                try transaction.put("counter", Data("2".utf8))
                try transaction.put("other", Data("x".utf8))
                #expect(try transaction.value(forKey: "counter") == Data("2".utf8))
                throw Abort()
            }
        }
        #expect(try store.value(forKey: "counter") == Data("1".utf8))
        #expect(try store.value(forKey: "other") == nil)
    }

    @Test("rotating the data key keeps the values and retires the old key")
    func rotation() throws {
        let directory = try ScratchDirectory()
        let store = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("a", "1")
        change.put("b", "2")
        try store.commit(change)
        let oldKey = store.dataKey
        let newKey = try store.rotateDataKey(sealingKey: sealingKey)
        #expect(newKey != oldKey && store.dataKey == newKey)
        #expect(try store.values() == ["a": Data("1".utf8), "b": Data("2".utf8)])
        var later = StateChange()
        later.put("c", "3")
        try store.commit(later)

        guard case .sealedWithAnotherKey(let locked) = try openStore(directory, SymmetricKey(size: .bits256)) else {
            Issue.record("expected a locked state")
            return
        }
        #expect(throws: SealedStoreError.self) { try locked.unlock(dataKey: oldKey, resealingWith: sealingKey) }
        #expect(try locked.unlock(dataKey: newKey, resealingWith: sealingKey).values().count == 3)
    }

    @Test("rotation can replace the recovery data in the same transaction, or keep everything when it fails")
    func rotationWithRecoveryData() throws {
        struct NoShares: Error {}
        let directory = try ScratchDirectory()
        let store = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("a", "1")
        change.setRecoveryData(Data("old shares".utf8))
        try store.commit(change)
        let oldKey = store.dataKey
        #expect(throws: NoShares.self) {
            try store.rotateDataKey(sealingKey: sealingKey) { _ in throw NoShares() }
        }
        #expect(store.dataKey == oldKey)
        #expect(try store.recoveryData() == Data("old shares".utf8))
        var seenKey: SymmetricKey?
        let newKey = try store.rotateDataKey(sealingKey: sealingKey) { key in
            seenKey = key
            return Data("new shares".utf8)
        }
        #expect(seenKey == newKey && store.dataKey == newKey)
        #expect(try store.recoveryData() == Data("new shares".utf8))
        #expect(try store.value(forKey: "a") == Data("1".utf8))
    }

    @Test("discarding a locked state starts empty under the new key")
    func discard() throws {
        let directory = try ScratchDirectory()
        let store = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("a", "1")
        change.setRecoveryData(Data("r".utf8))
        try store.commit(change)
        let newKey = SymmetricKey(size: .bits256)
        guard case .sealedWithAnotherKey(let locked) = try openStore(directory, newKey) else {
            Issue.record("expected a locked state")
            return
        }
        let fresh = try locked.discardAndStartEmpty(sealingKey: newKey)
        #expect(try fresh.values().isEmpty && fresh.recoveryData() == nil)
        guard case .opened = try openStore(directory, newKey) else {
            Issue.record("the new key must open the fresh state")
            return
        }
    }

    @Test("bad keys and bad state keys are refused with the sizes seen and expected")
    func badInput() throws {
        let directory = try ScratchDirectory()
        #expect {
            try openStore(directory, SymmetricKey(size: .bits128))
        } throws: { "\($0)" == "sealing key has 128 bits, expected 256 bits; pass an AES-256 SymmetricKey" }
        let store = try unlocked(openStore(directory, sealingKey))
        var change = StateChange()
        change.put("", "x")
        #expect {
            try store.commit(change)
        } throws: { "\($0)".hasPrefix("invalid state key '': it has 0 UTF-8 bytes") }
        #expect {
            try SQLiteStorage(path: "/proc/no-such-place/state.sqlite")
        } throws: { "\($0)".hasPrefix("sealed store opening SQLite database /proc/no-such-place/state.sqlite failed") }
    }
}
