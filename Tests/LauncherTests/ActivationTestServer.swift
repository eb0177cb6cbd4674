import CoordinatorAPI
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// A real HTTPS server on 127.0.0.1 that speaks the marble API's wire protocol (mutual TLS, any client certificate,
/// `POST /api/v2/activation-plan` then `POST /api/v2/activate` on one connection, JSend answers), for testing the
/// launcher's client side on its own. It records what it received and answers an activation with a fixed envelope,
/// and a plan with that envelope's file paths.
final class ActivationTestServer: Sendable {
    struct Received: Sendable {
        let request: ActivationRequest
        let clientCertificateDER: [UInt8]
    }

    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let log = RequestLog()

    var requests: [Received] { log.entries.withLock { $0 } }

    init(authority: TestAuthority, answer: JSend<ActivationResponse>, status: HTTPResponseStatus = .ok) async throws {
        let (leaf, leafKey) = try authority.issueServerLeaf()
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: try leaf.derBytes, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(leafKey.derRepresentation), format: .der)))
        tls.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: tls)
        let body = try JSONEncoder().encode(answer)
        let plan = try JSONEncoder().encode(
            JSend<ActivationPlan>.success(ActivationPlan(files: answer.data?.files.keys.sorted() ?? [])))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let log = log
        let recorder: @Sendable (Received) -> Void = { entry in log.entries.withLock { $0.append(entry) } }
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let tlsHandler = NIOSSLServerHandler(context: context) { _, promise in promise.succeed(.certificateVerified) }
                    try child.pipeline.syncOperations.addHandler(tlsHandler)
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(
                        AnswerHandler(answer: Array(body), plan: Array(plan), status: status, record: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.group = group
        port = channel.localAddress?.port ?? 0
    }

    func shutdown() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

private final class RequestLog: Sendable {
    let entries = Mutex<[ActivationTestServer.Received]>([])
}

private final class AnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let answer: [UInt8]
    let plan: [UInt8]
    let status: HTTPResponseStatus
    let record: @Sendable (ActivationTestServer.Received) -> Void
    var body: [UInt8] = []
    var isPlan = false

    init(
        answer: [UInt8], plan: [UInt8], status: HTTPResponseStatus,
        record: @escaping @Sendable (ActivationTestServer.Received) -> Void
    ) {
        self.answer = answer
        self.plan = plan
        self.status = status
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            body = []
            isPlan = head.uri == ActivationPlanRequest.path
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            let peer = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
            let peerDER = (try? peer?.toDERBytes()) ?? []
            if let request = try? JSONDecoder().decode(ActivationRequest.self, from: Data(body)) {
                record(ActivationTestServer.Received(request: request, clientCertificateDER: peerDER))
            }
            let reply = isPlan && status == .ok ? plan : answer
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(reply.count)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply)))), promise: nil)
            let sent = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !isPlan { sent.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
        }
    }
}
