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
        try SealedStore.storageCall("reading '\(key)'") { try Self.value(key, storage, cipher, recordSet.term(of:)) }
    }

    public func values(withPrefix prefix: String = "") throws(SealedStoreError) -> [String: Data] {
        try SealedStore.storageCall("listing '\(prefix)*'") {
            try Self.values(prefix, storage, cipher, expectedCount: Int(recordSet.recordCount), recordSet.term(of:))
        }
    }

    /// Writes `value` under `key`: one point read of the record it replaces (to take its term out of the head's
    /// digest) and one write.
    public func put(_ key: String, _ value: Data) throws(SealedStoreError) {
        let record = try cipher.seal(key: key, generation: generation, value: value)
        try SealedStore.storageCall("writing '\(key)'") {
            if let replaced = try Self.checkedRecord(key, record.id, storage, cipher, recordSet.term(of:)) {
                recordSet.remove(id: record.id, term: replaced.term)
            }
            try storage.setRecord(record.id, record.sealed)
            recordSet.add(id: record.id, term: cipher.digestTerm(id: record.id, sealed: record.sealed))
        }
    }

    public func delete(_ key: String) throws(SealedStoreError) {
        let id = try cipher.recordID(for: key)
        try SealedStore.storageCall("deleting '\(key)'") {
            guard let deleted = try Self.checkedRecord(key, id, storage, cipher, recordSet.term(of:)) else { return }
            recordSet.remove(id: id, term: deleted.term)
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

    static func value(
        _ key: String, _ storage: any StorageReading, _ cipher: StateCipher, _ term: (Data) -> [UInt8]?
    ) throws -> Data? {
        let id = try cipher.recordID(for: key)
        guard let record = try checkedRecord(key, id, storage, cipher, term) else { return nil }
        return try cipher.open(id: id, sealed: record.sealed).value
    }

    static func values(
        _ prefix: String, _ storage: any StorageReading, _ cipher: StateCipher, expectedCount: Int,
        _ term: (Data) -> [UInt8]?
    ) throws -> [String: Data] {
        let records = try storage.allRecords()
        guard records.count == expectedCount else {
            throw SealedStoreError.stateDoesNotMatchHead(
                part: "the record set", found: "\(records.count) records",
                expected: "\(expectedCount) records, as this process wrote or verified them (the data directory was "
                    + "changed while the Coordinator ran)")
        }
        var values: [String: Data] = [:]
        for record in records {
            let (key, _, value) = try cipher.open(id: record.id, sealed: record.sealed)
            guard term(record.id) == cipher.digestTerm(id: record.id, sealed: record.sealed) else {
                throw changedWhileOpen(key)
            }
            if key.hasPrefix(prefix) { values[key] = value }
        }
        return values
    }

    /// The sealed record stored under `id` and its digest term, or nil when there is none, after checking that the
    /// disk holds exactly the record this process wrote or verified (the host may change the file at any time).
    static func checkedRecord(
        _ key: String, _ id: Data, _ storage: any StorageReading, _ cipher: StateCipher, _ term: (Data) -> [UInt8]?
    ) throws -> (sealed: Data, term: [UInt8])? {
        let found = try storage.record(id).map { (sealed: $0, term: cipher.digestTerm(id: id, sealed: $0)) }
        guard found?.term == term(id) else { throw changedWhileOpen(key) }
        return found
    }

    static func changedWhileOpen(_ key: String) -> SealedStoreError {
        .stateDoesNotMatchHead(
            part: "record '\(key)'", found: "another record than this process wrote or verified last (deleted, added or put back)",
            expected: "the record the current head counts (the data directory was changed while the Coordinator ran; "
                + "restart it to check the whole state, or restore the data directory from one backup)")
    }
}
