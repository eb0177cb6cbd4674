/// A JSON value exactly as written: member order, repeated keys and number literals are kept, because Go's
/// `encoding/json` (MarbleRun manifests) gives them meaning that a dictionary would lose, and because Intel's signed
/// collateral is read field by field without normalizing it.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's literal text, so that `1.0`, `1e3` and `-1` can be told apart from integers.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// How the value's kind reads in a message ("a string", "an object", ...).
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let literal): "the number \(literal)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

public struct JSONMember: Sendable, Hashable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// Where and why JSON text could not be read.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset where reading stopped.
    public let offset: Int
    /// The line (from 1) and column (from 1, in characters) of `offset`, for people reading the text in an editor.
    public let line: Int
    public let column: Int
    public let message: String

    public init(offset: Int, line: Int, column: Int, message: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}
