import Foundation
import Synchronization

/// A storage backend that keeps the sealed state in memory only: MarbleRun's `SealMode: Disabled`, where a
/// standalone Coordinator does not persist its state and a restart starts afresh. Transactions are atomic (a write
/// works on a copy that replaces the state only when its body returns).
public final class MemoryStorage: SealedStorageBackend {
    private struct Tables {
        var metadata: [String: Data] = [:]
        var records: [Data: Data] = [:]
    }

    private let tables = Mutex(Tables())

    public init() {}

    public func read<T>(_ body: (any StorageReading) throws -> T) throws -> T {
        try body(Snapshot(tables: tables.withLock { $0 }))
    }

    public func write<T>(_ body: (any StorageWriting) throws -> T) throws -> T {
        try tables.withLock { current throws -> T in
            let transaction = Snapshot(tables: current)
            let result = try body(transaction)
            current = transaction.tables
            return result
        }
    }

    private final class Snapshot: StorageWriting {
        var tables: Tables

        init(tables: Tables) { self.tables = tables }

        func metadata(_ name: String) throws -> Data? { tables.metadata[name] }

        func record(_ id: Data) throws -> Data? { tables.records[id] }

        func allRecords() throws -> [(id: Data, sealed: Data)] {
            tables.records.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (id: $0.key, sealed: $0.value) }
        }

        func setMetadata(_ name: String, _ value: Data?) throws { tables.metadata[name] = value }

        func setRecord(_ id: Data, _ sealed: Data?) throws { tables.records[id] = sealed }
    }
}
