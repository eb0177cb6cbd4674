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
