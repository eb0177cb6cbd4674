import Foundation

/// A JSON value with JSON's own types (booleans distinct from numbers), for schema checks.
indirect enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    static func parse(_ data: Data) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: data) }

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { members[key] } else { nil }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
}

/// Checks JSON values against the subset of JSON Schema (OpenAPI 3.1) that the Coordinator's document uses: `$ref`
/// to components, `type` (one name), `enum`, `required`, `properties`, `additionalProperties` (false or a schema),
/// `items`, `pattern` and `format: byte` (base64). Anything else in a schema is reported, so the document cannot
/// silently use a keyword that is not checked.
struct SchemaChecker {
    let document: JSONValue
    static let understood: Set<String> = [
        "$ref", "type", "enum", "required", "properties", "additionalProperties", "items", "pattern", "format", "description",
    ]

    /// The problems found, each with the JSON path where it was found; empty when `value` conforms.
    func problems(_ value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
        guard let schema = schema.object else { return ["\(path): the schema is not an object"] }
        if let reference = schema["$ref"]?.string {
            guard let target = resolve(reference) else { return ["\(path): unresolvable $ref \(reference)"] }
            return problems(value, against: target, at: path)
        }
        var found = schema.keys.filter { !Self.understood.contains($0) }.map { "\(path): schema keyword '\($0)' is not checked" }
        if case .array(let allowed)? = schema["enum"], !allowed.contains(value) {
            found.append("\(path): \(value) is not one of \(allowed)")
        }
        if let type = schema["type"]?.string, !Self.matches(value, type: type) {
            return found + ["\(path): expected \(type), found \(value)"]
        }
        switch value {
        case .string(let text):
            if schema["format"]?.string == "byte", Data(base64Encoded: text) == nil {
                found.append("\(path): '\(text.prefix(40))' is not base64")
            }
            if let pattern = schema["pattern"]?.string, text.range(of: pattern, options: .regularExpression) == nil {
                found.append("\(path): '\(text.prefix(40))' does not match \(pattern)")
            }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { found += problems(item, against: itemSchema, at: "\(path)[\(index)]") }
            }
        case .object(let members):
            if case .array(let required)? = schema["required"] {
                for case .string(let name) in required where members[name] == nil { found.append("\(path): missing member '\(name)'") }
            }
            let properties = schema["properties"]?.object ?? [:]
            for (name, member) in members {
                if let propertySchema = properties[name] {
                    found += problems(member, against: propertySchema, at: "\(path).\(name)")
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) {
                        found.append("\(path): member '\(name)' is not documented")
                    } else if additional.object != nil {
                        found += problems(member, against: additional, at: "\(path).\(name)")
                    }
                }
            }
        default:
            break
        }
        return found
    }

    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
            ("string", .string), ("array", .array), ("object", .object):
            true
        default:
            false
        }
    }
}
