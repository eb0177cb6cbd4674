import Foundation
import StrictJSON

/// One RFC 6902 operation. The injector only ever adds: it never replaces or removes what a pod sets.
public struct JSONPatchOperation: Sendable, Equatable {
    public let op: String
    public let path: JSONPointer
    public let value: PatchValue

    public static func add(_ pointer: JSONPointer, _ value: PatchValue) -> JSONPatchOperation {
        JSONPatchOperation(op: "add", path: pointer, value: value)
    }

    var json: PatchValue { .object([("op", .string(op)), ("path", .string(path.description)), ("value", value)]) }
}

extension [JSONPatchOperation] {
    /// The patch document as JSON text.
    public var jsonText: String { PatchValue.array(map(\.json)).jsonText }
}

/// An RFC 6901 pointer built from unescaped tokens, so that keys such as `sgx.intel.com/epc` are escaped once, here.
public struct JSONPointer: Sendable, Equatable, CustomStringConvertible {
    public let tokens: [String]

    public init(_ tokens: [String]) { self.tokens = tokens }

    public func appending(_ token: String) -> JSONPointer { JSONPointer(tokens + [token]) }
    public func appending(_ index: Int) -> JSONPointer { JSONPointer(tokens + [String(index)]) }
    /// The RFC 6902 "append to array" position.
    public var appendingToArray: JSONPointer { JSONPointer(tokens + ["-"]) }

    public var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }
}

/// The values the injector writes: strings (quantities too, as Kubernetes writes them), integers, booleans, objects
/// with their members in the order given, and arrays.
public indirect enum PatchValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case object([(String, PatchValue)])
    case array([PatchValue])

    public static func == (lhs: PatchValue, rhs: PatchValue) -> Bool { lhs.jsonText == rhs.jsonText }

    public var jsonText: String {
        switch self {
        case .string(let text): JSONValue.stringLiteral(text)
        case .integer(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .array(let elements): "[" + elements.map(\.jsonText).joined(separator: ",") + "]"
        case .object(let members): "{" + members.map { JSONValue.stringLiteral($0.0) + ":" + $0.1.jsonText }.joined(separator: ",") + "}"
        }
    }
}
