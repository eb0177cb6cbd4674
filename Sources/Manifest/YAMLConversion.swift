import Foundation
import StrictJSON
import Yams

/// Why YAML input could not be turned into the JSON that MarbleRun would upload.
public struct YAMLConversionError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let hint: String

    public var description: String { "\(message); \(hint)" }
}

/// Converts YAML to JSON the way the MarbleRun CLI does (`sigs.k8s.io/yaml.YAMLToJSONStrict`, YAML 1.1 scalars via
/// go-yaml v2): duplicate keys are an error, keys are sorted, the output is compact. The result is what gets hashed.
enum YAMLConversion {
    static let maximumDepth = JSONParser.defaultMaximumDepth
    /// Aliases can make a small document expand enormously ("billion laughs"); no manifest needs more nodes than this.
    static let maximumNodes = 100_000

    static func convert(_ bytes: [UInt8]) throws(YAMLConversionError) -> JSONValue {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw YAMLConversionError(message: "the file is neither JSON nor UTF-8 text", hint: "save the manifest as UTF-8 JSON or YAML")
        }
        let estimate = nestingUpperBound(of: text)
        guard estimate <= maximumDepth else {
            throw YAMLConversionError(
                message: "the YAML nests deeper than \(maximumDepth) levels (estimated \(estimate))",
                hint: "a manifest needs fewer than 10 levels; check the indentation and brackets")
        }
        let root: Node?
        do {
            root = try Parser(yaml: text).nextRoot()
        } catch let error as YamlError {
            throw YAMLConversionError(message: "invalid YAML: \(Self.summary(of: error))", hint: "fix the YAML syntax at the position shown")
        } catch {
            throw YAMLConversionError(message: "invalid YAML: \(error)", hint: "fix the YAML syntax")
        }
        guard let root else { return .null }
        var budget = maximumNodes
        return try jsonValue(of: root, depth: 0, budget: &budget)
    }

    private static func summary(of error: YamlError) -> String {
        String(String(describing: error).split(separator: "\n", maxSplits: 1).first ?? "")
    }

    private static func jsonValue(of node: Node, depth: Int, budget: inout Int) throws(YAMLConversionError) -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw YAMLConversionError(
                message: "the YAML expands to more than \(maximumNodes) values (aliases repeated too often)",
                hint: "write the values out instead of nesting aliases")
        }
        guard depth <= maximumDepth else {
            throw YAMLConversionError(message: "the YAML nests deeper than \(maximumDepth) levels", hint: "a manifest needs fewer than 10 levels")
        }
        switch node {
        case .scalar(let scalar):
            return try scalarValue(scalar)
        case .alias:
            throw YAMLConversionError(message: "an alias could not be resolved", hint: "define the anchor before using it")
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            for element in sequence {
                elements.append(try jsonValue(of: element, depth: depth + 1, budget: &budget))
            }
            return .array(elements)
        case .mapping(let mapping):
            var members: [JSONMember] = []
            for (key, value) in mapping {
                let name = try keyString(key)
                if name == "<<", case .scalar(let scalar) = key, scalar.style == .plain {
                    throw YAMLConversionError(
                        message: "YAML merge keys (<<) are not supported",
                        hint: "write the merged keys out in the mapping")
                }
                members.append(JSONMember(key: name, value: try jsonValue(of: value, depth: depth + 1, budget: &budget)))
            }
            return .object(members)
        }
    }

    private static func keyString(_ node: Node) throws(YAMLConversionError) -> String {
        guard case .scalar(let scalar) = node else {
            throw YAMLConversionError(message: "a mapping key is a collection", hint: "use plain text keys")
        }
        switch try scalarValue(scalar) {
        case .string(let text): return text
        case .number(let literal): return literal
        case .bool(let flag): return flag ? "true" : "false"
        default:
            throw YAMLConversionError(message: "a mapping key is null", hint: "give every key a name")
        }
    }

    /// Resolves a scalar as go-yaml v2 does when decoding into `interface{}`.
    private static func scalarValue(_ scalar: Node.Scalar) throws(YAMLConversionError) -> JSONValue {
        let text = scalar.string
        guard scalar.style == .plain else { return .string(text) }
        switch text {
        case "y", "Y": return .bool(true)
        case "n", "N": return .bool(false)
        default: break
        }
        switch Resolver.default.resolveTag(of: .scalar(scalar)) {
        case .null: return .null
        case .bool: return .bool(["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"].contains(text))
        case .int, .float:
            if let integer = goInteger(text) { return .number(integer) }
            let cleaned = text.replacingOccurrences(of: "_", with: "")
            if let double = Double(cleaned) {
                guard let formatted = GoJSONEncoding.formatFloat(double) else {
                    throw YAMLConversionError(message: "the number \(text) has no JSON form", hint: "quote it if it is meant as text")
                }
                return .number(formatted)
            }
            if [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"].contains(text) {
                throw YAMLConversionError(message: "the number \(text) has no JSON form", hint: "quote it if it is meant as text")
            }
            return .string(text)
        default:
            return .string(text)
        }
    }

    /// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint`, after go-yaml removed underscores: decimal text or nil.
    static func goInteger(_ text: String) -> String? {
        var body = Substring(text.replacingOccurrences(of: "_", with: ""))
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        var radix = 10
        let lower = body.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            body = body.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            body = body.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            body = body.dropFirst(2)
        } else if body.count > 1 && body.hasPrefix("0") {
            radix = 8
            body = body.dropFirst()
        }
        guard !body.isEmpty, let magnitude = UInt64(body, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == 0 ? "0" : "-" + String(magnitude)
        }
        return String(magnitude)
    }

    /// An upper bound of the YAML nesting depth, computed without a parser so that hostile input is refused before
    /// Yams (which recurses per level) sees it. Block nesting needs indentation or an indicator per level; flow nesting
    /// needs a bracket per level. Block-scalar bodies and quoted text are skipped.
    static func nestingUpperBound(of text: String) -> Int {
        let space = UInt8(ascii: " ")
        var bound = 0
        var flowDepth = 0
        var blockScalarIndent: Int?
        var openQuote: UInt8?
        for line in Array(text.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == space }.count
            let content = line.dropFirst(indent)
            if let scalarIndent = blockScalarIndent {
                if content.allSatisfy({ $0 == space || $0 == 0x09 || $0 == 0x0D }) || indent > scalarIndent { continue }
                blockScalarIndent = nil
            }
            var indicators = 0
            var previous = space
            var lastMeaningful: [UInt8] = []
            for character in content {
                if let quote = openQuote {
                    if character == quote && !(quote == UInt8(ascii: "\"") && previous == UInt8(ascii: "\\")) { openQuote = nil }
                    previous = previous == UInt8(ascii: "\\") && character == UInt8(ascii: "\\") ? space : character
                    continue
                }
                if character == UInt8(ascii: "#") && (previous == space || previous == 0x09) { break }
                switch character {
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    if [space, UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "-")].contains(previous) {
                        openQuote = character
                    }
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flowDepth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    flowDepth = max(0, flowDepth - 1)
                case space:
                    if previous == UInt8(ascii: "-") || previous == UInt8(ascii: ":") || previous == UInt8(ascii: "?") { indicators += 1 }
                default:
                    break
                }
                if character != space && character != 0x09 && character != 0x0D {
                    lastMeaningful.append(character)
                    if lastMeaningful.count > 8 { lastMeaningful.removeFirst() }
                } else if !lastMeaningful.isEmpty {
                    lastMeaningful.append(space)
                    if lastMeaningful.count > 8 { lastMeaningful.removeFirst() }
                }
                bound = max(bound, 2 * (indent + 1) + indicators + flowDepth)
                previous = character
            }
            if previous == UInt8(ascii: ":") || previous == UInt8(ascii: "-") { indicators += 1 }
            bound = max(bound, 2 * (indent + 1) + indicators + flowDepth)
            // A line ending in a block-scalar header (`|`, `>-`, `|2+` ...) starts a body that is only text.
            let tail = Array(lastMeaningful.reversed().drop { $0 == space }.reversed())
            if openQuote == nil, let marker = tail.lastIndex(where: { $0 == UInt8(ascii: "|") || $0 == UInt8(ascii: ">") }),
                tail[(marker + 1)...].allSatisfy({ Array("+-0123456789".utf8).contains($0) }),
                marker == 0 || tail[marker - 1] == space
            {
                blockScalarIndent = indent
            }
        }
        return bound
    }
}
