import Foundation

/// A batch of key/value puts and deletes that the store applies in one transaction: all of it or none of it.
public struct StateChange: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case put(Data)
        case delete
    }

    /// The operations by state key, in the order keys were first touched; a later operation on the same key
    /// replaces the earlier one.
    public private(set) var operations: [(key: String, operation: Operation)] = []
    /// Replacement for the unencrypted recovery data (``SealedStore/recoveryData()``); nil leaves it unchanged.
    public private(set) var recoveryData: RecoveryDataUpdate?

    public enum RecoveryDataUpdate: Sendable, Equatable {
        case set(Data)
        case remove
    }

    public init() {}

    public var isEmpty: Bool { operations.isEmpty && recoveryData == nil }

    public mutating func put(_ key: String, _ value: Data) { record(key, .put(value)) }

    public mutating func put(_ key: String, _ value: String) { record(key, .put(Data(value.utf8))) }

    public mutating func delete(_ key: String) { record(key, .delete) }

    /// Stores `data` beside the sealed state without encryption, so that it can be read while the state is
    /// locked (share hashes for recovery). Never put secrets here.
    public mutating func setRecoveryData(_ data: Data?) {
        recoveryData = data.map { .set($0) } ?? .remove
    }

    private mutating func record(_ key: String, _ operation: Operation) {
        if let index = operations.firstIndex(where: { $0.key == key }) {
            operations[index].operation = operation
        } else {
            operations.append((key, operation))
        }
    }

    public static func == (lhs: StateChange, rhs: StateChange) -> Bool {
        lhs.recoveryData == rhs.recoveryData
            && lhs.operations.map(\.key) == rhs.operations.map(\.key)
            && lhs.operations.map(\.operation) == rhs.operations.map(\.operation)
    }
}
