import CoordinatorAPI
import CoordinatorServer
import Foundation
import OpenAPIKit
import Platform
import TestSupport
import Testing
import _CryptoExtras

/// The served OpenAPI document against the real answers: OpenAPIKit validates the document; every documented operation
/// is called; Python's jsonschema (an independent implementation of the document's JSON Schema dialect) checks that
/// every answer's status, content type and body are documented, and that every request body the document refuses is
/// refused.
@Suite(.enabled(if: PythonEnvironment.available, "\(PythonEnvironment.missingMessage)"))
struct OpenAPITests {
    struct Exchange {
        let path: String
        let method: String
        var requestBody: Data? = nil
        let answer: APIClient.Answer

        var recorded: [String: Any] {
            [
                "method": method, "path": path, "requestBody": requestBody?.base64EncodedString() ?? NSNull(), "status": answer.status,
                "contentType": answer.contentType ?? "", "responseBody": answer.body.base64EncodedString(),
            ]
        }
    }

    @Test func theDocumentIsValidOpenAPI() throws {
        let document = try JSONDecoder().decode(OpenAPI.Document.self, from: Data(OpenAPIDocument.bytes))
        try document.validate()
        #expect(document.openAPIVersion == .v3_1_0)
        #expect(OpenAPIDocument.methodsByPath[ClientAPIPath.manifest] == ["GET", "POST"])
        #expect(OpenAPIDocument.allowHeader(for: "/not/an/endpoint") == "")
    }

    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let fixture = try await ServerFixture.start()
        let admin = try TestUser(name: "admin")
        let alice = try TestUser(name: "alice")
        let bob = try TestUser(name: "bob")
        let anonymous = try fixture.client()
        let adminClient = try fixture.client(admin.identity)
        let aliceClient = try fixture.client(alice.identity)
        let bobClient = try fixture.client(bob.identity)
        let marble = try TestMarble()
        let marbleClient = try fixture.client(marble.identity)
        let base = fixture.clientURL
        var exchanges: [Exchange] = []
        func get(_ client: APIClient, _ path: String, query: String = "", url: String? = nil) async throws {
            exchanges.append(Exchange(path: path, method: "get", answer: try await client.get((url ?? base) + path + query)))
        }
        func post(_ client: APIClient, _ path: String, _ body: Data, url: String? = nil) async throws {
            exchanges.append(Exchange(path: path, method: "post", requestBody: body, answer: try await client.post((url ?? base) + path, body: body)))
        }
        func json(_ value: some Encodable) throws -> Data { try JSONEncoder().encode(value) }

        // Before a manifest.
        try await get(anonymous, ClientAPIPath.status)
        try await get(anonymous, ClientAPIPath.quote)
        try await get(anonymous, ClientAPIPath.quote, query: "?nonce=not+base64url")
        try await get(anonymous, ClientAPIPath.manifest)
        try await get(anonymous, ClientAPIPath.updateManifest)
        try await get(anonymous, ClientAPIPath.health)
        try await get(anonymous, ClientAPIPath.readiness)
        try await post(anonymous, ClientAPIPath.manifest, Data("{\"manifest\": 1}".utf8))
        try await post(
            anonymous, ClientAPIPath.recover, try json(RecoveryRequest(recoverySecret: Data(count: 32), recoverySecretSignature: Data(count: 4))))
        try await get(anonymous, ClientAPIPath.recoveryPublicKey)
        let quoteToSign = try fixture.platform(TestMeasurements.backend()).quote(reportData: [UInt8](repeating: 9, count: 64))
        try await post(anonymous, ClientAPIPath.signQuote, try json(SignQuoteRequest(sgxQuote: Data(quoteToSign))))
        try await post(anonymous, ClientAPIPath.monotonicCounter, try json(MonotonicCounterRequest(name: "c", value: 1)))
        let manifest = TestManifests.standard(
            users: [admin, alice, bob], updateThreshold: 2, featureGates: ["SignQuoteEndpoint", "MonotonicCounter"])
        try await post(anonymous, ClientAPIPath.manifest, try json(ManifestRequest(manifest: Data(manifest))))
        // With a manifest.
        try await get(anonymous, ClientAPIPath.manifest)
        try await post(anonymous, ClientAPIPath.signQuote, try json(SignQuoteRequest(sgxQuote: Data(quoteToSign))))
        try await post(anonymous, ClientAPIPath.signQuote, try json(SignQuoteRequest(sgxQuote: Data(quoteToSign.prefix(64)))))
        try await get(anonymous, ClientAPIPath.secrets, query: "?s=apiToken")
        try await get(adminClient, ClientAPIPath.secrets, query: "?s=apiToken")
        try await post(adminClient, ClientAPIPath.secrets, Data("[]".utf8))
        try await post(adminClient, ClientAPIPath.secrets, try json(SecretsSetRequest(secrets: ["apiToken": UserSecretObject(key: Data("t".utf8))])))
        try await get(adminClient, ClientAPIPath.secrets, query: "?s=apiToken&s=sharedKey")
        try await get(adminClient, ClientAPIPath.secrets, query: "?s=nosuchsecret")
        try await post(
            adminClient, ClientAPIPath.update, try json(ManifestRequest(manifest: Data(TestManifests.packageUpdate(frontendSecurityVersion: 4)))))
        try await post(
            anonymous, ClientAPIPath.update, try json(ManifestRequest(manifest: Data(TestManifests.packageUpdate(frontendSecurityVersion: 5)))))
        try await post(adminClient, ClientAPIPath.update, Data("not json".utf8))
        try await post(bobClient, ClientAPIPath.updateCancel, Data())
        try await post(bobClient, ClientAPIPath.updateManifest, try json(ManifestRequest(manifest: Data(manifest))))
        let updated = TestManifests.standard(
            users: [admin, alice, bob], frontendSecurityVersion: 4, updateThreshold: 2, backendEnv: "staging",
            featureGates: ["SignQuoteEndpoint", "MonotonicCounter"])
        try await post(aliceClient, ClientAPIPath.update, try json(ManifestRequest(manifest: Data(updated))))
        try await get(anonymous, ClientAPIPath.updateManifest)
        try await post(anonymous, ClientAPIPath.updateManifest, try json(ManifestRequest(manifest: Data(updated))))
        try await post(bobClient, ClientAPIPath.updateManifest, Data("{".utf8))
        try await post(bobClient, ClientAPIPath.updateManifest, try json(ManifestRequest(manifest: Data(updated))))
        try await post(anonymous, ClientAPIPath.updateCancel, Data())
        try await get(anonymous, ClientAPIPath.update)
        try await post(anonymous, ClientAPIPath.recover, Data("{}".utf8))
        try await post(marbleClient, ActivationPlanRequest.path, try json(ActivationPlanRequest(marbleType: "frontend")), url: fixture.marbleURL)
        try await post(marbleClient, ActivationPlanRequest.path, try json(ActivationPlanRequest(marbleType: "intruder")), url: fixture.marbleURL)
        try await post(marbleClient, ActivationPlanRequest.path, Data("[]".utf8), url: fixture.marbleURL)
        try await post(
            marbleClient, ActivationRequest.path, try json(try marble.request(type: "backend", on: fixture.platform(TestMeasurements.backend()))),
            url: fixture.marbleURL)
        try await post(
            marbleClient, ActivationRequest.path, try json(try marble.request(type: "frontend", on: fixture.platform(TestMeasurements.backend()))),
            url: fixture.marbleURL)
        try await post(marbleClient, ActivationRequest.path, Data("{}".utf8), url: fixture.marbleURL)
        let activated = try #require(exchanges.first { $0.path == ActivationRequest.path && $0.answer.status == 200 }).answer
        let activatedClient = try fixture.client(try ClientIdentity(activated: try activated.data(ActivationResponse.self)))
        try await post(activatedClient, ClientAPIPath.monotonicCounter, try json(MonotonicCounterRequest(name: "c", value: 1)))
        try await post(activatedClient, ClientAPIPath.monotonicCounter, Data("{}".utf8))
        try await post(adminClient, ClientAPIPath.monotonicCounter, try json(MonotonicCounterRequest(name: "c", value: 2)))
        await activatedClient.shutdown()
        #expect(exchanges.filter { $0.path == ClientAPIPath.signQuote }.map(\.answer.status) == [403, 200, 400])
        #expect(exchanges.filter { $0.path == ClientAPIPath.monotonicCounter }.map(\.answer.status) == [403, 200, 400, 401])
        try await get(anonymous, ClientAPIPath.metrics)
        for client in [anonymous, adminClient, aliceClient, bobClient, marbleClient] { await client.shutdown() }
        await fixture.remove()

        // Recovery mode: a deployment with a recovery key whose sealing key is lost; the share travels encrypted to the
        // ephemeral recovery public key.
        let recoveryKey = try _RSA.Encryption.PrivateKey(keySize: .bits2048)
        let sealed = try await ServerFixture.start()
        let sealedClient = try sealed.client()
        let set = try await sealedClient.post(
            sealed.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(recoveryKeys: ["owner": recoveryKey.publicKey.pemRepresentation]))))
        let encrypted = try #require(try set.data(ManifestSetResponse.self).recoverySecrets["owner"])
        await sealedClient.shutdown()
        await sealed.stop()
        let recovering = try await ServerFixture.start(directory: sealed.directory, coordinatorEnclave: Self.otherSealingIdentity)
        let recoveringClient = try recovering.client()
        try await get(recoveringClient, ClientAPIPath.status, url: recovering.clientURL)
        try await get(recoveringClient, ClientAPIPath.recoveryPublicKey, url: recovering.clientURL)
        let publicKeyAnswer = try #require(exchanges.last).answer
        let ephemeral = try _RSA.Encryption.PublicKey(derRepresentation: try publicKeyAnswer.data(RecoveryPublicKeyResponse.self).ephemeralPublicKey)
        #expect(ephemeral.keySizeInBits == 4096)
        let secret = try recoveryKey.decrypt(encrypted, padding: .PKCS1_OAEP_SHA256)
        let signature = try _RSA.Signing.PrivateKey(derRepresentation: recoveryKey.derRepresentation).signature(
            for: secret, padding: .insecurePKCS1v1_5)
        let transported = try ephemeral.encrypt(secret, padding: .PKCS1_OAEP_SHA256)
        try await post(
            recoveringClient, ClientAPIPath.recover,
            try json(RecoveryRequest(recoverySecret: Data(count: 300), recoverySecretSignature: signature.rawRepresentation)),
            url: recovering.clientURL)
        try await post(
            recoveringClient, ClientAPIPath.recover,
            try json(RecoveryRequest(recoverySecret: transported, recoverySecretSignature: signature.rawRepresentation)), url: recovering.clientURL)
        #expect(try exchanges.last?.answer.data(RecoveryResponse.self).remaining == 0)
        try await get(recoveringClient, ClientAPIPath.openAPI, url: recovering.clientURL)
        await recoveringClient.shutdown()

        let served = try #require(exchanges.last).answer
        #expect(served.body == Data(OpenAPIDocument.bytes))
        let exchangesFile = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-exchanges-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: exchangesFile) }
        try JSONSerialization.data(withJSONObject: exchanges.map(\.recorded)).write(to: exchangesFile)
        let documentFile = SharedData.repositoryRoot.appendingPathComponent("Sources/CoordinatorServer/openapi.json").path
        let verdict = try await PythonEnvironment.runJSON(Self.checker, [documentFile, exchangesFile.path])
        #expect(verdict["checked"] as? Int == exchanges.count)
        for problem in verdict["problems"] as? [String] ?? ["the checker printed no problems list"] { Issue.record(Comment(rawValue: problem)) }
        let called = Set(exchanges.map { "\($0.method.uppercased()) \($0.path)" })
        for (path, methods) in OpenAPIDocument.methodsByPath {
            for method in methods {
                #expect(called.contains("\(method) \(path)"), "\(method) \(path) is documented but was not called")
            }
        }

        // The metrics name the state and count the activations by type.
        let metrics = String(decoding: try #require(exchanges.first { $0.path == ClientAPIPath.metrics }).answer.body, as: UTF8.self)
        #expect(metrics.contains("coordinator_state 3"))
        #expect(metrics.contains(#"coordinator_marble_activations_total{type="backend"} 1"#))
        #expect(metrics.contains(#"coordinator_marble_activations_success_total{type="backend"} 1"#))
        #expect(metrics.contains(#"coordinator_marble_activations_total{type="frontend"} 1"#))
        #expect(metrics.contains("server_client_api_http_request_total"))

        await recovering.remove()
    }

    static let checker = SharedData.repositoryRoot.appendingPathComponent("Tests/CoordinatorServerTests/openapi_exchanges.py").path

    /// Another signer: the sealing key differs, so a restart with it cannot open the state (recovery mode).
    static let otherSealingIdentity = EnclaveMeasurement(
        mrEnclave: ServerFixture.coordinatorEnclave.mrEnclave, mrSigner: [UInt8](repeating: 0xD6, count: 32), productID: 1,
        securityVersion: 1, debug: false)
}
