import Foundation
import TestSupport
import Testing

/// The client commands, driven as a user would: the built `cloister` binary against a real simulated Coordinator.
@Suite(.serialized) struct ClientCommandTests {
    static var enabled: Bool { ScratchCoordinator.program.exists }

    static func manifest(users: [UserFiles], marbleEnv: String = "1", recoveryKeys: [ClientTestRecoveryKey] = []) -> String {
        let entries = users.map { user in
            let roles = user.name == "alice" ? #"["updateManifest", "updatePackages", "writeToken", "readGenerated"]"# : #"["updateManifest"]"#
            return "\(quoted(user.name)): {\"Certificate\": \(quoted(user.certificatePEM)), \"Roles\": \(roles)}"
        }
        return """
            {
              "Packages": {"app": {"SignerID": "\(String(repeating: "ab", count: 32))", "ProductID": 7, "SecurityVersion": 1}},
              "Marbles": {"app": {"Package": "app", "Parameters": {"Env": {"TOKEN": "{{ string .Secrets.token }}", "RUN": "\(marbleEnv)"}}}},
              "Secrets": {
                "token": {"Type": "plain", "UserDefined": true},
                "generated": {"Type": "symmetric-key", "Size": 128, "Shared": true}
              },
              "Users": {\(entries.joined(separator: ","))},
              "RecoveryKeys": {\(recoveryKeys.map { "\(quoted($0.name)): \(quoted($0.publicKeyPEM))" }.joined(separator: ","))},
              "Roles": {
                "updateManifest": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
                "updatePackages": {"ResourceType": "Packages", "ResourceNames": ["app"], "Actions": ["UpdateSecurityVersion"]},
                "writeToken": {"ResourceType": "Secrets", "ResourceNames": ["token"], "Actions": ["ReadSecret", "WriteSecret"]},
                "readGenerated": {"ResourceType": "Secrets", "ResourceNames": ["generated"], "Actions": ["ReadSecret"]}
              }
            }
            """
    }

    static func quoted(_ text: String) -> String { String(decoding: try! JSONEncoder().encode(text), as: UTF8.self) }

    static func json(_ outcome: BuiltProgram.Outcome, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        return try #require(object, "not a JSON object: \(outcome.standardOutput) \(outcome.standardError)", sourceLocation: sourceLocation)
    }

    func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func deploymentLifecycleWithTwoUsersAndJSONEverywhere() async throws {
        let coordinator = try await ScratchCoordinator()
        let files = coordinator.directory
        let alice = try UserFiles(name: "alice", directory: files.path)
        let bob = try UserFiles(name: "bob", directory: files.path)
        let verify = coordinator.verificationArguments
        let first = try write(Self.manifest(users: [alice, bob]), "manifest.json", in: files)
        let second = try write(Self.manifest(users: [alice, bob], marbleEnv: "2"), "manifest-2.json", in: files)

        let initial = try Self.json(coordinator.cli(["status", "--json"] + verify))
        #expect(initial["code"] as? Int == 2)
        let coordinatorInfo = try #require(initial["coordinator"] as? [String: Any])
        #expect(coordinatorInfo["verified"] as? Bool == true && coordinatorInfo["simulation"] as? Bool == true)

        let set = try coordinator.cli(["manifest", "set", first, "--json"] + verify)
        #expect(set.exitCode == 0, "\(set.standardOutput) \(set.standardError)")
        let fingerprint = try #require(try Self.json(set)["fingerprint"] as? String)
        #expect(try coordinator.cli(["status"] + verify).standardOutput.hasPrefix("3:"))

        let matches = try coordinator.cli(["manifest", "verify", first, "--json"] + verify)
        #expect(matches.exitCode == 0)
        #expect(try Self.json(matches)["matches"] as? Bool == true)
        let differs = try coordinator.cli(["manifest", "verify", second, "--json"] + verify)
        #expect(differs.exitCode == 1)
        #expect(try Self.json(differs)["enforced"] as? String == fingerprint)
        #expect(try coordinator.cli(["manifest", "verify", second] + verify).standardOutput.contains("MISMATCH"))

        let got = try Self.json(coordinator.cli(["manifest", "get", "--json"] + verify))
        #expect(got["fingerprint"] as? String == fingerprint)
        #expect((got["manifest"] as? String)?.contains("\"Packages\"") == true)
        let signature = try Self.json(coordinator.cli(["manifest", "signature", "--json"] + verify))
        #expect((signature["signature"] as? String)?.isEmpty == false)

        let secrets = try write(#"{"token": {"Key": "c2VjcmV0LXRva2Vu"}}"#, "secrets.json", in: files)
        let secretSet = try coordinator.cli(["secret", "set", secrets, "--json"] + verify + alice.arguments)
        #expect(secretSet.exitCode == 0, "\(secretSet.standardOutput)")
        #expect(try Self.json(secretSet)["set"] as? [String] == ["token"])
        let secretGet = try Self.json(coordinator.cli(["secret", "get", "token", "generated", "--json"] + verify + alice.arguments))
        let read = try #require(secretGet["secrets"] as? [String: [String: Any]])
        #expect(read["token"]?["private"] as? String == "c2VjcmV0LXRva2Vu")
        #expect(read["generated"]?["size"] as? Int == 128)
        let anonymous = try coordinator.cli(["secret", "get", "token", "--json"] + verify)
        #expect(anonymous.exitCode == 1)
        let refusal = try #require(try Self.json(anonymous)["error"] as? [String: Any])
        #expect((refusal["hint"] as? String)?.contains("--cert") == true)
        let bobReads = try coordinator.cli(["secret", "get", "token"] + verify + bob.arguments)
        #expect(bobReads.exitCode == 1)

        let packageUpdate = try write(#"{"Packages": {"app": {"SecurityVersion": 2}}}"#, "package-update.json", in: files)
        let applied = try coordinator.cli(["manifest", "update", "apply", packageUpdate, "--json"] + verify + alice.arguments)
        #expect(applied.exitCode == 0, "\(applied.standardOutput) \(applied.standardError)")
        #expect(try Self.json(applied)["missingAcknowledgments"] as? Int == 0)

        let proposed = try coordinator.cli(["manifest", "update", "apply", second, "--json"] + verify + alice.arguments)
        #expect(proposed.exitCode == 0, "\(proposed.standardOutput) \(proposed.standardError)")
        #expect(try Self.json(proposed)["missingUsers"] as? [String] == ["bob"])
        let pending = try Self.json(coordinator.cli(["manifest", "update", "get", "--json"] + verify))
        #expect(pending["missingUsers"] as? [String] == ["bob"])
        let acknowledged = try coordinator.cli(["manifest", "update", "acknowledge", second, "--json"] + verify + bob.arguments)
        #expect(acknowledged.exitCode == 0, "\(acknowledged.standardOutput) \(acknowledged.standardError)")
        #expect(try Self.json(acknowledged)["missingAcknowledgments"] as? Int == 0)
        #expect(try coordinator.cli(["manifest", "verify", second] + verify).exitCode == 0)

        let nothingPending = try coordinator.cli(["manifest", "update", "cancel", "--json"] + verify + alice.arguments)
        #expect(nothingPending.exitCode == 1)
        #expect(try Self.json(nothingPending)["ok"] as? Bool == false)
        let third = try write(Self.manifest(users: [alice, bob], marbleEnv: "3"), "manifest-3.json", in: files)
        #expect(try coordinator.cli(["manifest", "update", "apply", third] + verify + bob.arguments).exitCode == 0)
        let cancelled = try coordinator.cli(["manifest", "update", "cancel", "--json"] + verify + alice.arguments)
        #expect(cancelled.exitCode == 0, "\(cancelled.standardOutput)")
        #expect(try Self.json(cancelled)["message"] as? String != nil)

        let log = try Self.json(coordinator.cli(["manifest", "log", "--json"] + verify))
        #expect(((log["updateLog"] as? [String])?.count ?? 0) >= 3)

        let chain = try Self.json(coordinator.cli(["certificate", "chain", "--json"] + verify))
        #expect((chain["pem"] as? String)?.components(separatedBy: "BEGIN CERTIFICATE").count == 3)
        let root = try Self.json(coordinator.cli(["certificate", "root", "--json"] + verify))
        let intermediate = try Self.json(coordinator.cli(["certificate", "intermediate", "--json"] + verify))
        #expect((chain["pem"] as? String) == (intermediate["pem"] as? String ?? "") + (root["pem"] as? String ?? ""))
        let cached = try String(contentsOf: coordinator.directory.appendingPathComponent("root.pem"), encoding: .utf8)
        #expect(cached == root["pem"] as? String)
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func recoveryDataIsWrittenAndASignedShareReachesTheCoordinator() async throws {
        let coordinator = try await ScratchCoordinator()
        let files = coordinator.directory
        let alice = try UserFiles(name: "alice", directory: files.path)
        let recoveryKey = try ClientTestRecoveryKey(name: "admin", in: files)
        let manifest = Self.manifest(users: [alice], recoveryKeys: [recoveryKey])
        let file = try write(manifest, "manifest.json", in: files)
        let recoveryData = files.appendingPathComponent("recovery.json").path
        let set = try coordinator.cli(["manifest", "set", file, "--recovery-data", recoveryData, "--json"] + coordinator.verificationArguments)
        #expect(set.exitCode == 0, "\(set.standardOutput) \(set.standardError)")
        #expect((try Self.json(set)["recoverySecrets"] as? [String: String])?.keys.sorted() == ["admin"])

        // The share decrypts and is signed; the Coordinator is not in recovery mode, so it refuses it and says why.
        let recover = try coordinator.cli(
            ["recover", recoveryData, "--recovery-key", recoveryKey.privateKey.path, "--json"] + coordinator.verificationArguments)
        #expect(recover.exitCode == 1)
        let error = try #require(try Self.json(recover)["error"] as? [String: Any])
        #expect(error["kind"] as? String == "refused")
        #expect((error["message"] as? String)?.contains("not in recovery mode") == true)

        let wrongKey = try coordinator.cli(["recover", recoveryData, "--recovery-key", alice.keyPath, "--json"] + coordinator.verificationArguments)
        #expect(wrongKey.exitCode == 2)
        #expect((try Self.json(wrongKey)["error"] as? [String: Any])?["hint"] as? String == "Check --recovery-key.")
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func measurementOutsideThePolicyIsRefusedBeforeAnyOtherRequest() async throws {
        let coordinator = try await ScratchCoordinator()
        let alice = try UserFiles(name: "alice", directory: coordinator.directory.path)
        let manifest = try write(Self.manifest(users: [alice]), "manifest.json", in: coordinator.directory)
        let recoveryKey = try ClientTestRecoveryKey(name: "admin", in: coordinator.directory)
        let share = coordinator.directory.appendingPathComponent("share.bin").path
        try Data(repeating: 7, count: 32).write(to: URL(fileURLWithPath: share))
        var wrongPolicy = coordinator.verificationArguments
        let index = try #require(wrongPolicy.firstIndex(of: ScratchCoordinator.uniqueID))
        wrongPolicy[index] = String(repeating: "11", count: 32)
        let commands: [[String]] = [
            ["status"], ["manifest", "set", manifest], ["manifest", "get"], ["manifest", "verify", manifest], ["manifest", "log"],
            ["manifest", "signature"], ["manifest", "update", "apply", manifest], ["manifest", "update", "acknowledge", manifest],
            ["manifest", "update", "cancel"], ["manifest", "update", "get"], ["certificate", "root"], ["certificate", "intermediate"],
            ["certificate", "chain"], ["secret", "get", "token"], ["version"], ["recover-with-signature", "public-key"],
            ["recover", share, "--recovery-key", recoveryKey.privateKey.path], ["recover-with-signature", share, "--signature", share],
        ]
        let before = try coordinator.requestCounts()
        for command in commands {
            let outcome = try coordinator.cli(command + ["--json"] + wrongPolicy + alice.arguments)
            #expect(outcome.exitCode == 1, "\(command): \(outcome.standardOutput)")
            let error = try #require(try Self.json(outcome)["error"] as? [String: Any])
            #expect(error["kind"] as? String == "untrusted")
            #expect(error["found"] as? String == ScratchCoordinator.uniqueID)
            #expect((error["explanation"] as? [String])?.contains { $0.contains("MRENCLAVE") } == true)
        }
        let after = try coordinator.requestCounts()
        var sent = after
        for (path, count) in before { sent[path, default: 0] -= count }
        sent = sent.filter { $0.value != 0 && $0.key != "/metrics" }
        #expect(sent == ["/api/v2/quote": commands.count], "requests the Coordinator counted: \(sent)")

        let text = try coordinator.cli(["status"] + wrongPolicy)
        #expect(text.exitCode == 1)
        #expect(text.standardError.contains("failed verification; nothing else was sent"))
        #expect(text.standardError.contains("[FAIL] MRENCLAVE"))
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func simulationNeedsExplicitConsentAndUsageErrorsExitTwo() async throws {
        let coordinator = try await ScratchCoordinator()
        let intelOnly = try coordinator.cli([
            "status", "--json", "--coordinator", coordinator.address, "--unique-id", ScratchCoordinator.uniqueID,
            "--collateral", coordinator.directory.appendingPathComponent("missing.json").path,
        ])
        #expect(intelOnly.exitCode != 0)
        #expect(try Self.json(intelOnly)["ok"] as? Bool == false)

        let noIdentity = try coordinator.cli(["status", "--json", "--coordinator", coordinator.address, "--insecure-skip-nothing"])
        #expect(noIdentity.exitCode == 2, "an unknown flag is a usage error")
        let intelNoIdentity = try coordinator.cli(["status", "--json", "--coordinator", coordinator.address])
        #expect(intelNoIdentity.exitCode == 2, "without simulation, a Coordinator identity is required")
        #expect((try Self.json(intelNoIdentity)["error"] as? [String: Any])?["hint"] as? String != nil)

        let unreachable = try coordinator.cli(["status", "--json", "--coordinator", "127.0.0.1:1", "--insecure"])
        #expect(unreachable.exitCode == 2)
        #expect((try Self.json(unreachable)["error"] as? [String: Any])?["kind"] as? String == "unreachable")

        let insecure = try coordinator.cli(["status", "--coordinator", coordinator.address, "--insecure"])
        #expect(insecure.exitCode == 0)
        #expect(insecure.standardError.contains("NOT verified"))

        let fromEnvironment = try coordinator.cli(
            ["status", "--json"],
            environment: [
                "CLOISTER_COORDINATOR": coordinator.address, "CLOISTER_ACCEPT_SIMULATION": "1",
                "CLOISTER_SIMULATION_STATE_DIR": coordinator.machineDirectory.path, "CLOISTER_UNIQUE_ID": ScratchCoordinator.uniqueID,
            ])
        #expect(fromEnvironment.exitCode == 0, "\(fromEnvironment.standardOutput) \(fromEnvironment.standardError)")

        let config = try write(
            #"{"coordinator": "127.0.0.1:1", "insecure": true}"#, "config.json", in: coordinator.directory)
        let flagWins = try coordinator.cli(["status", "--config", config, "--coordinator", coordinator.address])
        #expect(flagWins.exitCode == 0, "\(flagWins.standardError)")
        let configUsed = try coordinator.cli(["status", "--config", config])
        #expect(configUsed.exitCode == 2)
        #expect(configUsed.standardError.contains("127.0.0.1:1"))

        let halfIdentity = try coordinator.cli(["status", "--cert", "a.pem"] + coordinator.verificationArguments)
        #expect(halfIdentity.exitCode == 2)
        #expect(halfIdentity.standardError.contains("--key"))
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func versionPackageInfoHelpAndCompletion() throws {
        let program = ScratchCoordinator.program
        let version = try program.run(["version", "--json"])
        #expect(version.exitCode == 0)
        #expect(try Self.json(version)["version"] as? String != nil)
        let help = try program.run(["status", "--help"])
        #expect(help.standardOutput.contains("Examples:") && help.standardOutput.contains("--accept-simulation"))
        for shell in ["bash", "zsh", "fish"] {
            let completion = try program.run(["--generate-completion-script", shell])
            #expect(completion.exitCode == 0)
            #expect(completion.standardOutput.contains("package-info") && completion.standardOutput.contains("certificate"))
        }
        let missing = try program.run(["package-info", "/nonexistent/app.sig", "--json"])
        #expect(missing.exitCode == 2)
        #expect(try Self.json(missing)["ok"] as? Bool == false)
        let notSig = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-sig-\(UUID()).sig")
        try Data(repeating: 0, count: 1808).write(to: notSig)
        defer { try? FileManager.default.removeItem(at: notSig) }
        let refused = try program.run(["package-info", notSig.path])
        #expect(refused.exitCode == 1)
        #expect(refused.standardError.contains("HEADER"))
    }

    @Test(.enabled(if: enabled && SharedData.directory("vectors/sigstruct") != nil, "\(SharedData.missingMessage("vectors/sigstruct"))"))
    func packageInfoPrintsTheManifestPackage() throws {
        let file = try #require(SharedData.directory("vectors/sigstruct")).appendingPathComponent("v1.sig").path
        let outcome = try ScratchCoordinator.program.run(["package-info", file, "--json"])
        #expect(outcome.exitCode == 0)
        let object = try Self.json(outcome)
        #expect(object["mrenclave"] as? String == "fd27dc24a691c2f7379b683eb90971505b84d87d74992c5fcfbdb1261e2082a2")
        let package = try #require(object["package"] as? [String: Any])
        #expect(package["SignerID"] as? String == "001b9a066b9842d8187d9c0ad88a0fe6c4dce0c2eb775332be7553b57555794d")
        #expect(package["ProductID"] as? Int == 1 && package["SecurityVersion"] as? Int == 1 && package["Debug"] as? Bool == false)
        let text = try ScratchCoordinator.program.run(["package-info", file])
        #expect(text.standardOutput.contains("ISVSVN:    1") && text.standardOutput.contains("\"SignerID\""))
    }
}
