import StrictJSON

/// A position in a JSON document with typed accessors; failures name the path, such as `tcbLevels[3].tcb.pcesvn`.
///
/// The path is kept as a chain of steps and only rendered as text when a lookup fails.
struct JSONPath {
    struct Failure: Error {
        let path: String
        let problem: String
    }

    indirect enum Trail {
        case root
        case key(Trail, String)
        case index(Trail, Int)

        var text: String {
            switch self {
            case .root: ""
            case .key(let parent, let key):
                parent.text.isEmpty ? key : "\(parent.text).\(key)"
            case .index(let parent, let index): "\(parent.text)[\(index)]"
            }
        }
    }

    let value: JSONValue
    let trail: Trail

    init(_ value: JSONValue, trail: Trail = .root) {
        self.value = value
        self.trail = trail
    }

    var path: String { trail.text }

    private func failure(_ problem: String) -> Failure {
        let text = path
        return Failure(path: text.isEmpty ? "(top level)" : text, problem: problem)
    }

    func optional(_ key: String) throws(Failure) -> JSONPath? {
        guard case .object(let members) = value else { throw failure("is not an object") }
        guard let member = members.first(where: { $0.key == key }) else { return nil }
        if case .null = member.value { return nil }
        return JSONPath(member.value, trail: .key(trail, key))
    }

    subscript(_ key: String) -> JSONPath {
        get throws(Failure) {
            guard let child = try optional(key) else {
                throw Failure(path: Trail.key(trail, key).text, problem: "is missing")
            }
            return child
        }
    }

    func elements() throws(Failure) -> [JSONPath] {
        guard case .array(let values) = value else { throw failure("is not an array") }
        var children = [JSONPath]()
        children.reserveCapacity(values.count)
        for (index, child) in values.enumerated() { children.append(JSONPath(child, trail: .index(trail, index))) }
        return children
    }

    func string() throws(Failure) -> String {
        guard case .string(let text) = value else { throw failure("is not a string") }
        return text
    }

    func integer() throws(Failure) -> Int64 {
        guard let number = Self.integer(value) else { throw failure("is not an integer") }
        return number
    }

    /// The value of an integer literal that fits 64 bits (no fraction or exponent), as Intel's collateral writes them.
    static func integer(_ value: JSONValue) -> Int64? {
        guard case .number(let literal) = value else { return nil }
        return Int64(literal)
    }

    func strings() throws(Failure) -> [String] {
        var result = [String]()
        for element in try elements() { result.append(try element.string()) }
        return result
    }
}
