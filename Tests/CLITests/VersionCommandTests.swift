import Foundation
import TestSupport
import Testing

/// `cloister version`: the CLI's version always; the verified Coordinator's when an address is configured.
@Suite(.serialized) struct VersionCommandTests {
    typealias Commands = ClientCommandTests

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func coordinatorVersionComesFromItsVerifiedStatus() async throws {
        let coordinator = try await ScratchCoordinator()
        let verify = coordinator.verificationArguments
        let alone = try Commands.json(coordinator.cli(["version", "--json"]))
        let version = try #require(alone["version"] as? String)
        #expect(alone["coordinatorVersion"] == nil && alone["coordinator"] == nil && alone["ok"] as? Bool == true)

        let both = try coordinator.cli(["version", "--json"] + verify)
        #expect(both.exitCode == 0, "\(both.standardOutput) \(both.standardError)")
        let answer = try Commands.json(both)
        #expect(answer["version"] as? String == version && answer["coordinatorVersion"] as? String == version)
        #expect((answer["coordinator"] as? [String: Any])?["verified"] as? Bool == true)
        #expect(try Commands.json(coordinator.cli(["status", "--json"] + verify))["version"] as? String == version)

        let text = try coordinator.cli(["version"] + verify)
        #expect(text.exitCode == 0)
        #expect(
            text.standardOutput
                == "cloister \(version) (MarbleRun client API v2)\nCoordinator at https://\(coordinator.address): \(version) (SIMULATION)\n")

        // The address may come from the environment or the config file too; the policy still applies.
        var policy = verify
        policy.removeFirst(2)
        let fromEnvironment = try coordinator.cli(["version", "--json"] + policy, environment: ["CLOISTER_COORDINATOR": coordinator.address])
        #expect(try Commands.json(fromEnvironment)["coordinatorVersion"] as? String == version)
        let config = coordinator.directory.appendingPathComponent("config.json")
        try #"{"coordinator": "\#(coordinator.address)"}"#.write(to: config, atomically: true, encoding: .utf8)
        let fromConfig = try coordinator.cli(["version", "--json", "--config", config.path] + policy)
        #expect(try Commands.json(fromConfig)["coordinatorVersion"] as? String == version)
    }

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func unreachableOrUntrustedCoordinatorStillPrintsTheCLIVersion() async throws {
        let coordinator = try await ScratchCoordinator()
        var unreachable = coordinator.verificationArguments
        unreachable[1] = "127.0.0.1:1"
        let json = try coordinator.cli(["version", "--json"] + unreachable)
        #expect(json.exitCode == 2)
        let answer = try Commands.json(json)
        #expect(answer["version"] as? String != nil && answer["ok"] as? Bool == false)
        let error = try #require(answer["error"] as? [String: Any])
        #expect(error["kind"] as? String == "unreachable")
        #expect((error["message"] as? String)?.contains("version is unknown") == true)

        let text = try coordinator.cli(["version"] + unreachable)
        #expect(text.exitCode == 2)
        #expect(text.standardOutput.hasPrefix("cloister "))
        #expect(text.standardError.contains("the Coordinator's version is unknown: cannot reach"), "\(text.standardError)")

        var untrusted = coordinator.verificationArguments
        untrusted[try #require(untrusted.firstIndex(of: ScratchCoordinator.uniqueID))] = String(repeating: "11", count: 32)
        let refused = try coordinator.cli(["version", "--json"] + untrusted)
        #expect(refused.exitCode == 1)
        #expect((try Commands.json(refused)["error"] as? [String: Any])?["kind"] as? String == "untrusted")
    }
}

/// MarbleRun's names for the shared flags (`--era-config`, `--coordinator-cert`, `-i`) and `--save-sgx-quote`.
@Suite(.serialized) struct MarbleRunFlagTests {
    typealias Commands = ClientCommandTests

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func marbleRunFlagNamesAndTheSavedQuote() async throws {
        let coordinator = try await ScratchCoordinator()
        let files = coordinator.directory
        let era = files.appendingPathComponent("era-config.json")
        try #"{"UniqueID": "\#(ScratchCoordinator.uniqueID)"}"#.write(to: era, atomically: true, encoding: .utf8)
        let cache = files.appendingPathComponent("coordinator-cert.pem")
        let quote = files.appendingPathComponent("quote.bin")
        let status = try coordinator.cli([
            "status", "--json", "--coordinator", coordinator.address, "--accept-simulation", "--simulation-state-directory",
            coordinator.machineDirectory.path, "--era-config", era.path, "--coordinator-cert", cache.path, "--save-sgx-quote", quote.path,
        ])
        #expect(status.exitCode == 0, "\(status.standardOutput) \(status.standardError)")
        #expect(try String(contentsOf: cache, encoding: .utf8).hasPrefix("-----BEGIN CERTIFICATE-----"))
        let inspected = try coordinator.cli(["quote", "inspect", quote.path, "--json"])
        #expect(inspected.exitCode == 0, "the saved quote is a quote: \(inspected.standardError)")

        // Without a policy flag, MarbleRun's era-config.json in the current directory is used, and the user is told.
        let simulation = [
            "--coordinator", coordinator.address, "--accept-simulation", "--simulation-state-directory", coordinator.machineDirectory.path,
        ]
        let fromDirectory = try coordinator.cli(["status", "--json"] + simulation, workingDirectory: files)
        #expect(fromDirectory.exitCode == 0, "\(fromDirectory.standardOutput) \(fromDirectory.standardError)")
        #expect(fromDirectory.standardError.contains("note: using the Coordinator policy era-config.json from the current directory"))
        let elsewhere = try coordinator.cli(["status", "--json"] + simulation, workingDirectory: coordinator.machineDirectory)
        #expect(elsewhere.exitCode == 0, "no policy anywhere: the simulated Coordinator's fixed identity: \(elsewhere.standardOutput)")
        #expect(elsewhere.standardError.contains("verifying the simulated Coordinator's fixed identity"))
        let flagWins = try coordinator.cli(
            ["status", "--json", "--unique-id", String(repeating: "11", count: 32)] + simulation, workingDirectory: files)
        #expect(flagWins.exitCode == 1 && !flagWins.standardError.contains("era-config.json"))

        let insecure = try coordinator.cli(["status", "-i", "--coordinator", coordinator.address])
        #expect(insecure.exitCode == 0 && insecure.standardError.contains("NOT verified"))
        let unwritable = try coordinator.cli(
            ["status", "--json", "--save-sgx-quote", files.appendingPathComponent("missing/quote.bin").path] + coordinator.verificationArguments)
        #expect(unwritable.exitCode == 2)
        #expect((try Commands.json(unwritable)["error"] as? [String: Any])?["hint"] as? String == "Give a writable path with --save-sgx-quote.")
    }
}
