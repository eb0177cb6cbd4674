import Foundation
import TestSupport

/// A real `cloister coordinator --simulation` (``SimulatedCoordinatorProcess``) in a directory of its own, removed when
/// it goes away.
final class SimulatedCoordinator: Sendable {
    static let program = SimulatedCoordinatorProcess.program
    static let uniqueID = SimulatedCoordinatorProcess.uniqueID

    let directory: URL
    private let coordinator: SimulatedCoordinatorProcess

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        coordinator = try await SimulatedCoordinatorProcess(
            dataDirectory: directory.appendingPathComponent("data"), machineDirectory: directory.appendingPathComponent("machine"))
    }

    deinit {
        coordinator.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    var machineDirectory: URL { coordinator.machineDirectory }
    var address: String { coordinator.clientAddress }

    /// Runs the CLI against `address` (default: this Coordinator) with the simulation trust and this Coordinator's
    /// MRENCLAVE as the policy, in a clean environment.
    func cli(_ arguments: [String], address: String? = nil) throws -> BuiltProgram.Outcome {
        var environment = ["HOME": directory.path, "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path]
        for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("CLOISTER_") { environment[key] = "" }
        return try Self.program.run(
            arguments + [
                "--coordinator", address ?? self.address, "--accept-simulation", "--simulation-state-directory",
                machineDirectory.path, "--unique-id", Self.uniqueID,
            ], environment: environment)
    }
}
