/// A JSON value exactly as written: member order, repeated keys and number literals are kept, because MarbleRun's
/// decoder (Go `encoding/json`) gives them meaning that a dictionary would lose.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's literal text, so that `1.0`, `1e3` and `-1` can be told apart from the integers Go accepts.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// How the value's kind reads in a finding ("a string", "an object", ...).
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
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}
