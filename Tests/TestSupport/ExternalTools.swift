import Foundation
import Testing

/// External programs the tests drive, found on PATH.
public enum Tools {
    /// `name` on PATH, or `name` itself when it is a path to an executable.
    public static func path(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static func available(_ names: String...) -> Bool { names.allSatisfy { path($0) != nil } }

    public static let registryTools = available("docker-registry", "skopeo", "umoci")
    public static let registryToolsMissing =
        "needs docker-registry, skopeo and umoci on PATH (Debian: apt-get install docker-registry skopeo umoci)"
}

public struct CommandFailure: Error, CustomStringConvertible {
    public let command: String
    public let status: Int32
    public let output: String
    public var description: String { "`\(command)` exited \(status): \(output)" }

    public init(command: String, status: Int32, output: String) {
        self.command = command
        self.status = status
        self.output = output
    }
}

/// Runs a program to completion and returns its standard output; a non-zero exit throws with its output.
@discardableResult
public func runProgram(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let outcome = try ProgramRunner.run(tool, arguments, environment: environment ?? [:])
    guard outcome.exitCode == 0 else {
        throw CommandFailure(
            command: ([tool] + arguments).joined(separator: " "), status: outcome.exitCode, output: outcome.standardOutput + outcome.standardError)
    }
    return outcome.standardOutput
}

/// A fresh directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "oci-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A loopback TCP port that nothing listens on right now.
public func freeLoopbackPort() throws -> Int {
    let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketDescriptor >= 0 else { throw CommandFailure(command: "socket", status: errno, output: "") }
    defer { close(socketDescriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socketDescriptor, $0, length) == 0 && getsockname(socketDescriptor, $0, &length) == 0
        }
    }
    guard bound else { throw CommandFailure(command: "bind", status: errno, output: "") }
    return Int(UInt16(bigEndian: address.sin_port))
}

public func canConnect(port: Int) -> Bool {
    let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketDescriptor >= 0 else { return false }
    defer { close(socketDescriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// Runs blocking work (a program to completion, a wait) on a thread of its own. Tests are async, and the cooperative
/// pool has one thread a core: a test that blocks one waits with it, and an in-process Coordinator of another test
/// then cannot answer.
public func offThePool<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Swift.Result { try body() }) }
    }
}

/// ``runProgram(_:_:environment:)`` off the cooperative pool.
@discardableResult
public func runProgramOffPool(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> String {
    try await offThePool { try runProgram(tool, arguments, environment: environment) }
}
