/// Where a template appears; MarbleRun gives Files and Env different function sets.
public enum TemplateContext: String, Sendable, Hashable {
    case file = "Files"
    case env = "Env"

    public var functions: [TemplateFunction] {
        switch self {
        case .file: [.pem, .hex, .base64, .raw]
        case .env: [.pem, .hex, .base64, .string]
        }
    }
}

/// MarbleRun's template functions (`ManifestFileTemplateFuncMap`, `ManifestEnvTemplateFuncMap`).
public enum TemplateFunction: String, Sendable, Hashable, CaseIterable {
    case pem, hex, base64, raw, string
}

/// Which part of a secret a template reads; none means the secret itself (its `Public` bytes).
public enum SecretPart: String, Sendable, Hashable, CaseIterable {
    case certificate = "Cert"
    case publicKey = "Public"
    case privateKey = "Private"
}

/// `.MarbleRun.<name>`: values the Coordinator provides to every marble.
public enum ReservedSecret: String, Sendable, Hashable, CaseIterable {
    /// The Marble root certificate (the self-signed sibling of the Coordinator intermediate).
    case rootCA = "RootCA"
    /// This marble's own certificate and key.
    case marbleCertificate = "MarbleCert"
    case coordinatorRoot = "CoordinatorRoot"
    case coordinatorIntermediate = "CoordinatorIntermediate"
}

/// What a template action reads.
public enum TemplateOperand: Sendable, Hashable, CustomStringConvertible {
    case secret(name: String, part: SecretPart?)
    case previousSecret(name: String, part: SecretPart?)
    case reserved(ReservedSecret, part: SecretPart?)

    public var part: SecretPart? {
        switch self {
        case .secret(_, let part), .previousSecret(_, let part), .reserved(_, let part): part
        }
    }

    public var description: String {
        let suffix = part.map { "." + $0.rawValue } ?? ""
        switch self {
        case .secret(let name, _): return ".Secrets.\(name)\(suffix)"
        case .previousSecret(let name, _): return ".Previous.Secrets.\(name)\(suffix)"
        case .reserved(let reserved, _): return ".MarbleRun.\(reserved.rawValue)\(suffix)"
        }
    }
}

/// A fault in a template: what is wrong and what to write instead.
public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public let hint: String

    public var description: String { "\(message); \(hint)" }
}

/// A parsed `Files`/`Env` value: literal bytes and `{{ function operand }}` actions. The grammar is the part of Go's
/// text/template that MarbleRun manifests use: `{{ f .X }}`, `{{ .X | f }}`, string literals (`{{ "{{" }}`), comments,
/// and `{{-`/`-}}` whitespace trimming. Anything else is reported rather than guessed at.
public struct Template: Sendable, Hashable {
    public enum Segment: Sendable, Hashable {
        case text([UInt8])
        case action(TemplateFunction, TemplateOperand)
    }

    public let segments: [Segment]

    public var actions: [(TemplateFunction, TemplateOperand)] {
        segments.compactMap { if case .action(let function, let operand) = $0 { (function, operand) } else { nil } }
    }

    public static func parse(_ bytes: [UInt8], context: TemplateContext) throws(TemplateError) -> Template {
        var parser = TemplateParser(bytes: bytes, context: context)
        return Template(segments: try parser.parse())
    }
}

private struct TemplateParser {
    let bytes: [UInt8]
    let context: TemplateContext
    var index = 0

    init(bytes: [UInt8], context: TemplateContext) {
        self.bytes = bytes
        self.context = context
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private enum Token: Equatable {
        case field([String])
        case identifier(String)
        case stringLiteral([UInt8])
        case pipe
        case other(String)
    }

    mutating func parse() throws(TemplateError) -> [Template.Segment] {
        var segments: [Template.Segment] = []
        var text: [UInt8] = []
        var trimNextText = false
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "{"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") else {
                if trimNextText && Self.isSpace(bytes[index]) {
                    index += 1
                    continue
                }
                trimNextText = false
                text.append(bytes[index])
                index += 1
                continue
            }
            trimNextText = false
            index += 2
            if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "-"), Self.isSpace(bytes[index + 1]) {
                while let last = text.last, Self.isSpace(last) { text.removeLast() }
                index += 2
            }
            let (tokens, trimAfter) = try actionTokens()
            trimNextText = trimAfter
            guard let output = try interpret(tokens) else { continue }
            switch output {
            case .text(let literal):
                text += literal
            case .action:
                if !text.isEmpty { segments.append(.text(text)) }
                text = []
                segments.append(output)
            }
        }
        if !text.isEmpty { segments.append(.text(text)) }
        return segments
    }

    /// Tokens up to the closing `}}`, and whether it was `-}}`. A comment yields no tokens.
    private mutating func actionTokens() throws(TemplateError) -> ([Token], Bool) {
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
        if startsWith("/*") {
            guard let end = find("*/", from: index + 2) else {
                throw TemplateError(message: "unclosed comment", hint: "end the comment with */}}")
            }
            index = end + 2
            if startsWith(" -}}") {
                index += 4
                return ([], true)
            }
            guard startsWith("}}") else {
                throw TemplateError(message: "a comment must end with */}}", hint: "write {{/* comment */}}")
            }
            index += 2
            return ([], false)
        }
        var tokens: [Token] = []
        while true {
            guard index < bytes.count else {
                throw TemplateError(message: "unclosed action: {{ without }}", hint: "close it with }}, or write a literal {{ as {{ \"{{\" }}")
            }
            let byte = bytes[index]
            if Self.isSpace(byte) {
                let start = index
                while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
                if startsWith("-}}") {
                    index += 3
                    return (tokens, true)
                }
                if index == start { index += 1 }
                continue
            }
            if startsWith("}}") {
                index += 2
                return (tokens, false)
            }
            switch byte {
            case UInt8(ascii: "|"):
                tokens.append(.pipe)
                index += 1
            case UInt8(ascii: "\""):
                tokens.append(.stringLiteral(try quotedString()))
            case UInt8(ascii: "`"):
                guard let end = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: "`")) else {
                    throw TemplateError(message: "unterminated raw string", hint: "close the string with `")
                }
                tokens.append(.stringLiteral(Array(bytes[(index + 1)..<end])))
                index = end + 1
            case UInt8(ascii: "."):
                var names: [String] = []
                while index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                    index += 1
                    let name = identifier()
                    guard !name.isEmpty else {
                        throw TemplateError(
                            message: "a field name must follow \".\"", hint: "write e.g. .Secrets.name.Cert; name secrets with letters, digits and _")
                    }
                    names.append(name)
                }
                tokens.append(.field(names))
            default:
                let name = identifier()
                if name.isEmpty {
                    let start = index
                    while index < bytes.count, !Self.isSpace(bytes[index]), !startsWith("}}") { index += 1 }
                    tokens.append(.other(String(decoding: bytes[start..<max(index, start + 1)], as: UTF8.self)))
                    index = max(index, start + 1)
                } else {
                    tokens.append(.identifier(name))
                }
            }
        }
    }

    private mutating func identifier() -> String {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            let isLetter =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard isLetter || (isDigit && index > start) else { break }
            index += 1
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A Go interpreted string literal.
    private mutating func quotedString() throws(TemplateError) -> [UInt8] {
        index += 1
        var result: [UInt8] = []
        while true {
            guard index < bytes.count, bytes[index] != 0x0A else {
                throw TemplateError(message: "unterminated quoted string in an action", hint: "close the string with \"")
            }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return result }
            guard byte == UInt8(ascii: "\\") else {
                result.append(byte)
                continue
            }
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): result.append(0x0A)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "r"): result.append(0x0D)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): result.append(escape)
            default:
                throw TemplateError(
                    message: "unsupported escape \\\(Character(Unicode.Scalar(escape))) in a string literal",
                    hint: "use \\n, \\t, \\r, \\\\ or \\\", or a `raw string`")
            }
        }
        throw TemplateError(message: "unterminated quoted string in an action", hint: "close the string with \"")
    }

    private func startsWith(_ literal: String) -> Bool {
        let pattern = Array(literal.utf8)
        return index + pattern.count <= bytes.count && Array(bytes[index..<(index + pattern.count)]) == pattern
    }

    private func find(_ literal: String, from start: Int) -> Int? {
        let pattern = Array(literal.utf8)
        var position = start
        while position + pattern.count <= bytes.count {
            if Array(bytes[position..<(position + pattern.count)]) == pattern { return position }
            position += 1
        }
        return nil
    }

    private func interpret(_ tokens: [Token]) throws(TemplateError) -> Template.Segment? {
        let supported = "write {{ pem .Secrets.NAME.Cert }}, {{ .Secrets.NAME | base64 }} or {{ \"literal\" }}"
        switch tokens.count {
        case 0:
            return nil
        case 1:
            switch tokens[0] {
            case .stringLiteral(let literal):
                return .text(literal)
            case .field(let names):
                throw TemplateError(
                    message: "{{ .\(names.joined(separator: ".")) }} has no encoding function",
                    hint: "choose one: \(functionList()), e.g. {{ pem .\(names.joined(separator: ".")) }}")
            case .identifier(let name):
                if TemplateFunction(rawValue: name) != nil {
                    throw TemplateError(message: "the \(name) function needs a secret to encode", hint: "write {{ \(name) .Secrets.NAME }}")
                }
                throw unsupported(name, hint: supported)
            default:
                throw TemplateError(message: "unsupported template action", hint: supported)
            }
        case 2:
            guard case .identifier(let name) = tokens[0], case .field(let names) = tokens[1] else { break }
            return .action(try function(name), try operand(names))
        case 3:
            guard case .field(let names) = tokens[0], tokens[1] == .pipe, case .identifier(let name) = tokens[2] else { break }
            return .action(try function(name), try operand(names))
        default:
            break
        }
        if case .identifier(let name) = tokens[0], TemplateFunction(rawValue: name) == nil { throw unsupported(name, hint: supported) }
        throw TemplateError(message: "unsupported template action (Cloister supports one function applied to one secret)", hint: supported)
    }

    private func unsupported(_ name: String, hint: String) -> TemplateError {
        let keywords = ["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil", "true", "false"]
        if keywords.contains(name) {
            return TemplateError(message: "the template keyword \"\(name)\" is not supported in manifests", hint: hint)
        }
        return TemplateError(message: "unknown template function \"\(name)\"", hint: "use one of \(functionList())")
    }

    private func functionList() -> String {
        context.functions.map(\.rawValue).joined(separator: ", ") + " (in \(context.rawValue))"
    }

    private func function(_ name: String) throws(TemplateError) -> TemplateFunction {
        guard let function = TemplateFunction(rawValue: name) else { throw unsupported(name, hint: "") }
        guard context.functions.contains(function) else {
            switch function {
            case .raw: throw TemplateError(message: "the raw function may only be used in Files", hint: "use base64 or hex in Env")
            case .string: throw TemplateError(message: "the string function may only be used in Env", hint: "use raw in Files")
            default: throw unsupported(name, hint: "")
            }
        }
        return function
    }

    private func operand(_ names: [String]) throws(TemplateError) -> TemplateOperand {
        let written = "." + names.joined(separator: ".")
        func part(_ rest: ArraySlice<String>) throws(TemplateError) -> SecretPart? {
            guard let first = rest.first else { return nil }
            guard rest.count == 1, let part = SecretPart(rawValue: first) else {
                throw TemplateError(
                    message: "\(written): \"\(rest.joined(separator: "."))\" is not a part of a secret",
                    hint: "end the reference with .Cert, .Public or .Private, or with the secret name")
            }
            return part
        }
        switch names.first {
        case "Secrets":
            guard names.count >= 2 else {
                throw TemplateError(message: "\(written) names no secret", hint: "write .Secrets.NAME")
            }
            return .secret(name: names[1], part: try part(names.dropFirst(2)))
        case "Previous":
            guard names.count >= 3, names[1] == "Secrets" else {
                throw TemplateError(message: "\(written) names no previous secret", hint: "write .Previous.Secrets.NAME")
            }
            return .previousSecret(name: names[2], part: try part(names.dropFirst(3)))
        case "MarbleRun":
            guard names.count >= 2, let reserved = ReservedSecret(rawValue: names[1]) else {
                let given = names.count >= 2 ? names[1] : ""
                let known = ReservedSecret.allCases.map(\.rawValue).joined(separator: ", ")
                let hint =
                    given == "SealKey"
                    ? "MarbleRun removed SealKey; define a symmetric-key secret and write it with raw in Files"
                    : "use one of \(known)"
                throw TemplateError(message: "\(written): .MarbleRun has no \"\(given)\"", hint: hint)
            }
            return .reserved(reserved, part: try part(names.dropFirst(2)))
        default:
            let first = names.first ?? ""
            let lowered = first.lowercased()
            let suggestion = lowered == "secrets" ? "Secrets" : lowered == "marblerun" ? "MarbleRun" : lowered == "previous" ? "Previous" : nil
            let hint = suggestion.map { "names are case-sensitive: write .\($0)" } ?? "start with .Secrets, .Previous.Secrets or .MarbleRun"
            throw TemplateError(message: "\(written): there is no data named \"\(first)\"", hint: hint)
        }
    }
}
