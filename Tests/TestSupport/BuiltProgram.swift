import Foundation

/// Runs an executable that `swift build` put beside the test bundle, and captures what it did.
public struct BuiltProgram: Sendable {
    public struct Outcome: Sendable {
        public let exitCode: Int32
        public let standardOutput: String
        public let standardError: String
    }

    public let url: URL

    /// The product named `name` in the build folder that holds the running test binary.
    public init(named name: String) {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        while !folder.path.hasSuffix(".xctest") && folder.path != "/"
            && !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path)
        {
            folder = folder.deletingLastPathComponent()
        }
        if folder.path.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
        url = folder.appendingPathComponent(name)
    }

    public var exists: Bool { FileManager.default.isExecutableFile(atPath: url.path) }

    /// Runs the program to completion with `arguments`, optional standard input and extra environment.
    public func run(_ arguments: [String], standardInput: Data? = nil, environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let error = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = input
        try process.run()
        if let standardInput { input.fileHandleForWriting.write(standardInput) }
        try input.fileHandleForWriting.close()
        // Both pipes are drained concurrently so that a chatty program cannot block on a full pipe.
        let errorData = LockedBox(Data())
        let errorReader = DispatchGroup()
        DispatchQueue.global().async(group: errorReader) {
            errorData.value = error.fileHandleForReading.readDataToEndOfFile()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        errorReader.wait()
        return Outcome(
            exitCode: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData.value, as: UTF8.self)
        )
    }
}

final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
