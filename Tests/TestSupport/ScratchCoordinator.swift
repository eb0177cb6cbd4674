import Foundation
import Synchronization

/// A real `cloister coordinator --simulation` (``SimulatedCoordinatorProcess``) and everything a client needs to verify
/// it: the simulated machine's directory and the simulated Coordinator's MRENCLAVE. ``restarted(onNewMachine:)`` stops
/// it and starts another on the same data directory, optionally on a new simulated machine, whose sealing key cannot
/// open the state (a lost sealing key).
public final class ScratchCoordinator: Sendable {
    public static let program = SimulatedCoordinatorProcess.program
    public static let uniqueID = SimulatedCoordinatorProcess.uniqueID

    public let directory: URL
    private let coordinator: SimulatedCoordinatorProcess
    /// Whether this instance removes `directory` when it goes away; a restart hands the directory on.
    private let ownsDirectory = Mutex(true)

    public convenience init() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("client-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await self.init(directory: directory, machineDirectory: directory.appendingPathComponent("machine"))
    }

    private init(directory: URL, machineDirectory: URL) async throws {
        self.directory = directory
        coordinator = try await SimulatedCoordinatorProcess(
            dataDirectory: directory.appendingPathComponent("data"), machineDirectory: machineDirectory)
    }

    /// Stops this Coordinator (SIGTERM, as an operator would) and starts another on the same data directory. With
    /// `onNewMachine`, the new one runs on a fresh simulated SGX machine: its sealing key differs, so it starts in
    /// recovery mode.
    public func restarted(onNewMachine: Bool = false) async throws -> ScratchCoordinator {
        coordinator.stop()
        ownsDirectory.withLock { $0 = false }
        let machine = onNewMachine ? directory.appendingPathComponent("machine-\(UUID().uuidString.prefix(8))") : machineDirectory
        return try await ScratchCoordinator(directory: directory, machineDirectory: machine)
    }

    deinit {
        coordinator.stop()
        if ownsDirectory.withLock({ $0 }) { try? FileManager.default.removeItem(at: directory) }
    }

    public var machineDirectory: URL { coordinator.machineDirectory }
    public var address: String { coordinator.clientAddress }

    /// The flags that verify this simulated Coordinator, with the root cache and configuration kept in the test's
    /// directory.
    public var verificationArguments: [String] { verificationArguments(at: address) }

    /// The same flags for a client that reaches this Coordinator at `address` (through a proxy, say).
    public func verificationArguments(at address: String) -> [String] {
        [
            "--coordinator", address, "--accept-simulation", "--simulation-state-directory", machineDirectory.path,
            "--unique-id", Self.uniqueID, "--root-cache", directory.appendingPathComponent("root.pem").path,
        ]
    }

    /// Runs the CLI with a clean environment (no CLOISTER_* variables, a HOME without a configuration file), in
    /// `workingDirectory` when given.
    public func cli(_ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil) throws -> ProgramOutcome {
        var clean = ["HOME": directory.path, "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path]
        for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("CLOISTER_") { clean[key] = "" }
        return try ProgramRunner.run(
            Self.program.url.path, arguments, environment: clean.merging(environment) { _, new in new }, workingDirectory: workingDirectory?.path)
    }

    /// Requests the client API counted, per path, from the Coordinator's own metrics (the server side).
    public func requestCounts() throws -> [String: Int] {
        let text = try ProgramRunner.run("curl", ["-sk", "https://\(address)/metrics"]).standardOutput
        var counts = [String: Int]()
        for line in text.split(separator: "\n") where line.contains("_http_request_total{") && !line.hasPrefix("#") {
            guard let pathStart = line.range(of: "path=\""), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            let path = line[pathStart.upperBound...].prefix { $0 != "\"" }
            counts[String(path), default: 0] += Int(value)
        }
        return counts
    }
}
