import CoordinatorAPI
import Foundation
import TestSupport
import Testing

/// `GET /api/v2/status` is answered in front of the router on keep-alive connections: the answer must be the
/// router's answer, follow the Coordinator's state, keep pipelined answers in order and be counted in the metrics.
@Suite struct StatusFastPathTests {
    /// Status code, content type, length and body of each answer in curl's `-i` output.
    private static func answers(_ output: String) -> [(status: String, headers: [String: String], body: String)] {
        output.components(separatedBy: "HTTP/1.1 ").dropFirst().map { answer in
            let parts = answer.components(separatedBy: "\r\n\r\n")
            let lines = parts[0].components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return (String(lines[0].prefix(3)), headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
        }
    }

    @Test func keepAliveAnswersEqualTheRoutersAndFollowTheState() async throws {
        try await ServerFixture.run { fixture in
            let client = try fixture.client()
            let url = fixture.clientURL + ClientAPIPath.status

            for expectedCode in [2, 3] {
                // Requests on one connection take the fast path (with or without `Connection: keep-alive`); `Connection:
                // close` goes through the router.
                let fast = Self.answers(try await runToolOffPool("curl", ["-sk", "-i", url, url, "-H", "Connection: keep-alive", url]).output)
                let routed = Self.answers(try await runToolOffPool("curl", ["-sk", "-i", "-H", "Connection: close", url]).output)
                #expect(fast.count == 3 && routed.count == 1)
                for answer in fast + routed {
                    #expect(answer.status == "200")
                    #expect(answer.headers["content-type"] == "application/json")
                    #expect(answer.headers["content-length"] == String(answer.body.utf8.count))
                    #expect(answer.headers["date"]?.hasSuffix(" GMT") == true, "\(answer.headers)")
                    #expect(answer.body == routed[0].body)
                    #expect(answer.body.contains(#""code":\#(expectedCode)"#), "\(answer.body)")
                }
                if expectedCode == 2 {
                    #expect(
                        try await client.post(
                            fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard()))
                        )
                        .status == 200)
                }
            }
        }
    }

    @Test func pipelinedAnswersKeepTheOrderOfRequests() async throws {
        try await ServerFixture.run { fixture in
            // One write carries a request for the router, two status requests and a closing one: the status requests
            // arrive while the router's answer is outstanding, and must not overtake it.
            let requests = [
                "GET /api/v2/unknown HTTP/1.1\r\nHost: x\r\n\r\n", "GET /api/v2/status HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /api/v2/status HTTP/1.1\r\nHost: x\r\n\r\n", "GET /api/v2/quote HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ].joined()
            let script = """
                import socket, ssl, sys
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
                    with context.wrap_socket(raw) as tls:
                        tls.sendall(sys.stdin.buffer.read())
                        received = b""
                        while chunk := tls.recv(65536):
                            received += chunk
                sys.stdout.buffer.write(received)
                """
            let output = try await runToolOffPool("python3", ["-c", script, String(fixture.clientPort)], input: Data(requests.utf8)).output
            let statuses = Self.answers(output).map(\.status)
            #expect(statuses == ["405", "200", "200", "200"], "\(output.prefix(2000))")
            let bodies = Self.answers(output).map(\.body)
            #expect(bodies.count == 4 && bodies[1].contains(#""code":2"#) && bodies[3].contains(#""quote""#))
        }
    }

    @Test func fastAnswersAreCountedInTheMetrics() async throws {
        try await ServerFixture.run { fixture in
            let url = fixture.clientURL + ClientAPIPath.status
            let series = #"server_client_api_http_request_total{code="200",method="GET",path="/api/v2/status"}"#
            func count() async throws -> Int {
                let exposition = try await runToolOffPool("curl", ["-sk", fixture.clientURL + ClientAPIPath.metrics]).output
                let line = exposition.split(separator: "\n").first { $0.hasPrefix(series) }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            let before = try await count()
            _ = try await runToolOffPool("curl", ["-sk", url, url, url])
            #expect(try await count() == before + 3)
        }
    }
}
