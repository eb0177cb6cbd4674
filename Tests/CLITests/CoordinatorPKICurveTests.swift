import Foundation
import TestSupport
import Testing

/// `cloister coordinator --pki-curve`: the curve of a new PKI, read back from the root certificate the quote endpoint
/// serves, as a client sees it.
@Suite("cloister coordinator --pki-curve")
struct CoordinatorPKICurveTests {
    @Test("without a setting the root is P-256; --pki-curve p384 and CLOISTER_PKI_CURVE=p384 make a P-384 root")
    func curveOfANewPKI() async throws {
        #expect(try await CurveTestCoordinator.rootCurve(arguments: []) == "prime256v1")
        #expect(try await CurveTestCoordinator.rootCurve(arguments: ["--pki-curve", "p256"]) == "prime256v1")
        #expect(try await CurveTestCoordinator.rootCurve(arguments: ["--pki-curve", "p384"]) == "secp384r1")
        #expect(try await CurveTestCoordinator.rootCurve(arguments: [], environment: ["CLOISTER_PKI_CURVE": "P-384"]) == "secp384r1")
    }

    @Test("an existing state keeps its PKI: a restart with another curve serves the same root")
    func existingStateKeepsItsKeys() async throws {
        let directory = try CurveTestCoordinator.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await CurveTestCoordinator(directory: directory, arguments: ["--pki-curve", "p384"])
        let root = try first.rootCertificatePEM()
        first.stop()
        let restarted = try await CurveTestCoordinator(directory: directory, arguments: ["--pki-curve", "p256"])
        defer { restarted.stop() }
        #expect(try restarted.rootCertificatePEM() == root)
        #expect(try CurveTestCoordinator.curve(ofPEM: root) == "secp384r1")
    }

    @Test("an unknown curve is a usage error naming the setting, the value and the accepted ones")
    func unknownCurve() throws {
        try expectCoordinatorUsageError(arguments: ["--pki-curve", "p521"], setting: "--pki-curve 'p521'", expected: "expected p256 or p384")
        try expectCoordinatorUsageError(
            arguments: [], environment: ["CLOISTER_PKI_CURVE": "p521"], setting: "CLOISTER_PKI_CURVE 'p521'", expected: "expected p256 or p384")
    }
}

/// A `cloister coordinator --simulation` on 127.0.0.1 (the shared launcher), and what these tests read from it.
private final class CurveTestCoordinator: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let process: SimulatedCoordinatorProcess
    var clientPort: Int { process.clientPort }

    static func scratchDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pki-curve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The curve of the root certificate of a Coordinator started on a fresh data directory with `arguments`.
    static func rootCurve(arguments: [String], environment: [String: String] = [:]) async throws -> String {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let coordinator = try await CurveTestCoordinator(directory: directory, arguments: arguments, environment: environment)
        defer { coordinator.stop() }
        return try curve(ofPEM: try coordinator.rootCertificatePEM())
    }

    init(directory: URL, arguments: [String], environment: [String: String] = [:]) async throws {
        process = try await SimulatedCoordinatorProcess(
            dataDirectory: directory.appendingPathComponent("data"), machineDirectory: directory.appendingPathComponent("machine"),
            environment: environment, arguments: arguments)
    }

    func stop() {
        process.stop()
    }

    /// The last certificate of `cert` in `GET /api/v2/quote`: the root (the chain is intermediate, then root).
    func rootCertificatePEM() throws -> String {
        let body = try ProgramRunner.run("curl", ["-sk", "--max-time", "30", "https://127.0.0.1:\(clientPort)/api/v2/quote"]).standardOutputBytes
        guard let answer = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let chain = (answer["data"] as? [String: Any])?["cert"] as? String,
            let rootStart = chain.range(of: "-----BEGIN CERTIFICATE-----", options: .backwards)
        else {
            throw Failure(
                description:
                    "GET /api/v2/quote answered \(String(decoding: body.prefix(300), as: UTF8.self)); expected JSend data with a PEM cert chain")
        }
        return String(chain[rootStart.lowerBound...])
    }

    /// The named curve of a PEM certificate's key, as openssl names it (prime256v1, secp384r1).
    static func curve(ofPEM pem: String) throws -> String {
        let openssl = try OpenSSLTool()
        defer { try? FileManager.default.removeItem(at: openssl.directory) }
        try openssl.write("root.pem", pem)
        let text = try openssl.run(["x509", "-in", "root.pem", "-noout", "-text"])
        guard let line = text.split(separator: "\n").first(where: { $0.contains("ASN1 OID:") }) else {
            throw Failure(description: "openssl x509 -text shows no ASN1 OID line for the root key: \(text.prefix(1500))")
        }
        return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }

    private static func clientPort(in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("\"Listening\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                object["server"] == "client API", let port = object["port"].flatMap(Int.init)
            else { continue }
            return port
        }
        return nil
    }
}
