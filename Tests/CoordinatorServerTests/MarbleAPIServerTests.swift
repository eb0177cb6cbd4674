import CoordinatorAPI
import Foundation
import TestSupport
import Testing

/// The marble API's own HTTP handling: what is not an activation, bodies over the limit, several requests on one
/// connection, and the request metrics.
@Suite struct MarbleAPIServerTests {
    @Test func answersWhatIsNotAnActivationAndBodiesOverTheLimit() async throws {
        try await ServerFixture.run { fixture in
            let marble = try TestMarble()
            let client = try fixture.client(marble.identity)

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
    }

    @Test func theActivationPlanNamesTheFilesOfTheTypeWithoutActivating() async throws {
        try await ServerFixture.run { fixture in
            let marble = try TestMarble()
            let client = try fixture.client(marble.identity)
            let anonymous = try fixture.client()
            let early = try await client.post(fixture.marbleURL + ActivationPlanRequest.path, json: ActivationPlanRequest(marbleType: "frontend"))
            #expect(early.status == 409, "no manifest yet: \(early.json)")
            #expect((early.json["message"] as? String)?.contains("set a manifest first") == true, "\(early.json)")
            #expect(
                try await anonymous.post(fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard())))
                    .status == 200)

            let plan = try await client.post(fixture.marbleURL + ActivationPlanRequest.path, json: ActivationPlanRequest(marbleType: "frontend"))
            #expect(plan.status == 200, "\(plan.json)")
            let decoded = try JSONDecoder().decode(JSend<ActivationPlan>.self, from: Data(plan.body)).data
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(TestManifests.standard())) as? [String: Any])
            let frontend = (manifest["Marbles"] as? [String: Any])?["frontend"] as? [String: Any]
            let expected = (((frontend?["Parameters"] as? [String: Any])?["Files"] as? [String: Any])?.keys.sorted()) ?? []
            #expect(decoded?.files == expected)
            #expect(!expected.isEmpty, "the standard manifest's frontend writes files")
            let status = try await anonymous.get(fixture.clientURL + ClientAPIPath.status)
            #expect(status.status == 200)

            let unknown = try await client.post(fixture.marbleURL + ActivationPlanRequest.path, json: ActivationPlanRequest(marbleType: "intruder"))
            #expect(unknown.status == 403 && unknown.failReason == "activation.unknown_marble_type", "\(unknown.json)")
            let malformed = try await client.post(fixture.marbleURL + ActivationPlanRequest.path, body: Data("[1]".utf8))
            #expect(malformed.status == 400 && malformed.failReason == "request.malformed", "\(malformed.json)")

            // Asking for the plan used up nothing: the metrics count no activation.
            let exposition = String(decoding: try await anonymous.get(fixture.clientURL + ClientAPIPath.metrics).body, as: UTF8.self)
            #expect(!exposition.contains("coordinator_marble_activations_success_total{type=\"frontend\"}"))
            #expect(
                exposition.contains(#"server_marble_api_http_request_total{code="200",method="POST",path="/api/v2/activation-plan"} 1"#),
                "\(exposition)")
        }
    }

    @Test func activationsAndRefusalsAreCountedPerEndpoint() async throws {
        try await ServerFixture.run { fixture in
            let marble = try TestMarble()
            let client = try fixture.client(marble.identity)
            let anonymous = try fixture.client()
            #expect(
                try await anonymous.post(fixture.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(TestManifests.standard())))
                    .status == 200)
            let activated = try await client.post(
                fixture.marbleURL + ActivationRequest.path,
                json: try marble.request(type: "backend", on: fixture.platform(TestMeasurements.backend())))
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

    /// ``stalledMarbleClient(port:certificateAndKeyPEM:sent:)`` with a marble's own certificate.
    private static func stalledClient(_ fixture: ServerFixture, sent: URL) async throws -> Double? {
        let marble = try TestMarble()
        let certificate = fixture.directory.appendingPathComponent("stalled-\(marble.uuid).pem")
        try (marble.identity.certificatePEM + "\n" + marble.identity.privateKeyPEM).write(to: certificate, atomically: true, encoding: .utf8)
        return try await stalledMarbleClient(port: fixture.marblePort, certificateAndKeyPEM: certificate, sent: sent)
    }

    @Test func aConnectionThatSendsNothingMoreIsClosed() async throws {
        try await ServerFixture.run(marbleIdleTimeout: .seconds(1)) { fixture in
            let seconds = try await Self.stalledClient(fixture, sent: fixture.directory.appendingPathComponent("sent"))
            #expect(seconds.map { $0 < 30 } == true, "closed after \(seconds.map { "\($0) s" } ?? "more than 120 s")")
        }
    }

    @Test func cancellationClosesConnectionsThatAreStillOpen() async throws {
        try await ServerFixture.run { fixture in
            let sent = fixture.directory.appendingPathComponent("sent")
            async let stalled = Self.stalledClient(fixture, sent: sent)
            // Stop only once the client is connected and waiting (a loaded machine can take seconds to start Python).
            let connecting = ContinuousClock.now
            while !FileManager.default.fileExists(atPath: sent.path), ContinuousClock.now - connecting < .seconds(120) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let clock = ContinuousClock()
            let stopping = clock.now
            await fixture.stop()
            #expect(clock.now - stopping < .seconds(30))
            #expect(try await stalled != nil, "the stalled connection stayed open after the server stopped")
        }
    }
}
