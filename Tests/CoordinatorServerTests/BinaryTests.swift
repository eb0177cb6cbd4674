import CoordinatorAPI
import Foundation
import Platform
import TestSupport
import Testing

/// `cloister coordinator` as a process: configured through MarbleRun's and Cloister's environment variables, spoken to
/// with curl and openssl, stopped with SIGTERM, restarted on its data directory.
@Suite(.serialized) struct BinaryTests {
    @Test(.enabled(if: SimulatedCoordinatorProcess.program.exists, "needs the built cloister binary (swift build)"))
    func servesOverTLSWithCurlAndOpenSSLAndStopsGracefully() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-binary-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        let machine = directory.appendingPathComponent("machine")
        let coordinator = try await SimulatedCoordinatorProcess(
            dataDirectory: data, machineDirectory: machine,
            environment: [
                "EDG_COORDINATOR_CLIENT_ADDR": "127.0.0.1:0", "CLOISTER_MARBLE_ADDR": "127.0.0.1:0",
                "EDG_COORDINATOR_DNS_NAMES": "coordinator.test,localhost",
            ], loopbackAddresses: false)
        #expect(coordinator.logText.contains("SIMULATION"))

        let status = try runTool("curl", ["-sk", coordinator.clientURL + ClientAPIPath.status])
        #expect(status.output.contains(#""code":2"#), "\(status.output)")

        // The TLS certificate names the configured DNS names and chains to the root the quote endpoint gives.
        let handshake = try runTool("openssl", ["s_client", "-connect", "127.0.0.1:\(coordinator.clientPort)", "-showcerts"], input: Data())
        #expect(handshake.output.contains("BEGIN CERTIFICATE"))
        let leaf = try runTool("openssl", ["x509", "-noout", "-ext", "subjectAltName"], input: Data(handshake.output.utf8))
        #expect(leaf.output.contains("coordinator.test"), "\(leaf.output)")

        // Set the manifest with curl, as a MarbleRun script would.
        let admin = try TestUser(name: "admin")
        let files = directory.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        let request = files.appendingPathComponent("manifest-request.json")
        try JSONEncoder().encode(ManifestRequest(manifest: Data(TestManifests.standard(users: [admin])))).write(to: request)
        let set = try runTool("curl", ["-sk", "--data-binary", "@" + request.path, coordinator.clientURL + ClientAPIPath.manifest])
        #expect(set.output.contains(#""status":"success""#), "\(set.output)")

        // A user writes a secret with curl and its certificate and key.
        let certificate = files.appendingPathComponent("admin.pem")
        let key = files.appendingPathComponent("admin-key.pem")
        try admin.identity.certificatePEM.write(to: certificate, atomically: true, encoding: .utf8)
        try admin.identity.privateKeyPEM.write(to: key, atomically: true, encoding: .utf8)
        let secret = files.appendingPathComponent("secret.json")
        try JSONEncoder().encode(SecretsSetRequest(secrets: ["apiToken": UserSecretObject(key: Data("from-curl".utf8))])).write(to: secret)
        let write = try runTool(
            "curl",
            ["-sk", "--cert", certificate.path, "--key", key.path, "--data-binary", "@" + secret.path, coordinator.clientURL + ClientAPIPath.secrets])
        #expect(write.output.contains(#""status":"success""#), "\(write.output)")
        let anonymousWrite = try runTool(
            "curl",
            ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@" + secret.path, coordinator.clientURL + ClientAPIPath.secrets])
        #expect(anonymousWrite.output == "401")
        let root = try runTool("curl", ["-sk", coordinator.clientURL + ClientAPIPath.quote]).output

        coordinator.signal(SIGTERM)
        #expect(try await coordinator.waitForExit() == 0)
        #expect(coordinator.logText.contains("Coordinator stopped"))

        // Restarted on the same data directory: same state, same root, same secret.
        let restarted = try await SimulatedCoordinatorProcess(dataDirectory: data, machineDirectory: machine)
        #expect(try runTool("curl", ["-sk", restarted.clientURL + ClientAPIPath.status]).output.contains(#""code":3"#))
        let rootAgain = try runTool("curl", ["-sk", restarted.clientURL + ClientAPIPath.quote]).output
        #expect(Self.rootPEM(rootAgain) == Self.rootPEM(root))
        let read = try runTool(
            "curl", ["-sk", "--cert", certificate.path, "--key", key.path, restarted.clientURL + ClientAPIPath.secrets + "?s=apiToken"])
        #expect(read.output.contains(Data("from-curl".utf8).base64EncodedString()), "\(read.output)")
        restarted.signal(SIGINT)
        #expect(try await restarted.waitForExit() == 0)
    }

    @Test(.enabled(if: SimulatedCoordinatorProcess.program.exists, "needs the built cloister binary (swift build)"))
    func unusableSettingsAreRefusedWithTheSettingNamed() throws {
        let outcome = try SimulatedCoordinatorProcess.program.run(
            [
                "coordinator", "--simulation", "--data-directory",
                FileManager.default.temporaryDirectory.appendingPathComponent("unused-\(UUID())").path,
            ],
            environment: ["EDG_COORDINATOR_CLIENT_ADDR": "localhost"])
        #expect(outcome.exitCode == 2)
        #expect(outcome.standardError.contains("EDG_COORDINATOR_CLIENT_ADDR 'localhost'"), "\(outcome.standardError)")
        let format = try SimulatedCoordinatorProcess.program.run(["coordinator", "--simulation", "--log-format", "xml"])
        #expect(format.exitCode == 2)
        #expect(format.standardError.contains("--log-format 'xml'"), "\(format.standardError)")
    }

    /// The root certificate: the last PEM block of the quote answer's chain.
    static func rootPEM(_ answer: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
            let chain = (object["data"] as? [String: Any])?["cert"] as? String,
            let start = chain.range(of: "-----BEGIN CERTIFICATE-----", options: .backwards)
        else { return nil }
        return String(chain[start.lowerBound...])
    }
}
