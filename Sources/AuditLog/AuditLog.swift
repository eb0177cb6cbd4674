import CoordinatorPKI
import Foundation
import SealedStore

/// The audit log kept inside the sealed state, so that a state change and its log entry commit in one transaction.
///
/// Layout in the store: `auditlog/entry/<seq, 12 digits>` holds each line, `auditlog/head` the ``AuditLogHead``
/// as JSON. Appending reads the head inside the caller's transaction, so concurrent appends are serialized by the
/// store and the chain never forks.
///
///     try store.update { transaction in
///         try transaction.put("secret/db", value)
///         try AuditLog.append(.secretSet(user: "alice", secret: "db", type: "plain"), signer: pki.rootKey, in: transaction)
///     }
public enum AuditLog {
    static let entryPrefix = "auditlog/entry/"
    static let headKey = "auditlog/head"

    /// Signs `event` as the next entry and writes it and the new head in `transaction`. Returns the line.
    @discardableResult
    public static func append(
        _ event: AuditEvent, signer: CoordinatorSigningKey, in transaction: StateTransaction
    )
        throws -> String
    {
        try append([event], signer: signer, in: transaction)[0]
    }

    /// Appends `events` in order, reading and writing the head once for all of them (a batch of activations).
    @discardableResult
    public static func append(
        _ events: [AuditEvent], signer: CoordinatorSigningKey, in transaction: StateTransaction
    )
        throws -> [String]
    {
        var head = try head(from: transaction.value(forKey: headKey))
        var lines: [String] = []
        lines.reserveCapacity(events.count)
        for event in events {
            let line = try AuditLogLine.make(event, sequence: head.count, previousHash: head.lastHash, signer: signer)
            try transaction.put(entryKey(head.count), Data(line.utf8))
            head = AuditLogHead(count: head.count + 1, lastHash: AuditLogLine.hash(line))
            lines.append(line)
        }
        if !events.isEmpty {
            try transaction.put(headKey, JSONEncoder().encode(head))
        }
        return lines
    }

    /// All lines in order (what `GET /api/v2/update` returns as `updateLog`).
    public static func lines(in store: SealedStore) throws -> [String] {
        try store.values(withPrefix: entryPrefix).sorted { $0.key < $1.key }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    /// The head recorded in the store (``AuditLogHead/empty`` before the first entry).
    public static func head(in store: SealedStore) throws -> AuditLogHead {
        try head(from: store.value(forKey: headKey))
    }

    /// Verifies the stored log against the root key and the stored head.
    public static func verify(in store: SealedStore, rootKey: CoordinatorVerifyingKey) throws -> AuditLogHead {
        try AuditLogVerifier.verify(lines: lines(in: store), rootKey: rootKey, expectedHead: head(in: store))
    }

    static func entryKey(_ sequence: Int) -> String {
        let digits = String(sequence)
        return entryPrefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    private static func head(from data: Data?) throws(AuditLogError) -> AuditLogHead {
        guard let data else { return .empty }
        do {
            return try JSONDecoder().decode(AuditLogHead.self, from: data)
        } catch {
            throw AuditLogError.corruptHead(detail: "\(data.count) bytes are not an audit log head (\(error))")
        }
    }
}
