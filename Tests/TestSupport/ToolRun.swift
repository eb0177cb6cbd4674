import Foundation

/// Runs a command-line tool found on PATH to completion, with `input` on its standard input, and returns its exit code
/// (128 + the signal when a signal ended it) and standard output; standard error is dropped.
public func runTool(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
    let outcome = try ProgramRunner.run(executable, arguments, standardInput: input ?? Data())
    return (outcome.exitCode, outcome.standardOutput)
}

/// ``runTool(_:_:input:)`` on a thread of its own: a test whose Coordinator runs in the test process must not wait on
/// a thread of the cooperative pool, which the Coordinator's routes need to answer.
public func runToolOffPool(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> (status: Int32, output: String) {
    try await offThePool { try runTool(executable, arguments, input: input) }
}
