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
    /// Store metadata (format marker, sealed data key) is missing or malformed.
    case corruptMetadata(name: String, found: String, expected: String)
    /// A data key offered for unlocking (from recovery) does not open this store.
    case dataKeyDoesNotOpenState(detail: String)
    /// A state key is empty or too long.
    case invalidStateKey(key: String, reason: String)
    /// The records, the recovery data or the head do not form the state the authenticated head describes: a record
    /// was deleted, added or put back from an older copy, copies of the state were mixed, or another process wrote
    /// the data directory. `part` names the record (its state key when it can be decrypted, else its identifier),
    /// the record set, the recovery data or the head.
    case stateDoesNotMatchHead(part: String, found: String, expected: String)
    /// The data directory holds a store of another format version.
    case unsupportedFormat(found: String, expected: String)

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
        case .stateDoesNotMatchHead(let part, let found, let expected):
            "the sealed state was altered: \(part): found \(found), expected \(expected); the data directory was "
                + "changed outside Cloister or assembled from two copies. Restore the whole data directory from one "
                + "backup (never single files), or move it away and start with an empty one (then set the manifest "
                + "again)"
        case .unsupportedFormat(let found, let expected):
            "the data directory holds a sealed store of format \(found), expected \(expected); format "
                + "v1 (Cloister before the whole-state head) cannot be opened and is not migrated: keep it as a backup, "
                + "start with an empty data directory and set the manifest again"
        }
    }
}
