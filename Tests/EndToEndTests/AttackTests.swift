import Foundation
import Testing
import TestSupport

/// Each attack is refused before the program starts: the Python program would write its marker file if it ran.
@Suite(.serialized, .enabled(if: PythonDeployment.pythonInstalled, "python3 is not installed; run scripts/setup"))
struct AttackTests {
    @Test func aModifiedProgramBinaryIsRefused() throws {
        let deployment = try PythonDeployment(label: "attack-binary", copyInterpreter: true)
        let launch = deployment.launch()
        let genuine = try launch.run(deployment.command(marker: "genuine"))
        #expect(genuine.exitCode == 0, "the unmodified copy runs: \(genuine.standardError)")
        #expect(deployment.ran("genuine"))

        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: deployment.python))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0x90]))
        try handle.close()
        let tampered = try launch.run(deployment.command(marker: "tampered"))
        #expect(tampered.exitCode != 0)
        #expect(!deployment.ran("tampered"), "the modified binary never ran")
        #expect(tampered.standardError.contains(deployment.python), "\(tampered.standardError)")
    }

    @Test func aModifiedTrustedFileIsRefused() throws {
        let deployment = try PythonDeployment(label: "attack-file")
        try (PythonDeployment.program + "\nprint('injected')\n").write(toFile: deployment.programPath, atomically: true, encoding: .utf8)
        let outcome = try deployment.launch().run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("trusted files"), "\(outcome.standardError)")
        #expect(outcome.standardError.contains(deployment.programPath), "\(outcome.standardError)")
    }

    @Test func aMarbleTypeNotInTheManifestIsRefused() throws {
        let deployment = try PythonDeployment(label: "attack-type")
        let outcome = try deployment.launch(type: "intruder").run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("intruder"), "\(outcome.standardError)")
    }

    @Test func aMarbleOverMaxActivationsIsRefused() throws {
        let deployment = try PythonDeployment(label: "attack-max")
        let first = try deployment.launch(type: "once", uuidFile: "uuid-first").run(deployment.command(marker: "first"))
        #expect(first.exitCode == 0, "\(first.standardError)")
        #expect(deployment.ran("first"))
        let second = try deployment.launch(type: "once", uuidFile: "uuid-second").run(deployment.command(marker: "second"))
        #expect(second.exitCode != 0)
        #expect(!deployment.ran("second"))
        #expect(second.standardError.contains("MaxActivations"), "\(second.standardError)")
    }

    @Test func aCoordinatorWithAnotherCertificateIsRefused() throws {
        let deployment = try PythonDeployment(label: "attack-root")
        let impostor = try TestUser(name: "impostor-root", directory: deployment.directory)
        var launch = deployment.launch()
        launch.rootPath = impostor.certificatePath
        let outcome = try launch.run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("Coordinator certificate"), "\(outcome.standardError)")
        #expect(!FileManager.default.fileExists(atPath: deployment.directory.file("provisioned/app.conf")), "nothing was provisioned")
    }
}
