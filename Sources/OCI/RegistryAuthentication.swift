/// A `WWW-Authenticate` challenge (RFC 7235): the scheme and its parameters.
public struct AuthenticationChallenge: Sendable, Hashable {
    /// Lower-cased: `bearer` or `basic`.
    public var scheme: String
    /// Parameter names lower-cased (`realm`, `service`, `scope`).
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Reads the first challenge of a header value such as
    /// `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`.
    /// Nil when the value is not a challenge.
    public init?(header: String) {
        var scanner = ChallengeScanner(bytes: Array(header.utf8))
        scanner.skipSpaces()
        guard let scheme = scanner.token(), !scheme.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while true {
            scanner.skipSpaces()
            let mark = scanner.index
            guard let name = scanner.token(), !name.isEmpty else { break }
            scanner.skipSpaces()
            guard scanner.consume(UInt8(ascii: "=")) else {
                // A token without '=' begins the next challenge.
                scanner.index = mark
                break
            }
            scanner.skipSpaces()
            guard let value = scanner.quotedString() ?? scanner.token() else { return nil }
            if parameters[name.lowercased()] == nil { parameters[name.lowercased()] = value }
            scanner.skipSpaces()
            if !scanner.consume(UInt8(ascii: ",")) { break }
        }
        self.init(scheme: scheme.lowercased(), parameters: parameters)
    }
}

private struct ChallengeScanner {
    let bytes: [UInt8]
    var index = 0

    mutating func skipSpaces() {
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// An RFC 7230 token (letters, digits and `!#$%&'*+-.^_`|~`).
    mutating func token() -> String? {
        let start = index
        while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    mutating func quotedString() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var value: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: value, as: UTF8.self) }
            if byte == UInt8(ascii: "\\"), index < bytes.count {
                value.append(bytes[index])
                index += 1
            } else {
                value.append(byte)
            }
        }
        return nil
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~/:".utf8.contains(byte)
        }
    }
}

/// What a repository access needs from the token service (distribution's token scope grammar).
struct AccessScope: Sendable, Hashable {
    var repository: String
    var push: Bool

    var text: String { "repository:\(repository):\(push ? "pull,push" : "pull")" }
}

/// Authorization header values already obtained, per registry and set of scopes, and each registry's challenge, so
/// that later requests (including streamed uploads, which cannot be replayed) are authorized before they are sent.
actor AuthorizationCache {
    private struct Entry {
        let header: String
        let expires: ContinuousClock.Instant?
    }

    private var entries: [String: Entry] = [:]
    private var challenges: [String: AuthenticationChallenge] = [:]

    private static func key(host: String, scopes: [AccessScope]) -> String {
        host + " " + scopes.map(\.text).sorted().joined(separator: " ")
    }

    func header(host: String, scopes: [AccessScope]) -> String? {
        guard let entry = entries[Self.key(host: host, scopes: scopes)] else { return nil }
        if let expires = entry.expires, expires < ContinuousClock.now { return nil }
        return entry.header
    }

    func store(header: String, host: String, scopes: [AccessScope], lifetime: Duration?) {
        // Renewed early (a quarter of its life, at most 30 s): a token that expires while a request is on its way
        // fails that request.
        let expires = lifetime.map { ContinuousClock.now + $0 - min($0 / 4, .seconds(30)) }
        entries[Self.key(host: host, scopes: scopes)] = Entry(header: header, expires: expires)
    }

    func forget(host: String, scopes: [AccessScope]) {
        entries[Self.key(host: host, scopes: scopes)] = nil
    }

    func challenge(host: String) -> AuthenticationChallenge? { challenges[host] }

    func store(challenge: AuthenticationChallenge, host: String) { challenges[host] = challenge }
}
