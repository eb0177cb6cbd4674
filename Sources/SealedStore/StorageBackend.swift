import Foundation

/// Where sealed state lives. The store hands it only ciphertext, opaque record identifiers and small metadata
/// blobs; every method of a ``StorageWriting`` inside one ``SealedStorageBackend/write(_:)`` call must commit
/// together or not at all, and must survive the process being killed at any instruction.
///
/// ``SQLiteStorage`` is the embedded default; a PostgreSQL backend implements the same two methods.
public protocol SealedStorageBackend: Sendable {
    /// Runs `body` against a consistent snapshot.
    func read<T>(_ body: (any StorageReading) throws -> T) throws -> T
    /// Runs `body` in one atomic, durable transaction; if `body` throws, nothing of it is kept.
    func write<T>(_ body: (any StorageWriting) throws -> T) throws -> T
}

public protocol StorageReading {
    func metadata(_ name: String) throws -> Data?
    func record(_ id: Data) throws -> Data?
    func allRecords() throws -> [(id: Data, sealed: Data)]
}

public protocol StorageWriting: StorageReading {
    /// Sets (or with nil removes) a metadata blob.
    func setMetadata(_ name: String, _ value: Data?) throws
    /// Sets (or with nil removes) an encrypted record.
    func setRecord(_ id: Data, _ sealed: Data?) throws
}
