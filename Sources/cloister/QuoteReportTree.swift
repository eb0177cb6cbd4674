import Foundation
import Hexadecimal
import StrictJSON

/// An ordered tree of named, typed values: printed as an indented report, or as JSON with the same names and order.
enum QuoteReportTree: Sendable {
    case object([(String, QuoteReportTree)])
    case array([QuoteReportTree])
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case null

    static func bytes(_ value: some Sequence<UInt8>) -> QuoteReportTree { .string(Array(value).hexadecimal) }
    static func number(_ value: some BinaryInteger) -> QuoteReportTree { .integer(Int64(value)) }
    static func optional(_ value: QuoteReportTree?) -> QuoteReportTree { value ?? .null }

    /// JSON text; keys keep their order.
    func json(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let closing = String(repeating: "  ", count: indent)
        switch self {
        case .object(let members):
            if members.isEmpty { return "{}" }
            let body = members.map { "\(pad)\(JSONValue.stringLiteral($0.0)): \($0.1.json(indent: indent + 1))" }.joined(separator: ",\n")
            return "{\n\(body)\n\(closing)}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy(\.isScalar) { return "[" + items.map { $0.json() }.joined(separator: ", ") + "]" }
            return "[\n" + items.map { pad + $0.json(indent: indent + 1) }.joined(separator: ",\n") + "\n\(closing)]"
        case .string(let text): return JSONValue.stringLiteral(text)
        case .integer(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        }
    }

    /// An indented `name: value` report.
    func text(indent: Int = 0) -> String {
        guard case .object(let members) = self else { return scalarText }
        let pad = String(repeating: "  ", count: indent)
        var lines = [String]()
        for (name, value) in members {
            switch value {
            case .object(let inner) where inner.isEmpty:
                lines.append("\(pad)\(name): (none)")
            case .object:
                lines.append("\(pad)\(name):")
                lines.append(value.text(indent: indent + 1))
            case .array(let items) where !items.allSatisfy(\.isScalar):
                lines.append("\(pad)\(name):")
                for (index, item) in items.enumerated() {
                    lines.append("\(pad)  [\(index)]")
                    lines.append(item.text(indent: indent + 2))
                }
            default:
                lines.append("\(pad)\(name): \(value.scalarText)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private var isScalar: Bool {
        switch self {
        case .object, .array: false
        default: true
        }
    }

    private var scalarText: String {
        switch self {
        case .string(let text): text
        case .integer(let value): String(value)
        case .bool(let value): value ? "yes" : "no"
        case .null: "(none)"
        case .array(let items): items.isEmpty ? "(none)" : items.map(\.scalarText).joined(separator: ", ")
        case .object: json()
        }
    }
}
