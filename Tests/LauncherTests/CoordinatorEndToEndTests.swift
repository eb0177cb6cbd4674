import AsyncHTTPClient
import CoordinatorAPI
import Foundation
import NIOCore
import NIOSSL
import TestSupport
import Testing

@testable import Launcher

/// The built `cloister coordinator --simulation` (the shared launcher) on loopback, with a client that fetched its
/// root the first time, as `curl -k` would.
final class RunningCoordinator: Sendable {
    let directory: TemporaryDirectory
    let process: SimulatedCoordinatorProcess
    let http: HTTPClient
    let rootPEM: String
    var clientPort: Int { process.clientPort }
    var marblePort: Int { process.marblePort }
    var machineDirectory: String { process.machineDirectory.path }

    init() async throws {
        directory = try TemporaryDirectory()
        process = try await SimulatedCoordinatorProcess(
            dataDirectory: URL(fileURLWithPath: directory.file("data")),
            machineDirectory: URL(fileURLWithPath: directory.file("data/simulated-sgx-machine")))
        var tls = TLSConfiguration.makeClientConfiguration()
        // Only to fetch the root the first time; everything after is verified against it.
        tls.certificateVerification = .none
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
        guard let answer = try await Self.get(http, "https://127.0.0.1:\(process.clientPort)\(ClientAPIPath.quote)", CertQuoteResponse.self) else {
            try? await http.shutdown()
            process.stop()
            throw CoordinatorDidNotStart(log: process.logText)
        }
        let certificates = answer.cert.components(separatedBy: "-----END CERTIFICATE-----")
            .filter { $0.contains("-----BEGIN CERTIFICATE-----") }
        rootPEM = (certificates.last ?? "").trimmingCharacters(in: .whitespacesAndNewlines) + "\n-----END CERTIFICATE-----\n"
    }

    struct CoordinatorDidNotStart: Error, CustomStringConvertible {
        let log: String
        var description: String { "the Coordinator answered no quote:\n\(log)" }
    }

    func setManifest(_ manifest: [String: Any]) async throws {
        let body = try JSONEncoder().encode(ManifestRequest(manifest: try JSONSerialization.data(withJSONObject: manifest)))
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(clientPort)\(ClientAPIPath.manifest)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await http.execute(request, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok else { throw ManifestRefused(answer: text) }
    }

    struct ManifestRefused: Error { let answer: String }

    func stop() async {
        try? await http.shutdown()
        process.stop()
    }

    static func get<Payload: Codable & Sendable>(_ http: HTTPClient, _ url: String, _ type: Payload.Type) async throws -> Payload? {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try JSONDecoder().decode(JSend<Payload>.self, from: Data(body.readableBytesView)).data
    }
}

/// One deployment, driven as a user would: a Coordinator in simulation with a manifest pinning the simulated
/// enclave's MRENCLAVE, and marbles started through `cloister-premain` with real programs.
@Suite(.serialized) struct CoordinatorEndToEndTests {
    let launcher = BuiltProgram(named: "cloister-premain")
    static let program = ["/bin/sh", "-c", #"echo "RAN shared=$SHARED_KEY unique=$UNIQUE_KEY"; cat "$GREETING_FILE""#]

    func manifest(uniqueID: String, greetingFile: String) -> [String: Any] {
        let parameters: [String: Any] = [
            "Env": [
                "SHARED_KEY": "{{ hex .Secrets.sharedKey }}", "UNIQUE_KEY": "{{ hex .Secrets.uniqueKey }}",
                "GREETING_FILE": greetingFile,
            ],
            "Files": [greetingFile: "greetings from the Coordinator\n"],
        ]
        return [
            "Packages": ["app": ["UniqueID": uniqueID, "Debug": false]],
            "Marbles": [
                "backend": ["Package": "app", "Parameters": parameters],
                "singleton": ["Package": "app", "MaxActivations": 1, "Parameters": parameters],
            ],
            "Secrets": [
                "sharedKey": ["Type": "symmetric-key", "Size": 128, "Shared": true],
                "uniqueKey": ["Type": "symmetric-key", "Size": 128],
            ],
        ]
    }

    func environment(
        _ marble: SimulatedMarble, _ coordinator: RunningCoordinator, type: String, root: String? = nil
    )
        -> [String: String]
    {
        var environment = marble.environment(
            marbleType: type, coordinator: "127.0.0.1:\(coordinator.marblePort)", rootPEM: root ?? coordinator.rootPEM)
        environment["CLOISTER_SIMULATION_STATE_DIR"] = coordinator.machineDirectory
        return environment
    }

    @Test func marblesActivateKeepTheirIdentityAndAreRefusedWhenTheyMust() async throws {
        let coordinator = try await RunningCoordinator()
        do {
            try await exerciseDeployment(coordinator)
        } catch {
            await coordinator.stop()
            throw error
        }
        await coordinator.stop()
    }

    private func exerciseDeployment(_ coordinator: RunningCoordinator) async throws {
        let marble = try SimulatedMarble()
        let measurement = try EnclaveMeasurementReport.simulated(
            environment: ["CLOISTER_ENCLAVE_DESCRIPTION": marble.descriptionPath, "CLOISTER_ENCLAVE_SIGNER": marble.signerPath],
            workingDirectory: marble.directory.path)
        let greeting = marble.directory.file("provisioned/greeting.txt")
        try await coordinator.setManifest(manifest(uniqueID: measurement.uniqueID, greetingFile: greeting))
        func withUUIDFile(_ name: String, type: String) -> [String: String] {
            environment(marble, coordinator, type: type).merging(["EDG_MARBLE_UUID_FILE": marble.directory.file(name)]) { $1 }
        }

        let first = try launcher.run(Self.program, environment: environment(marble, coordinator, type: "backend"))
        #expect(first.exitCode == 0, "\(first.standardError)")
        let ran = try #require(first.standardOutput.split(separator: "\n").first { $0.hasPrefix("RAN") })
        #expect(first.standardOutput.contains("greetings from the Coordinator"))
        #expect(ran.split(separator: " ").allSatisfy { !$0.hasSuffix("=") }, "secrets were provided: \(ran)")
        #expect(try FileManager.default.attributesOfItem(atPath: greeting)[.posixPermissions] as? Int == 0o600)

        let restarted = try launcher.run(Self.program, environment: environment(marble, coordinator, type: "backend"))
        #expect(restarted.exitCode == 0, "\(restarted.standardError)")
        #expect(restarted.standardOutput == first.standardOutput, "a restarted marble keeps its UUID and secrets")

        let second = try launcher.run(Self.program, environment: withUUIDFile("uuid-second", type: "backend"))
        let secondRan = try #require(second.standardOutput.split(separator: "\n").first { $0.hasPrefix("RAN") })
        #expect(secondRan.split(separator: " ")[1] == ran.split(separator: " ")[1], "the shared secret is shared")
        #expect(secondRan.split(separator: " ")[2] != ran.split(separator: " ")[2], "the unique secret differs per UUID")

        let singleton = try launcher.run(Self.program, environment: withUUIDFile("uuid-singleton", type: "singleton"))
        #expect(singleton.exitCode == 0, "\(singleton.standardError)")
        let overLimit = try launcher.run(Self.program, environment: withUUIDFile("uuid-singleton-2", type: "singleton"))
        #expect(overLimit.exitCode == 1)
        #expect(!overLimit.standardOutput.contains("RAN"))
        #expect(overLimit.standardError.contains("MaxActivations"), "\(overLimit.standardError)")

        let unknown = try launcher.run(Self.program, environment: environment(marble, coordinator, type: "frontend"))
        #expect(unknown.exitCode == 1)
        #expect(!unknown.standardOutput.contains("RAN"))
        #expect(unknown.standardError.contains("marble type 'frontend'"), "\(unknown.standardError)")

        let wrongRoot = try launcher.run(
            Self.program, environment: environment(marble, coordinator, type: "backend", root: try TestAuthority(name: "Impostor").pem))
        #expect(wrongRoot.exitCode == 1)
        #expect(!wrongRoot.standardOutput.contains("RAN"))
        #expect(wrongRoot.standardError.contains("Coordinator certificate"))

        let otherEnclave = try SimulatedMarble()
        let otherMeasurement = try launcher.run(
            Self.program,
            environment: environment(otherEnclave, coordinator, type: "backend").merging(["EDG_MARBLE_UUID_FILE": marble.uuidFile]) { $1 })
        #expect(otherMeasurement.exitCode == 1, "an enclave with another MRENCLAVE is refused by the manifest")
        #expect(!otherMeasurement.standardOutput.contains("RAN"))
        #expect(otherMeasurement.standardError.contains("MRENCLAVE"), "\(otherMeasurement.standardError)")

        try "setting=tampered\n".write(toFile: marble.trustedConfiguration, atomically: true, encoding: .utf8)
        let tampered = try launcher.run(Self.program, environment: environment(marble, coordinator, type: "backend"))
        #expect(tampered.exitCode == 1)
        #expect(!tampered.standardOutput.contains("RAN"))
        #expect(tampered.standardError.contains("trusted files: \(marble.trustedConfiguration)"))
    }
}
