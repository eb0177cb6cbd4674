import StrictJSON

/// Image documents are a few kilobytes and a few levels deep; deeper nesting is hostile.
let imageDocumentMaximumDepth = 64

/// Parses `bytes` as a JSON object for strict field-by-field reading.
func parseObject(_ bytes: [UInt8], document: String) throws(ImageFormatError) -> JSONFields {
    let value: JSONValue
    do {
        value = try JSONParser.parse(bytes, maximumDepth: imageDocumentMaximumDepth)
    } catch {
        throw .invalidJSON(document: document, syntax: error)
    }
    return try JSONFields(value, document: document, path: "")
}

/// The members of one JSON object, read strictly: a known field may appear once, in its exact case, with the
/// expected type. JSON `null` counts as absent, as Go's `encoding/json` reads it.
struct JSONFields {
    let document: String
    /// Where the object sits in the document (`layers[2]`), for messages; empty at the top.
    let path: String
    let members: [JSONMember]

    init(_ value: JSONValue, document: String, path: String) throws(ImageFormatError) {
        guard case .object(let members) = value else {
            throw .wrongType(document: document, field: path.isEmpty ? "(top level)" : path, expected: "an object", found: value.kindDescription)
        }
        self.document = document
        self.path = path
        self.members = members
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value of `key`, or nil when it is absent or null.
    func value(_ key: String) throws(ImageFormatError) -> JSONValue? {
        var found: JSONValue?
        var seen = false
        for member in members {
            if member.key == key {
                if seen { throw .duplicateField(document: document, field: fieldPath(key)) }
                seen = true
                found = member.value
            } else if member.key.count == key.count, member.key.lowercased() == key.lowercased() {
                throw .fieldCaseMismatch(document: document, found: fieldPath(member.key), expected: fieldPath(key))
            }
        }
        if case .null = found { return nil }
        return found
    }

    func require(_ key: String) throws(ImageFormatError) -> JSONValue {
        guard let value = try value(key) else { throw .missingField(document: document, field: fieldPath(key)) }
        return value
    }

    func string(_ key: String) throws(ImageFormatError) -> String? {
        guard let value = try value(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string", value) }
        return text
    }

    func requireString(_ key: String) throws(ImageFormatError) -> String {
        guard let text = try string(key) else { throw .missingField(document: document, field: fieldPath(key)) }
        return text
    }

    func bool(_ key: String) throws(ImageFormatError) -> Bool? {
        guard let value = try value(key) else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, "true or false", value) }
        return flag
    }

    /// A non-negative integer that fits in 64 bits, written without fraction or exponent.
    func integer(_ key: String) throws(ImageFormatError) -> Int64? {
        guard let value = try value(key) else { return nil }
        guard case .number(let literal) = value else { throw wrongType(key, "an integer", value) }
        guard let number = Int64(literal), number >= 0 else {
            throw .invalidValue(document: document, field: fieldPath(key), value: literal, expected: "an integer from 0 to 2^63-1")
        }
        return number
    }

    func stringArray(_ key: String) throws(ImageFormatError) -> [String]? {
        guard let value = try value(key) else { return nil }
        guard case .array(let elements) = value else { throw wrongType(key, "an array of strings", value) }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                throw .wrongType(document: document, field: "\(fieldPath(key))[\(index)]", expected: "a string", found: element.kindDescription)
            }
            strings.append(text)
        }
        return strings
    }

    /// An object whose values are all strings (labels, annotations); a key given twice is refused.
    func stringMap(_ key: String) throws(ImageFormatError) -> [String: String]? {
        guard let value = try value(key) else { return nil }
        guard case .object(let entries) = value else { throw wrongType(key, "an object of strings", value) }
        var map: [String: String] = [:]
        for entry in entries {
            guard case .string(let text) = entry.value else {
                throw .wrongType(
                    document: document, field: "\(fieldPath(key)).\(entry.key)", expected: "a string", found: entry.value.kindDescription)
            }
            guard map.updateValue(text, forKey: entry.key) == nil else {
                throw .duplicateField(document: document, field: "\(fieldPath(key)).\(entry.key)")
            }
        }
        return map
    }

    /// The keys of an object used as a set (`ExposedPorts`, `Volumes`), whose values must be objects.
    func keySet(_ key: String) throws(ImageFormatError) -> [String]? {
        guard let value = try value(key) else { return nil }
        guard case .object(let entries) = value else { throw wrongType(key, "an object", value) }
        var keys: Set<String> = []
        for entry in entries {
            guard case .object = entry.value else {
                throw .wrongType(
                    document: document, field: "\(fieldPath(key)).\(entry.key)", expected: "an object ({})", found: entry.value.kindDescription)
            }
            guard keys.insert(entry.key).inserted else { throw .duplicateField(document: document, field: "\(fieldPath(key)).\(entry.key)") }
        }
        return entries.map(\.key)
    }

    func object(_ key: String) throws(ImageFormatError) -> JSONFields? {
        guard let value = try value(key) else { return nil }
        return try JSONFields(value, document: document, path: fieldPath(key))
    }

    func objectArray(_ key: String) throws(ImageFormatError) -> [JSONFields]? {
        guard let value = try value(key) else { return nil }
        guard case .array(let elements) = value else { throw wrongType(key, "an array of objects", value) }
        var objects: [JSONFields] = []
        for (index, element) in elements.enumerated() {
            objects.append(try JSONFields(element, document: document, path: "\(fieldPath(key))[\(index)]"))
        }
        return objects
    }

    func digest(_ key: String) throws(ImageFormatError) -> ContentDigest? {
        guard let text = try string(key) else { return nil }
        return try ContentDigest(parsing: text)
    }

    /// Members whose keys are none of `known` (compared case-insensitively, as the known ones were checked).
    func unknownMembers(known: Set<String>) -> [JSONMember] {
        let lowered = Set(known.map { $0.lowercased() })
        return members.filter { !lowered.contains($0.key.lowercased()) }
    }

    private func wrongType(_ key: String, _ expected: String, _ value: JSONValue) -> ImageFormatError {
        .wrongType(document: document, field: fieldPath(key), expected: expected, found: value.kindDescription)
    }
}

/// Builds a JSON object member by member, leaving out absent values.
struct JSONObjectBuilder {
    private(set) var members: [JSONMember] = []

    mutating func add(_ key: String, _ value: JSONValue?) {
        if let value { members.append(JSONMember(key: key, value: value)) }
    }

    mutating func add(_ key: String, string: String?) { add(key, string.map(JSONValue.string)) }

    mutating func add(_ key: String, strings: [String]?) { add(key, strings.map { .array($0.map(JSONValue.string)) }) }

    /// Maps are written with sorted keys, as Go's `encoding/json` writes them, so equal maps encode equally.
    mutating func add(_ key: String, map: [String: String]?) {
        add(key, map.map { .object($0.sorted { $0.key < $1.key }.map { JSONMember(key: $0.key, value: .string($0.value)) }) })
    }

    mutating func add(_ key: String, keySet: [String]?) {
        add(key, keySet.map { .object($0.map { JSONMember(key: $0, value: .object([])) }) })
    }

    mutating func add(_ key: String, integer: Int64?) { add(key, integer.map { .number(String($0)) }) }

    mutating func append(contentsOf others: [JSONMember]) { members.append(contentsOf: others) }

    var value: JSONValue { .object(members) }
}

extension JSONValue {
    /// Compact JSON text, members in their order.
    var encodedBytes: [UInt8] {
        var text = ""
        Self.write(self, into: &text)
        return Array(text.utf8)
    }

    private static func write(_ value: JSONValue, into text: inout String) {
        switch value {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let literal): text += literal
        case .string(let string): text += JSONValue.stringLiteral(string)
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += "," }
                write(element, into: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { text += "," }
                text += JSONValue.stringLiteral(member.key) + ":"
                write(member.value, into: &text)
            }
            text += "}"
        }
    }
}
