import Attestation
import Coordinator
import CoordinatorAPI
import Crypto
import Foundation
import Platform
import SwiftASN1
import TestSupport
import Testing
import X509

/// The whole client and marble API over real TLS on 127.0.0.1, with AsyncHTTPClient as the client.
@Suite struct EndToEndTests {
    @Test func manifestActivationSecretsAndUpdates() async throws {
        try await ServerFixture.run { fixture in
            let admin = try TestUser(name: "admin")
            let alice = try TestUser(name: "alice")
            let bob = try TestUser(name: "bob")
            let reader = try TestUser(name: "reader")
            let anonymous = try fixture.client()
            let adminClient = try fixture.client(admin.identity)
            let aliceClient = try fixture.client(alice.identity)
            let bobClient = try fixture.client(bob.identity)
            let readerClient = try fixture.client(reader.identity)
            let base = fixture.clientURL

            var status = try await anonymous.get(base + ClientAPIPath.status).data(StatusResponse.self)
            #expect(status.code == 2)
            #expect(status.message.contains("SIMULATION"))

            // The quote binds SHA-256(root DER || nonce), and the chain ends with the root the client pinned.
            let nonce: [UInt8] = Array("nonce-1234".utf8)
            let nonceText = Base64URL.encode(nonce)
            let quote = try await anonymous.get(base + ClientAPIPath.quote + "?nonce=" + nonceText).data(CertQuoteResponse.self)
            let rootDER = try PEMDocument(pemString: fixture.rootCertificatePEM).derBytes
            let parsed = try Quote(bytes: Array(quote.quote))
            #expect(Array(parsed.body.reportData.prefix(32)) == Array(SHA256.hash(data: rootDER + nonce)))
            #expect(
                quote.cert.hasSuffix(fixture.rootCertificatePEM)
                    || quote.cert.contains(fixture.rootCertificatePEM.trimmingCharacters(in: .whitespacesAndNewlines)))

            // Set the manifest; read it back with its fingerprint and the root key's signature.
            let manifest = TestManifests.standard(users: [admin, alice, bob, reader], updateThreshold: 2)
            let set = try await anonymous.post(base + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(manifest)))
            #expect(set.status == 200, "\(String(decoding: set.body, as: UTF8.self))")
            #expect(try set.data(ManifestSetResponse.self).recoverySecrets.isEmpty)
            let signed = try await anonymous.get(base + ClientAPIPath.manifest).data(ManifestGetResponse.self)
            #expect(signed.manifest == Data(manifest))
            #expect(signed.manifestFingerprint == SHA256.hash(data: manifest).map { String(format: "%02x", $0) }.joined())
            let rootKey = try Certificate(pemEncoded: fixture.rootCertificatePEM).publicKey
            let digest = SHA256.hash(data: manifest)
            let verifies =
                if let key = P384.Signing.PublicKey(rootKey) {
                    key.isValidSignature(try P384.Signing.ECDSASignature(derRepresentation: signed.manifestSignatureRootECDSA), for: digest)
                } else if let key = P256.Signing.PublicKey(rootKey) {
                    key.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: signed.manifestSignatureRootECDSA), for: digest)
                } else { false }
            #expect(verifies, "the manifest signature verifies with the root certificate's key")
            status = try await anonymous.get(base + ClientAPIPath.status).data(StatusResponse.self)
            #expect(status.code == 3)

            // Activate marbles over mutual TLS with their self-signed certificates (reporter needs a user secret first).
            var activated: [String: ActivationResponse] = [:]
            for (type, enclave) in [("frontend", TestMeasurements.frontend()), ("backend", TestMeasurements.backend())] {
                let marble = try TestMarble()
                let client = try fixture.client(marble.identity)
                let answer = try await client.post(
                    fixture.marbleURL + ActivationRequest.path, json: try marble.request(type: type, on: fixture.platform(enclave)))
                await client.shutdown()
                #expect(answer.status == 200, "\(type): \(String(decoding: answer.body, as: UTF8.self))")
                activated[type] = try answer.data(ActivationResponse.self)
            }
            #expect(activated["frontend"]?.argv == ["frontend", "--serve"])
            #expect(activated["frontend"]?.files["/secrets/shared.key"]?.count == 64)
            #expect(activated["backend"]?.env["MODE"] == Data("production".utf8))
            #expect(activated["backend"]?.env["MARBLE_PREDEFINED_COORDINATOR_ROOT_CA"] == Data(fixture.rootCertificatePEM.utf8))

            // User secrets: admin writes, reader reads what readOnly allows.
            let write = try await adminClient.post(
                base + ClientAPIPath.secrets,
                json: SecretsSetRequest(secrets: [
                    "apiToken": UserSecretObject(key: Data("s3cret".utf8)), "userKey": UserSecretObject(key: Data(repeating: 7, count: 16)),
                ]))
            #expect(write.status == 200, "\(String(decoding: write.body, as: UTF8.self))")
            #expect(write.json["data"] is NSNull)
            let read = try await readerClient.get(base + ClientAPIPath.secrets + "?s=apiToken&s=sharedKey").data(SecretsGetResponse.self)
            #expect(read.secrets["apiToken"]?.privateKey == Data("s3cret".utf8))
            #expect(read.secrets["apiToken"]?.userDefined == true)
            #expect(read.secrets["sharedKey"]?.size == 256)
            #expect(read.secrets["sharedKey"]?.shared == true)
            // A marble activated after the upload sees the user-defined secret.
            let reporter = try TestMarble()
            let reporterClient = try fixture.client(reporter.identity)
            let reporterAnswer = try await reporterClient.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try reporter.request(type: "reporter", on: fixture.platform(TestMeasurements.backend()))
            )
            await reporterClient.shutdown()
            #expect(try reporterAnswer.data(ActivationResponse.self).env["API_TOKEN"] == Data("s3cret".utf8))

            // Package update by admin: frontend SecurityVersion 3 -> 4; a version-3 frontend is then refused.
            let packageUpdate = try await adminClient.post(
                base + ClientAPIPath.update, json: ManifestRequest(manifest: Data(TestManifests.packageUpdate(frontendSecurityVersion: 4))))
            #expect(packageUpdate.status == 200, "\(String(decoding: packageUpdate.body, as: UTF8.self))")
            #expect(try packageUpdate.data(UpdateApplyResponse.self).missingAcknowledgments == 0)
            let oldFrontend = try TestMarble()
            let oldClient = try fixture.client(oldFrontend.identity)
            let refused = try await oldClient.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try oldFrontend.request(type: "frontend", on: fixture.platform(TestMeasurements.frontend(securityVersion: 3))))
            await oldClient.shutdown()
            #expect(refused.status == 403)
            #expect(refused.jsendStatus == "fail")

            // Multi-party manifest update: alice proposes, GET shows it pending, bob acknowledges, it is applied.
            let updated = TestManifests.standard(
                users: [admin, alice, bob, reader], frontendSecurityVersion: 4, updateThreshold: 2, backendEnv: "staging")
            let proposal = try await aliceClient.post(base + ClientAPIPath.update, json: ManifestRequest(manifest: Data(updated)))
            #expect(proposal.status == 200, "\(String(decoding: proposal.body, as: UTF8.self))")
            #expect(try proposal.data(UpdateApplyResponse.self).missingAcknowledgments == 1)
            let pending = try await anonymous.get(base + ClientAPIPath.updateManifest).data(UpdateManifestGetResponse.self)
            #expect(pending.manifest == Data(updated))
            #expect(pending.message == "1 user still needs to acknowledge the update manifest")
            let acknowledged = try await bobClient.post(base + ClientAPIPath.updateManifest, json: ManifestRequest(manifest: Data(updated)))
            #expect(acknowledged.status == 200, "\(String(decoding: acknowledged.body, as: UTF8.self))")
            let applied = try acknowledged.data(UpdateManifestPostResponse.self)
            #expect(applied.missingAcknowledgments == 0)
            #expect(applied.message.contains("Update successfully applied"))
            #expect(try await anonymous.get(base + ClientAPIPath.manifest).data(ManifestGetResponse.self).manifest == Data(updated))
            let noPending = try await anonymous.get(base + ClientAPIPath.updateManifest)
            #expect(noPending.status == 404)
            #expect(noPending.jsendStatus == "error")

            // The servers now present a certificate under the new intermediate, still chaining to the pinned root.
            let fresh = try fixture.client()
            #expect(try await fresh.get(base + ClientAPIPath.status).status == 200)
            await fresh.shutdown()
            let backend = try TestMarble()
            let backendClient = try fixture.client(backend.identity)
            let backendAnswer = try await backendClient.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try backend.request(type: "backend", on: fixture.platform(TestMeasurements.backend())))
            await backendClient.shutdown()
            #expect(try backendAnswer.data(ActivationResponse.self).env["MODE"] == Data("staging".utf8))

            // A proposal can be cancelled.
            let second = TestManifests.standard(
                users: [admin, alice, bob, reader], frontendSecurityVersion: 4, updateThreshold: 2, backendEnv: "canary")
            #expect(try await aliceClient.post(base + ClientAPIPath.update, json: ManifestRequest(manifest: Data(second))).status == 200)
            let cancel = try await bobClient.post(base + ClientAPIPath.updateCancel, body: Data())
            #expect(try cancel.data(UpdateCancelResponse.self).message == "Update successfully cancelled")

            // The update log lists every change as JSON lines.
            let log = try await anonymous.get(base + ClientAPIPath.update).data(UpdateLogResponse.self).updateLog
            #expect(log.first?.contains("Initial manifest set") == true)
            #expect(log.contains { $0.contains("SecurityVersion increased") })
            #expect(log.contains { $0.contains("Secret set") })
            #expect(log.contains { $0.contains("cancelled") })
            for line in log { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any]) }
        }
    }
}
