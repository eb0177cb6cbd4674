import CoordinatorAPI
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// A real HTTPS server on 127.0.0.1 that speaks the marble API's wire protocol (mutual TLS, any client certificate,
/// `POST /api/v2/activate`, JSend answers), for testing the launcher's client side on its own. It records what it
/// received and answers with a fixed envelope.
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
                        AnswerHandler(answer: Array(body), status: status, record: recorder))
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
    let status: HTTPResponseStatus
    let record: @Sendable (ActivationTestServer.Received) -> Void
    var body: [UInt8] = []

    init(answer: [UInt8], status: HTTPResponseStatus, record: @escaping @Sendable (ActivationTestServer.Received) -> Void) {
        self.answer = answer
        self.status = status
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            let peer = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
            let peerDER = (try? peer?.toDERBytes()) ?? []
            if let request = try? JSONDecoder().decode(ActivationRequest.self, from: Data(body)) {
                record(ActivationTestServer.Received(request: request, clientCertificateDER: peerDER))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(answer.count)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }
}
