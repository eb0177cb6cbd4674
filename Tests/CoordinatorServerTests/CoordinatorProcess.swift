import Foundation
import Platform
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The built `cloister coordinator` binary, run in simulation with ports chosen by the system; the ports are read
/// from its JSON log lines ("Listening").
final class CoordinatorProcess: Sendable {
    let process: Process
    let clientPort: Int
    let marblePort: Int
    private let log: LogBuffer

    struct LaunchFailure: Error, CustomStringConvertible {
        let description: String
    }

    static var program: BuiltProgram { BuiltProgram(named: "cloister") }

    static func launch(
        dataDirectory: URL, machineDirectory: URL, environment: [String: String] = [:], arguments: [String] = []
    ) async throws -> CoordinatorProcess {
        let process = Process()
        process.executableURL = program.url
        process.arguments =
            ["coordinator", "--simulation", "--data-directory", dataDirectory.path, "--simulation-state-directory", machineDirectory.path, "--log-format", "json"]
            + arguments
        var merged = ProcessInfo.processInfo.environment
        for key in merged.keys where key.hasPrefix("EDG_") || key.hasPrefix("CLOISTER_") { merged[key] = nil }
        process.environment = merged.merging(environment) { _, new in new }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let log = LogBuffer()
        errors.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            log.append(chunk)
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(240)  // generous: a whole parallel run on two cores slows debug start-ups a lot
        while ContinuousClock.now < deadline {
            let ports = Self.ports(in: log.data)
            if let client = ports["client API"], let marble = ports["marble API"] {
                return CoordinatorProcess(process: process, clientPort: client, marblePort: marble, log: log)
            }
            if !process.isRunning {
                throw LaunchFailure(description: "cloister coordinator exited with \(process.terminationStatus): \(String(decoding: log.data, as: UTF8.self))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.terminate()
        throw LaunchFailure(description: "cloister coordinator did not listen within 240 s; its log:\n\(String(decoding: log.data.suffix(4000), as: UTF8.self))")
    }

    private init(process: Process, clientPort: Int, marblePort: Int, log: LogBuffer) {
        self.process = process
        self.clientPort = clientPort
        self.marblePort = marblePort
        self.log = log
    }

    var logText: String { String(decoding: log.data, as: UTF8.self) }
    var clientURL: String { "https://127.0.0.1:\(clientPort)" }
    var marbleURL: String { "https://127.0.0.1:\(marblePort)" }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to exit; nil when it is still running after `timeout`.
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    private static func ports(in log: Data) -> [String: Int] {
        var ports: [String: Int] = [:]
        for line in String(decoding: log, as: UTF8.self).split(separator: "\n") where line.contains("\"Listening\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                let server = object["server"], let port = object["port"].flatMap(Int.init)
            else { continue }
            ports[server] = port
        }
        return ports
    }
}

/// What the process wrote to standard error so far.
final class LogBuffer: Sendable {
    private let buffer = Mutex(Data())

    func append(_ chunk: Data) { buffer.withLock { $0.append(chunk) } }
    var data: Data { buffer.withLock { $0 } }
}

/// Runs a command-line tool to completion and returns its exit code and standard output.
func runTool(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let output = Pipe(), inputPipe = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = inputPipe
    try process.run()
    if let input { inputPipe.fileHandleForWriting.write(input) }
    try inputPipe.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// ``runTool(_:_:input:)`` on a thread of its own: a test whose Coordinator runs in this process must not wait on a
/// thread of the cooperative pool, which the Coordinator's routes need to answer.
func runToolOffPool(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runTool(executable, arguments, input: input) })
        }
    }
}
