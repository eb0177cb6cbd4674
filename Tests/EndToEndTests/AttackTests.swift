import Foundation
import TestSupport
import Testing

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
        let impostor = try UserFiles(name: "impostor-root", directory: deployment.directory.path)
        var launch = deployment.launch()
        launch.rootPath = impostor.certificatePath
        let outcome = try launch.run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("Coordinator certificate"), "\(outcome.standardError)")
        #expect(!FileManager.default.fileExists(atPath: deployment.directory.file("provisioned/app.conf")), "nothing was provisioned")
    }

    // Launcher hardening: each attack is staged as a host would stage it. The type "once" allows one activation, so a
    // legitimate start afterwards also shows that the refused launch did not use it up.

    @Test func aSymlinkedDirectoryAboveAFilesTargetIsRefusedBeforeActivation() throws {
        let deployment = try PythonDeployment(label: "attack-symlink-dir")
        let decoy = deployment.directory.file("host-decoy")
        try FileManager.default.createDirectory(atPath: decoy, withIntermediateDirectories: true)
        let provisioned = deployment.directory.file("provisioned")
        try FileManager.default.createSymbolicLink(atPath: provisioned, withDestinationPath: decoy)
        let outcome = try deployment.launch(type: "once").run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("\(provisioned): found a symbolic link to '\(decoy)'"), "\(outcome.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty, "nothing was written behind the link")
        try FileManager.default.removeItem(atPath: provisioned)
        try expectLegitimateStart(deployment)
    }

    @Test func aHardLinkPlantedAtAFilesTargetIsRefusedBeforeActivation() throws {
        let deployment = try PythonDeployment(label: "attack-hard-link")
        let decoy = deployment.directory.file("host-decoy.txt")
        try "decoy\n".write(toFile: decoy, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: deployment.directory.file("provisioned"), withIntermediateDirectories: true)
        let target = deployment.directory.file("provisioned/app.conf")
        #expect(link(decoy, target) == 0)
        let outcome = try deployment.launch(type: "once").run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("\(target): found a regular file with 2 names"), "\(outcome.standardError)")
        #expect(try String(contentsOfFile: decoy, encoding: .utf8) == "decoy\n")
        try FileManager.default.removeItem(atPath: target)
        try expectLegitimateStart(deployment)
        #expect(try String(contentsOfFile: decoy, encoding: .utf8) == "decoy\n")
    }

    @Test func anUnwritableFilesTargetIsFoundBeforeActivation() throws {
        let deployment = try PythonDeployment(label: "attack-unwritable")
        let provisioned = deployment.directory.file("provisioned")
        try "not a directory".write(toFile: provisioned, atomically: false, encoding: .utf8)
        let outcome = try deployment.launch(type: "once").run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode != 0)
        #expect(!deployment.ran("ran"))
        #expect(outcome.standardError.contains("\(provisioned): found a regular file, expected a directory"), "\(outcome.standardError)")
        try FileManager.default.removeItem(atPath: provisioned)
        try expectLegitimateStart(deployment)
    }

    @Test func aProgramSwappedDuringTheActivationNeverRuns() throws {
        let deployment = try PythonDeployment(label: "attack-swap", copyInterpreter: true)
        let impostor = deployment.directory.file("impostor")
        try "#!/bin/sh\necho swapped > \(deployment.directory.file("swapped"))\n".write(toFile: impostor, atomically: false, encoding: .utf8)
        #expect(chmod(impostor, 0o755) == 0)
        let (outcome, log) = try runWhileCoordinatorPaused(deployment, marker: "ran") {
            #expect(rename(impostor, deployment.python) == 0)
        }
        #expect(outcome != "exit 0")
        #expect(!deployment.ran("ran"))
        #expect(!FileManager.default.fileExists(atPath: deployment.directory.file("swapped")), "the host's program never ran")
        #expect(log.contains("\(deployment.python): found a file written, replaced or unlinked after it was measured"), "\(log)")
    }

    @Test func aProgramChangedInPlaceDuringTheActivationNeverRuns() throws {
        let deployment = try PythonDeployment(label: "attack-in-place", copyInterpreter: true)
        let (outcome, log) = try runWhileCoordinatorPaused(deployment, marker: "ran") {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: deployment.python))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data([0x90]))
            try handle.close()
        }
        #expect(outcome != "exit 0")
        #expect(!deployment.ran("ran"))
        #expect(log.contains("\(deployment.python): found a file written"), "\(log)")
    }

    @Test func aManifestThatIsNotUTF8IsRefusedWithTheOffsetOfItsFirstBadByte() throws {
        let directory = try TestDirectory("attack-utf8")
        let coordinator = try Coordinator(directory: directory)
        let prefix = Array(
            #"{"Packages": {"p": {"UniqueID": "00", "Debug": false}}, "Marbles": {"m": {"Package": "p", "Parameters": {"Env": {"A": "caf"#.utf8)
        let manifest = prefix + [0xE9] + Array(#""}}}}}"#.utf8)
        let bodyPath = directory.file("latin1-manifest.json")
        try JSONSerialization.data(withJSONObject: ["manifest": Data(manifest).base64EncodedString()]).write(to: URL(fileURLWithPath: bodyPath))
        let answer = try HostProgram.run(
            "curl",
            [
                "-sS", "--cacert", coordinator.rootPath, "-w", "\n%{http_code}", "-H", "Content-Type: application/json", "--data-binary",
                "@\(bodyPath)", "\(coordinator.clientURL)/api/v2/manifest",
            ], allowFailure: true)
        #expect(answer.standardOutput.hasSuffix("\n400"), "\(answer.standardOutput)")
        #expect(answer.standardOutput.contains("offset \(prefix.count) is not valid UTF-8"), "\(answer.standardOutput)")
        let status = try coordinator.curl(["\(coordinator.clientURL)/api/v2/status"])
        #expect(status.contains("\"code\":2"), "the Coordinator still waits for a manifest: \(status)")
    }

    /// Starts the marble while the Coordinator is stopped (SIGSTOP), runs `stage` once the launcher holds the measured
    /// program open, then lets the Coordinator answer; returns how the marble ended, and its log.
    private func runWhileCoordinatorPaused(
        _ deployment: PythonDeployment, marker: String, stage: () throws -> Void
    ) throws -> (termination: String, log: String) {
        let coordinator = deployment.coordinator.server.processIdentifier
        #expect(kill(coordinator, SIGSTOP) == 0)
        defer { kill(coordinator, SIGCONT) }
        let marble = try deployment.launch().start(deployment.command(marker: marker), logPath: deployment.directory.file("\(marker).log"))
        try marble.waitUntil("the launcher opening \(deployment.python)") { openFiles(of: marble.processIdentifier).contains(deployment.python) }
        try stage()
        kill(coordinator, SIGCONT)
        for _ in 0..<600 where marble.isRunning { usleep(100_000) }
        return (marble.termination ?? "still running", marble.log)
    }

    private func expectLegitimateStart(_ deployment: PythonDeployment) throws {
        let outcome = try deployment.launch(type: "once").run(deployment.command(marker: "legitimate"))
        #expect(outcome.exitCode == 0, "a legitimate marble starts afterwards with the type's only activation: \(outcome.standardError)")
        #expect(deployment.ran("legitimate"))
    }
}

/// The files a process holds open, from `/proc/PID/fd`.
private func openFiles(of process: pid_t) -> [String] {
    let directory = "/proc/\(process)/fd"
    return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap {
        try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0)
    }
}
