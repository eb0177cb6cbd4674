import CoordinatorAPI
import Foundation
import SwiftASN1
import TestSupport
import Testing
import X509

/// Who may call what: every refusal is a 401 with a JSend `fail` naming the reason, as MarbleRun answers.
@Suite struct AuthorizationTests {
    @Test func userEndpointsRefuseEveryWrongIdentity() async throws {
        try await ServerFixture.run { fixture in
            let admin = try TestUser(name: "admin")
            let reader = try TestUser(name: "reader")
            let alice = try TestUser(name: "alice")
            let expired = try TestUser(
                name: "expired", notValidBefore: Date().addingTimeInterval(-86_400 * 30), notValidAfter: Date().addingTimeInterval(-86_400))
            let stranger = try TestUser(name: "stranger")
            let anonymous = try fixture.client()
            let manifest = TestManifests.standard(users: [admin, reader, alice, expired])
            #expect(
                try await anonymous.post(fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(manifest))).status == 200)

            // A marble's own certificate and key, as the Coordinator issued them at activation.
            let marble = try TestMarble()
            let marbleClient = try fixture.client(marble.identity)
            let activation = try await marbleClient.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try marble.request(type: "backend", on: fixture.platform(TestMeasurements.backend()))
            )
            .data(ActivationResponse.self)
            let chain = String(decoding: activation.env["MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN"]!, as: UTF8.self)
            let leafDER = try PEMDocument.parseMultiple(pemString: chain)[0].derBytes
            let marbleIdentity = ClientIdentity(
                certificateDER: leafDER, privateKeyPEM: String(decoding: activation.env["MARBLE_PREDEFINED_PRIVATE_KEY"]!, as: UTF8.self))

            let identities: [(String, ClientIdentity?, String)] = [
                ("no certificate", nil, "auth.no_client_certificate"),
                ("unknown certificate", stranger.identity, "auth.unknown_client_certificate"),
                ("marble certificate used as a user", marbleIdentity, "auth.marble_certificate_used_as_user"),
                ("expired certificate", expired.identity, "auth.expired_client_certificate"),
            ]
            let secretsWrite = try JSONEncoder().encode(SecretsSetRequest(secrets: ["apiToken": UserSecretObject(key: Data("x".utf8))]))
            let packageUpdate = try JSONEncoder().encode(ManifestRequest(manifest: Data(TestManifests.packageUpdate(frontendSecurityVersion: 5))))
            for (label, identity, reason) in identities {
                let client = try fixture.client(identity)
                let answers = [
                    ("GET secrets", try await client.get(fixture.clientURL + ClientAPIPath.secrets + "?s=apiToken")),
                    ("POST secrets", try await client.post(fixture.clientURL + ClientAPIPath.secrets, body: secretsWrite)),
                    ("POST update", try await client.post(fixture.clientURL + ClientAPIPath.update, body: packageUpdate)),
                    ("POST update-cancel", try await client.post(fixture.clientURL + ClientAPIPath.updateCancel, body: Data())),
                ]
                for (endpoint, answer) in answers {
                    #expect(answer.status == 401, "\(label), \(endpoint): \(String(decoding: answer.body, as: UTF8.self))")
                    #expect(answer.jsendStatus == "fail", "\(label), \(endpoint)")
                    #expect(answer.failReason == reason, "\(label), \(endpoint)")
                    #expect((answer.json["message"] as? String)?.isEmpty == false)
                }
            }

            // Known users whose roles do not allow the operation.
            let readerClient = try fixture.client(reader.identity)
            let aliceClient = try fixture.client(alice.identity)
            let wrongRole = [
                ("reader writes a secret", try await readerClient.post(fixture.clientURL + ClientAPIPath.secrets, body: secretsWrite)),
                ("reader reads a secret outside its role", try await readerClient.get(fixture.clientURL + ClientAPIPath.secrets + "?s=userKey")),
                ("alice updates a package", try await aliceClient.post(fixture.clientURL + ClientAPIPath.update, body: packageUpdate)),
                ("reader cancels an update", try await readerClient.post(fixture.clientURL + ClientAPIPath.updateCancel, body: Data())),
            ]
            for (label, answer) in wrongRole {
                #expect(answer.status == 401, "\(label): \(String(decoding: answer.body, as: UTF8.self))")
                #expect(answer.jsendStatus == "fail", "\(label)")
                #expect(answer.failReason == "auth.missing_permission", "\(label)")
            }

            // The right user succeeds with the same request.
            let adminClient = try fixture.client(admin.identity)
            #expect(try await adminClient.post(fixture.clientURL + ClientAPIPath.secrets, body: secretsWrite).status == 200)
        }
    }

    @Test func marbleAPIRequiresAClientCertificateAndAWellFormedRequest() async throws {
        try await ServerFixture.run { fixture in
            let anonymous = try fixture.client()
            let marble = try TestMarble()
            let marbleClient = try fixture.client(marble.identity)
            _ = try await anonymous.post(fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard())))
            // Without a certificate the TLS handshake itself fails.
            await #expect(throws: (any Error).self) {
                _ = try await anonymous.post(
                    fixture.marbleURL + ActivationRequest.path,
                    json: try marble.request(type: "backend", on: fixture.platform(TestMeasurements.backend())))
            }
            let garbage = try await marbleClient.post(fixture.marbleURL + ActivationRequest.path, body: Data("{\"quote\": 12}".utf8))
            #expect(garbage.status == 400)
            #expect(garbage.jsendStatus == "fail")
            #expect(garbage.failReason == "request.malformed")
            // A quote bound to another certificate is refused with the reason.
            let other = try TestMarble()
            let replayed = try await marbleClient.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try marble.request(
                    type: "backend", on: fixture.platform(TestMeasurements.backend()), boundCertificate: other.identity.certificateDER))
            #expect(replayed.status == 403)
            #expect(replayed.failReason == "activation.report_data_mismatch")
            let unknownType = try await marbleClient.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try marble.request(type: "nosuchtype", on: fixture.platform(TestMeasurements.backend()))
            )
            #expect(unknownType.status == 403)
            #expect(unknownType.failReason == "activation.unknown_marble_type")
            // Unknown paths and methods: 405 with a JSend error, as MarbleRun answers.
            let unknown = try await anonymous.get(fixture.clientURL + "/api/v2/nothing")
            #expect(unknown.status == 405)
            #expect(unknown.jsendStatus == "error")
            let wrongMethod = try await anonymous.post(fixture.clientURL + ClientAPIPath.status, body: Data())
            #expect(wrongMethod.status == 405)
        }
    }
}
