import Foundation
import TestSupport
import Testing

/// `cloister recover` against a Coordinator that really is in recovery mode: its state was sealed on one simulated
/// machine and it restarts on another, whose sealing key cannot open it.
@Suite(.serialized) struct RecoveryCommandTests {
    typealias Commands = ClientCommandTests

    /// A deployment with a manifest, a user secret and the recovery data, then a restart that loses the sealing key.
    struct LostSealingKey {
        let recovering: ScratchCoordinator
        let recoveryData: String
        let fingerprint: String
        let rootPEM: String
        let alice: UserFiles
        let keys: [ClientTestRecoveryKey]
        /// The `warnings` of the first verified command against the recovering Coordinator.
        let warnings: [[String: Any]]
    }

    static func deployAndLoseSealingKey(keyNames: [String]) async throws -> LostSealingKey {
        let first = try await ScratchCoordinator()
        let files = first.directory
        let alice = try UserFiles(name: "alice", directory: files.path)
        let keys = try keyNames.map { try ClientTestRecoveryKey(name: $0, in: files) }
        let manifest = try write(Commands.manifest(users: [alice], recoveryKeys: keys), "manifest.json", in: files)
        let recoveryData = files.appendingPathComponent("recovery.json").path
        let verify = first.verificationArguments
        let set = try first.cli(["manifest", "set", manifest, "--recovery-data", recoveryData, "--json"] + verify)
        #expect(set.exitCode == 0, "\(set.standardOutput) \(set.standardError)")
        let fingerprint = try #require(try Commands.json(set)["fingerprint"] as? String)
        let secrets = try write(#"{"token": {"Key": "a2VwdC10b2tlbg=="}}"#, "secrets.json", in: files)
        let secretSet = try first.cli(["secret", "set", secrets] + verify + alice.arguments)
        #expect(secretSet.exitCode == 0, "\(secretSet.standardError)")
        let root = try first.cli(["certificate", "root"] + verify)
        #expect(root.exitCode == 0)

        let recovering = try await first.restarted(onNewMachine: true)
        let status = try recovering.cli(["status", "--json"] + recovering.verificationArguments)
        #expect(status.exitCode == 0, "a Coordinator in recovery mode must verify: \(status.standardOutput) \(status.standardError)")
        let answer = try Commands.json(status)
        #expect(answer["code"] as? Int == 1)
        return LostSealingKey(
            recovering: recovering, recoveryData: recoveryData, fingerprint: fingerprint, rootPEM: root.standardOutput,
            alice: alice, keys: keys, warnings: answer["warnings"] as? [[String: Any]] ?? [])
    }

    static func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// The state the deployment had before the sealing key was lost: same root, manifest and user secret.
    static func expectOriginalState(
        _ coordinator: ScratchCoordinator, _ lost: LostSealingKey, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let verify = coordinator.verificationArguments
        let status = try Commands.json(coordinator.cli(["status", "--json"] + verify))
        #expect(status["code"] as? Int == 3, "\(status)", sourceLocation: sourceLocation)
        let manifest = try Commands.json(coordinator.cli(["manifest", "get", "--json"] + verify))
        #expect(manifest["fingerprint"] as? String == lost.fingerprint, sourceLocation: sourceLocation)
        let secrets = try Commands.json(coordinator.cli(["secret", "get", "token", "--json"] + verify + lost.alice.arguments))
        #expect(
            (secrets["secrets"] as? [String: [String: Any]])?["token"]?["private"] as? String == "a2VwdC10b2tlbg==", sourceLocation: sourceLocation)
        #expect(try coordinator.cli(["certificate", "root"] + verify).standardOutput == lost.rootPEM, sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func recoverWithOneKeyRestoresManifestSecretsAndRoot() async throws {
        let lost = try await Self.deployAndLoseSealingKey(keyNames: ["admin"])
        let recovering = lost.recovering
        let recovered = try recovering.cli(
            ["recover", lost.recoveryData, "--recovery-key", lost.keys[0].privateKey.path, "--json"] + recovering.verificationArguments)
        #expect(recovered.exitCode == 0, "\(recovered.standardOutput) \(recovered.standardError)")
        let answer = try Commands.json(recovered)
        #expect(answer["remaining"] as? Int == 0)
        #expect(answer["ok"] as? Bool == true)

        // The recovering Coordinator's temporary root replaced the cached one, and recovery brought the original back:
        // each change is announced with both fingerprints, once.
        let toTemporary = try #require(lost.warnings.first)
        #expect(lost.warnings.count == 1)
        #expect(toTemporary["kind"] as? String == "rootChanged")
        let original = try #require(toTemporary["previousRootSHA256"] as? String)
        let temporary = try #require(toTemporary["currentRootSHA256"] as? String)
        #expect(original != temporary && original.count == 64)
        let back = try recovering.cli(["status"] + recovering.verificationArguments)
        #expect(back.standardOutput.hasPrefix("3:"))
        #expect(back.standardError.contains("WARNING: the Coordinator's root certificate changed"), "\(back.standardError)")
        #expect(back.standardError.contains("\(temporary) was cached") && back.standardError.contains("now presents \(original)"))
        #expect(try Commands.json(recovering.cli(["status", "--json"] + recovering.verificationArguments))["warnings"] == nil)
        try Self.expectOriginalState(recovering, lost)

        // The recovered state was re-sealed with the new machine's key: a restart there needs no recovery.
        let restarted = try await recovering.restarted()
        try Self.expectOriginalState(restarted, lost)
    }

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"), arguments: [false, true])
    func twoRecoveryKeysNeedBothShares(json: Bool) async throws {
        let lost = try await Self.deployAndLoseSealingKey(keyNames: ["admin", "backup"])
        let recovering = lost.recovering
        let verify = recovering.verificationArguments
        let output = json ? ["--json"] : []
        let admin = ["recover", lost.recoveryData, "--name", "admin", "--recovery-key", lost.keys[0].privateKey.path]
        let first = try recovering.cli(admin + output + verify)
        #expect(first.exitCode == 0, "\(first.standardOutput) \(first.standardError)")
        if json {
            #expect(try Commands.json(first)["remaining"] as? Int == 1)
        } else {
            #expect(first.standardOutput.contains("1 more share(s) needed"), "\(first.standardOutput)")
        }
        #expect(try Commands.json(recovering.cli(["status", "--json"] + verify))["code"] as? Int == 1)

        let again = try recovering.cli(admin + ["--json"] + verify)
        #expect(again.exitCode == 1)
        let refusal = try #require(try Commands.json(again)["error"] as? [String: Any])
        #expect(refusal["kind"] as? String == "refused")
        #expect("\(refusal)".contains("backup"), "the refusal names the missing key holder: \(refusal)")

        let second = try recovering.cli(
            ["recover", lost.recoveryData, "--name", "backup", "--recovery-key", lost.keys[1].privateKey.path] + output + verify)
        #expect(second.exitCode == 0, "\(second.standardOutput) \(second.standardError)")
        if json {
            #expect(try Commands.json(second)["remaining"] as? Int == 0)
        } else {
            #expect(second.standardOutput.hasPrefix("recovered"), "\(second.standardOutput)")
        }
        try Self.expectOriginalState(recovering, lost)
    }
}

/// MarbleRun's `recover-with-signature` flow: the key holder decrypts, encrypts to the Coordinator's ephemeral key and
/// signs offline; only the public key fetch and the upload talk to the (verified) Coordinator.
@Suite(.serialized) struct RecoverWithSignatureTests {
    typealias Commands = ClientCommandTests

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func recoverThroughTheEphemeralKeyWithAnOfflineSignature() async throws {
        let lost = try await RecoveryCommandTests.deployAndLoseSealingKey(keyNames: ["admin"])
        let recovering = lost.recovering
        let verify = recovering.verificationArguments
        let files = recovering.directory
        let key = lost.keys[0].privateKey.path
        let publicKey = files.appendingPathComponent("coordinator-key.pem").path
        let encrypted = files.appendingPathComponent("secret.enc").path
        let signature = files.appendingPathComponent("secret.sig").path

        let fetched = try recovering.cli(["recover-with-signature", "public-key", "-o", publicKey, "--json"] + verify)
        #expect(fetched.exitCode == 0, "\(fetched.standardOutput) \(fetched.standardError)")
        let answer = try Commands.json(fetched)
        #expect(answer["algorithm"] as? String == "RSA" && answer["keySize"] as? Int == 4096)
        #expect(try String(contentsOfFile: publicKey, encoding: .utf8).hasPrefix("-----BEGIN PUBLIC KEY-----"))

        let withoutKey = try recovering.cli(["recover-with-signature", "encrypt-secret", lost.recoveryData, "--coordinator-pub-key", publicKey])
        #expect(withoutKey.exitCode == 2)
        #expect(withoutKey.standardError.contains("-k"), "\(withoutKey.standardError)")
        let encrypt = try recovering.cli([
            "recover-with-signature", "encrypt-secret", lost.recoveryData, "--coordinator-pub-key", publicKey, "-k", key, "-o", encrypted,
        ])
        #expect(encrypt.exitCode == 0, "\(encrypt.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: encrypted)).count == 512)
        let printed = try recovering.cli([
            "recover-with-signature", "encrypt-secret", lost.recoveryData, "--coordinator-pub-key", publicKey, "-k", key, "--json",
        ])
        #expect(Data(base64Encoded: try #require(try Commands.json(printed)["encryptedSecret"] as? String))?.count == 512)
        let sign = try recovering.cli(["recover-with-signature", "sign-secret", lost.recoveryData, "--key", key, "-o", signature, "--json"])
        #expect(sign.exitCode == 0, "\(sign.standardError)")
        let signatureBytes = try Data(contentsOf: URL(fileURLWithPath: signature))
        #expect(signatureBytes.count == 384)
        #expect(try Commands.json(sign)["signature"] as? String == signatureBytes.base64EncodedString())

        // A signature that does not match is refused by the Coordinator; nothing is recovered.
        let tampered = files.appendingPathComponent("tampered.sig")
        try Data(signatureBytes.reversed()).write(to: tampered)
        let refused = try recovering.cli(["recover-with-signature", encrypted, "--signature", tampered.path, "--json"] + verify)
        #expect(refused.exitCode == 1, "\(refused.standardOutput)")
        #expect((try Commands.json(refused)["error"] as? [String: Any])?["kind"] as? String == "refused")

        let uploaded = try recovering.cli(["recover-with-signature", encrypted, "-s", signature, "--json"] + verify)
        #expect(uploaded.exitCode == 0, "\(uploaded.standardOutput) \(uploaded.standardError)")
        #expect(try Commands.json(uploaded)["remaining"] as? Int == 0)
        try RecoveryCommandTests.expectOriginalState(recovering, lost)

        let notRecovering = try recovering.cli(["recover-with-signature", "public-key", "--json"] + verify)
        #expect(notRecovering.exitCode == 1)
        #expect(((try Commands.json(notRecovering)["error"] as? [String: Any])?["message"] as? String)?.contains("recovery") == true)
    }
}
