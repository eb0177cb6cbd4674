import Foundation
import TestSupport
import Testing

/// Starts `cloister coordinator --simulation` with an unusable setting, given as `arguments` or `environment`, and
/// expects the usage error: exit code 2 and a message that names `setting` (with its value) and `expected`.
func expectCoordinatorUsageError(
    arguments: [String], environment: [String: String] = [:], setting: String, expected: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let outcome = try BuiltProgram(named: "cloister").run(
        ["coordinator", "--simulation", "--data-directory", FileManager.default.temporaryDirectory.path + "/unused-\(UUID())"] + arguments,
        environment: environment)
    #expect(outcome.exitCode == 2, sourceLocation: sourceLocation)
    #expect(outcome.standardError.contains(setting), "\(outcome.standardError)", sourceLocation: sourceLocation)
    #expect(outcome.standardError.contains(expected), "\(outcome.standardError)", sourceLocation: sourceLocation)
}
