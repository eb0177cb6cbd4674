import CoordinatorAPI
import CoordinatorServer
import Foundation
import TestSupport
import Testing

/// schemathesis (PyPI) generates requests from the OpenAPI document, positive and negative, against a real simulated
/// Coordinator and runs every check it has: no 5xx, every status and body documented, documented-valid requests
/// accepted, invalid ones refused, `Allow` on 405, authentication where the document demands it. Once fresh, once with
/// a manifest and as its admin user.
@Suite(.enabled(if: PythonEnvironment.available && SimulatedCoordinatorProcess.program.exists, "\(PythonEnvironment.missingMessage)"))
struct SchemathesisTests {
    static let schemathesis = SharedData.repositoryRoot.appendingPathComponent(".venv/bin/schemathesis").path
    static let settings = SharedData.repositoryRoot.appendingPathComponent("Tests/CoordinatorServerTests/schemathesis.toml").path
    static let document = SharedData.repositoryRoot.appendingPathComponent("Sources/CoordinatorServer/openapi.json").path

    @Test func aFreshAndAConfiguredCoordinatorAnswerAsDocumented() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schemathesis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let coordinator = try await SimulatedCoordinatorProcess(
            dataDirectory: directory.appendingPathComponent("data"), machineDirectory: directory.appendingPathComponent("machine"))
        defer { coordinator.stop() }

        try await Self.fuzz(coordinator, state: "fresh", in: directory)

        let admin = try UserFiles(name: "admin", directory: directory.path)
        let manifest = TestManifests.standard(
            users: [try TestUser(name: "reader")], featureGates: ["SignQuoteEndpoint", "MonotonicCounter"])
        let withAdmin = try JSONSerialization.jsonObject(with: Data(manifest)) as! [String: Any]
        var users = withAdmin["Users"] as! [String: Any]
        users["admin"] = ["Certificate": admin.certificatePEM, "Roles": TestManifests.roles(of: "admin")]
        var configured = withAdmin
        configured["Users"] = users
        let body = try JSONEncoder().encode(ManifestRequest(manifest: try JSONSerialization.data(withJSONObject: configured)))
        let set = try await ProgramRunner.runOffPool(
            "curl", ["-sk", "--data-binary", "@-", "-H", "Content-Type: application/json", coordinator.clientURL + ClientAPIPath.manifest],
            standardInput: body)
        #expect(set.standardOutput.contains(#""status":"success""#), "setting the manifest: \(set.standardOutput)")

        try await Self.fuzz(
            coordinator, state: "with a manifest, as its admin", in: directory,
            arguments: ["--request-cert", admin.certificatePath, "--request-cert-key", admin.keyPath])
    }

    /// Runs in `directory`, where schemathesis keeps its cache (`.schemathesis/`).
    static func fuzz(_ coordinator: SimulatedCoordinatorProcess, state: String, in directory: URL, arguments: [String] = []) async throws {
        let outcome = try await ProgramRunner.runOffPool(
            schemathesis,
            ["--config-file", settings, "run", document, "--url", coordinator.clientURL, "--checks", "all", "--no-color"] + arguments,
            environment: ["SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"], workingDirectory: directory.path)
        #expect(outcome.exitCode == 0, "schemathesis, \(state):\n\(outcome.standardOutput.suffix(6000))\(outcome.standardError.suffix(2000))")
    }
}
