import CoordinatorAPI
import Crypto
import Foundation
import NIOHTTP1
import Platform
import TestSupport
import Testing
import _CryptoExtras

@testable import Launcher

/// A simulated enclave for one marble: a simulated SGX machine, a signing key, and a description that trusts
/// `/bin/sh` and a configuration file the test may modify.
struct SimulatedMarble {
    let directory: TemporaryDirectory
    let machineDirectory: String
    let descriptionPath: String
    let signerPath: String
    let trustedConfiguration: String
    let uuidFile: String

    /// `trusting` adds files to the enclave description besides `/bin/sh` and the configuration file.
    init(trusting extraFiles: [String] = []) throws {
        directory = try TemporaryDirectory()
        machineDirectory = directory.file("machine")
        _ = try SimulatedSGXMachine.openOrCreate(stateDirectory: URL(fileURLWithPath: machineDirectory, isDirectory: true))
        signerPath = directory.file("enclave-key.pem")
        try _RSA.Signing.PrivateKey(keySize: .bits3072).pemRepresentation
            .write(toFile: signerPath, atomically: true, encoding: .utf8)
        trustedConfiguration = directory.file("app.conf")
        try "setting=1\n".write(toFile: trustedConfiguration, atomically: true, encoding: .utf8)
        let description = EnclaveDescription(
            entrypoint: "cloister-premain", arguments: .fromHost,
            trustedFiles: [try .measuring(path: "/bin/sh"), try .measuring(path: trustedConfiguration)]
                + (try extraFiles.map { path throws(PlatformError) in try .measuring(path: path) }))
        descriptionPath = directory.file("enclave.json")
        try JSONEncoder().encode(description).write(to: URL(fileURLWithPath: descriptionPath))
        uuidFile = directory.file("uuid")
    }

    func environment(marbleType: String, coordinator: String, rootPEM: String) -> [String: String] {
        [
            "CLOISTER_PLATFORM": "simulation", "CLOISTER_SIMULATION_STATE_DIR": machineDirectory,
            "CLOISTER_ENCLAVE_DESCRIPTION": descriptionPath, "CLOISTER_ENCLAVE_SIGNER": signerPath,
            "EDG_MARBLE_TYPE": marbleType, "EDG_MARBLE_COORDINATOR_ADDR": coordinator, "EDG_MARBLE_UUID_FILE": uuidFile,
            "CLOISTER_COORDINATOR_ROOT_CA": rootPEM,
        ]
    }
}

@Suite struct ActivationClientTests {
    let authority: TestAuthority

    init() throws {
        authority = try TestAuthority(name: "Client Test Coordinator Root")
    }

    func request(for key: MarbleKey) -> ActivationRequest {
        ActivationRequest(
            quote: Data(key.reportData), csr: Data(key.csrDER), marbleType: "backend",
            uuid: "1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    }

    @Test func activatesOverMutualTLSPresentingTheBoundCertificate() async throws {
        let answer = ActivationResponse(files: ["/x": Data("y".utf8)], env: ["A": Data("b".utf8)], argv: ["prog"])
        let server = try await ActivationTestServer(authority: authority, answer: .success(answer))
        let key = try MarbleKey(names: MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        let client = ActivationClient(coordinator: CoordinatorAddress(host: "127.0.0.1", port: server.port), roots: [authority.certificate])
        let response = try await client.activate(request(for: key), key: key)
        try await server.shutdown()
        #expect(response == answer)
        let received = try #require(server.requests.first)
        #expect(received.request == request(for: key))
        #expect(received.clientCertificateDER == key.certificateDER)
    }

    @Test func refusesACoordinatorUnderAnotherRootBeforeSendingAnything() async throws {
        let server = try await ActivationTestServer(
            authority: authority, answer: .success(ActivationResponse(files: [:], env: [:], argv: [])))
        let otherRoot = try TestAuthority(name: "Another Deployment")
        let key = try MarbleKey(names: MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        let client = ActivationClient(coordinator: CoordinatorAddress(host: "localhost", port: server.port), roots: [otherRoot.certificate])
        await #expect {
            try await client.activate(request(for: key), key: key)
        } throws: { error in
            let failure = error as? LauncherError
            return failure?.stage == .coordinatorCertificate && failure?.found.contains("does not chain") == true
        }
        try await server.shutdown()
        #expect(server.requests.isEmpty)
    }

    @Test func reportsTheCoordinatorsRefusal() async throws {
        let refusal = JSend<ActivationResponse>(status: .fail, data: nil, message: "marble type 'backend' is unknown")
        let server = try await ActivationTestServer(authority: authority, answer: refusal, status: .forbidden)
        let key = try MarbleKey(names: MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        let client = ActivationClient(coordinator: CoordinatorAddress(host: "127.0.0.1", port: server.port), roots: [authority.certificate])
        await #expect {
            try await client.activate(request(for: key), key: key)
        } throws: { error in
            let failure = error as? LauncherError
            return failure?.stage == .activation && failure?.found.contains("HTTP 403") == true
                && failure?.found.contains("marble type 'backend' is unknown") == true
        }
        try await server.shutdown()
    }

    @Test func reportsAnAddressWhereNothingListens() async throws {
        let server = try await ActivationTestServer(
            authority: authority, answer: .success(ActivationResponse(files: [:], env: [:], argv: [])))
        let port = server.port
        try await server.shutdown()
        let key = try MarbleKey(names: MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        let client = ActivationClient(coordinator: CoordinatorAddress(host: "127.0.0.1", port: port), roots: [authority.certificate])
        await #expect {
            try await client.activate(request(for: key), key: key)
        } throws: { error in
            (error as? LauncherError)?.stage == .connection
        }
    }

    @Test func refusesAnAnswerThatIsNotJSend() throws {
        #expect {
            try ActivationClient.decode(
                status: .ok, body: Array("<html>".utf8), coordinator: CoordinatorAddress(host: "h", port: 1))
        } throws: { error in
            (error as? LauncherError)?.stage == .activation
        }
    }
}

/// The built `cloister-premain` against a real TLS server that speaks the marble API: the program runs only after a
/// successful activation, and receives the files and environment.
@Suite struct LauncherProgramTests {
    let authority: TestAuthority
    let launcher = BuiltProgram(named: "cloister-premain")

    init() throws {
        authority = try TestAuthority(name: "Launcher Test Coordinator Root")
    }

    static let program = ["/bin/sh", "-c", #"echo "RAN $SECRET"; cat "$CONFIG_FILE"; ls /proc/$$/fd | tr '\n' ' '"#]

    @Test func activatesWritesFilesAndBecomesTheProgram() async throws {
        let marble = try SimulatedMarble()
        let configFile = marble.directory.file("provisioned/config/app.ini")
        let answer = ActivationResponse(
            files: [configFile: Data("[db]\npassword=from-coordinator\n".utf8)],
            env: ["SECRET": Data("s3cret".utf8), "CONFIG_FILE": Data(configFile.utf8)], argv: [])
        let server = try await ActivationTestServer(authority: authority, answer: .success(answer))
        let outcome = try launcher.run(
            Self.program,
            environment: marble.environment(marbleType: "backend", coordinator: "127.0.0.1:\(server.port)", rootPEM: try authority.pem))
        try await server.shutdown()

        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        let lines = outcome.standardOutput.split(separator: "\n")
        #expect(lines.first == "RAN s3cret")
        #expect(outcome.standardOutput.contains("password=from-coordinator"))
        #expect(lines.last?.split(separator: " ") == ["0", "1", "2"], "descriptors the program inherited")
        #expect(outcome.standardError.contains("SIMULATION"))

        let received = try #require(server.requests.first)
        #expect(received.request.marbleType == "backend")
        let uuid = try String(contentsOfFile: marble.uuidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(received.request.uuid == uuid)
        let quote = Array(received.request.quote)
        #expect(quote.count > 432)
        #expect(Array(quote[368..<400]) == Array(SHA256.hash(data: received.clientCertificateDER)))
    }

    /// `execve` keeps the signal mask and ignored signals; the launcher must hand over what it was started with,
    /// not the state of the worker thread it ends on. Signals 32 and up are glibc's and the runtime's own business.
    @Test func theProgramGetsTheIgnoredSignalsOfADirectStart() async throws {
        let marble = try SimulatedMarble()
        let server = try await ActivationTestServer(
            authority: authority, answer: .success(ActivationResponse(files: [:], env: [:], argv: [])))
        let environment = marble.environment(
            marbleType: "backend", coordinator: "127.0.0.1:\(server.port)", rootPEM: try authority.pem)
        let (launched, direct) = try Self.signalStates(launcher: launcher, environment: environment)
        try await server.shutdown()
        #expect(launched["SigIgn"] == direct["SigIgn"], "ignored signals 1-31, launched vs direct")
        // The blocked mask is not compared: Foundation's Process passes on the mask of whichever worker thread spawns,
        // so two spawns from one test need not agree. The launcher restores its main thread's startup mask.
        #expect(launched["SigBlk"] != nil)
    }

    /// Runs the status dump through the launcher, then directly.
    private static func signalStates(
        launcher: BuiltProgram, environment: [String: String]
    ) throws
        -> (launched: [String: UInt64], direct: [String: UInt64])
    {
        let program = ["/bin/sh", "-c", #"grep -E '^Sig(Blk|Ign)' /proc/$$/status"#]
        let launched = try launcher.run(program, environment: environment)
        let directOutput = try ProgramRunner.run(program[0], Array(program.dropFirst())).standardOutput
        func standardSignals(_ status: String) -> [String: UInt64] {
            var masks: [String: UInt64] = [:]
            for line in status.split(separator: "\n") {
                let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let mask = UInt64(parts[1], radix: 16) { masks[parts[0]] = mask & 0x7fff_ffff }
            }
            return masks
        }
        return (standardSignals(launched.standardOutput), standardSignals(directOutput))
    }

    @Test func aScriptRunsThroughItsMeasuredInterpreterFromItsDescriptor() async throws {
        let scripts = try TemporaryDirectory()
        let script = scripts.file("hello.sh")
        try "#!/bin/sh -e\necho \"SCRIPT $0 $1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        #expect(chmod(script, 0o755) == 0)
        let unmeasured = scripts.file("env.sh")
        try "#!/usr/bin/env sh\necho RAN\n".write(toFile: unmeasured, atomically: true, encoding: .utf8)
        #expect(chmod(unmeasured, 0o755) == 0)
        let marble = try SimulatedMarble(trusting: [script, unmeasured])
        let server = try await ActivationTestServer(
            authority: authority, answer: .success(ActivationResponse(files: [:], env: [:], argv: [])))
        let environment = marble.environment(marbleType: "backend", coordinator: "127.0.0.1:\(server.port)", rootPEM: try authority.pem)
        let outcome = try launcher.run([script, "argument"], environment: environment)
        let refused = try launcher.run([unmeasured], environment: environment)
        try await server.shutdown()

        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.hasPrefix("SCRIPT /dev/fd/"), "the measured script, by descriptor: \(outcome.standardOutput)")
        #expect(outcome.standardOutput.hasSuffix(" argument\n"))
        #expect(refused.exitCode == 1)
        #expect(!refused.standardOutput.contains("RAN"))
        #expect(refused.standardError.contains("program: /usr/bin/env: found a program that is not a trusted file"), "\(refused.standardError)")
        #expect(server.requests.count == 1, "the refused script never asked for an activation")
    }

    @Test func aModifiedTrustedFileIsRefusedBeforeContactingTheCoordinator() async throws {
        let marble = try SimulatedMarble()
        try "setting=2\n".write(toFile: marble.trustedConfiguration, atomically: true, encoding: .utf8)
        let server = try await ActivationTestServer(
            authority: authority, answer: .success(ActivationResponse(files: [:], env: [:], argv: [])))
        let outcome = try launcher.run(
            Self.program,
            environment: marble.environment(marbleType: "backend", coordinator: "127.0.0.1:\(server.port)", rootPEM: try authority.pem))
        try await server.shutdown()
        #expect(outcome.exitCode == 1)
        #expect(!outcome.standardOutput.contains("RAN"))
        #expect(outcome.standardError.contains("trusted files: \(marble.trustedConfiguration)"))
        #expect(server.requests.isEmpty)
    }

    @Test func aCoordinatorUnderAnotherRootIsRefused() async throws {
        let marble = try SimulatedMarble()
        let server = try await ActivationTestServer(
            authority: authority, answer: .success(ActivationResponse(files: [:], env: ["SECRET": Data("x".utf8)], argv: [])))
        let outcome = try launcher.run(
            Self.program,
            environment: marble.environment(
                marbleType: "backend", coordinator: "127.0.0.1:\(server.port)", rootPEM: try TestAuthority(name: "Other").pem))
        try await server.shutdown()
        #expect(outcome.exitCode == 1)
        #expect(!outcome.standardOutput.contains("RAN"))
        #expect(outcome.standardError.contains("Coordinator certificate"))
        #expect(server.requests.isEmpty)
    }

    @Test func aRefusedActivationNeverStartsTheProgram() async throws {
        let marble = try SimulatedMarble()
        let server = try await ActivationTestServer(
            authority: authority, answer: JSend(status: .fail, data: nil, message: "unknown marble type"), status: .forbidden)
        let outcome = try launcher.run(
            Self.program,
            environment: marble.environment(marbleType: "nope", coordinator: "127.0.0.1:\(server.port)", rootPEM: try authority.pem))
        try await server.shutdown()
        #expect(outcome.exitCode == 1)
        #expect(!outcome.standardOutput.contains("RAN"))
        #expect(outcome.standardError.contains("unknown marble type"))
        #expect(outcome.standardError.split(separator: "\n").filter { $0.contains("error:") }.count == 1)
    }

    @Test func anUntrustedProgramIsRefused() throws {
        let marble = try SimulatedMarble()
        let outcome = try launcher.run(
            ["/bin/echo", "RAN"],
            environment: marble.environment(marbleType: "backend", coordinator: "127.0.0.1:1", rootPEM: try authority.pem))
        #expect(outcome.exitCode == 1)
        #expect(outcome.standardOutput.isEmpty)
        #expect(outcome.standardError.contains("program: /bin/echo"))
    }
}
