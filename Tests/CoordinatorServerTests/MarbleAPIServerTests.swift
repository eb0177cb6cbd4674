import CoordinatorAPI
import Foundation
import Testing

/// The marble API's own HTTP handling: what is not an activation, bodies over the limit, several requests on one
/// connection, and the request metrics.
@Suite struct MarbleAPIServerTests {
    @Test func answersWhatIsNotAnActivationAndBodiesOverTheLimit() async throws {
        let fixture = try await ServerFixture.start()
        let marble = try TestMarble()
        let client = try fixture.client(marble.identity)
        defer { Task { await client.shutdown(); await fixture.remove() } }

        for answer in [
            try await client.get(fixture.marbleURL + "/api/v2/status"), try await client.get(fixture.marbleURL + ActivationRequest.path),
            try await client.post(fixture.marbleURL + "/api/v2/activate/extra", body: Data("{}".utf8)),
        ] {
            #expect(answer.status == 405)
            #expect(answer.jsendStatus == "error")
            #expect((answer.json["message"] as? String)?.contains("is not an endpoint of this server") == true, "\(answer.json)")
        }

        let oversized = try await client.post(fixture.marbleURL + ActivationRequest.path, body: Data(repeating: 0x20, count: (256 << 10) + 1))
        #expect(oversized.status == 400)
        #expect(oversized.failReason == "request.malformed")
        #expect((oversized.json["message"] as? String)?.contains("larger than 262144 bytes") == true, "\(oversized.json)")

        // The same connection keeps answering after refusals, and a query string does not change the route.
        let refused = try await client.post(fixture.marbleURL + ActivationRequest.path + "?x=1", body: Data("{\"quote\": 12}".utf8))
        #expect(refused.status == 400 && refused.failReason == "request.malformed")
    }

    @Test func activationsAndRefusalsAreCountedPerEndpoint() async throws {
        let fixture = try await ServerFixture.start()
        let marble = try TestMarble()
        let client = try fixture.client(marble.identity)
        let anonymous = try fixture.client()
        defer { Task { await client.shutdown(); await anonymous.shutdown(); await fixture.remove() } }
        #expect(try await anonymous.post(fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard())))
            .status == 200)
        let activated = try await client.post(
            fixture.marbleURL + ActivationRequest.path, json: try marble.request(type: "backend", on: fixture.platform(ServerFixture.backend())))
        #expect(activated.status == 200)
        _ = try await client.get(fixture.marbleURL + "/nothing")

        let exposition = String(decoding: try await anonymous.get(fixture.clientURL + ClientAPIPath.metrics).body, as: UTF8.self)
        for series in [
            #"server_marble_api_http_request_total{code="200",method="POST",path="/api/v2/activate"} 1"#,
            #"server_marble_api_http_request_total{code="405",method="GET",path="unmatched"} 1"#,
            #"coordinator_marble_activations_success_total{type="backend"} 1"#,
        ] {
            #expect(exposition.contains(series), "\(series) missing from:\n\(exposition)")
        }
    }
}
