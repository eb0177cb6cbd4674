import Attestation
import Coordinator
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Foundation
import Platform
import TestSupport
import Testing
import X509

@Suite struct ClientOperationTests {
    struct Deployment {
        let fixture: CoordinatorFixture
        let coordinator: Coordinator
        let admin: TestUser
        let alice: TestUser
        let bob: TestUser
        let reader: TestUser

        init(updateThreshold: Int = 0) async throws {
            fixture = try CoordinatorFixture()
            coordinator = try await fixture.start()
            admin = try TestUser(name: "admin")
            alice = try TestUser(name: "alice")
            bob = try TestUser(name: "bob")
            reader = try TestUser(name: "reader")
            _ = try await coordinator.setManifest(
                TestManifests.standard(users: [admin, alice, bob, reader], updateThreshold: updateThreshold))
        }

        func activate(_ type: String, enclave: EnclaveMeasurement) async throws -> (TestMarble, ActivationResponse) {
            let marble = try TestMarble()
            let response = try await coordinator.activate(
                marble.request(type: type, quote: try marble.quote(on: fixture.platform(enclave))), clientCertificateDER: marble.certificateDER)
            return (marble, response)
        }
    }

    @Test func manifestIsSignedByTheRootKey() async throws {
        let deployment = try await Deployment()
        defer { deployment.fixture.remove() }
        let signed = try await deployment.coordinator.signedManifest()
        #expect(signed.fingerprint == Array(SHA256.hash(data: signed.manifest)).map { String(format: "%02x", $0) }.joined())
        let quote = try await deployment.coordinator.quote()
        let root = try Certificate(
            pemEncoded: String(quote.certificateChainPEM.components(separatedBy: "-----END CERTIFICATE-----")[1] + "-----END CERTIFICATE-----")
                .trimmingCharacters(in: .whitespacesAndNewlines))
        let key = try CoordinatorVerifyingKey(certificate: root)
        #expect(key.isValidSignature(signed.signature, for: signed.manifest))
    }

    @Test func quoteBindsTheRootAndTheNonce() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        let plain = try await coordinator.quote()
        let nonce: [UInt8] = [1, 2, 3, 4]
        let fresh = try await coordinator.quote(nonce: nonce)
        #expect(plain.isSimulation)
        let rootPEM = try await coordinator.tlsIdentity().rootCertificatePEM
        let rootDER = try CoordinatorPKI.der(try Certificate(pemEncoded: rootPEM))
        let verifier = CachingQuoteVerifierProbe(machine: fixture.machine)
        #expect(try verifier.reportData(plain.quote).prefix(32).elementsEqual(CoordinatorReportData.make(rootCertificateDER: rootDER).prefix(32)))
        #expect(
            try verifier.reportData(fresh.quote).prefix(32).elementsEqual(
                CoordinatorReportData.make(rootCertificateDER: rootDER, nonce: nonce).prefix(32)))
        #expect(try await coordinator.quote().quote == plain.quote)
    }

    @Test func authorizationTable() async throws {
        let deployment = try await Deployment()
        defer { deployment.fixture.remove() }
        let coordinator = deployment.coordinator
        let (marble, _) = try await deployment.activate("backend", enclave: TestMeasurements.backend())
        let marbleResponse = try await deployment.activate("frontend", enclave: TestMeasurements.frontend()).1
        let marbleChain = String(decoding: marbleResponse.env[MarbleEnvironment.certificateChain]!, as: UTF8.self)
        let marbleCertificate = try CoordinatorPKI.der(
            try Certificate(pemEncoded: String(marbleChain[..<marbleChain.range(of: "-----END CERTIFICATE-----")!.upperBound])))
        let stranger = try TestUser(name: "admin")
        let expired = try TestUser(name: "admin", notValidBefore: Date().addingTimeInterval(-7200), notValidAfter: Date().addingTimeInterval(-3600))

        let cases: [(String, [UInt8]?, CoordinatorError.Reason)] = [
            ("no certificate", nil, .noClientCertificate),
            ("unknown certificate", stranger.certificateDER, .unknownClientCertificate),
            ("marble's own self-signed certificate", marble.certificateDER, .unknownClientCertificate),
            ("marble certificate issued by the Coordinator", marbleCertificate, .marbleCertificateAsUser),
            ("wrong role", deployment.reader.certificateDER, .missingPermission),
        ]
        for (name, certificate, reason) in cases {
            let error = await #expect(throws: CoordinatorError.self, "\(name)") {
                try await coordinator.writeSecrets(["apiToken": UserSecretUpload(key: Array("token".utf8))], clientCertificateDER: certificate)
            }
            #expect(error?.reason == reason, "\(name)")
            #expect(error?.httpStatus == 401, "\(name)")
            #expect(error?.isClientFault == true, "\(name)")
        }
        // An expired certificate that is in the manifest.
        let expiredDeployment = try CoordinatorFixture()
        defer { expiredDeployment.remove() }
        let expiredCoordinator = try await expiredDeployment.start()
        _ = try await expiredCoordinator.setManifest(TestManifests.standard(users: [expired]))
        let expiredError = await #expect(throws: CoordinatorError.self) {
            _ = try await expiredCoordinator.readSecrets(["sharedKey"], clientCertificateDER: expired.certificateDER)
        }
        #expect(expiredError?.reason == .expiredClientCertificate)
        #expect(expiredError?.found.contains("admin") == true)

        // Every user operation refuses the wrong role.
        let reader = deployment.reader.certificateDER
        await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.update(Array(#"{"Packages":{"frontend":{"SecurityVersion":4}}}"#.utf8), clientCertificateDER: reader)
        }
        await #expect(throws: CoordinatorError.self) { try await coordinator.cancelUpdate(clientCertificateDER: reader) }
        let readError = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.readSecrets(["userKey"], clientCertificateDER: reader)
        }
        #expect(readError?.reason == .missingPermission)
        #expect(readError?.expected.contains("ReadSecret") == true)
    }

    @Test func userSecretsAreWrittenReadAndRendered() async throws {
        let deployment = try await Deployment()
        defer { deployment.fixture.remove() }
        let coordinator = deployment.coordinator
        let admin = deployment.admin.certificateDER
        let userKey = [UInt8](repeating: 0x42, count: 16)

        let wrongSize = await #expect(throws: CoordinatorError.self) {
            try await coordinator.writeSecrets(["userKey": UserSecretUpload(key: [1, 2, 3])], clientCertificateDER: admin)
        }
        #expect(wrongSize?.reason == .invalidSecretValue)
        #expect(wrongSize?.expected.contains("128-bit") == true)
        let withNUL = await #expect(throws: CoordinatorError.self) {
            try await coordinator.writeSecrets(["apiToken": UserSecretUpload(key: [0x61, 0, 0x62])], clientCertificateDER: admin)
        }
        #expect(withNUL?.found.contains("NUL") == true)
        let generated = await #expect(throws: CoordinatorError.self) {
            try await coordinator.writeSecrets(["sharedKey": UserSecretUpload(key: userKey)], clientCertificateDER: admin)
        }
        #expect(generated?.reason == .missingPermission)

        try await coordinator.writeSecrets(
            ["apiToken": UserSecretUpload(key: Array("s3cret".utf8)), "userKey": UserSecretUpload(key: userKey)], clientCertificateDER: admin)
        let read = try await coordinator.readSecrets(["apiToken", "sharedKey"], clientCertificateDER: deployment.reader.certificateDER)
        #expect(read["apiToken"]?.privateKey == Array("s3cret".utf8))
        #expect(read["sharedKey"]?.privateKey.count == 32)
        #expect(read["sharedKey"]?.shared == true)

        let (_, response) = try await deployment.activate("reporter", enclave: TestMeasurements.backend())
        #expect(response.env["API_TOKEN"] == Data("s3cret".utf8))
        #expect(response.env["USER_KEY"] == Data(String(repeating: "42", count: 16).utf8))
        let log = try await coordinator.updateLog()
        #expect(log.contains { $0.contains("\"Secret set\"") && $0.contains("\"apiToken\"") && $0.contains("\"admin\"") })
    }

    @Test func packageUpdateRaisesTheSecurityVersion() async throws {
        let deployment = try await Deployment()
        defer { deployment.fixture.remove() }
        let coordinator = deployment.coordinator
        let before = try await coordinator.tlsIdentity()
        let manifestBefore = try await coordinator.signedManifest()
        _ = try await deployment.activate("frontend", enclave: TestMeasurements.frontend(securityVersion: 3))

        let lower = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.update(
                Array(#"{"Packages":{"frontend":{"SecurityVersion":2}}}"#.utf8), clientCertificateDER: deployment.admin.certificateDER)
        }
        #expect(lower?.reason == .invalidUpdate)
        let forbiddenField = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.update(
                Array(#"{"Packages":{"frontend":{"SecurityVersion":5,"Debug":true}}}"#.utf8), clientCertificateDER: deployment.admin.certificateDER)
        }
        #expect(forbiddenField?.found.contains("Debug") == true)
        let notPermitted = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.update(
                Array(#"{"Packages":{"backend":{"SecurityVersion":5}}}"#.utf8), clientCertificateDER: deployment.admin.certificateDER)
        }
        #expect(notPermitted?.reason == .missingPermission)

        let result = try await coordinator.update(
            Array(#"{"Packages":{"frontend":{"SecurityVersion":4}}}"#.utf8), clientCertificateDER: deployment.admin.certificateDER)
        #expect(result.missingAcknowledgments == 0)
        #expect(await coordinator.effectivePackages()["frontend"]?.securityVersion == 4)
        let after = try await coordinator.tlsIdentity()
        #expect(after.version > before.version)
        #expect(after.rootCertificatePEM == before.rootCertificatePEM)
        #expect(after.certificateChainPEM != before.certificateChainPEM)
        #expect(try await coordinator.signedManifest() == manifestBefore)
        #expect(try await coordinator.verifyUpdateLog() >= 2)

        let old = await #expect(throws: CoordinatorError.self) {
            _ = try await deployment.activate("frontend", enclave: TestMeasurements.frontend(securityVersion: 3))
        }
        #expect(old?.attestation?.check == .policySecurityVersion)
        _ = try await deployment.activate("frontend", enclave: TestMeasurements.frontend(securityVersion: 4))
        let log = try await coordinator.updateLog()
        #expect(log.contains { $0.contains("SecurityVersion increased") && $0.contains("\"new version\":4") })
    }

    @Test func twoUserManifestUpdate() async throws {
        let deployment = try await Deployment(updateThreshold: 2)
        defer { deployment.fixture.remove() }
        let coordinator = deployment.coordinator
        let oldShared = try await coordinator.readSecrets(["sharedKey"], clientCertificateDER: deployment.admin.certificateDER)
        let users = [deployment.admin, deployment.alice, deployment.bob, deployment.reader]
        let updated = TestManifests.standard(users: users, maxFrontend: 5, updateThreshold: 2)

        await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.update(updated, clientCertificateDER: deployment.reader.certificateDER)
        }
        let started = try await coordinator.update(updated, clientCertificateDER: deployment.alice.certificateDER)
        #expect(started.missingAcknowledgments == 1)
        #expect(started.missingUsers == ["admin", "bob"])
        let pending = try await coordinator.pendingUpdate()
        #expect(pending.manifest == updated)

        let second = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.update(updated, clientCertificateDER: deployment.bob.certificateDER)
        }
        #expect(second?.reason == .updateAlreadyPending)
        let twice = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.acknowledgeUpdate(updated, clientCertificateDER: deployment.alice.certificateDER)
        }
        #expect(twice?.reason == .alreadyAcknowledged)
        let different = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.acknowledgeUpdate(updated + [0x20], clientCertificateDER: deployment.bob.certificateDER)
        }
        #expect(different?.reason == .acknowledgementMismatch)
        let outsider = await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.acknowledgeUpdate(updated, clientCertificateDER: deployment.reader.certificateDER)
        }
        #expect(outsider?.reason == .notARequiredUser)

        let applied = try await coordinator.acknowledgeUpdate(updated, clientCertificateDER: deployment.bob.certificateDER)
        #expect(applied.missingAcknowledgments == 0)
        #expect(try await coordinator.signedManifest().manifest == updated)
        await #expect(throws: CoordinatorError.self) { _ = try await coordinator.pendingUpdate() }
        let newShared = try await coordinator.readSecrets(["sharedKey"], clientCertificateDER: deployment.admin.certificateDER)
        #expect(newShared["sharedKey"] == oldShared["sharedKey"], "an unchanged symmetric key is kept")
        let log = try await coordinator.updateLog()
        #expect(log.contains { $0.contains("initiated by user") && $0.contains("\"user\":\"alice\"") })
        #expect(log.contains { $0.contains("acknowledged by user") && $0.contains("\"user\":\"bob\"") })
        #expect(log.contains { $0.contains("Complete Manifest updated") })
        #expect(try await coordinator.verifyUpdateLog() == log.count)

        // Cancel: another update, cancelled by an UpdateManifest user.
        _ = try await coordinator.update(
            TestManifests.standard(users: users, maxFrontend: 9, updateThreshold: 2), clientCertificateDER: deployment.admin.certificateDER)
        try await coordinator.cancelUpdate(clientCertificateDER: deployment.bob.certificateDER)
        let none = await #expect(throws: CoordinatorError.self) { _ = try await coordinator.pendingUpdate() }
        #expect(none?.reason == .noPendingUpdate)
        #expect(none?.httpStatus == 404)
    }
}

/// Reads the report data of a quote made on a simulated machine, after verifying it.
struct CachingQuoteVerifierProbe {
    let machine: SimulatedSGXMachine

    func reportData(_ quote: [UInt8]) throws -> [UInt8] {
        let verifier = CachingQuoteVerifier(trustAnchor: .simulation(root: machine.rootCertificate))
        let verified = try verifier.verify(quoteBytes: quote, collateral: try machine.collateral(at: Date()), at: Date())
        return verified.quote.body.reportData
    }
}
