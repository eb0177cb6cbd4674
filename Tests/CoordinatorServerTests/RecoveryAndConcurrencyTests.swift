import CoordinatorAPI
import Crypto
import Foundation
import Platform
import TestSupport
import Testing
import _CryptoExtras

@Suite struct RecoveryAndConcurrencyTests {
    /// The sealing key is lost (the Coordinator restarts as another enclave identity): it comes up in recovery mode
    /// with a temporary root, and `POST /api/v2/recover` with the decrypted, signed recovery secret brings back the
    /// original root, manifest and secrets.
    @Test func recoveryAfterTheSealingKeyIsLost() async throws {
        let recoveryKey = try _RSA.Encryption.PrivateKey(keySize: .bits2048)
        let admin = try TestUser(name: "admin")
        let first = try await ServerFixture.start()
        let manifest = TestManifests.standard(users: [admin], recoveryKeys: ["owner": recoveryKey.publicKey.pemRepresentation])
        let anonymous = try first.client()
        let adminClient = try first.client(admin.identity)
        let set = try await anonymous.post(first.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(manifest)))
        let encrypted = try #require(try set.data(ManifestSetResponse.self).recoverySecrets["owner"])
        #expect(
            try await adminClient.post(
                first.clientURL + ClientAPIPath.secrets, json: SecretsSetRequest(secrets: ["apiToken": UserSecretObject(key: Data("kept".utf8))])
            ).status == 200)
        let sharedBefore = try await adminClient.get(first.clientURL + ClientAPIPath.secrets + "?s=sharedKey").data(SecretsGetResponse.self)
        await anonymous.shutdown()
        await adminClient.shutdown()
        await first.stop()

        let otherIdentity = EnclaveMeasurement(
            mrEnclave: ServerFixture.coordinatorEnclave.mrEnclave, mrSigner: [UInt8](repeating: 0xD6, count: 32), productID: 1,
            securityVersion: 1, debug: false)
        try await ServerFixture.run(directory: first.directory, coordinatorEnclave: otherIdentity) { second in
            #expect(second.rootCertificatePEM != first.rootCertificatePEM)
            let temporary = try second.client()
            let status = try await temporary.get(second.clientURL + ClientAPIPath.status).data(StatusResponse.self)
            #expect(status.code == 1)
            let badShare = try await temporary.post(
                second.clientURL + ClientAPIPath.recover,
                json: RecoveryRequest(recoverySecret: Data(repeating: 1, count: 32), recoverySecretSignature: Data(repeating: 2, count: 256)))
            #expect(badShare.status == 400)
            #expect(badShare.failReason == "recovery.invalid_share")

            let secret = try recoveryKey.decrypt(encrypted, padding: .PKCS1_OAEP_SHA256)
            let signer = try _RSA.Signing.PrivateKey(derRepresentation: recoveryKey.derRepresentation)
            let signature = try signer.signature(for: secret, padding: .insecurePKCS1v1_5)
            let recovered = try await temporary.post(
                second.clientURL + ClientAPIPath.recover,
                json: RecoveryRequest(recoverySecret: secret, recoverySecretSignature: signature.rawRepresentation))
            #expect(recovered.status == 200, "\(String(decoding: recovered.body, as: UTF8.self))")
            #expect(try recovered.data(RecoveryResponse.self).remaining == 0)
            await temporary.shutdown()

            // The original root is back: a client pinning it connects, and the state is as it was.
            let pinned = try APIClient(rootPEM: first.rootCertificatePEM, identity: admin.identity)
            #expect(try await pinned.get(second.clientURL + ClientAPIPath.status).data(StatusResponse.self).code == 3)
            #expect(try await pinned.get(second.clientURL + ClientAPIPath.manifest).data(ManifestGetResponse.self).manifest == Data(manifest))
            let secrets = try await pinned.get(second.clientURL + ClientAPIPath.secrets + "?s=apiToken&s=sharedKey").data(SecretsGetResponse.self)
            #expect(secrets.secrets["apiToken"]?.privateKey == Data("kept".utf8))
            #expect(secrets.secrets["sharedKey"] == sharedBefore.secrets["sharedKey"])
            await pinned.shutdown()
        }
    }

    /// 200 marbles activate at once against MaxActivations 150: exactly 150 succeed, 50 are refused for the limit,
    /// nothing else fails.
    @Test func concurrentActivationsAreCountedExactly() async throws {
        let fixture = try await ServerFixture.start()
        let anonymous = try fixture.client()
        _ = try await anonymous.post(
            fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard(maxFrontend: 150))))
        await anonymous.shutdown()
        let platform = fixture.platform(TestMeasurements.frontend())
        var prepared: [(APIClient, ActivationRequest)] = []
        for _ in 0..<200 {
            let marble = try TestMarble()
            prepared.append((try fixture.client(marble.identity), try marble.request(type: "frontend", on: platform)))
        }
        let url = fixture.marbleURL + ActivationRequest.path
        // Every client is shut down whatever happened to its request: a client dropped while it runs stops the test process.
        let results = await withTaskGroup(of: Result<(Int, String?), any Error>.self) { group in
            for (client, request) in prepared {
                group.addTask {
                    do {
                        let answer = try await client.post(url, json: request)
                        return .success((answer.status, answer.failReason))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<(Int, String?), any Error>] = []
            for await result in group { results.append(result) }
            return results
        }
        for (client, _) in prepared { await client.shutdown() }
        let outcomes = results.compactMap { try? $0.get() }
        #expect(
            outcomes.count == prepared.count,
            "requests that failed: \(results.compactMap { if case .failure(let error) = $0 { "\(error)" } else { nil } }.prefix(3))")
        #expect(outcomes.filter { $0.0 == 200 }.count == 150)
        #expect(outcomes.filter { $0.0 == 403 && $0.1 == "activation.max_activations_reached" }.count == 50)
        let log = try await fixture.coordinator.updateLog()
        #expect(log.filter { $0.contains("Marble activated") }.count == 150)
        await fixture.remove()
    }
}
