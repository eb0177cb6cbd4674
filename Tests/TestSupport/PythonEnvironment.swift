import Foundation

/// The Python virtual environment `scripts/setup` creates at `.venv` with the PyPI tools the tests use as independent
/// checkers (helm-python-sdk, kubernetes-validate, jsonpatch).
public enum PythonEnvironment {
    public static let python = SharedData.repositoryRoot.appendingPathComponent(".venv/bin/python").path

    public static var available: Bool { FileManager.default.isExecutableFile(atPath: python) }

    public static let missingMessage =
        "needs .venv with helm-python-sdk, kubernetes-validate, jsonpatch, jsonschema and schemathesis (run scripts/setup)"

    /// Runs `script` (a path) with `arguments` and parses the one JSON object it prints.
    public static func runJSON(_ script: String, _ arguments: [String]) async throws -> [String: Any] {
        let output = try await runProgramOffPool(python, [script] + arguments)
        guard let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw CommandFailure(command: "python \(script)", status: 0, output: "not a JSON object: \(output.prefix(400))")
        }
        return object
    }
}
