import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The built `cloister coordinator --simulation` on 127.0.0.1 with a system-chosen client port (from its JSON log).
final class SimulatedCoordinator: @unchecked Sendable {
    static let program = BuiltProgram(named: "cloister")
    /// The simulated Coordinator enclave's identity (`CoordinatorLauncher.simulatedEnclave`).
    static let uniqueID = "0b212e17e0666889c14ac88a559bdc087a7b20481d79547a3790f641ed595080"

    let directory: URL
    let machineDirectory: URL
    private(set) var address = ""
    private let process = Process()
    private let lock = NSLock()
    private var log = Data()

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-client-\(UUID().uuidString)")
        machineDirectory = directory.appendingPathComponent("machine")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = Self.program.url
        process.arguments = [
            "coordinator", "--simulation", "--data-directory", directory.appendingPathComponent("data").path,
            "--simulation-state-directory", machineDirectory.path, "--client-address", "127.0.0.1:0",
            "--marble-address", "127.0.0.1:0", "--log-format", "json",
        ]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOISTER_") && !$0.key.hasPrefix("EDG_") }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            self.lock.withLock { self.log.append(chunk) }
        }
        try process.run()
        // Generous: a whole parallel test run on two cores can slow a debug Coordinator's first start a lot.
        let deadline = ContinuousClock.now + .seconds(240)
        while ContinuousClock.now < deadline {
            if let port = lock.withLock({ Self.clientPort(in: log) }) {
                address = "127.0.0.1:\(port)"
                return
            }
            guard process.isRunning else { throw StartFailure(what: "the Coordinator exited before listening", log: logText) }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw StartFailure(what: "the Coordinator did not log its client API port within 240 s", log: logText)
    }

    private var logText: String { lock.withLock { String(decoding: log.suffix(4000), as: UTF8.self) } }

    struct StartFailure: Error, CustomStringConvertible {
        let what: String
        let log: String
        var description: String { "\(what); its log ends with:\n\(log)" }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

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

    private static func clientPort(in log: Data) -> Int? {
        for line in String(decoding: log, as: UTF8.self).split(separator: "\n") where line.contains("\"Listening\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                object["server"] == "client API", let port = object["port"].flatMap(Int.init)
            else { continue }
            return port
        }
        return nil
    }
}
