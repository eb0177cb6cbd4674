import Foundation
import TestSupport
import Testing

/// Killed marbles and a killed Coordinator come back with the same identities and secrets.
@Suite(.serialized, .enabled(if: PythonDeployment.pythonInstalled, "python3 is not installed; run scripts/setup"))
struct RestartTests {
    struct Run: Equatable {
        let uuid: String
        let digest: String
        let unique: String
    }

    func run(_ deployment: PythonDeployment, uuidFile: String, marker: String) throws -> Run {
        let outcome = try deployment.launch(uuidFile: uuidFile).run(deployment.command(marker: marker))
        guard outcome.exitCode == 0, deployment.ran(marker),
            let digest = PythonDeployment.value("digest", in: outcome.standardOutput),
            let unique = PythonDeployment.value("unique", in: outcome.standardOutput)
        else { throw HarnessFailure("the marble did not run (\(outcome.exitCode)): \(outcome.standardError)") }
        let uuid = try String(contentsOfFile: deployment.directory.file(uuidFile), encoding: .utf8)
        return Run(uuid: uuid.trimmingCharacters(in: .whitespacesAndNewlines), digest: digest, unique: unique)
    }

    @Test func aKilledMarbleKeepsItsUUIDAndSecrets() throws {
        let deployment = try PythonDeployment(label: "restart-marble")
        // A long-running marble, killed as a crash would kill it.
        let server = try deployment.launch(uuidFile: "uuid-server").start(
            [deployment.python, "-c", "import os, time; print('unique=' + os.environ['UNIQUE_SECRET'], flush=True); time.sleep(600)"],
            logPath: deployment.directory.file("server.log"))
        try server.waitUntil("the long-running marble") { server.log.contains("unique=") }
        let before = PythonDeployment.value("unique", in: server.log)
        server.crash()
        let restarted = try run(deployment, uuidFile: "uuid-server", marker: "restarted")
        #expect(restarted.unique == before, "per-marble secret kept across the restart")
        let uuid = try String(contentsOfFile: deployment.directory.file("uuid-server"), encoding: .utf8)
        #expect(restarted.uuid == uuid.trimmingCharacters(in: .whitespacesAndNewlines))

        let again = try run(deployment, uuidFile: "uuid-server", marker: "again")
        #expect(again == restarted)
        let other = try run(deployment, uuidFile: "uuid-other", marker: "other")
        #expect(other.uuid != restarted.uuid)
        #expect(other.unique != restarted.unique, "another marble has its own per-marble secret")
        #expect(other.digest == restarted.digest, "the shared secret is shared")
    }

    @Test func aKilledCoordinatorRestartsWithTheSameSecretsAndMarblesStillActivate() throws {
        let deployment = try PythonDeployment(label: "restart-coordinator")
        let before = try run(deployment, uuidFile: "uuid", marker: "before")
        let secretBefore = try deployment.coordinator.secret("appKey", as: deployment.user)

        try deployment.coordinator.restart()
        let after = try run(deployment, uuidFile: "uuid", marker: "after")
        #expect(after == before, "same UUID, shared and per-marble secrets after the Coordinator restarted")
        #expect(try deployment.coordinator.secret("appKey", as: deployment.user) == secretBefore)
        let newcomer = try run(deployment, uuidFile: "uuid-new", marker: "newcomer")
        #expect(newcomer.digest == before.digest)
    }
}
