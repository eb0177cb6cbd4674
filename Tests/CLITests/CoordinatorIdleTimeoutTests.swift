import Foundation
import Testing
import TestSupport

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

        // A real TLS client with a certificate: it completes the handshake, sends half a request and waits.
        let script = """
            import socket, ssl, sys, time
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.load_cert_chain(sys.argv[2] + "/cert.pem", sys.argv[2] + "/key.pem")
            with context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])))) as tls:
                tls.sendall(b"POST /api/v2/activate HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n{")
                start = time.monotonic()
                tls.settimeout(60)
                try:
                    while tls.recv(65536): pass
                    print("closed after %.1f s" % (time.monotonic() - start))
                except socket.timeout:
                    print("still open after 60 s")
                except (ConnectionError, ssl.SSLError):
                    print("closed after %.1f s" % (time.monotonic() - start))
            """
        let printed = try runTool("python3", ["-c", script, String(coordinator.marblePort), openssl.directory.path]).output
        let seconds = printed.split(separator: " ").dropFirst(2).first.flatMap { Double($0) }
        #expect(printed.hasPrefix("closed after") && (seconds ?? 99) < 20, "\(printed)")
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
