import Coordinator
import Crypto
import Foundation
import TestSupport
import Testing
import _CryptoExtras

@Suite struct CoordinatorRecoveryTests {
    struct RecoveryKey {
        let name: String
        let signing: _RSA.Signing.PrivateKey
        var publicPEM: String { signing.publicKey.pemRepresentation }

        init(_ name: String) throws {
            self.name = name
            signing = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        }

        /// What a MarbleRun user does: decrypt the recovery secret (RSA-OAEP-SHA256) and sign it (PKCS#1 v1.5, SHA-256).
        func decryptAndSign(_ encrypted: [UInt8]) throws -> (secret: [UInt8], signature: [UInt8]) {
            let decryptor = try _RSA.Encryption.PrivateKey(derRepresentation: signing.derRepresentation)
            let secret = Array(try decryptor.decrypt(encrypted, padding: .PKCS1_OAEP_SHA256))
            let signature = Array(try signing.signature(for: secret, padding: .insecurePKCS1v1_5).rawRepresentation)
            return (secret, signature)
        }
    }

    static let sharedKeys: [RecoveryKey] = (try? ["alpha", "beta", "gamma"].map(RecoveryKey.init)) ?? []

    @Test(arguments: [(1, 0), (3, 0), (3, 2)])
    func recoverAfterTheSealingKeyIsLost(keyCount: Int, threshold: Int) async throws {
        let keys = Array(Self.sharedKeys.prefix(keyCount))
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let admin = try TestUser(name: "admin")
        let original = try await fixture.start()
        let manifest = TestManifests.standard(
            users: [admin], recoveryKeys: Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0.publicPEM) }),
            config: ["RecoveryThreshold": threshold])
        let result = try await original.setManifest(manifest)
        #expect(result.recoverySecrets.keys.sorted() == keys.map(\.name).sorted())
        try await original.writeSecrets(
            ["userKey": UserSecretUpload(key: [UInt8](repeating: 9, count: 16))], clientCertificateDER: admin.certificateDER)
        let rootBefore = try await original.tlsIdentity().rootCertificatePEM
        let secretsBefore = try await original.readSecrets(["sharedKey", "userKey"], clientCertificateDER: admin.certificateDER)

        let moved = try await fixture.withOtherSealingIdentity().start()
        #expect(moved.status().state == .recovery)

        // A signature by a key that is not a recovery key, and a share signed correctly but not belonging to the state.
        let stranger = try RecoveryKey("stranger")
        let first = try keys[0].decryptAndSign(result.recoverySecrets[keys[0].name]!)
        let foreign = Array(try stranger.signing.signature(for: first.secret, padding: .insecurePKCS1v1_5).rawRepresentation)
        let unsigned = await #expect(throws: CoordinatorError.self) { _ = try await moved.recover(secret: first.secret, signature: foreign) }
        #expect(unsigned?.reason == .invalidRecoveryShare)
        #expect(unsigned?.found.contains("does not verify with recovery key") == true)
        let wrongSecret = [UInt8](repeating: 1, count: first.secret.count)
        let wrongSignature = Array(try keys[0].signing.signature(for: wrongSecret, padding: .insecurePKCS1v1_5).rawRepresentation)
        let wrong = await #expect(throws: CoordinatorError.self) { _ = try await moved.recover(secret: wrongSecret, signature: wrongSignature) }
        #expect(wrong?.found.contains("is not a share of this state") == true)

        let needed = threshold == 0 ? keyCount : threshold
        for (index, key) in keys.prefix(needed).enumerated() {
            let (secret, signature) = try key.decryptAndSign(result.recoverySecrets[key.name]!)
            let progress = try await moved.recover(secret: secret, signature: signature)
            #expect(progress.remaining == needed - index - 1)
        }
        #expect(moved.status().state == .acceptingMarbles)
        #expect(try await moved.tlsIdentity().rootCertificatePEM == rootBefore)
        #expect(try await moved.readSecrets(["sharedKey", "userKey"], clientCertificateDER: admin.certificateDER) == secretsBefore)
        #expect(try await moved.updateLog().last?.contains("Coordinator recovered") == true)
        #expect(try await moved.verifyUpdateLog() == (try await moved.updateLog().count))

        // The state is re-sealed with the new platform key: the next start opens it directly.
        let restarted = try await fixture.withOtherSealingIdentity().start()
        #expect(restarted.status().state == .acceptingMarbles)
        #expect(try await restarted.tlsIdentity().rootCertificatePEM == rootBefore)
    }

    @Test func updateThatChangesRecoveryKeysReturnsNewSecrets() async throws {
        let keys = Array(Self.sharedKeys.prefix(2))
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let users = [try TestUser(name: "admin")]
        let coordinator = try await fixture.start()
        let first = try await coordinator.setManifest(
            TestManifests.standard(users: users, recoveryKeys: [keys[0].name: keys[0].publicPEM]))
        let updated = TestManifests.standard(users: users, recoveryKeys: [keys[0].name: keys[0].publicPEM, keys[1].name: keys[1].publicPEM])
        let result = try await coordinator.update(updated, clientCertificateDER: users[0].certificateDER)
        let secrets = try #require(result.recoverySecrets)
        #expect(secrets.keys.sorted() == [keys[0].name, keys[1].name])

        let moved = try await fixture.withOtherSealingIdentity().start()
        // The secret issued before the update no longer belongs to the state.
        let old = try keys[0].decryptAndSign(first.recoverySecrets[keys[0].name]!)
        await #expect(throws: CoordinatorError.self) { _ = try await moved.recover(secret: old.secret, signature: old.signature) }
        for key in keys {
            let (secret, signature) = try key.decryptAndSign(secrets[key.name]!)
            _ = try await moved.recover(secret: secret, signature: signature)
        }
        #expect(moved.status().state == .acceptingMarbles)
        #expect(try await moved.signedManifest().manifest == updated)
    }

    @Test func recoverySecretEncryptedToTheEphemeralKey() async throws {
        let key = Self.sharedKeys[0]
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let original = try await fixture.start()
        let result = try await original.setManifest(TestManifests.standard(recoveryKeys: [key.name: key.publicPEM]))
        let moved = try await fixture.withOtherSealingIdentity().start()
        let publicKey = try await moved.recoveryPublicKey()
        #expect(try await moved.recoveryPublicKey() == publicKey, "made once, then kept")
        let transport = try _RSA.Encryption.PublicKey(derRepresentation: publicKey)
        #expect(transport.keySizeInBits == 4096)
        let (secret, signature) = try key.decryptAndSign(result.recoverySecrets[key.name]!)
        let sealed = Array(try transport.encrypt(secret, padding: .PKCS1_OAEP_SHA256))
        let progress = try await moved.recover(secret: sealed, signature: signature)
        #expect(progress.remaining == 0)
        #expect(moved.status().state == .acceptingMarbles)
        let notInRecovery = await #expect(throws: CoordinatorError.self) { _ = try await moved.recoveryPublicKey() }
        #expect(notInRecovery?.reason == .notInRecovery)
    }

    @Test func recoverOutsideRecoveryModeIsRefused() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let coordinator = try await fixture.start()
        let error = await #expect(throws: CoordinatorError.self) { _ = try await coordinator.recover(secret: [1], signature: [2]) }
        #expect(error?.reason == .notInRecovery)
    }
}
