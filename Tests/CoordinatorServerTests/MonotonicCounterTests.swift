import CoordinatorAPI
import Foundation
import SwiftASN1
import TestSupport
import Testing

extension ClientIdentity {
    /// The identity the Coordinator issued to a marble at activation: its leaf certificate and key.
    init(activated activation: ActivationResponse) throws {
        let chain = String(decoding: try #require(activation.env["MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN"]), as: UTF8.self)
        let key = String(decoding: try #require(activation.env["MARBLE_PREDEFINED_PRIVATE_KEY"]), as: UTF8.self)
        self.init(certificateDER: try PEMDocument.parseMultiple(pemString: chain)[0].derBytes, privateKeyPEM: key)
    }
}

/// `POST /api/v2/monotonic-counter` over real TLS: only marbles of this Coordinator, only with the feature gate; a
/// counter only goes up, is per marble and name, and survives a restart of the Coordinator.
@Suite struct MonotonicCounterTests {
    static func activate(_ marble: TestMarble, type: String, on fixture: ServerFixture) async throws -> ClientIdentity {
        let client = try fixture.client(marble.identity)
        let answer = try await client.post(
            fixture.marbleURL + ActivationRequest.path, json: try marble.request(type: type, on: fixture.platform(TestMeasurements.backend())))
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        return try ClientIdentity(activated: try answer.data(ActivationResponse.self))
    }

    static func set(_ client: APIClient, _ fixture: ServerFixture, _ name: String, _ value: UInt64) async throws -> APIClient.Answer {
        try await client.post(fixture.clientURL + ClientAPIPath.monotonicCounter, json: MonotonicCounterRequest(name: name, value: value))
    }

    static func previous(_ client: APIClient, _ fixture: ServerFixture, _ name: String, _ value: UInt64) async throws -> UInt64? {
        let answer = try await set(client, fixture, name, value)
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        return try? answer.data(MonotonicCounterResponse.self).value
    }

    @Test func countersOnlyIncreaseArePerMarbleAndSurviveARestart() async throws {
        let fixture = try await ServerFixture.start()
        let anonymous = try fixture.client()
        let set = try await anonymous.post(
            fixture.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(featureGates: ["MonotonicCounter"]))))
        #expect(set.status == 200, "\(String(decoding: set.body, as: UTF8.self))")
        let firstIdentity = try await Self.activate(TestMarble(), type: "backend", on: fixture)
        let first = try fixture.client(firstIdentity)
        let second = try fixture.client(try await Self.activate(TestMarble(), type: "backend", on: fixture))

        #expect(try await Self.previous(first, fixture, "sealed-data", 5) == 0)
        #expect(try await Self.previous(first, fixture, "sealed-data", 3) == 5)
        #expect(try await Self.previous(first, fixture, "sealed-data", 7) == 5)
        #expect(try await Self.previous(first, fixture, "sealed-data", 7) == 7)
        #expect(try await Self.previous(first, fixture, "sealed-data", UInt64.max) == 7)
        #expect(try await Self.previous(first, fixture, "other", 1) == 0)
        #expect(try await Self.previous(second, fixture, "sealed-data", 2) == 0)
        let malformed = try await first.post(fixture.clientURL + ClientAPIPath.monotonicCounter, body: Data(#"{"name": "c", "value": -1}"#.utf8))
        #expect(malformed.status == 400)
        #expect(malformed.failReason == "request.malformed")
        let longName = String(repeating: "n", count: 800)
        let tooLong = try await first.post(
            fixture.clientURL + ClientAPIPath.monotonicCounter, body: Data(#"{"name": "\#(longName)", "value": 1}"#.utf8))
        #expect(tooLong.status == 400, "\(String(decoding: tooLong.body, as: UTF8.self))")
        #expect(tooLong.failReason == "request.malformed")
        #expect((tooLong.json["message"] as? String)?.contains("a counter name of 800 bytes") == true, "\(tooLong.json)")
        for client in [anonymous, first, second] { await client.shutdown() }
        await fixture.stop()

        let restarted = try await ServerFixture.start(directory: fixture.directory)
        let firstAgain = try restarted.client(firstIdentity)
        #expect(try await Self.previous(firstAgain, restarted, "sealed-data", 0) == UInt64.max)
        #expect(try await Self.previous(firstAgain, restarted, "other", 0) == 1)
        await firstAgain.shutdown()
        await restarted.remove()
    }

    @Test func onlyMarblesOfThisCoordinatorAreAccepted() async throws {
        let fixture = try await ServerFixture.start()
        let admin = try TestUser(name: "admin")
        let anonymous = try fixture.client()
        _ = try await anonymous.post(
            fixture.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(users: [admin], featureGates: ["MonotonicCounter"]))))
        let marble = try TestMarble()
        _ = try await Self.activate(marble, type: "backend", on: fixture)
        // A certificate of another Coordinator's marble: right shape, wrong Marble root.
        let other = try await ServerFixture.start()
        let otherClient = try other.client()
        _ = try await otherClient.post(
            other.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(featureGates: ["MonotonicCounter"]))))
        let foreign = try await Self.activate(TestMarble(), type: "backend", on: other)

        let refused: [(String, ClientIdentity?, String)] = [
            ("no certificate", nil, "auth.no_client_certificate"),
            ("a user's certificate", admin.identity, "auth.not_a_marble_certificate"),
            ("the marble's self-signed activation certificate", marble.identity, "auth.not_a_marble_certificate"),
            ("another Coordinator's marble", foreign, "auth.not_a_marble_certificate"),
        ]
        for (label, identity, reason) in refused {
            let client = try fixture.client(identity)
            let answer = try await Self.set(client, fixture, "c", 1)
            #expect(answer.status == 401, "\(label): \(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.jsendStatus == "fail", "\(label)")
            #expect(answer.failReason == reason, "\(label)")
            await client.shutdown()
        }
        for client in [anonymous, otherClient] { await client.shutdown() }
        await other.remove()
        await fixture.remove()
    }

    @Test func featureGateOffIsRefusedWith403() async throws {
        let fixture = try await ServerFixture.start()
        let anonymous = try fixture.client()
        let beforeManifest = try await Self.set(anonymous, fixture, "c", 1)
        #expect(beforeManifest.status == 403)
        #expect(beforeManifest.jsendStatus == "error")
        _ = try await anonymous.post(
            fixture.clientURL + ClientAPIPath.manifest,
            json: ManifestRequest(manifest: Data(TestManifests.standard(featureGates: ["SignQuoteEndpoint"]))))
        let marble = try fixture.client(try await Self.activate(TestMarble(), type: "backend", on: fixture))
        let gateOff = try await Self.set(marble, fixture, "c", 1)
        #expect(gateOff.status == 403, "\(String(decoding: gateOff.body, as: UTF8.self))")
        #expect((gateOff.json["message"] as? String)?.contains("MonotonicCounter") == true)
        for client in [anonymous, marble] { await client.shutdown() }
        await fixture.remove()
    }
}
