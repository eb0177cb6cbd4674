import Foundation

/// A real TLS client (Python's `ssl`) that presents `certificateAndKeyPEM` to the marble API on `port`, sends the start
/// of an activation and then nothing, creates the file `sent` once it has sent, and waits (up to 120 s) for the server
/// to close the connection. Returns how long that took after sending, or nil when the server kept it open. Runs off the
/// cooperative pool, so a Coordinator in the test process can answer meanwhile.
public func stalledMarbleClient(port: Int, certificateAndKeyPEM: URL, sent: URL) async throws -> Double? {
    let script = """
        import socket, ssl, sys, time
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(sys.argv[2])
        with context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])))) as tls:
            tls.sendall(b"POST /api/v2/activate HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n{")
            open(sys.argv[3], "w").close()
            start = time.monotonic()
            tls.settimeout(120)
            try:
                while tls.recv(65536): pass
                print("closed after %.1f s" % (time.monotonic() - start))
            except socket.timeout:
                print("still open after 120 s")
            except (ConnectionError, ssl.SSLError):
                print("closed after %.1f s" % (time.monotonic() - start))
        """
    let printed = try await runToolOffPool("python3", ["-c", script, String(port), certificateAndKeyPEM.path, sent.path]).output
    guard printed.hasPrefix("closed after") else { return nil }
    return printed.split(separator: " ").dropFirst(2).first.flatMap { Double($0) }
}
