import Foundation

/// Runs the system `openssl` in a scratch directory, the way an operator checks Coordinator output by hand.
public struct OpenSSLTool {
    public struct Failure: Error, CustomStringConvertible {
        public let arguments: [String]
        public let status: Int32
        public let output: String
        public var description: String { "openssl \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    public let directory: URL

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-openssl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func write(_ name: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: directory.appendingPathComponent(name))
    }

    public func write(_ name: String, _ contents: Data) throws {
        try contents.write(to: directory.appendingPathComponent(name))
    }

    public func read(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// Runs `openssl arguments` and returns its combined output; throws with that output on a non-zero exit.
    @discardableResult
    public func run(_ arguments: [String]) throws -> String {
        let outcome = try ProgramRunner.run("openssl", arguments, workingDirectory: directory.path)
        let output = outcome.standardOutput + outcome.standardError
        guard outcome.exitCode == 0 else { throw Failure(arguments: arguments, status: outcome.exitCode, output: output) }
        return output
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
