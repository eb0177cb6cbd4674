import Crypto
import Foundation
import SealedStore
import TestSupport
import Testing

@testable import Recovery

/// A recovery key holder who works with openssl only, as a MarbleRun user does.
struct KeyHolder {
    let name: String
    let openssl: OpenSSLTool

    static func make(_ name: String, bits: Int = 2048, in openssl: OpenSSLTool) throws -> KeyHolder {
        try openssl.run([
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", "\(name).pem",
        ])
        try openssl.run(["pkey", "-in", "\(name).pem", "-pubout", "-out", "\(name).pub"])
        return KeyHolder(name: name, openssl: openssl)
    }

    var publicKeyPEM: String { get throws { String(decoding: try openssl.read("\(name).pub"), as: UTF8.self) } }

    /// Decrypts the recovery secret (`marblerun recover` does RSA-OAEP-SHA256) and signs the share
    /// (PKCS#1 v1.5 over SHA-256), returning both.
    func decryptAndSign(_ secret: Data, signer: String? = nil) throws -> (share: Data, signature: Data) {
        try openssl.write("\(name).enc", secret)
        try openssl.run([
            "pkeyutl", "-decrypt", "-inkey", "\(name).pem", "-pkeyopt", "rsa_padding_mode:oaep",
            "-pkeyopt", "rsa_oaep_md:sha256", "-in", "\(name).enc", "-out", "\(name).share",
        ])
        try openssl.run([
            "dgst", "-sha256", "-sign", "\(signer ?? name).pem", "-out", "\(name).sig", "\(name).share",
        ])
        return (try openssl.read("\(name).share"), try openssl.read("\(name).sig"))
    }
}

struct UnexpectedOutcome: Error, CustomStringConvertible {
    let description: String
}

final class RecoveryFixture {
    let directory: URL
    let openssl: OpenSSLTool
    let originalSealingKey = SymmetricKey(size: .bits256)
    let newSealingKey = SymmetricKey(size: .bits256)

    init() throws {
        openssl = try OpenSSLTool()
        directory = openssl.directory.appendingPathComponent("data")
    }

    deinit { openssl.remove() }

    /// A store with some state, made recoverable by `holders` with `threshold`, then found locked on a "new
    /// machine"; returns the recovery secrets and the locked state.
    func lockedState(holders: [KeyHolder], threshold: Int) throws -> ([String: Data], LockedSealedState) {
        guard
            case .created(let store) = try SealedStore.open(
                backend: SQLiteStorage(directory: directory), sealingKey: originalSealingKey
            )
        else { throw UnexpectedOutcome(description: "a new directory must give a created store") }
        let keys = try RecoveryKeys(pemByName: Dictionary(uniqueKeysWithValues: holders.map { ($0.name, try $0.publicKeyPEM) }))
        let setup = try RecoverySetup.split(dataKey: store.dataKey, keys: keys, threshold: threshold)
        var change = StateChange()
        change.put("rootSecret", Data(repeating: 0xAB, count: 32))
        change.setRecoveryData(setup.recoveryData.encoded())
        try store.commit(change)
        guard
            case .sealedWithAnotherKey(let locked) = try SealedStore.open(
                backend: SQLiteStorage(directory: directory), sealingKey: newSealingKey
            )
        else { throw UnexpectedOutcome(description: "another sealing key must give a locked state") }
        return (setup.recoverySecrets, locked)
    }

    func expectRecovered(_ session: RecoverySession, _ locked: LockedSealedState) throws {
        let store = try session.unlock(locked, resealingWith: newSealingKey)
        #expect(try store.value(forKey: "rootSecret") == Data(repeating: 0xAB, count: 32))
        guard
            case .opened(let reopened) = try SealedStore.open(
                backend: SQLiteStorage(directory: directory), sealingKey: newSealingKey
            )
        else {
            Issue.record("after recovery the state must open with the new sealing key")
            return
        }
        #expect(try reopened.value(forKey: "rootSecret") == Data(repeating: 0xAB, count: 32))
    }
}

@Suite("Recovery with openssl key holders")
struct RecoveryTests {
    @Test("one key: the holder decrypts the data key with openssl and recovers")
    func singleKey() throws {
        let fixture = try RecoveryFixture()
        let alice = try KeyHolder.make("alice", in: fixture.openssl)
        let (secrets, locked) = try fixture.lockedState(holders: [alice], threshold: 0)
        #expect(Set(secrets.keys) == ["alice"])
        var session = try RecoverySession(for: locked)
        #expect(session.recoveryData.scheme == .single)
        let (share, signature) = try alice.decryptAndSign(try #require(secrets["alice"]))
        #expect(share.count == 32)
        #expect(try session.submit(share: share, signature: signature) == 0)
        try fixture.expectRecovered(session, locked)
    }

    @Test("three keys without threshold: XOR shares, all needed, the error says who is missing")
    func xorShares() throws {
        let fixture = try RecoveryFixture()
        let holders = try ["alice", "bob", "carol"].map { try KeyHolder.make($0, in: fixture.openssl) }
        let (secrets, locked) = try fixture.lockedState(holders: holders, threshold: 0)
        var session = try RecoverySession(for: locked)
        #expect(session.recoveryData.scheme == .xor && session.recoveryData.required == 3)
        for holder in holders.prefix(2) {
            let (share, signature) = try holder.decryptAndSign(try #require(secrets[holder.name]))
            try session.submit(share: share, signature: signature)
        }
        #expect(session.remaining == 1 && session.missingKeyNames == ["carol"])
        #expect {
            try session.unlock(locked, resealingWith: fixture.newSealingKey)
        } throws: { "\($0)" == "2 of 3 recovery shares accepted; 1 more needed from carol" }

        let (aliceShare, aliceSignature) = try holders[0].decryptAndSign(try #require(secrets["alice"]))
        #expect {
            try session.submit(share: aliceShare, signature: aliceSignature)
        } throws: { "\($0)" == "the share of recovery key 'alice' was already accepted; 1 more needed from carol" }

        let (carolShare, carolSignature) = try holders[2].decryptAndSign(try #require(secrets["carol"]))
        #expect(try session.submit(share: carolShare, signature: carolSignature) == 0)
        try fixture.expectRecovered(session, locked)
    }

    @Test("RecoveryThreshold 2 of 3: any two Shamir shares recover")
    func thresholdShares() throws {
        let fixture = try RecoveryFixture()
        let holders = try ["alice", "bob", "carol"].map { try KeyHolder.make($0, in: fixture.openssl) }
        let (secrets, locked) = try fixture.lockedState(holders: holders, threshold: 2)
        var session = try RecoverySession(for: locked)
        #expect(session.recoveryData.scheme == .threshold && session.recoveryData.required == 2)
        for holder in holders.suffix(2) {
            let (share, signature) = try holder.decryptAndSign(try #require(secrets[holder.name]))
            #expect(share.count == 33)
            try session.submit(share: share, signature: signature)
        }
        #expect(session.remaining == 0)
        try fixture.expectRecovered(session, locked)
    }

    @Test("wrong shares are refused: encrypted instead of decrypted, unknown, unsigned, signed by another key")
    func wrongShares() throws {
        let fixture = try RecoveryFixture()
        let holders = try ["alice", "bob"].map { try KeyHolder.make($0, in: fixture.openssl) }
        let (secrets, locked) = try fixture.lockedState(holders: holders, threshold: 0)
        var session = try RecoverySession(for: locked)

        #expect {
            try session.submit(share: try #require(secrets["alice"]))
        } throws: { "\($0)".hasPrefix("recovery share has 256 bytes, expected 32; submit the share decrypted with") }
        #expect {
            try session.submit(share: Data(repeating: 1, count: 32))
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("recovery share with SHA-256 72cd6e8422c407fb... is not a share of this state")
                && text.contains("one of the keys alice, bob")
        }
        let (bobShare, _) = try holders[1].decryptAndSign(try #require(secrets["bob"]))
        #expect {
            try session.submit(share: bobShare)
        } throws: { "\($0)".hasPrefix("the share of recovery key 'bob' has no signature") }
        let (_, signedByAlice) = try holders[1].decryptAndSign(try #require(secrets["bob"]), signer: "alice")
        #expect {
            try session.submit(share: bobShare, signature: signedByAlice)
        } throws: { error in
            "\(error)" == "the signature of the share does not verify with recovery key 'bob' (expected RSA PKCS#1 "
                + "v1.5 over SHA-256 of the share); sign with the private key of 'bob'"
        }
        #expect(session.remaining == 2 && session.acceptedKeyNames.isEmpty)
    }

    @Test("bad recovery keys and thresholds are refused")
    func badSetup() throws {
        let openssl = try OpenSSLTool()
        defer { openssl.remove() }
        let small = try KeyHolder.make("small", bits: 1024, in: openssl)
        #expect {
            try RecoveryKeys(pemByName: ["small": try small.publicKeyPEM])
        } throws: { "\($0)".hasPrefix("recovery key 'small' is invalid: it has 1024 bits, expected at least 2048") }
        #expect {
            try RecoveryKeys(pemByName: ["broken": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"])
        } throws: { "\($0)".hasPrefix("recovery key 'broken' is invalid: not an RSA") }
        #expect(throws: RecoveryError.noRecoveryKeys) { try RecoveryKeys(pemByName: [:]) }
        let alice = try KeyHolder.make("alice", in: openssl)
        let keys = try RecoveryKeys(pemByName: ["alice": try alice.publicKeyPEM])
        #expect {
            try RecoverySetup.split(dataKey: SymmetricKey(size: .bits256), keys: keys, threshold: 2)
        } throws: { "\($0)".hasPrefix("RecoveryThreshold is 2 but there are 1 recovery keys") }
        #expect {
            try RecoveryData(decoding: Data("{}".utf8))
        } throws: { "\($0)".hasPrefix("the recovery data stored with the sealed state is unreadable") }
    }
}

@Suite("Shamir over GF(256)")
struct ShamirTests {
    @Test("field arithmetic matches FIPS-197 and division inverts multiplication")
    func field() {
        #expect(Shamir.multiply(0x57, 0x83) == 0xC1)
        #expect(Shamir.multiply(0x57, 0x13) == 0xFE)
        for a in UInt8(0)...255 {
            for b in [UInt8(1), 2, 3, 0x53, 0xCA, 0xFF] {
                #expect(Shamir.divide(Shamir.multiply(a, b), b) == a)
            }
        }
    }

    @Test("every 3 of 5 shares reconstruct the secret; 2 do not")
    func thresholdSubsets() {
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let shares = Shamir.split(secret, parts: 5, threshold: 3)
        #expect(shares.allSatisfy { $0.count == 33 })
        #expect(Set(shares.map { $0[32] }).count == 5)
        for i in 0..<5 {
            for j in (i + 1)..<5 {
                for k in (j + 1)..<5 {
                    #expect(Shamir.combine([shares[i], shares[j], shares[k]]) == secret)
                }
                #expect(Shamir.combine([shares[i], shares[j]]) != secret)
            }
        }
    }
}
