import Foundation
import Synchronization
import TestSupport

/// A real `cloister coordinator --simulation` (``SimulatedCoordinatorProcess``) and everything a client needs to verify
/// it: the simulated machine's directory and the simulated Coordinator's MRENCLAVE. ``restarted(onNewMachine:)`` stops
/// it and starts another on the same data directory, optionally on a new simulated machine, whose sealing key cannot
/// open the state (a lost sealing key).
final class ClientTestCoordinator: Sendable {
    static let program = SimulatedCoordinatorProcess.program
    static let uniqueID = SimulatedCoordinatorProcess.uniqueID

    let directory: URL
    private let coordinator: SimulatedCoordinatorProcess
    /// Whether this instance removes `directory` when it goes away; a restart hands the directory on.
    private let ownsDirectory = Mutex(true)

    struct LaunchFailure: Error, CustomStringConvertible {
        let description: String
    }

    convenience init() async throws {
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
    func restarted(onNewMachine: Bool = false) async throws -> ClientTestCoordinator {
        coordinator.stop()
        ownsDirectory.withLock { $0 = false }
        let machine = onNewMachine ? directory.appendingPathComponent("machine-\(UUID().uuidString.prefix(8))") : machineDirectory
        return try await ClientTestCoordinator(directory: directory, machineDirectory: machine)
    }

    deinit {
        coordinator.stop()
        if ownsDirectory.withLock({ $0 }) { try? FileManager.default.removeItem(at: directory) }
    }

    var machineDirectory: URL { coordinator.machineDirectory }
    var address: String { coordinator.clientAddress }

    /// The flags that verify this simulated Coordinator, with the root cache and configuration kept in the test's
    /// directory.
    var verificationArguments: [String] {
        [
            "--coordinator", address, "--accept-simulation", "--simulation-state-directory", machineDirectory.path,
            "--unique-id", Self.uniqueID, "--root-cache", directory.appendingPathComponent("root.pem").path,
        ]
    }

    /// Runs the CLI with a clean environment: no CLOISTER_* variables, a HOME without a configuration file.
    func cli(_ arguments: [String], environment: [String: String] = [:]) throws -> BuiltProgram.Outcome {
        var clean = ["HOME": directory.path, "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path]
        for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("CLOISTER_") { clean[key] = "" }
        return try Self.program.run(arguments, environment: clean.merging(environment) { _, new in new })
    }

    /// Runs the CLI with the same clean environment in `workingDirectory` (BuiltProgram always runs in the test's own).
    /// Output goes through files, so no pipe can fill up.
    func cli(_ arguments: [String], workingDirectory: URL) throws -> (exitCode: Int32, standardOutput: String, standardError: String) {
        let output = directory.appendingPathComponent("cli-\(UUID().uuidString).out")
        let errors = output.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: output)
            try? FileManager.default.removeItem(at: errors)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = directory.path
        environment["XDG_CONFIG_HOME"] = directory.appendingPathComponent("config").path
        for key in environment.keys where key.hasPrefix("CLOISTER_") { environment[key] = "" }
        let process = Process()
        process.executableURL = Self.program.url
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = workingDirectory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus, try String(contentsOf: output, encoding: .utf8), try String(contentsOf: errors, encoding: .utf8)
        )
    }

    /// Requests the client API counted, per path, from the Coordinator's own metrics (the server side).
    func requestCounts() throws -> [String: Int] {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sk", "https://\(address)/metrics"]
        let output = Pipe()
        curl.standardOutput = output
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        var counts = [String: Int]()
        for line in text.split(separator: "\n") where line.contains("_http_request_total{") && !line.hasPrefix("#") {
            guard let pathStart = line.range(of: "path=\""), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            let path = line[pathStart.upperBound...].prefix { $0 != "\"" }
            counts[String(path), default: 0] += Int(value)
        }
        return counts
    }
}

/// A user of the test manifests: a P-256 key and self-signed certificate made with openssl.
struct ClientTestUser {
    let name: String
    let certificate: URL
    let key: URL

    init(name: String, in directory: URL) throws {
        self.name = name
        certificate = directory.appendingPathComponent("\(name).pem")
        key = directory.appendingPathComponent("\(name)-key.pem")
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.path,
            "-out", certificate.path, "-subj", "/CN=\(name)", "-days", "2",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw ClientTestCoordinator.LaunchFailure(description: "openssl req failed") }
    }

    var arguments: [String] { ["--cert", certificate.path, "--key", key.path] }
    var certificatePEM: String { (try? String(contentsOf: certificate, encoding: .utf8)) ?? "" }
}

/// A recovery key holder's RSA-3072 key pair made with openssl: the private key stays with the holder, the public key
/// goes into the manifest's RecoveryKeys under `name`.
struct ClientTestRecoveryKey {
    let name: String
    let privateKey: URL
    let publicKey: URL

    init(name: String, in directory: URL) throws {
        self.name = name
        privateKey = directory.appendingPathComponent("recovery-\(name).pem")
        publicKey = directory.appendingPathComponent("recovery-\(name).pub")
        for arguments in [["genrsa", "-out", privateKey.path, "3072"], ["rsa", "-in", privateKey.path, "-pubout", "-out", publicKey.path]] {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = ["openssl"] + arguments
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            guard openssl.terminationStatus == 0 else { throw ClientTestCoordinator.LaunchFailure(description: "openssl \(arguments[0]) failed") }
        }
    }

    var publicKeyPEM: String { (try? String(contentsOf: publicKey, encoding: .utf8)) ?? "" }
}
