import CoordinatorAPI
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import TestSupport
import Testing

@testable import CoordinatorServer

/// The two hand-written connection handlers as swift-nio tests its own: their logic as pure state machines, and the
/// handlers driven through `EmbeddedChannel`, part by part, without sockets, TLS or curl.
@Suite struct HandlerStateTests {
    static func statusRequest(connection: String? = nil) -> HTTPRequest {
        var request = HTTPRequest(method: .get, scheme: nil, authority: "coordinator", path: ClientAPIPath.status)
        if let connection { request.headerFields[.connection] = connection }
        return request
    }

    @Test func statusRoutingAnswersKeepAliveStatusRequestsAndNeverOvertakesTheRouter() {
        var routing = StatusRequestRouting()
        #expect(routing.inbound(.head(Self.statusRequest())) == .swallow)
        #expect(routing.inbound(.body(ByteBuffer(string: "ignored"))) == .swallow)
        #expect(routing.inbound(.end(nil)) == .answerStatus)

        #expect(routing.inbound(.head(Self.statusRequest(connection: "close"))) == .forward, "closing requests go to the router")
        #expect(routing.inbound(.end(nil)) == .forward)
        #expect(routing.unansweredRequests == 1)
        #expect(routing.inbound(.head(Self.statusRequest())) == .forward, "a status request behind an unanswered one waits its turn")
        #expect(routing.inbound(.end(nil)) == .forward)
        routing.outbound(.head(HTTPResponse(status: .ok)))
        routing.outbound(.end(nil))
        routing.outbound(.end(nil))
        #expect(routing.unansweredRequests == 0)
        #expect(routing.inbound(.head(Self.statusRequest(connection: "Keep-Alive"))) == .swallow)

        var other = StatusRequestRouting()
        #expect(other.inbound(.head(HTTPRequest(method: .post, scheme: nil, authority: "c", path: ClientAPIPath.status))) == .forward)
        #expect(other.inbound(.head(HTTPRequest(method: .get, scheme: nil, authority: "c", path: ClientAPIPath.status + "?x=1"))) == .forward)
    }

    @Test func theStatusFastPathWritesTheAnswerAndPassesEverythingElseOn() async throws {
        try await ServerFixture.run { fixture in
            let metrics = CoordinatorMetrics(version: "test")
            let channel = EmbeddedChannel(
                handler: StatusFastPath(answers: StatusAnswerCache(coordinator: fixture.coordinator, metrics: metrics), metrics: metrics))
            try channel.writeInbound(HTTPRequestPart.head(Self.statusRequest()))
            try channel.writeInbound(HTTPRequestPart.end(nil))
            #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil, "the router never sees a fast-path request")
            guard case .head(let head)? = try channel.readOutbound(as: HTTPResponsePart.self),
                case .body(let body)? = try channel.readOutbound(as: HTTPResponsePart.self),
                case .end? = try channel.readOutbound(as: HTTPResponsePart.self)
            else {
                Issue.record("no complete answer")
                return
            }
            #expect(head.status == .ok)
            #expect(head.headerFields[.contentLength] == String(body.readableBytes))
            #expect(String(buffer: body).contains(#""code":2"#))

            try channel.writeInbound(HTTPRequestPart.head(Self.statusRequest(connection: "close")))
            guard case .head(let forwarded)? = try channel.readInbound(as: HTTPRequestPart.self) else {
                Issue.record("a closing status request was not passed on")
                return
            }
            #expect(forwarded.path == ClientAPIPath.status)
            #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)
            _ = try channel.finish()
        }
    }

    static func head(_ method: HTTPMethod, _ uri: String) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri)
    }

    @Test func theMarbleRequestReaderRoutesCollectsRefusesAndCloses() {
        var reader = MarbleRequestReader(maximumBodySize: 10, drainLimit: 20)
        let activation = Self.head(.POST, ActivationRequest.path)
        #expect(reader.read(.head(activation)) == .none)
        #expect(reader.read(.body(ByteBuffer(string: "12345"))) == .none)
        #expect(reader.read(.body(ByteBuffer(string: "67890"))) == .none)
        #expect(reader.read(.end(nil)) == .answer(.activation, activation, body: ByteBuffer(string: "1234567890")))
        #expect(!reader.closesWhenIdle, "a quiet connection stays open while the Coordinator decides")
        reader.answered()
        #expect(reader.closesWhenIdle)

        let plan = Self.head(.POST, ActivationPlanRequest.path + "?x")
        #expect(reader.read(.head(plan)) == .none)
        #expect(reader.read(.end(nil)) == .answer(.plan, plan, body: ByteBuffer()))
        reader.answered()

        let unknown = Self.head(.GET, ActivationRequest.path)
        #expect(reader.read(.head(unknown)) == .none)
        #expect(reader.read(.body(ByteBuffer(string: "anything, any size, is not collected"))) == .none)
        #expect(reader.read(.end(nil)) == .notAnEndpoint(unknown))

        #expect(reader.read(.head(activation)) == .none)
        #expect(reader.read(.body(ByteBuffer(string: "12345678901"))) == .refuseTooLarge(activation))
        #expect(reader.read(.body(ByteBuffer(string: "1234567890"))) == .none)
        #expect(reader.read(.end(nil)) == .closeAfterRefusal)

        #expect(reader.read(.head(activation)) == .none)
        #expect(reader.read(.body(ByteBuffer(string: "12345678901"))) == .refuseTooLarge(activation))
        #expect(reader.read(.body(ByteBuffer(string: "123456789012345678901"))) == .close, "past the drain limit the connection closes")
    }

    /// The activation handler on an async testing channel, answering with a real in-process Coordinator.
    @Test func theActivationHandlerAnswersRefusesAndClosesPartByPart() async throws {
        try await ServerFixture.run(startupManifest: TestManifests.standard()) { fixture in
            let endpoint = ActivationEndpoint(
                coordinator: fixture.coordinator, metrics: CoordinatorMetrics(version: "test"), logger: Logger(label: "test"))
            let channel = NIOAsyncTestingChannel()
            try await channel.pipeline.addHandler(ActivationHTTPHandler(endpoint: endpoint, peerCertificate: { nil }))
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2001))

            // The Coordinator answers on another task; its answer reaches the testing loop as a task the loop must run.
            func nextWrite() async throws -> HTTPServerResponsePart {
                for _ in 0..<1000 {
                    await channel.testingEventLoop.run()
                    if let part = try await channel.readOutbound(as: HTTPServerResponsePart.self) { return part }
                    try await Task.sleep(for: .milliseconds(10))
                }
                throw CancellationError()
            }
            func answer() async throws -> (HTTPResponseHead, String) {
                guard case .head(let head) = try await nextWrite(), case .body(.byteBuffer(let body)) = try await nextWrite(),
                    case .end = try await nextWrite()
                else { throw CancellationError() }
                return (head, String(buffer: body))
            }

            try await channel.writeInbound(HTTPServerRequestPart.head(Self.head(.POST, ActivationPlanRequest.path)))
            try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: #"{"marbleType": "backend"}"#)))
            try await channel.writeInbound(HTTPServerRequestPart.end(nil))
            let (planHead, planBody) = try await answer()
            #expect(planHead.status == .ok, "\(planBody)")
            #expect(planBody.contains(#""status":"success""#))

            try await channel.writeInbound(HTTPServerRequestPart.head(Self.head(.POST, ActivationRequest.path)))
            try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: #"{"quote": 1}"#)))
            try await channel.writeInbound(HTTPServerRequestPart.end(nil))
            let (malformedHead, malformedBody) = try await answer()
            #expect(malformedHead.status == .badRequest)
            #expect(malformedBody.contains("quote: the number 1 instead of a string"), "\(malformedBody)")

            try await channel.writeInbound(HTTPServerRequestPart.head(Self.head(.GET, "/api/v2/other")))
            try await channel.writeInbound(HTTPServerRequestPart.end(nil))
            #expect(try await answer().0.status == .methodNotAllowed)

            try await channel.writeInbound(HTTPServerRequestPart.head(Self.head(.POST, ActivationRequest.path)))
            try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(repeating: 0x20, count: ActivationEndpoint.maximumBodySize + 1)))
            let (tooLarge, tooLargeBody) = try await answer()
            #expect(tooLarge.status == .badRequest)
            #expect(tooLargeBody.contains("a request body larger than \(ActivationEndpoint.maximumBodySize) bytes"), "\(tooLargeBody)")
            #expect(tooLarge.headers["Connection"] == ["close"])
            #expect(channel.isActive, "the rest of the body is read before closing")
            try await channel.writeInbound(HTTPServerRequestPart.end(nil))
            await channel.testingEventLoop.run()
            #expect(!channel.isActive, "the connection closes once the refusal is written")
        }
    }
}
