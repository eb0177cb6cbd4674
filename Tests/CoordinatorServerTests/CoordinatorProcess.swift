import Foundation
import TestSupport

/// The built `cloister coordinator` binary in simulation, its listening addresses set by each test through
/// `arguments` or `environment`.
typealias CoordinatorProcess = SimulatedCoordinatorProcess

extension SimulatedCoordinatorProcess {
    static func launch(
        dataDirectory: URL, machineDirectory: URL, environment: [String: String] = [:], arguments: [String] = []
    ) async throws -> CoordinatorProcess {
        try await CoordinatorProcess(
            dataDirectory: dataDirectory, machineDirectory: machineDirectory, environment: environment, arguments: arguments,
            loopbackAddresses: false)
    }

    var clientURL: String { "https://\(clientAddress)" }
    var marbleURL: String { "https://127.0.0.1:\(marblePort)" }
}
