import Foundation
import TestSupport
import Testing

/// `cloister coordinator --marble-idle-timeout`: how long a marble API connection may stay silent while no answer is
/// pending.
@Suite("cloister coordinator --marble-idle-timeout")
struct CoordinatorIdleTimeoutTests {
    @Test("a silent marble API connection is closed after the set number of seconds")
    func silentConnectionIsClosed() async throws {
        let openssl = try OpenSSLTool()
        defer { openssl.remove() }
        try openssl.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
            "-subj", "/CN=silent marble", "-days", "1",
        ])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idle-timeout-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let coordinator = try await SimulatedCoordinatorProcess(
            dataDirectory: directory.appendingPathComponent("data"), machineDirectory: directory.appendingPathComponent("machine"),
            arguments: ["--marble-idle-timeout", "1"])
        defer { coordinator.stop() }

        let certificateAndKey = openssl.directory.appendingPathComponent("cert-and-key.pem")
        try (String(decoding: openssl.read("cert.pem"), as: UTF8.self) + String(decoding: openssl.read("key.pem"), as: UTF8.self))
            .write(to: certificateAndKey, atomically: true, encoding: .utf8)
        let seconds = try await stalledMarbleClient(
            port: coordinator.marblePort, certificateAndKeyPEM: certificateAndKey, sent: openssl.directory.appendingPathComponent("sent"))
        #expect(seconds.map { $0 < 20 } == true, "closed after \(seconds.map { "\($0) s" } ?? "more than 120 s")")
    }

    @Test("an unusable value is a usage error naming the setting, the value and what is expected")
    func unusableValue() throws {
        let expected = "a whole number of seconds from 1 to 86400"
        try expectCoordinatorUsageError(arguments: ["--marble-idle-timeout", "0"], setting: "--marble-idle-timeout '0'", expected: expected)
        try expectCoordinatorUsageError(arguments: ["--marble-idle-timeout", "1.5"], setting: "--marble-idle-timeout '1.5'", expected: expected)
        try expectCoordinatorUsageError(
            arguments: [], environment: ["CLOISTER_MARBLE_IDLE_TIMEOUT": "soon"], setting: "CLOISTER_MARBLE_IDLE_TIMEOUT 'soon'",
            expected: expected)
    }
}
