import Foundation
import Platform
import Testing

@testable import Launcher

@Suite struct ProgramSelectionTests {
    func description(_ arguments: EnclaveDescription.Arguments) throws -> EnclaveDescription {
        EnclaveDescription(entrypoint: "/usr/local/bin/cloister-premain", arguments: arguments, trustedFiles: [try .measuring(path: "/bin/sh")])
    }

    @Test func gramineExecutesTheOriginalArgv0() throws {
        let selection = try ProgramSelection.gramine(arguments: ["/usr/bin/redis-server", "/etc/redis.conf"])
        #expect(selection == ProgramSelection(path: "/usr/bin/redis-server", enclaveArguments: ["/usr/bin/redis-server", "/etc/redis.conf"]))
        #expect(throws: LauncherError.self) { try ProgramSelection.gramine(arguments: []) }
    }

    @Test func simulationUsesTheMeasuredArgv() throws {
        let selection = try ProgramSelection.simulation(
            arguments: ["cloister-premain"], description: description(.trusted(["/bin/sh", "-c", "echo hi"])), searchPath: nil)
        #expect(selection.path == "/bin/sh" && selection.enclaveArguments == ["/bin/sh", "-c", "echo hi"])
        #expect(selection.measured?.program.path == "/bin/sh", "the program is opened and measured")
        let repeated = try ProgramSelection.simulation(
            arguments: ["cloister-premain", "/bin/sh", "-c", "echo hi"],
            description: description(.trusted(["/bin/sh", "-c", "echo hi"])), searchPath: nil)
        #expect(repeated.path == selection.path && repeated.enclaveArguments == selection.enclaveArguments)
    }

    @Test func simulationRefusesHostArgumentsThatDifferFromTheMeasuredOnes() throws {
        #expect {
            try ProgramSelection.simulation(
                arguments: ["cloister-premain", "/bin/sh", "-c", "evil"],
                description: description(.trusted(["/bin/sh", "-c", "echo hi"])), searchPath: nil)
        } throws: { error in
            (error as? LauncherError)?.stage == .program
        }
    }

    @Test func simulationTakesTheHostCommandLineAndSearchesPath() throws {
        let directory = try TemporaryDirectory()
        let tool = directory.file("tool")
        _ = FileManager.default.createFile(atPath: tool, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        let enclave = EnclaveDescription(
            entrypoint: "cloister-premain", arguments: .fromHost, trustedFiles: [try .measuring(path: tool), try .measuring(path: "/bin/sh")])
        let selection = try ProgramSelection.simulation(
            arguments: ["cloister-premain", "tool", "--flag"], description: enclave, searchPath: "/nonexistent:\(directory.path)")
        #expect(selection.path == tool && selection.enclaveArguments == ["tool", "--flag"])
        #expect(selection.measured?.interpreter?.path == "/bin/sh", "the script's interpreter is measured too")
    }

    @Test func simulationRefusesAProgramThatIsNotTrusted() throws {
        #expect {
            try ProgramSelection.simulation(
                arguments: ["cloister-premain", "/bin/ls"], description: description(.fromHost), searchPath: nil)
        } throws: { error in
            let failure = error as? LauncherError
            return failure?.stage == .program && failure?.subject == "/bin/ls"
        }
    }

    @Test func simulationRefusesAMissingProgram() throws {
        #expect(throws: LauncherError.self) {
            try ProgramSelection.simulation(arguments: ["cloister-premain"], description: description(.fromHost), searchPath: nil)
        }
        #expect(throws: LauncherError.self) {
            try ProgramSelection.simulation(
                arguments: ["cloister-premain", "no-such-program-anywhere"], description: description(.fromHost), searchPath: "/bin")
        }
    }
}
