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
import Synchronization

/// The marble API (HTTPS with mutual TLS): `POST /api/v2/activate`, on a plain NIO pipeline (TLS, HTTP/1.1,
/// ``ActivationHTTPHandler``). Every marble start opens a connection for this single request, which needs neither a
/// router nor a task and async streams per connection: the handler reads on the event loop and starts one task per
/// activation.
///
/// Graceful shutdown stops accepting connections and waits for those open to finish their answers; cancellation also
/// closes the connections still open. A connection that sends nothing for `idleTimeout` while no answer is pending
/// is closed, so a stalled client can hold neither a connection nor a shutdown.
struct MarbleAPIServer: Service {
    let activation: ActivationEndpoint
    let identity: TLSIdentityStore
    let address: ListenAddress
    let idleTimeout: TimeAmount
    let onListening: @Sendable (any Channel) async -> Void

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiescing = ServerQuiescingHelper(group: group)
        let connections = OpenConnections()
        let identity = identity
        let activation = activation
        let idleTimeout = idleTimeout
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            // At IPPROTO_TCP: `.socketOption(.tcp_nodelay)` would set option 1 at SOL_SOCKET, which is SO_DEBUG, refused
            // to a process without CAP_NET_ADMIN (a non-root container), so that every marble connection was closed.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    let tls = NIOSSLServerHandler(
                        context: identity.loaded.marbleAPI,
                        // Any certificate: the quote binds it, not a chain.
                        customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) })
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        ActivationHTTPHandler(endpoint: activation, peerCertificate: { try? tls.peerCertificate?.toDERBytes() }))
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
                connections.closeAll()
            }
        } onGracefulShutdown: {
            stop()
        }
    }
}

/// The marble API's open connections, so that cancellation can close them.
final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = channels.withLock { $0.removeValue(forKey: id) } }
    }

    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
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

    struct Answer: Sendable {
        let status: HTTPResponseStatus
        let body: ByteBuffer
        /// The `Allow` header of a 405: the methods the path has.
        var allow: String? = nil
    }

    /// The answer to `POST /api/v2/activation-plan`: the file paths an activation of the type will write.
    func plan(body: ByteBuffer) async -> Answer {
        let request: ActivationPlanRequest
        do {
            request = try ActivationPlanRequest(strictJSON: Array(body.readableBytesView))
        } catch {
            return refusal(
                CoordinatorError(
                    .badRequest, .malformedRequest, found: error.found, expected: error.expected,
                    hint: "send the marble type the launcher is about to activate"))
        }
        do {
            return Answer(status: .ok, body: JSendResponse.successBody(try await coordinator.activationPlan(marbleType: request.marbleType)))
        } catch {
            return refusal(error)
        }
    }

    /// The answer to anything but `POST /api/v2/activate` and `POST /api/v2/activation-plan`.
    func notAnEndpoint(method: String, path: String) -> Answer {
        Answer(
            status: .methodNotAllowed, body: JSendResponse.errorBody(JSendResponse.notAnEndpointMessage(method: method, path: path)),
            allow: OpenAPIDocument.allowHeader(for: path))
    }

    func bodyTooLarge() -> Answer {
        refusal(RequestBody.tooLarge(limit: Self.maximumBodySize, shape: ActivationRequest.shape, path: ActivationRequest.path))
    }

    func activate(body: ByteBuffer, clientCertificateDER: [UInt8]?) async -> Answer {
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

    static func decodeRequest(_ body: ByteBuffer) throws(CoordinatorError) -> ActivationRequest {
        do {
            return try ActivationRequest(strictJSON: Array(body.readableBytesView))
        } catch {
            throw CoordinatorError(
                .badRequest, .malformedRequest, found: error.found, expected: error.expected,
                hint: "byte fields are base64 (standard alphabet, with padding), as Go's encoding/json writes them")
        }
    }

    private func refusal(_ error: CoordinatorError) -> Answer {
        let answer = JSendResponse.refusalAnswer(error)
        return Answer(status: HTTPResponseStatus(statusCode: answer.status.code), body: answer.body)
    }
}

/// Reads one request at a time (the HTTP pipeline holds back pipelined ones until the answer is written), collects
/// the body of an activation up to the limit, and answers on the connection's event loop once the Coordinator has
/// decided. A body over the limit is refused as soon as it passes the limit; the rest of it is read and dropped (up to
/// ``drainLimit``, so that the client sees the answer rather than a reset) and the connection closes.
final class ActivationHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let drainLimit = 1 << 20

    private let endpoint: ActivationEndpoint
    /// The client certificate (DER) of the connection, read when an activation arrives.
    private let peerCertificate: () -> [UInt8]?
    private var date = HTTPDateHeader()
    private var reader = MarbleRequestReader(maximumBodySize: ActivationEndpoint.maximumBodySize, drainLimit: drainLimit)
    private var arrival = ContinuousClock.now
    private var refusalWritten: EventLoopFuture<Void>?

    init(endpoint: ActivationEndpoint, peerCertificate: @escaping () -> [UInt8]?) {
        self.endpoint = endpoint
        self.peerCertificate = peerCertificate
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head = part { arrival = .now }
        switch reader.read(part) {
        case .none:
            break
        case .answer(let route, let head, let body):
            answer(route, head, body: body, context: context)
        case .notAnEndpoint(let head):
            let path = String(head.uri.prefix { $0 != "?" })
            write(endpoint.notAnEndpoint(method: head.method.rawValue, path: path), for: head, context: context)
        case .refuseTooLarge(let head):
            refusalWritten = write(endpoint.bodyTooLarge(), for: head, closing: true, context: context)
        case .close:
            context.close(promise: nil)
        case .closeAfterRefusal:
            (refusalWritten ?? context.eventLoop.makeSucceededVoidFuture()).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            refusalWritten = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if reader.closesWhenIdle { context.close(promise: nil) }
    }

    private func answer(_ route: MarbleRequestReader.Route, _ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let endpoint = endpoint
        let answered = context.eventLoop.makePromise(of: ActivationEndpoint.Answer.self)
        switch route {
        case .activation:
            let certificate = peerCertificate()
            answered.completeWithTask { await endpoint.activate(body: body, clientCertificateDER: certificate) }
        case .plan:
            answered.completeWithTask { await endpoint.plan(body: body) }
        }
        answered.futureResult.assumeIsolated().whenSuccess { answer in
            self.reader.answered()
            self.write(answer, for: head, context: context)
        }
    }

    /// Writes `answer`; unless `closing` (the caller closes later), a request that did not ask to keep the connection
    /// closes it once the answer is out.
    @discardableResult
    private func write(
        _ answer: ActivationEndpoint.Answer, for request: HTTPRequestHead, closing: Bool = false, context: ChannelHandlerContext
    ) -> EventLoopFuture<Void> {
        let path = String(request.uri.prefix { $0 != "?" })
        endpoint.metrics.recordRequest(
            server: "marble_api", method: request.method.rawValue, path: RequestMetricsMiddleware.label(for: path),
            code: Int(answer.status.code), duration: .now - arrival)
        guard context.channel.isActive else { return context.eventLoop.makeSucceededVoidFuture() }
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(answer.body.readableBytes)), ("Date", date.current()),
        ])
        if closing || !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        if let allow = answer.allow { headers.add(name: "Allow", value: allow) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: answer.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !closing && !request.isKeepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
        return written
    }
}
