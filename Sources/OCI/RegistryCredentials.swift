import Foundation
import StrictJSON

/// A user name and password for a registry, and the file they came from (for messages; the password never
/// appears in one).
public struct RegistryCredentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    public var password: String
    public var source: String

    public init(username: String, password: String, source: String) {
        self.username = username
        self.password = password
        self.source = source
    }

    public var description: String { "user '\(username)' (from \(source))" }

    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Finds credentials in the auth files that podman, skopeo and Docker write, in containers/image's order:
/// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`,
/// `~/.docker/config.json`. The first file with an entry for the registry wins; within a file an entry for the
/// repository or one of its namespaces (`host/ns/repo`, `host/ns`) wins over one for the whole host.
public struct CredentialStore: Sendable {
    public var authFiles: [String]

    public init(authFiles: [String]) {
        self.authFiles = authFiles
    }

    /// The auth files that exist or may exist for this environment. Only `auth` entries are read; credential
    /// helpers (`credHelpers`, `credsStore`) are not run.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var files: [String] = []
        if let explicit = environment["REGISTRY_AUTH_FILE"], !explicit.isEmpty { files.append(explicit) }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { files.append(runtime + "/containers/auth.json") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        files.append(home + "/.config/containers/auth.json")
        files.append(home + "/.docker/config.json")
        self.init(authFiles: files)
    }

    /// No credentials at all: anonymous access.
    public static let anonymous = CredentialStore(authFiles: [])

    public func credentials(host: String, repository: String) throws(ImageTransferError) -> RegistryCredentials? {
        for path in authFiles {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            if let found = try Self.lookUp(fileBytes: Array(data), path: path, host: host, repository: repository) {
                return found
            }
        }
        return nil
    }

    /// Reads one auth file's bytes. Public for fuzzing: the file may be written by anything.
    public static func lookUp(fileBytes: [UInt8], path: String, host: String, repository: String) throws(ImageTransferError) -> RegistryCredentials? {
        let root: JSONValue
        do {
            root = try JSONParser.parse(fileBytes, maximumDepth: imageDocumentMaximumDepth)
        } catch {
            throw .credentialsUnreadable(path: path, reason: "not JSON: \(error)")
        }
        guard case .object(let members) = root else { throw .credentialsUnreadable(path: path, reason: "the top level is not an object") }
        guard let auths = members.last(where: { $0.key == "auths" })?.value else { return nil }
        guard case .object(let entries) = auths else { throw .credentialsUnreadable(path: path, reason: "'auths' is not an object") }
        var byKey: [String: JSONValue] = [:]
        for entry in entries { byKey[normalizedKey(entry.key)] = entry.value }
        for key in candidateKeys(host: host, repository: repository) {
            guard let entry = byKey[key] else { continue }
            guard case .object(let fields) = entry else { throw .credentialsUnreadable(path: path, reason: "'auths.\(key)' is not an object") }
            guard let auth = fields.last(where: { $0.key == "auth" })?.value else { continue }
            guard case .string(let encoded) = auth else { throw .credentialsUnreadable(path: path, reason: "'auths.\(key).auth' is not a string") }
            if encoded.isEmpty { continue }
            guard let decoded = Data(base64Encoded: encoded), let text = String(data: decoded, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else {
                throw .credentialsUnreadable(path: path, reason: "'auths.\(key).auth' is not base64 of USER:PASSWORD")
            }
            return RegistryCredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]), source: path)
        }
        return nil
    }

    /// Docker's legacy keys are URLs (`https://index.docker.io/v1/`); containers/image compares them by host.
    private static func normalizedKey(_ key: String) -> String {
        var stripped = Substring(key)
        for scheme in ["https://", "http://"] where stripped.hasPrefix(scheme) {
            stripped = stripped.dropFirst(scheme.count)
            if let slash = stripped.firstIndex(of: "/") { stripped = stripped[..<slash] }
        }
        let host = String(stripped)
        return ["index.docker.io", "registry-1.docker.io"].contains(host) ? RegistryReference.dockerHubName : host
    }

    private static func candidateKeys(host: String, repository: String) -> [String] {
        let normalizedHost = ["index.docker.io", "registry-1.docker.io"].contains(host) ? RegistryReference.dockerHubName : host
        var keys: [String] = []
        var components = repository.split(separator: "/").map(String.init)
        while !components.isEmpty {
            keys.append(normalizedHost + "/" + components.joined(separator: "/"))
            components.removeLast()
        }
        keys.append(normalizedHost)
        return keys
    }
}
