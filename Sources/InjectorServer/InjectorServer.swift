import Hummingbird
import HummingbirdCore
import Injector
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The marble-injector's HTTPS server: `POST /mutate` answers AdmissionReviews, `GET /healthz` says it runs.
public struct InjectorServer: Service {
    public let injector: MarbleInjector
    public let coordinatorRoot: CoordinatorRootFile?
    public let certificate: WebhookCertificate
    public let host: String
    public let port: Int
    public let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    public init(
        injector: MarbleInjector, coordinatorRoot: CoordinatorRootFile?, certificate: WebhookCertificate, host: String, port: Int,
        logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.injector = injector
        self.coordinatorRoot = coordinatorRoot
        self.certificate = certificate
        self.host = host
        self.port = port
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.post("/mutate") { [injector, coordinatorRoot, logger] request, _ -> Response in
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: AdmissionReviewExchange.maximumRequestBytes)
            } catch is NIOTooManyBytesError {
                return Self.plainText(
                    .contentTooLarge,
                    "the admission review is larger than \(AdmissionReviewExchange.maximumRequestBytes) bytes; the API server never sends one this large\n"
                )
            }
            var current = injector
            if let coordinatorRoot { current.coordinatorRootPEM = coordinatorRoot.pem() }
            do {
                let answer = try AdmissionReviewExchange(injector: current).answer(Array(buffer: body))
                Self.log(answer, logger: logger)
                return Response(
                    status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.bytes)))
            } catch {
                logger.warning("Refused a malformed admission review", metadata: ["reason": "\(error)"])
                return Self.plainText(.badRequest, "\(error)\n")
            }
        }
        let application = Application(
            router: router,
            server: HTTPServerBuilder { [certificate] responder in
                WebhookTLSChannel(base: HTTP1Channel(responder: responder), certificate: certificate)
            },
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cloister-injector"),
            onServerRunning: { [logger, onListening] channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("marble-injector listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                await onListening(port)
            },
            logger: logger)
        try await application.run()
    }

    private static func log(_ answer: AdmissionReviewExchange.Answer, logger: Logger) {
        let pod = answer.request.pod?.metadata
        var metadata: Logger.Metadata = [
            "uid": "\(answer.request.uid)", "namespace": "\(answer.request.namespace ?? "")",
            "pod": "\(pod?.name ?? pod?.generateName ?? "")", "marbleType": "\(pod?.labels?[MarbleInjector.marbleTypeLabel] ?? "")",
        ]
        switch answer.decision {
        case .allowed(let patch, let warnings):
            metadata["operations"] = "\(patch.count)"
            logger.info("Admitted a marble pod", metadata: metadata)
            for warning in warnings { logger.warning("\(warning)", metadata: metadata) }
        case .denied(let reason):
            metadata["reason"] = "\(reason)"
            logger.notice("Denied a pod", metadata: metadata)
        }
    }

    private static func plainText(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Wraps each connection in TLS with the webhook's current certificate, reloaded when its files change.
struct WebhookTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let certificate: WebhookCertificate

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = certificate.context()
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
