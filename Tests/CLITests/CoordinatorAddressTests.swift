import Foundation
import TestSupport
import Testing

/// The Coordinator's address as MarbleRun's CLI takes it (a positional argument, also as https://host:port), the
/// simulated Coordinator verified without reading its MRENCLAVE anywhere, and the root cache kept per address.
@Suite(.serialized) struct CoordinatorAddressTests {
    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func thePositionalAddressAndTheSimulatedIdentityNeedNoFlags() async throws {
        let coordinator = try await ScratchCoordinator()
        let simulation = ["--accept-simulation", "--simulation-state-directory", coordinator.machineDirectory.path]

        let plain = try coordinator.cli(["status", coordinator.address] + simulation)
        #expect(plain.exitCode == 0, "\(plain.standardError)")
        #expect(plain.standardOutput.hasPrefix("2:"))
        #expect(plain.standardError.contains("verifying the simulated Coordinator's fixed identity"), "\(plain.standardError)")
        let url = try coordinator.cli(["status", "https://\(coordinator.address)/", "--json"] + simulation)
        #expect(url.exitCode == 0, "\(url.standardError)")
        #expect(try ClientCommandTests.json(url)["code"] as? Int == 2)

        let manifest = coordinator.directory.appendingPathComponent("manifest.json")
        try ClientCommandTests.manifest(users: []).write(to: manifest, atomically: true, encoding: .utf8)
        let set = try coordinator.cli(["manifest", "set", manifest.path, coordinator.address] + simulation)
        #expect(set.exitCode == 0, "\(set.standardError)")

        let twice = try coordinator.cli(["status", coordinator.address, "--coordinator", "127.0.0.1:1"] + simulation)
        #expect(twice.exitCode == 2)
        #expect(twice.standardError.contains("the Coordinator's address is given twice"), "\(twice.standardError)")
        let wrong = try coordinator.cli(["status", coordinator.address, "--unique-id", String(repeating: "00", count: 32)] + simulation)
        #expect(wrong.exitCode == 1, "an explicit identity still counts: \(wrong.standardError)")
    }

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func theSecretAddressMayTrailTheNamesAsInMarbleRun() async throws {
        let coordinator = try await ScratchCoordinator()
        let simulation = ["--accept-simulation", "--simulation-state-directory", coordinator.machineDirectory.path]
        // Without a manifest the Coordinator refuses (exit 1); read as a secret name, the address would leave the CLI
        // with the default localhost:4433, where nothing listens (exit 2).
        let outcome = try coordinator.cli(["secret", "get", "token", coordinator.address] + simulation)
        #expect(outcome.exitCode == 1, "\(outcome.standardError)")
    }

    @Test(.enabled(if: ClientCommandTests.enabled, "needs the built cloister binary (swift build)"))
    func eachAddressKeepsItsOwnRootSoSwitchingDeploymentsDoesNotWarn() async throws {
        let first = try await ScratchCoordinator()
        let second = try await ScratchCoordinator()
        let home = first.directory
        func status(_ coordinator: ScratchCoordinator) throws -> String {
            let outcome = try first.cli(
                ["status", coordinator.address, "--accept-simulation", "--simulation-state-directory", coordinator.machineDirectory.path])
            #expect(outcome.exitCode == 0, "\(outcome.standardError)")
            return outcome.standardError
        }
        _ = try status(first)
        _ = try status(second)
        #expect(!(try status(first)).contains("root certificate changed"), "switching deployments is not a root change")
        let roots = home.appendingPathComponent("config/cloister/coordinator-roots")
        #expect(try FileManager.default.contentsOfDirectory(atPath: roots.path).count == 2)
        let latest = try String(contentsOf: home.appendingPathComponent("config/cloister/coordinator-cert.pem"), encoding: .utf8)
        #expect(latest.contains("BEGIN CERTIFICATE"), "the MarbleRun-compatible file holds the latest verified root")
    }
}
