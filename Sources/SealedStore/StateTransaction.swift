import Foundation

/// The view of the state inside one ``SealedStore/update(_:)`` transaction. Reads see the transaction's own
/// writes; writes become visible to others only when the transaction commits. Do not keep it beyond the closure.
public struct StateTransaction {
    let storage: any StorageWriting
    let cipher: StateCipher
    /// The generation the transaction's head will carry; every record it writes carries it too.
    let generation: UInt64
    let recordSet: RecordSetAccumulator

    public func value(forKey key: String) throws(SealedStoreError) -> Data? {
        try SealedStore.storageCall("reading '\(key)'") { try Self.value(key, storage, cipher) }
    }

    public func values(withPrefix prefix: String = "") throws(SealedStoreError) -> [String: Data] {
        try SealedStore.storageCall("listing '\(prefix)*'") { try Self.values(prefix, storage, cipher) }
    }

    /// Writes `value` under `key`: one point read of the record it replaces (to take its term out of the head's
    /// digest) and one write.
    public func put(_ key: String, _ value: Data) throws(SealedStoreError) {
        let record = try cipher.seal(key: key, generation: generation, value: value)
        try SealedStore.storageCall("writing '\(key)'") {
            if let replaced = try storage.record(record.id) {
                recordSet.remove(id: record.id, term: cipher.digestTerm(id: record.id, sealed: replaced))
            }
            try storage.setRecord(record.id, record.sealed)
            recordSet.add(id: record.id, term: cipher.digestTerm(id: record.id, sealed: record.sealed))
        }
    }

    public func delete(_ key: String) throws(SealedStoreError) {
        let id = try cipher.recordID(for: key)
        try SealedStore.storageCall("deleting '\(key)'") {
            guard let deleted = try storage.record(id) else { return }
            recordSet.remove(id: id, term: cipher.digestTerm(id: id, sealed: deleted))
            try storage.setRecord(id, nil)
        }
    }

    /// Applies every operation of `change`, and its recovery data update if any.
    public func apply(_ change: StateChange) throws(SealedStoreError) {
        for (key, operation) in change.operations {
            switch operation {
            case .put(let value): try put(key, value)
            case .delete: try delete(key)
            }
        }
        switch change.recoveryData {
        case nil: break
        case .set(let data): try setRecoveryData(data)
        case .remove: try setRecoveryData(nil)
        }
    }

    func setRecoveryData(_ data: Data?) throws(SealedStoreError) {
        try SealedStore.storageCall(data == nil ? "removing recovery data" : "writing recovery data") {
            try storage.setMetadata(SealedStore.recoveryDataName, data)
        }
        recordSet.recoveryDataDigest = StateHead.recoveryDigest(data)
    }

    static func value(_ key: String, _ storage: any StorageReading, _ cipher: StateCipher) throws -> Data? {
        let id = try cipher.recordID(for: key)
        guard let sealed = try storage.record(id) else { return nil }
        return try cipher.open(id: id, sealed: sealed).value
    }

    static func values(_ prefix: String, _ storage: any StorageReading, _ cipher: StateCipher) throws -> [String: Data] {
        var values: [String: Data] = [:]
        for record in try storage.allRecords() {
            let (key, _, value) = try cipher.open(id: record.id, sealed: record.sealed)
            if key.hasPrefix(prefix) { values[key] = value }
        }
        return values
    }
}
