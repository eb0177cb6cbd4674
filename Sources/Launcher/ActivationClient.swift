import CoordinatorAPI
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// Posts an activation to the Coordinator's marble API over mutual TLS.
///
/// The client certificate is the marble's self-signed certificate (the quote binds its SHA-256). The Coordinator's
/// chain must lead to one of the configured roots under RFC 5280 rules; unlike MarbleRun's premain, which skips
/// this check, the launcher never sends its quote and CSR to, or takes secrets from, an unverified server. The host
/// name is not matched against the certificate: the root pins the deployment, and Coordinators are reached under
/// many names (service names, addresses).
public struct ActivationClient: Sendable {
    public var coordinator: CoordinatorAddress
    public var roots: [Certificate]
    /// Time allowed for connecting, and separately for the whole exchange (the Coordinator may verify collateral).
    public var connectTimeout: TimeAmount
    public var exchangeTimeout: TimeAmount
    /// The event loops to connect on. Nil gives each exchange a one-thread group of its own, which a launcher that
    /// activates once needs; a caller making many activations passes a shared group instead of a thread per exchange.
    public var eventLoopGroup: (any EventLoopGroup)?
    static let maximumResponseSize = 64 << 20

    public init(
        coordinator: CoordinatorAddress, roots: [Certificate], connectTimeout: TimeAmount = .seconds(10),
        exchangeTimeout: TimeAmount = .seconds(60), eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        self.coordinator = coordinator
        self.roots = roots
        self.connectTimeout = connectTimeout
        self.exchangeTimeout = exchangeTimeout
        self.eventLoopGroup = eventLoopGroup
    }

    /// Activates the marble. With `checkingPlan`, first asks on the same connection which files the activation will
    /// write and lets the caller check them; the activation is requested only when the check passes, so a launch that
    /// could not write its files does not use up one of the marble type's activations.
    public func activate(
        _ request: ActivationRequest, key: MarbleKey,
        checkingPlan: ((ActivationPlan) throws(LauncherError) -> Void)? = nil
    ) async throws(LauncherError) -> ActivationResponse {
        let body = try Self.encode(request)
        let connection = try await connect(key: key)
        defer { connection.close() }
        if let checkingPlan {
            let planBody = try Self.encode(ActivationPlanRequest(marbleType: request.marbleType))
            let (status, answer) = try await roundTrip(connection, path: ActivationPlanRequest.path, body: planBody, keepAlive: true)
            try checkingPlan(
                try Self.decode(ActivationPlan.self, status: status, body: answer, path: ActivationPlanRequest.path, coordinator: coordinator))
        }
        let (status, answer) = try await roundTrip(connection, path: ActivationRequest.path, body: body, keepAlive: false)
        return try Self.decode(status: status, body: answer, coordinator: coordinator)
    }

    private static func encode(_ value: some Encodable) throws(LauncherError) -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw LauncherError(
                .activation, "request", found: "\(error)", expected: "an encodable request", hint: "report this bug")
        }
    }

    static func decode(
        status: HTTPResponseStatus, body: [UInt8], coordinator: CoordinatorAddress
    ) throws(LauncherError)
        -> ActivationResponse
    {
        try decode(ActivationResponse.self, status: status, body: body, path: ActivationRequest.path, coordinator: coordinator)
    }

    static func decode<Payload: Codable & Sendable>(
        _ type: Payload.Type, status: HTTPResponseStatus, body: [UInt8], path: String, coordinator: CoordinatorAddress
    ) throws(LauncherError) -> Payload {
        let subject = "POST https://\(coordinator)\(path)"
        // A refusal carries details of its own shape in `data`, so the status is read before the payload.
        guard let envelope = try? JSONDecoder().decode(EnvelopeStatus.self, from: Data(body)) else {
            throw LauncherError(
                .activation, subject,
                found: "HTTP \(status.code) with a body that is not a JSend answer: "
                    + String(decoding: body.prefix(200), as: UTF8.self).quotedForError(),
                expected: "a JSend envelope from a Cloister Coordinator",
                hint: "check that \(LauncherSettings.Variable.coordinatorAddress[0]) points at the marble API (default port 2001)")
        }
        guard envelope.status == .success else {
            throw LauncherError(
                .activation, subject,
                found: "a refusal (HTTP \(status.code), \(envelope.status.rawValue)): \(envelope.message ?? "no message")",
                expected: "the marble to be activated",
                hint: "the Coordinator's message says what to change")
        }
        guard status.code == 200, let payload = try? JSONDecoder().decode(JSend<Payload>.self, from: Data(body)).data else {
            throw LauncherError(
                .activation, subject, found: "HTTP \(status.code), status success without a readable answer",
                expected: "HTTP 200 with \(Payload.self == ActivationPlan.self ? "the activation's file paths" : "the marble's files, env and argv")",
                hint: "check that the Coordinator's version matches the launcher's")
        }
        return payload
    }

    private struct EnvelopeStatus: Decodable {
        let status: JSend<NoPayload>.Status
        let message: String?
    }

    /// An open mutual-TLS connection to the marble API, with the group it runs on when the client made its own.
    private struct Connection: Sendable {
        let channel: any Channel
        let exchange: NIOLoopBound<ActivationExchangeHandler>
        let verification: ChainVerification
        let ownGroup: MultiThreadedEventLoopGroup?

        func close() {
            channel.close(promise: nil)
            ownGroup?.shutdownGracefully { _ in }
        }
    }

    private func connect(key: MarbleKey) async throws(LauncherError) -> Connection {
        let context = try tlsContext(key: key)
        let verification = ChainVerification(roots: roots)
        let group: any EventLoopGroup
        var ownGroup: MultiThreadedEventLoopGroup?
        if let eventLoopGroup {
            group = eventLoopGroup
        } else {
            let own = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            ownGroup = own
            group = own
        }
        let serverName = MarbleNames.ipAddressBytes(coordinator.host) == nil ? coordinator.host : nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(
                        context: context, serverHostname: serverName,
                        customVerificationCallback: verification.callback(eventLoop: channel.eventLoop))
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ActivationExchangeHandler())
                }
            }
        do {
            let channel = try await bootstrap.connect(host: coordinator.host, port: coordinator.port).get()
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ActivationExchangeHandler.self), eventLoop: channel.eventLoop)
            }.get()
            return Connection(channel: channel, exchange: handler, verification: verification, ownGroup: ownGroup)
        } catch {
            ownGroup?.shutdownGracefully { _ in }
            throw LauncherError(
                .connection, coordinator.description, found: "\(error)", expected: "the Coordinator's marble API listening",
                hint: "start the Coordinator (and set its manifest), or fix \(LauncherSettings.Variable.coordinatorAddress[0])")
        }
    }

    /// Sends one request on `connection` and waits for its whole answer.
    private func roundTrip(
        _ connection: Connection, path: String, body: Data, keepAlive: Bool
    ) async throws(LauncherError) -> (HTTPResponseStatus, [UInt8]) {
        let channel = connection.channel
        let responsePromise = channel.eventLoop.makePromise(of: (HTTPResponseStatus, [UInt8]).self)
        let head = requestHead(path: path, contentLength: body.count, keepAlive: keepAlive)
        let exchange = connection.exchange
        channel.eventLoop.execute {
            exchange.value.send(head: head, body: body, response: responsePromise)
        }
        let timeout = channel.eventLoop.scheduleTask(in: exchangeTimeout) {
            responsePromise.fail(ActivationTimeout())
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        do {
            return try await responsePromise.futureResult.get()
        } catch {
            if let reason = connection.verification.failure {
                throw LauncherError(
                    .coordinatorCertificate, coordinator.description, found: reason,
                    expected: "a chain to the configured root (\(roots.map { "\($0.subject)" }.joined(separator: "; ")))",
                    hint: "this is not the Coordinator of this deployment, or \(LauncherSettings.Variable.coordinatorRoot) "
                        + "holds another deployment's root; the quote and CSR were not sent")
            }
            if error is ActivationTimeout {
                throw LauncherError(
                    .connection, coordinator.description, found: "no answer within \(exchangeTimeout.nanoseconds / 1_000_000_000) s",
                    expected: "an activation answer", hint: "check the Coordinator's log and its collateral source")
            }
            throw LauncherError(
                .connection, coordinator.description, found: "\(error)", expected: "a mutual-TLS exchange with the Coordinator",
                hint: "check that the address is the Coordinator's marble API (default port 2001) and that it runs")
        }
    }

    private func requestHead(path: String, contentLength: Int, keepAlive: Bool) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: coordinator.description)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Accept", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(contentLength)")
        head.headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        return head
    }

    private func tlsContext(key: MarbleKey) throws(LauncherError) -> NIOSSLContext {
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            configuration.certificateVerification = .noHostnameVerification
            // ChainVerification makes the real check; without trust roots of its own, NIOSSL would load and parse the
            // whole system CA bundle for every context (a third of an activation's client CPU time).
            configuration.trustRoots = .certificates(try roots.map(Self.nioCertificate))
            configuration.certificateChain = [.certificate(try NIOSSLCertificate(bytes: key.certificateDER, format: .der))]
            configuration.privateKey = .privateKey(
                try NIOSSLPrivateKey(bytes: Array(key.privateKey.derRepresentation), format: .der))
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw LauncherError(
                .connection, "TLS client configuration", found: "\(error)", expected: "a usable client key and certificate",
                hint: "report this bug")
        }
    }

    private static func nioCertificate(_ certificate: Certificate) throws -> NIOSSLCertificate {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
    }
}

struct ActivationTimeout: Error {}

/// Verifies the Coordinator's presented chain against the configured roots with swift-certificates, and keeps the
/// reason of a failure, which the TLS layer would otherwise reduce to "certificate verify failed".
final class ChainVerification: Sendable {
    let roots: [Certificate]
    private let recordedFailure = Mutex<String?>(nil)

    init(roots: [Certificate]) {
        self.roots = roots
    }

    var failure: String? { recordedFailure.withLock { $0 } }

    func callback(eventLoop: any EventLoop) -> NIOSSLCustomVerificationCallback {
        { [self] presented, promise in
            let chain: [Certificate]
            do {
                chain = try presented.map { try Certificate(derEncoded: try $0.toDERBytes()) }
            } catch {
                record("the presented certificates do not parse (\(error))")
                promise.succeed(.failed)
                return
            }
            guard let leaf = chain.first else {
                record("no certificate presented")
                promise.succeed(.failed)
                return
            }
            Task {
                let outcome = await self.verify(leaf: leaf, intermediates: Array(chain.dropFirst()))
                promise.succeed(outcome)
            }
        }
    }

    private func verify(leaf: Certificate, intermediates: [Certificate]) async -> NIOSSLVerificationResult {
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        switch result {
        case .validCertificate:
            return .certificateVerified
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }
            record(
                "leaf '\(leaf.subject)' issued by '\(leaf.issuer)' does not chain to the configured root"
                    + (reasons.isEmpty ? "" : " (\(reasons.prefix(2).joined(separator: "; ")))"))
            return .failed
        }
    }

    private func record(_ reason: String) {
        recordedFailure.withLock { $0 = reason }
    }
}

/// Sends each request it is given and collects its whole response; one request is outstanding at a time.
final class ActivationExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var context: ChannelHandlerContext?
    private var response: EventLoopPromise<(HTTPResponseStatus, [UInt8])>?
    private var status: HTTPResponseStatus?
    private var received: [UInt8] = []

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func send(head: HTTPRequestHead, body: Data, response: EventLoopPromise<(HTTPResponseStatus, [UInt8])>) {
        guard let context, context.channel.isActive else {
            response.fail(ConnectionClosedEarly())
            return
        }
        self.response = response
        status = nil
        received = []
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            status = responseHead.status
        case .body(var buffer):
            received += buffer.readBytes(length: buffer.readableBytes) ?? []
            if received.count > ActivationClient.maximumResponseSize {
                response?.fail(ResponseTooLarge(size: received.count))
                response = nil
                context.close(promise: nil)
            }
        case .end:
            response?.succeed((status ?? .internalServerError, received))
            response = nil
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        response?.fail(error)
        response = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        response?.fail(ConnectionClosedEarly())
        response = nil
        context.fireChannelInactive()
    }
}

struct ResponseTooLarge: Error, CustomStringConvertible {
    let size: Int
    var description: String { "the answer exceeded \(ActivationClient.maximumResponseSize) bytes" }
}

struct ConnectionClosedEarly: Error, CustomStringConvertible {
    var description: String { "the Coordinator closed the connection before answering" }
}
