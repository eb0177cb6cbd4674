import Foundation

/// Runs an executable that `swift build` put beside the test bundle, and captures what it did.
public struct BuiltProgram: Sendable {
    public typealias Outcome = ProgramOutcome

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
        try ProgramRunner.run(url.path, arguments, environment: environment, standardInput: standardInput)
    }
}
