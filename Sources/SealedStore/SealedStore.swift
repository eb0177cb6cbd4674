import Crypto
import Foundation
import Synchronization

/// The Coordinator's encrypted key/value state.
///
/// All values are encrypted with AES-256-GCM under a random data key; the data key is sealed with the platform
/// sealing key and stored beside them (see `StateCipher` for the formats). Every change is one backend
/// transaction, so a crash leaves either the old or the new state.
///
/// The state is authenticated as a whole, not only record by record: every transaction rewrites an encrypted head
/// (`StateHead`) holding a generation counter, the number of records and a keyed digest over all of them, updated
/// in O(1) per record written. Opening checks every record against it, so a record deleted, added, duplicated or
/// put back from an older copy, records of two copies mixed, or recovery data replaced, are reported as
/// ``SealedStoreError/stateDoesNotMatchHead(part:found:expected:)``. **Limit:** the whole data directory put back
/// to an older complete copy is a consistent state and cannot be told apart without a monotonic counter outside the
/// host's reach (MarbleRun has the same limit); keep the host from doing so, or compare ``generation`` with a value
/// kept elsewhere.
///
/// Open it with ``open(backend:sealingKey:)``. A store that was sealed by another platform key (a new machine, a
/// changed enclave, a lost key) is reported as ``OpenOutcome/sealedWithAnotherKey(_:)`` and left untouched; the
/// Coordinator then enters recovery mode and, with a data key reassembled from recovery shares, calls
/// ``LockedSealedState/unlock(dataKey:resealingWith:)``.
///
/// One process should own a store at a time; within it, the instance may be shared freely between tasks. A write
/// finding a head other than the one this instance wrote last fails, so another writer is noticed.
public final class SealedStore: Sendable {
    /// The longest record key, in UTF-8 bytes.
    public static let maximumKeyBytes = StateCipher.maximumKeyBytes

    static let formatName = "format"
    static let formatValue = Data("cloister-sealed-store-v2".utf8)
    static let previousFormats = [Data("cloister-sealed-store-v1".utf8)]
    static let sealedDataKeyName = "sealedDataKey"
    static let headName = "head"
    static let recoveryDataName = "recoveryData"

    public enum OpenOutcome: Sendable {
        /// There was no state: a new data key was created and sealed.
        case created(SealedStore)
        /// The existing state was unsealed with the sealing key and verified against its head.
        case opened(SealedStore)
        /// State exists but its data key does not unseal with this sealing key; nothing was changed.
        case sealedWithAnotherKey(LockedSealedState)
    }

    public let backend: any SealedStorageBackend
    /// The data key and the head this instance wrote (or verified) last.
    private let current: Mutex<(cipher: StateCipher, head: StateHead)>
    /// Guarded by `writer`.
    private let terms: RecordTerms
    /// Serializes writers from the head they read until the head they wrote is recorded in `current`.
    private let writer = NSLock()

    init(backend: any SealedStorageBackend, cipher: StateCipher, head: StateHead, terms: [Data: [UInt8]]) {
        self.backend = backend
        current = Mutex((cipher, head))
        self.terms = RecordTerms(terms)
    }

    /// Opens the state in `backend`, creating it when there is none.
    ///
    /// - Parameter sealingKey: the platform's 256-bit sealing key (for SGX, derived from the enclave's sealing
    ///   identity; in simulation, whatever the simulated platform provides).
    public static func open(
        backend: any SealedStorageBackend, sealingKey: SymmetricKey
    ) throws(SealedStoreError)
        -> OpenOutcome
    {
        enum Found {
            case created(StateCipher)
            case opened(StateCipher, StateHead, [Data: [UInt8]])
            case locked(sealedKey: Data, recoveryData: Data?)
        }
        let found: Found = try storageCall("opening the state") {
            try backend.write { storage throws -> Found in
                guard let format = try storage.metadata(formatName) else {
                    for name in [sealedDataKeyName, headName] where try storage.metadata(name) != nil {
                        throw SealedStoreError.corruptMetadata(
                            name: formatName, found: "no format marker beside an existing '\(name)'",
                            expected: "the marker written when the store was created (creating a new state here would "
                                + "overwrite the existing one)")
                    }
                    guard try storage.allRecords().isEmpty else {
                        throw SealedStoreError.corruptMetadata(
                            name: formatName, found: "no format marker beside existing records",
                            expected: "the marker written when the store was created"
                        )
                    }
                    let cipher = try StateCipher(dataKey: SymmetricKey(size: .bits256))
                    try storage.setMetadata(formatName, formatValue)
                    try storage.setMetadata(sealedDataKeyName, StateCipher.sealDataKey(cipher.dataKey, with: sealingKey))
                    try storage.setMetadata(headName, cipher.sealHead(.empty))
                    return .created(cipher)
                }
                guard format == formatValue else {
                    let name = "'\(String(decoding: format.prefix(64), as: UTF8.self))'"
                    let expected = "'\(String(decoding: formatValue, as: UTF8.self))'"
                    if previousFormats.contains(format) {
                        throw SealedStoreError.unsupportedFormat(found: name, expected: expected)
                    }
                    throw SealedStoreError.corruptMetadata(name: formatName, found: name, expected: expected)
                }
                let sealedKey = try requiredMetadata(sealedDataKeyName, storage)
                guard let dataKey = try StateCipher.unsealDataKey(sealedKey, with: sealingKey) else {
                    return .locked(sealedKey: sealedKey, recoveryData: try storage.metadata(recoveryDataName))
                }
                let cipher = try StateCipher(dataKey: dataKey)
                let verified = try StateVerification.verifiedHead(storage, cipher: cipher)
                return .opened(cipher, verified.head, verified.terms)
            }
        }
        switch found {
        case .created(let cipher): return .created(SealedStore(backend: backend, cipher: cipher, head: .empty, terms: [:]))
        case .opened(let cipher, let head, let terms):
            return .opened(SealedStore(backend: backend, cipher: cipher, head: head, terms: terms))
        case .locked(let sealedKey, let recoveryData):
            return .sealedWithAnotherKey(
                LockedSealedState(backend: backend, recoveryData: recoveryData, sealedDataKey: sealedKey)
            )
        }
    }

    /// The data key that encrypts the state; recovery splits it into shares for the recovery key holders.
    public var dataKey: SymmetricKey { current.withLock { $0.cipher.dataKey } }

    /// How many transactions the state has seen. It only grows; a value lower than one seen before means the whole
    /// data directory was put back to an older copy, which the store alone cannot detect.
    public var generation: UInt64 { current.withLock { $0.head.generation } }

    // MARK: Reading

    /// The value stored under `key`, or nil.
    ///
    /// Reads wait for a running write, so that what they find on disk and the digest terms they check it against
    /// belong to the same transaction.
    public func value(forKey key: String) throws(SealedStoreError) -> Data? {
        writer.lock()
        defer { writer.unlock() }
        let cipher = current.withLock { $0.cipher }
        return try Self.storageCall("reading '\(key)'") {
            try backend.read { storage in try StateTransaction.value(key, storage, cipher) { terms.table[$0] } }
        }
    }

    /// All keys and values whose key starts with `prefix` (all of them for the empty prefix).
    public func values(withPrefix prefix: String = "") throws(SealedStoreError) -> [String: Data] {
        writer.lock()
        defer { writer.unlock() }
        let cipher = current.withLock { $0.cipher }
        return try Self.storageCall("listing '\(prefix)*'") {
            try backend.read { storage in
                try StateTransaction.values(prefix, storage, cipher, expectedCount: terms.table.count) { terms.table[$0] }
            }
        }
    }

    /// The unencrypted recovery data stored with ``StateChange/setRecoveryData(_:)``.
    public func recoveryData() throws(SealedStoreError) -> Data? {
        try Self.storageCall("reading recovery data") {
            try backend.read { storage in try storage.metadata(Self.recoveryDataName) }
        }
    }

    /// Checks every record and the recovery data against the head, as opening does.
    public func verify() throws(SealedStoreError) {
        let (cipher, head) = current.withLock { ($0.cipher, $0.head) }
        try Self.storageCall("verifying the state") {
            try backend.read { storage in
                guard let sealed = try storage.metadata(Self.headName), cipher.openHead(sealed) == head else {
                    throw SealedStoreError.stateDoesNotMatchHead(
                        part: "the head", found: "another head than this process wrote last",
                        expected: "the head of transaction \(head.generation)")
                }
                try StateVerification.verify(storage, cipher: cipher, head: head)
            }
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
    /// it writes commits together with the new head when it returns, or not at all when it throws. Writers are
    /// serialized, so read-modify-write sequences (counters, hash chains) are safe. Besides what `body` does, a
    /// transaction reads and writes the head (a few dozen bytes) and reads each record it replaces.
    ///
    /// Errors are those `body` throws, or ``SealedStoreError`` for the store's own failures.
    public func update<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        try write(rotation: nil, body)
    }

    /// Like ``update(_:)``, and in the same transaction replaces the data key with a new random one: every record
    /// is re-encrypted, the new key sealed with `sealingKey`, and the recovery data replaced with what
    /// `recoveryData` makes for the new key (nil removes it). `body` then runs against the state under the new key.
    /// A crash leaves either the old key with the old state or the new key with the new state.
    ///
    /// Do this when the recovery keys or the sealing policy change, so that holders of old shares cannot open new
    /// state. `recoveryData` runs before the transaction; its errors are rethrown and nothing changes.
    public func update<T>(
        rotatingDataKeySealedWith sealingKey: SymmetricKey, recoveryData: (SymmetricKey) throws -> Data?,
        _ body: (StateTransaction) throws -> T
    ) throws -> T {
        let cipher = try StateCipher(dataKey: SymmetricKey(size: .bits256))
        let rotation = Rotation(
            cipher: cipher, sealedDataKey: try StateCipher.sealDataKey(cipher.dataKey, with: sealingKey),
            recoveryData: .some(try recoveryData(cipher.dataKey)))
        return try write(rotation: rotation, body)
    }

    /// Replaces the data key with a new random one, re-encrypting every record and re-sealing the key, all in one
    /// transaction; the recovery data stored beside the state is left as it is. Prefer
    /// ``rotateDataKey(sealingKey:recoveryData:)``, which replaces it in the same transaction.
    @discardableResult
    public func rotateDataKey(sealingKey: SymmetricKey) throws(SealedStoreError) -> SymmetricKey {
        let cipher = try StateCipher(dataKey: SymmetricKey(size: .bits256))
        let rotation = Rotation(
            cipher: cipher, sealedDataKey: try StateCipher.sealDataKey(cipher.dataKey, with: sealingKey),
            recoveryData: nil)
        do {
            try write(rotation: rotation) { _ in }
        } catch let error as SealedStoreError {
            throw error
        } catch {
            throw SealedStoreError.storage(operation: "rotating the data key", underlying: "\(error)", hint: "retry")
        }
        return cipher.dataKey
    }

    /// Replaces the data key like ``update(rotatingDataKeySealedWith:recoveryData:_:)`` with nothing else to write.
    @discardableResult
    public func rotateDataKey(
        sealingKey: SymmetricKey, recoveryData: (SymmetricKey) throws -> Data?
    ) throws
        -> SymmetricKey
    {
        try update(rotatingDataKeySealedWith: sealingKey, recoveryData: recoveryData) { _ in }
        return dataKey
    }

    /// A new data key to switch to within a write.
    private struct Rotation {
        let cipher: StateCipher
        let sealedDataKey: Data
        /// nil keeps the stored recovery data; `.some(nil)` removes it.
        let recoveryData: Data??
    }

    private func write<T>(rotation: Rotation?, _ body: (StateTransaction) throws -> T) throws -> T {
        writer.lock()
        defer { writer.unlock() }
        let (cipher, head) = current.withLock { ($0.cipher, $0.head) }
        let written: (result: T, cipher: StateCipher, head: StateHead, changedTerms: [Data: [UInt8]?])
        do {
            written = try backend.write { storage in
                let found = try storage.metadata(Self.headName).flatMap(cipher.openHead)
                guard found == head else {
                    throw SealedStoreError.stateDoesNotMatchHead(
                        part: "the head",
                        found: found.map { "the head of transaction \($0.generation)" }
                            ?? "no head that authenticates under the data key",
                        expected: "the head of transaction \(head.generation), which this process wrote last (another "
                            + "process wrote or replaced the data directory while this one ran)")
                }
                let generation = head.generation + 1
                var active = cipher
                let recordSet: RecordSetAccumulator
                if let rotation {
                    // Re-sealing authenticates whatever is on disk under the new head: check it is the set the
                    // current head records first, or records altered since opening would become part of the state.
                    try StateVerification.verify(storage, cipher: cipher, head: head)
                    recordSet = RecordSetAccumulator(.empty)
                    recordSet.recoveryDataDigest = head.recoveryDataDigest
                    for record in try storage.allRecords() {
                        let (key, _, value) = try cipher.open(id: record.id, sealed: record.sealed)
                        try storage.setRecord(record.id, nil)
                        let resealed = try rotation.cipher.seal(key: key, generation: generation, value: value)
                        try storage.setRecord(resealed.id, resealed.sealed)
                        recordSet.add(id: resealed.id, term: rotation.cipher.digestTerm(id: resealed.id, sealed: resealed.sealed))
                    }
                    try storage.setMetadata(Self.sealedDataKeyName, rotation.sealedDataKey)
                    active = rotation.cipher
                } else {
                    recordSet = RecordSetAccumulator(head, committedTerms: terms)
                }
                let transaction = StateTransaction(
                    storage: storage, cipher: active, generation: generation, recordSet: recordSet)
                if let recoveryData = rotation?.recoveryData { try transaction.setRecoveryData(recoveryData) }
                let result: T
                do {
                    result = try body(transaction)
                } catch {
                    throw BodyFailure(underlying: error)
                }
                let newHead = recordSet.head(generation: generation)
                try storage.setMetadata(Self.headName, active.sealHead(newHead))
                return (result, active, newHead, recordSet.changedTerms)
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
        if rotation != nil {
            terms.table = written.changedTerms.compactMapValues { $0 }
        } else {
            for (id, term) in written.changedTerms { terms.table[id] = term }
        }
        current.withLock { $0 = (written.cipher, written.head) }
        return written.result
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
