/// Why a TOML text could not be read: where (1-based line and column, counted in Unicode scalars), what was found
/// there, what the reader expected, and what to do about it.
public struct TOMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let found: String
    public let expected: String
    public let hint: String

    public init(line: Int, column: Int, found: String, expected: String, hint: String) {
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected
        self.hint = hint
    }

    public var description: String {
        "TOML line \(line), column \(column): found \(found); expected \(expected). \(hint)"
    }
}
