import Coordinator
import CoordinatorAPI
import Foundation
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import StrictJSON
import Synchronization

/// The marble API (HTTPS with mutual TLS): `POST /api/v2/activate`, on a plain NIO pipeline (TLS, HTTP/1.1,
/// ``ActivationHTTPHandler``). Every marble start opens a connection for this single request, and the connection
/// task, async streams and router of the general HTTP stack were most of the Coordinator's cost per activation
/// (scripts/benchmark-coordinator).
///
/// Graceful shutdown stops accepting connections and waits for those open to finish their answers.
struct MarbleAPIServer: Service {
    let activation: ActivationEndpoint
    let identity: TLSIdentityStore
    let address: ListenAddress
    let onListening: @Sendable (any Channel) async -> Void

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiescing = ServerQuiescingHelper(group: group)
        let identity = identity
        let activation = activation
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = NIOSSLServerHandler(
                        context: identity.loaded.marbleAPI,
                        // Any certificate: the quote binds it, not a chain.
                        customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) })
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ActivationHTTPHandler(endpoint: activation, tls: tls))
                }
            }
            .bind(host: address.host, port: address.port).get()
        await onListening(channel)

        let stopped = group.next().makePromise(of: Void.self)
        let stopping = Atomic<Bool>(false)
        let stop: @Sendable () -> Void = {
            if !stopping.exchange(true, ordering: .relaxed) { quiescing.initiateShutdown(promise: stopped) }
        }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await stopped.futureResult.get()
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            stop()
        }
    }
}

/// What the marble API does with one request: decodes the activation, asks the Coordinator, counts and logs the
/// outcome, and returns the JSend answer.
struct ActivationEndpoint: Sendable {
    let coordinator: Coordinator
    let metrics: CoordinatorMetrics
    let logger: Logger

    /// A quote with its PCK chain is about 5 KiB and a CSR under 1 KiB; anything far larger is not an activation.
    static let maximumBodySize = 256 << 10
    static let shape = #"{"quote": base64, "csr": base64 DER, "marbleType": string, "uuid": string}"#

    struct Answer: Sendable {
        let status: HTTPResponseStatus
        let body: ByteBuffer
    }

    /// The answer to anything but `POST /api/v2/activate`.
    func notAnEndpoint(method: String, path: String) -> Answer {
        Answer(status: .methodNotAllowed, body: JSendResponse.errorBody(JSendResponse.notAnEndpointMessage(method: method, path: path)))
    }

    func activate(body: ByteBuffer?, clientCertificateDER: [UInt8]?) async -> Answer {
        guard let body else {
            return refusal(RequestBody.tooLarge(limit: Self.maximumBodySize, shape: Self.shape, path: ActivationRequest.path))
        }
        let request: ActivationRequest
        do {
            request = try Self.decodeRequest(body)
        } catch {
            return refusal(error)
        }
        do {
            let response = try await coordinator.activate(request, clientCertificateDER: clientCertificateDER)
            metrics.recordActivation(marbleType: request.marbleType, known: true, succeeded: true)
            return Answer(status: .ok, body: JSendResponse.activationBody(response))
        } catch {
            metrics.recordActivation(marbleType: request.marbleType, known: error.reason != .unknownMarbleType, succeeded: false)
            logger.notice(
                "Activation refused",
                metadata: [
                    "marbleType": "\(request.marbleType.prefix(64))", "uuid": "\(request.uuid.prefix(64))",
                    "reason": "\(error.reason.rawValue)", "error": "\(error)",
                ])
            return refusal(error)
        }
    }

    /// Reads the request with the strict parser rather than `JSONDecoder`, whose generic decoding was a measurable part
    /// of each activation's cost. Members are matched exactly; unknown members are ignored; of repeated members the
    /// last counts.
    static func decodeRequest(_ body: ByteBuffer) throws(CoordinatorError) -> ActivationRequest {
        func malformed(_ found: String) -> CoordinatorError {
            CoordinatorError(
                .badRequest, .malformedRequest, found: found, expected: shape,
                hint: "byte fields are base64 (standard alphabet, with padding), as Go's encoding/json writes them")
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(Array(body.readableBytesView), maximumDepth: 4)
        } catch {
            throw malformed("a body that is not JSON (\(error))")
        }
        guard case .object(let members) = document else { throw malformed("\(document.kindDescription) instead of an object") }
        var fields: [String: JSONValue] = [:]
        for member in members { fields[member.key] = member.value }
        func text(_ name: String) throws(CoordinatorError) -> String {
            guard let field = fields[name] else { throw malformed("no member \(name)") }
            guard case .string(let value) = field else { throw malformed("\(name): \(field.kindDescription) instead of a string") }
            return value
        }
        func bytes(_ name: String) throws(CoordinatorError) -> Data {
            let encoded = try text(name)
            guard let value = Data(base64Encoded: encoded) else { throw malformed("\(name): \(encoded.count) characters that are not base64") }
            return value
        }
        return ActivationRequest(quote: try bytes("quote"), csr: try bytes("csr"), marbleType: try text("marbleType"), uuid: try text("uuid"))
    }

    private func refusal(_ error: CoordinatorError) -> Answer {
        let answer = JSendResponse.refusalAnswer(error)
        return Answer(status: HTTPResponseStatus(statusCode: answer.status.code), body: answer.body)
    }
}

/// Reads one request at a time (the HTTP pipeline holds back pipelined ones until the answer is written), collects
/// the body up to the limit, and answers on the connection's event loop once the Coordinator has decided.
final class ActivationHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoint: ActivationEndpoint
    private let tls: NIOSSLServerHandler
    private var date = HTTPDateHeader()
    private var request: (head: HTTPRequestHead, arrival: ContinuousClock.Instant)?
    /// The body so far; nil once it exceeded the limit.
    private var body: ByteBuffer? = ByteBuffer()

    init(endpoint: ActivationEndpoint, tls: NIOSSLServerHandler) {
        self.endpoint = endpoint
        self.tls = tls
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = (head, .now)
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            if let collected = body, collected.readableBytes + chunk.readableBytes > ActivationEndpoint.maximumBodySize {
                body = nil
            } else {
                body?.writeBuffer(&chunk)
            }
        case .end:
            guard let request else { return }
            self.request = nil
            answer(request.head, arrival: request.arrival, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, arrival: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let path = String(head.uri.prefix { $0 != "?" })
        let method = head.method.rawValue
        guard head.method == .POST, path == ActivationRequest.path else {
            write(endpoint.notAnEndpoint(method: method, path: path), for: head, arrival: arrival, label: "unmatched", context: context)
            return
        }
        let endpoint = endpoint
        let body = body
        let certificate = try? tls.peerCertificate?.toDERBytes()
        let answered = context.eventLoop.makePromise(of: ActivationEndpoint.Answer.self)
        answered.completeWithTask { await endpoint.activate(body: body, clientCertificateDER: certificate) }
        answered.futureResult.assumeIsolated().whenSuccess { answer in
            self.write(answer, for: head, arrival: arrival, label: path, context: context)
        }
    }

    private func write(
        _ answer: ActivationEndpoint.Answer, for request: HTTPRequestHead, arrival: ContinuousClock.Instant, label: String,
        context: ChannelHandlerContext
    ) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(answer.body.readableBytes)), ("Date", date.current()),
        ])
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: answer.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
        endpoint.metrics.recordRequest(
            server: "marble_api", method: request.method.rawValue, path: label, code: Int(answer.status.code), duration: .now - arrival)
    }
}
