import StrictJSON

/// A value in a JSON document with its location and typed accessors; a failure names the location, such as
/// `tcbLevels[3].tcb.pcesvn`.
struct JSONCursor {
    struct Failure: Error {
        let path: String
        let problem: String
    }

    let value: JSONValue
    let location: JSONPath

    init(_ value: JSONValue, at location: JSONPath = .root) {
        self.value = value
        self.location = location
    }

    var path: String { location.description }

    private func failure(_ problem: String) -> Failure {
        let text = path
        return Failure(path: text.isEmpty ? "(top level)" : text, problem: problem)
    }

    func optional(_ key: String) throws(Failure) -> JSONCursor? {
        guard case .object(let members) = value else { throw failure("is not an object") }
        guard let member = members.first(where: { $0.key == key }) else { return nil }
        if case .null = member.value { return nil }
        return JSONCursor(member.value, at: location.appending(key))
    }

    subscript(_ key: String) -> JSONCursor {
        get throws(Failure) {
            guard let child = try optional(key) else {
                throw Failure(path: location.appending(key).description, problem: "is missing")
            }
            return child
        }
    }

    func elements() throws(Failure) -> [JSONCursor] {
        guard case .array(let values) = value else { throw failure("is not an array") }
        var children = [JSONCursor]()
        children.reserveCapacity(values.count)
        for (index, child) in values.enumerated() { children.append(JSONCursor(child, at: location.appending(index: index))) }
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
