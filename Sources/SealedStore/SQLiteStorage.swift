import Foundation
import GRDB

/// The embedded storage backend: one SQLite database in WAL mode (GRDB), synchronous=FULL so that a transaction
/// reported as committed survives a crash or power loss, and each ``write(_:)`` is one SQLite transaction.
public final class SQLiteStorage: SealedStorageBackend {
    public let path: String
    private let pool: DatabasePool

    /// Opens or creates the database file at `path` (its directory must exist).
    public init(path: String) throws(SealedStoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS metadata (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                        CREATE TABLE IF NOT EXISTS records (id BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL);
                        """
                )
            }
            // Only ciphertext is stored, but nobody else needs to read even that (or its size and timing).
            for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
            }
        } catch {
            throw SealedStoreError.storage(
                operation: "opening SQLite database \(path)",
                underlying: "\(error)",
                hint: "check that the data directory exists, is writable and holds a Cloister state database"
            )
        }
    }

    /// Opens or creates `state.sqlite` in `directory`, creating the directory (mode 0700) if needed.
    public convenience init(directory: URL) throws(SealedStoreError) {
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw SealedStoreError.storage(
                operation: "creating data directory \(directory.path)",
                underlying: "\(error)",
                hint: "choose a data directory the Coordinator may write"
            )
        }
        try self.init(path: directory.appendingPathComponent("state.sqlite").path)
    }

    public func read<T>(_ body: (any StorageReading) throws -> T) throws -> T {
        try pool.read { db in try body(Connection(db: db)) }
    }

    public func write<T>(_ body: (any StorageWriting) throws -> T) throws -> T {
        try pool.write { db in try body(Connection(db: db)) }
    }

    /// Runs SQLite's integrity check; returns its findings ("ok" when the file is sound).
    public func integrityCheck() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// Statements come from the connection's cache: every activation reads and writes records, and compiling the
    /// same SQL for each was a visible part of its cost.
    private struct Connection: StorageWriting {
        let db: Database

        func metadata(_ name: String) throws -> Data? {
            try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM metadata WHERE name = ?"), arguments: [name])
        }

        func record(_ id: Data) throws -> Data? {
            try Data.fetchOne(db.cachedStatement(sql: "SELECT sealed FROM records WHERE id = ?"), arguments: [id])
        }

        func allRecords() throws -> [(id: Data, sealed: Data)] {
            try Row.fetchAll(db, sql: "SELECT id, sealed FROM records ORDER BY id").map { row in
                (id: row["id"], sealed: row["sealed"])
            }
        }

        func setMetadata(_ name: String, _ value: Data?) throws {
            if let value {
                try db.cachedStatement(
                    sql: "INSERT INTO metadata (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"
                ).execute(arguments: [name, value])
            } else {
                try db.cachedStatement(sql: "DELETE FROM metadata WHERE name = ?").execute(arguments: [name])
            }
        }

        func setRecord(_ id: Data, _ sealed: Data?) throws {
            if let sealed {
                try db.cachedStatement(
                    sql: "INSERT INTO records (id, sealed) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed"
                ).execute(arguments: [id, sealed])
            } else {
                try db.cachedStatement(sql: "DELETE FROM records WHERE id = ?").execute(arguments: [id])
            }
        }
    }
}
