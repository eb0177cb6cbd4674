import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the stub saw it.
struct StubRequest: Sendable {
    let method: HTTPMethod
    let uri: String
    let headers: HTTPHeaders
    let body: [UInt8]
}

struct StubResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)] = []
    var body: [UInt8] = []
}

/// A tiny HTTP/1.1 server on a loopback port that answers every request with `handler`. Used only where a real
/// component cannot produce the behaviour under test (a registry failing mid-upload, a token service).
final class StubHTTPServer: Sendable {
    private let channel: any Channel
    let port: Int

    init(handler: @escaping @Sendable (StubRequest) -> StubResponse) async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StubHandler(handler: handler))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func stop() async throws {
        try await channel.close()
    }
}

private final class StubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let handler: @Sendable (StubRequest) -> StubResponse
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(handler: @escaping @Sendable (StubRequest) -> StubResponse) {
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            let response = handler(StubRequest(method: head.method, uri: head.uri, headers: head.headers, body: body))
            var headers = HTTPHeaders(response.headers)
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// Runs `body` with a stub server and closes the server afterwards, also when `body` throws.
func withStubHTTPServer<Result>(
    handler: @escaping @Sendable (StubRequest) -> StubResponse, _ body: (StubHTTPServer) async throws -> Result
) async throws -> Result {
    let server = try await StubHTTPServer(handler: handler)
    do {
        let result = try await body(server)
        try await server.stop()
        return result
    } catch {
        try? await server.stop()
        throw error
    }
}
