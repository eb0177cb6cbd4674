import Crypto
import Foundation
import NIOHTTP1
import OCI
import StrictJSON
import Synchronization
import TestSupport
import Testing

@Suite("Registry failures and token authentication")
struct FaultTests {
    /// The real registry cannot be made to fail mid-upload, so a stub plays a registry whose storage breaks: it
    /// opens uploads and answers 500 with a distribution error body to every PATCH and PUT.
    @Test(arguments: [RegistryClient.UploadMode.chunked(chunkSize: 32 << 10), .automatic])
    func serverErrorMidUploadNamesHostRepositoryAndReason(_ mode: RegistryClient.UploadMode) async throws {
        try await withStubHTTPServer(handler: { request in
            switch request.method {
            case .HEAD: return StubResponse(status: .notFound)
            case .POST: return StubResponse(status: .accepted, headers: [("Location", "/v2/team/app/blobs/uploads/u1?_state=x")])
            default:
                let body = #"{"errors":[{"code":"UNKNOWN","message":"storage backend unavailable","detail":{"disk":"full"}}]}"#
                return StubResponse(status: .internalServerError, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
            }
        }) { server in
            var options = plainHTTP
            options.uploadMode = mode
            try await withRegistryClient(options: options) { client in
                let destination = try registryDestination(client, "docker://127.0.0.1:\(server.port)/team/app:t")
                let bytes = [UInt8](repeating: 7, count: 100_000)
                do throws(ImageTransferError) {
                    _ = try await destination.putBlob(BlobStream(bytes: bytes, origin: "memory"), expected: .of(bytes), progress: nil)
                    Issue.record("the upload succeeded against a failing registry")
                } catch {
                    guard case .registryStatus(let operation, 500, let errors) = error else {
                        Issue.record("unexpected \(error)")
                        return
                    }
                    #expect(operation.host == "127.0.0.1:\(server.port)")
                    #expect(operation.repository == "team/app")
                    #expect(operation.action.hasPrefix(mode == .automatic ? "PUT blob" : "PATCH blob upload"))
                    #expect(errors.first?.message == "storage backend unavailable")
                    #expect(error.description.contains("storage backend unavailable"))
                    #expect(error.description.contains("team/app"))
                }
            }
        }
    }

    /// distribution's token authentication with a real registry: a token service stub signs ES256 JWTs with a key
    /// whose certificate the registry trusts, for a user given by HTTP Basic credentials.
    @Test(.enabled(if: Tools.registryTools && Tools.available("openssl"), "\(Tools.registryToolsMissing) and openssl"))
    func bearerTokensFromTheChallengedRealm() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        try await runProgramOffPool(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", work.path + "/key.pem",
                "-out", work.path + "/cert.pem", "-days", "1", "-subj", "/CN=test token issuer",
            ])
        try await runProgramOffPool("openssl", ["x509", "-in", work.path + "/cert.pem", "-outform", "DER", "-out", work.path + "/cert.der"])
        let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: work.path + "/key.pem", encoding: .utf8))
        let certificate = try Data(contentsOf: URL(fileURLWithPath: work.path + "/cert.der")).base64EncodedString()
        let issued = TokenLog()
        try await withStubHTTPServer(handler: { request in
            let expected = "Basic " + Data("alice:pw".utf8).base64EncodedString()
            guard request.headers.first(name: "Authorization") == expected else {
                return StubResponse(status: .unauthorized, body: Array(#"{"errors":[{"code":"DENIED","message":"bad user"}]}"#.utf8))
            }
            let scopes = TokenIssuer.scopes(in: request.uri)
            issued.append(scopes)
            let token = TokenIssuer.token(key: key, certificate: certificate, scopes: scopes)
            return StubResponse(status: .ok, body: Array(#"{"token":"\#(token)","expires_in":300}"#.utf8))
        }) { tokenServer in
            let authentication = LocalRegistry.Authentication.token(
                realm: "http://127.0.0.1:\(tokenServer.port)/token", service: "test-registry", issuer: "test-issuer",
                certificatePath: work.path + "/cert.pem")
            let image = try await TestImage.make(in: work.path)
            try await withLocalRegistry(authentication: authentication) { registry in
                let layout = LayoutSource(LayoutReference(directory: image.layout, tag: "t"))
                try await withRegistryClient(options: plainHTTP) { client in
                    let destination = try registryDestination(client, "docker://\(registry.host)/secure/app:t")
                    await #expect {
                        try await ImageCopier().copyImage(from: layout, to: destination, tag: "t")
                    } throws: { error in
                        guard case .tokenRequestFailed(_, let realm, let reason) = error as? ImageTransferError else { return false }
                        return realm.contains("/token") && reason.contains("401") && reason.contains("bad user")
                    }
                }

                let authFile = work.path + "/auth.json"
                let auth = Data("alice:pw".utf8).base64EncodedString()
                try #"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}}}"#.write(toFile: authFile, atomically: true, encoding: .utf8)
                let options = RegistryClient.Options(
                    plainHTTP: true, credentials: CredentialStore(environment: ["REGISTRY_AUTH_FILE": authFile, "HOME": work.path]))
                try await withRegistryClient(options: options) { client in
                    let destination = try registryDestination(client, "docker://\(registry.host)/secure/app:t")
                    let stored = try await ImageCopier().copyImage(from: layout, to: destination, tag: "t")
                    let mountTarget = try registryDestination(client, "docker://\(registry.host)/secure/mirror:m")
                    let source = try registrySource(client, "docker://\(registry.host)/secure/app:t")
                    let events = EventLog()
                    try await ImageCopier(progress: events.record).copyImage(from: source, to: mountTarget, tag: "m")
                    #expect(events.all.contains { if case .mounted = $0 { true } else { false } })
                    let output = try await runProgramOffPool(
                        "skopeo",
                        [
                            "--insecure-policy", "inspect", "--tls-verify=false", "--creds", "alice:pw", "docker://\(registry.host)/secure/app:t",
                        ])
                    #expect(output.contains(stored.digest.description))
                }
                #expect(issued.all.contains { $0.contains("repository:secure/app:pull,push") })
                #expect(issued.all.contains { $0.contains("repository:secure/mirror:pull,push") && $0.contains("repository:secure/app:pull") })
            }
        }
    }
}

final class TokenLog: Sendable {
    private let scopes = Mutex<[[String]]>([])
    var all: [[String]] { scopes.withLock { $0 } }
    func append(_ entry: [String]) { scopes.withLock { $0.append(entry) } }
}

/// Issues the JWTs distribution's token authentication accepts (docs: "Token Authentication Implementation").
enum TokenIssuer {
    static func scopes(in uri: String) -> [String] {
        guard let query = uri.split(separator: "?", maxSplits: 1).last else { return [] }
        return query.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "scope" else { return nil }
            return String(parts[1]).removingPercentEncoding
        }
    }

    static func token(key: P256.Signing.PrivateKey, certificate: String, scopes: [String]) -> String {
        let access: [JSONValue] = scopes.compactMap { scope in
            let parts = scope.split(separator: ":")
            guard parts.count == 3 else { return nil }
            return .object([
                JSONMember(key: "type", value: .string(String(parts[0]))),
                JSONMember(key: "name", value: .string(String(parts[1]))),
                JSONMember(key: "actions", value: .array(parts[2].split(separator: ",").map { .string(String($0)) })),
            ])
        }
        let now = Int(Date().timeIntervalSince1970)
        let header = #"{"alg":"ES256","typ":"JWT","x5c":["\#(certificate)"]}"#
        let claims = JSONValue.object([
            JSONMember(key: "iss", value: .string("test-issuer")),
            JSONMember(key: "sub", value: .string("alice")),
            JSONMember(key: "aud", value: .string("test-registry")),
            JSONMember(key: "exp", value: .number(String(now + 300))),
            JSONMember(key: "nbf", value: .number(String(now - 10))),
            JSONMember(key: "iat", value: .number(String(now))),
            JSONMember(key: "jti", value: .string(UUID().uuidString)),
            JSONMember(key: "access", value: .array(access)),
        ])
        let signingInput = base64URL(Data(header.utf8)) + "." + base64URL(Data(encode(claims).utf8))
        let signature = try! key.signature(for: Data(signingInput.utf8)).rawRepresentation
        return signingInput + "." + base64URL(signature)
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func encode(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .number(let literal): literal
        case .string(let text): JSONValue.stringLiteral(text)
        case .array(let elements): "[" + elements.map(encode).joined(separator: ",") + "]"
        case .object(let members): "{" + members.map { JSONValue.stringLiteral($0.key) + ":" + encode($0.value) }.joined(separator: ",") + "}"
        }
    }
}
