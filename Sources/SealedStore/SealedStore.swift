import Crypto
import Foundation
import Synchronization

/// The Coordinator's encrypted key/value state.
///
/// All values are encrypted with AES-256-GCM under a random data key; the data key is sealed with the platform
/// sealing key and stored beside them (see `StateCipher` for the formats). Every change is one backend
/// transaction, so a crash leaves either the old or the new state.
///
/// Open it with ``open(backend:sealingKey:)``. A store that was sealed by another platform key (a new machine, a
/// changed enclave, a lost key) is reported as ``OpenOutcome/sealedWithAnotherKey(_:)`` and left untouched; the
/// Coordinator then enters recovery mode and, with a data key reassembled from recovery shares, calls
/// ``LockedSealedState/unlock(dataKey:resealingWith:)``.
///
/// One process should own a store at a time; within it, the instance may be shared freely between tasks.
public final class SealedStore: Sendable {
    static let formatName = "format"
    static let formatValue = Data("cloister-sealed-store-v1".utf8)
    static let sealedDataKeyName = "sealedDataKey"
    static let keyCheckName = "keyCheck"
    static let recoveryDataName = "recoveryData"

    public enum OpenOutcome: Sendable {
        /// There was no state: a new data key was created and sealed.
        case created(SealedStore)
        /// The existing state was unsealed with the sealing key.
        case opened(SealedStore)
        /// State exists but its data key does not unseal with this sealing key; nothing was changed.
        case sealedWithAnotherKey(LockedSealedState)
    }

    public let backend: any SealedStorageBackend
    private let cipher: Mutex<StateCipher>

    init(backend: any SealedStorageBackend, cipher: StateCipher) {
        self.backend = backend
        self.cipher = Mutex(cipher)
    }

    /// Opens the state in `backend`, creating it when there is none.
    ///
    /// - Parameter sealingKey: the platform's 256-bit sealing key (for SGX, derived from the enclave's sealing
    ///   identity; in simulation, whatever the simulated platform provides).
    public static func open(backend: any SealedStorageBackend, sealingKey: SymmetricKey) throws(SealedStoreError)
        -> OpenOutcome
    {
        enum Found {
            case created(StateCipher)
            case opened(StateCipher)
            case locked(sealedKey: Data, keyCheck: Data, recoveryData: Data?)
        }
        let found: Found = try storageCall("opening the state") {
            try backend.write { storage throws -> Found in
                guard let format = try storage.metadata(formatName) else {
                    guard try storage.allRecords().isEmpty else {
                        throw SealedStoreError.corruptMetadata(
                            name: formatName, found: "no format marker beside existing records",
                            expected: "the marker written when the store was created"
                        )
                    }
                    let cipher = try StateCipher(dataKey: SymmetricKey(size: .bits256))
                    try storage.setMetadata(formatName, formatValue)
                    try storage.setMetadata(sealedDataKeyName, StateCipher.sealDataKey(cipher.dataKey, with: sealingKey))
                    try storage.setMetadata(keyCheckName, cipher.keyCheck())
                    return .created(cipher)
                }
                guard format == formatValue else {
                    throw SealedStoreError.corruptMetadata(
                        name: formatName,
                        found: "'\(String(decoding: format.prefix(64), as: UTF8.self))'",
                        expected: "'\(String(decoding: formatValue, as: UTF8.self))'"
                    )
                }
                let sealedKey = try requiredMetadata(sealedDataKeyName, storage)
                let keyCheck = try requiredMetadata(keyCheckName, storage)
                guard let dataKey = try StateCipher.unsealDataKey(sealedKey, with: sealingKey) else {
                    return .locked(
                        sealedKey: sealedKey, keyCheck: keyCheck, recoveryData: try storage.metadata(recoveryDataName)
                    )
                }
                let cipher = try StateCipher(dataKey: dataKey)
                guard cipher.verifies(keyCheck: keyCheck) else {
                    throw SealedStoreError.corruptMetadata(
                        name: keyCheckName, found: "a key check that the unsealed data key does not open",
                        expected: "the key check written with the data key"
                    )
                }
                return .opened(cipher)
            }
        }
        switch found {
        case .created(let cipher): return .created(SealedStore(backend: backend, cipher: cipher))
        case .opened(let cipher): return .opened(SealedStore(backend: backend, cipher: cipher))
        case .locked(let sealedKey, let keyCheck, let recoveryData):
            return .sealedWithAnotherKey(
                LockedSealedState(
                    backend: backend, recoveryData: recoveryData, sealedDataKey: sealedKey, keyCheck: keyCheck
                )
            )
        }
    }

    /// The data key that encrypts the state; recovery splits it into shares for the recovery key holders.
    public var dataKey: SymmetricKey { cipher.withLock { $0.dataKey } }

    // MARK: Reading

    /// The value stored under `key`, or nil.
    public func value(forKey key: String) throws(SealedStoreError) -> Data? {
        let cipher = self.cipher.withLock { $0 }
        return try Self.storageCall("reading '\(key)'") {
            try backend.read { storage in try StateTransaction.value(key, storage, cipher) }
        }
    }

    /// All keys and values whose key starts with `prefix` (all of them for the empty prefix).
    public func values(withPrefix prefix: String = "") throws(SealedStoreError) -> [String: Data] {
        let cipher = self.cipher.withLock { $0 }
        return try Self.storageCall("listing '\(prefix)*'") {
            try backend.read { storage in try StateTransaction.values(prefix, storage, cipher) }
        }
    }

    /// The unencrypted recovery data stored with ``StateChange/setRecoveryData(_:)``.
    public func recoveryData() throws(SealedStoreError) -> Data? {
        try Self.storageCall("reading recovery data") {
            try backend.read { storage in try storage.metadata(Self.recoveryDataName) }
        }
    }

    // MARK: Writing

    /// Applies `change` in one transaction.
    public func commit(_ change: StateChange) throws(SealedStoreError) {
        do {
            try update { transaction in try transaction.apply(change) }
        } catch let error as SealedStoreError {
            throw error
        } catch {
            throw SealedStoreError.storage(operation: "committing a change", underlying: "\(error)", hint: "retry")
        }
    }

    /// Runs `body` in one write transaction: it reads the current state, including its own writes, and whatever
    /// it writes commits together when it returns, or not at all when it throws. Writers are serialized, so
    /// read-modify-write sequences (counters, hash chains) are safe.
    ///
    /// Errors are those `body` throws, or ``SealedStoreError`` for the store's own failures.
    public func update<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        do {
            return try backend.write { storage in
                // The cipher is read inside the transaction: writers are serialized, so this sees a data key
                // rotation that committed before this transaction began.
                let transaction = StateTransaction(storage: storage, cipher: cipher.withLock { $0 })
                do {
                    return try body(transaction)
                } catch {
                    throw BodyFailure(underlying: error)
                }
            }
        } catch let failure as BodyFailure {
            throw failure.underlying
        } catch let error as SealedStoreError {
            throw error
        } catch {
            throw SealedStoreError.storage(
                operation: "write transaction", underlying: "\(error)",
                hint: "check disk space and permissions of the data directory, then retry"
            )
        }
    }

    /// Replaces the data key with a new random one, re-encrypting every record and re-sealing the key, all in one
    /// transaction. Do this when the recovery keys change, so that holders of old shares cannot open new state;
    /// then split the returned key into new shares.
    ///
    /// The recovery data stored beside the state is left as it is; prefer
    /// ``rotateDataKey(sealingKey:recoveryData:)``, which replaces it in the same transaction.
    @discardableResult
    public func rotateDataKey(sealingKey: SymmetricKey) throws(SealedStoreError) -> SymmetricKey {
        try rotate(to: StateCipher(dataKey: SymmetricKey(size: .bits256)), sealingKey: sealingKey, recoveryData: nil)
    }

    /// Replaces the data key like ``rotateDataKey(sealingKey:)`` and, in the same transaction, the recovery data
    /// with what `recoveryData` makes for the new key (the hashes of its new recovery shares), so that a crash
    /// cannot leave a new data key beside the recovery data of the old one. `recoveryData` runs before the
    /// transaction; its errors are rethrown and nothing changes. Returning nil removes the recovery data.
    @discardableResult
    public func rotateDataKey(sealingKey: SymmetricKey, recoveryData: (SymmetricKey) throws -> Data?) throws
        -> SymmetricKey
    {
        let newCipher = try StateCipher(dataKey: SymmetricKey(size: .bits256))
        let data = try recoveryData(newCipher.dataKey)
        return try rotate(to: newCipher, sealingKey: sealingKey, recoveryData: .some(data))
    }

    /// - Parameter recoveryData: nil keeps the stored recovery data; `.some(nil)` removes it.
    private func rotate(to newCipher: StateCipher, sealingKey: SymmetricKey, recoveryData: Data??)
        throws(SealedStoreError) -> SymmetricKey
    {
        var replacedCipher: StateCipher?
        do {
            try rotate(to: newCipher, sealingKey: sealingKey, recoveryData: recoveryData, replaced: &replacedCipher)
        } catch {
            if let replacedCipher { cipher.withLock { $0 = replacedCipher } }
            throw error
        }
        return newCipher.dataKey
    }

    private func rotate(
        to newCipher: StateCipher, sealingKey: SymmetricKey, recoveryData: Data??, replaced: inout StateCipher?
    ) throws(SealedStoreError) {
        try Self.storageCall("rotating the data key") {
            try backend.write { storage in
                let oldCipher = cipher.withLock { $0 }
                let records = try storage.allRecords()
                for record in records {
                    let (key, value) = try oldCipher.open(id: record.id, sealed: record.sealed)
                    try storage.setRecord(record.id, nil)
                    let resealed = try newCipher.seal(key: key, value: value)
                    try storage.setRecord(resealed.id, resealed.sealed)
                }
                try storage.setMetadata(Self.sealedDataKeyName, StateCipher.sealDataKey(newCipher.dataKey, with: sealingKey))
                try storage.setMetadata(Self.keyCheckName, newCipher.keyCheck())
                if let recoveryData { try storage.setMetadata(Self.recoveryDataName, recoveryData) }
                cipher.withLock { $0 = newCipher }
                replaced = oldCipher
            }
        }
    }

    // MARK: Helpers

    /// Carries an error thrown by the caller's transaction body through the backend unchanged.
    private struct BodyFailure: Error {
        let underlying: any Error
    }

    static func requiredMetadata(_ name: String, _ storage: any StorageReading) throws -> Data {
        guard let value = try storage.metadata(name) else {
            throw SealedStoreError.corruptMetadata(name: name, found: "nothing", expected: "a value written at creation")
        }
        return value
    }

    static func storageCall<T>(_ operation: String, _ body: () throws -> T) throws(SealedStoreError) -> T {
        do {
            return try body()
        } catch let error as SealedStoreError {
            throw error
        } catch {
            throw SealedStoreError.storage(
                operation: operation, underlying: "\(error)",
                hint: "check that the data directory is readable and writable and not full, then retry"
            )
        }
    }
}
