/// A TOML value as Gramine's manifests use it.
///
/// Dates and times are deliberately absent: Gramine's manifest keys never take them, so the reader refuses them
/// instead of carrying a type nothing consumes.
public enum TOMLValue: Sendable, Hashable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var boolean: Bool? { if case .boolean(let value) = self { value } else { nil } }
    public var array: [TOMLValue]? { if case .array(let value) = self { value } else { nil } }
    public var table: TOMLTable? { if case .table(let value) = self { value } else { nil } }

    /// The TOML type name, for error messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A TOML table that keeps its keys in insertion order.
///
/// Order matters because Gramine measures the exact bytes of the written manifest, and tomli-w writes keys in the
/// order the parsed dictionary holds them.
public struct TOMLTable: Sendable, Hashable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public init(_ entries: KeyValuePairs<String, TOMLValue>) {
        for (key, value) in entries { self[key] = value }
    }

    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }

    /// The entries in insertion order.
    public var entries: [(key: String, value: TOMLValue)] { keys.map { ($0, values[$0]!) } }

    /// Reads a value; assigning keeps an existing key's position (like a Python dict), appends a new key, and
    /// removes the key when given nil.
    public subscript(key: String) -> TOMLValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The value at a dotted path of keys through nested tables, or nil when any step is missing or not a table.
    public subscript(path path: [String]) -> TOMLValue? {
        guard let first = path.first else { return .table(self) }
        guard path.count > 1 else { return self[first] }
        return self[first]?.table?[path: Array(path.dropFirst())]
    }

    /// Python's `dict.setdefault`: the value under `key`, inserting `value` at the end when the key is missing.
    @discardableResult
    public mutating func setDefault(_ key: String, _ value: TOMLValue) -> TOMLValue {
        if let existing = self[key] { return existing }
        self[key] = value
        return value
    }
}
