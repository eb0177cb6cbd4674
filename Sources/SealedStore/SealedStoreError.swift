/// Failures of the sealed state store. Opening with the wrong sealing key is *not* an error: it is the
/// ``SealedStore/OpenOutcome/sealedWithAnotherKey(_:)`` outcome, which leads to recovery.
public enum SealedStoreError: Error, Equatable, CustomStringConvertible {
    /// The storage backend (SQLite, ...) failed.
    case storage(operation: String, underlying: String, hint: String)
    /// A key of the wrong size was passed in.
    case invalidKeySize(what: String, found: Int, expected: Int)
    /// An encrypted record does not authenticate under the data key: it was altered, truncated or copied in from
    /// another store.
    case corruptRecord(recordID: String, detail: String)
    /// Store metadata (format marker, sealed data key, key check) is missing or malformed.
    case corruptMetadata(name: String, found: String, expected: String)
    /// A data key offered for unlocking (from recovery) does not open this store.
    case dataKeyDoesNotOpenState(detail: String)
    /// A state key is empty or too long.
    case invalidStateKey(key: String, reason: String)

    public var description: String {
        switch self {
        case .storage(let operation, let underlying, let hint):
            "sealed store \(operation) failed: \(underlying); \(hint)"
        case .invalidKeySize(let what, let found, let expected):
            "\(what) has \(found) bits, expected \(expected) bits; pass an AES-256 SymmetricKey"
        case .corruptRecord(let recordID, let detail):
            "sealed record \(recordID) is corrupt: \(detail); the state was altered or damaged on disk, restore the "
                + "data directory from a backup"
        case .corruptMetadata(let name, let found, let expected):
            "sealed store metadata '\(name)' is corrupt: found \(found), expected \(expected); restore the data "
                + "directory from a backup"
        case .dataKeyDoesNotOpenState(let detail):
            "the offered data key does not open the sealed state: \(detail); check that the recovery shares belong "
                + "to this Coordinator's current state"
        case .invalidStateKey(let key, let reason):
            "invalid state key '\(key.prefix(80))': \(reason); use a non-empty key of at most 1024 UTF-8 bytes"
        }
    }
}
