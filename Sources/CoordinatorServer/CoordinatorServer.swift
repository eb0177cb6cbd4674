import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// Where a server listens: a host (an address or a name; empty for every interface) and a port (0 picks a free one).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses Go's `host:port` forms (`:4433`, `127.0.0.1:4433`, `[::1]:4433`, `localhost:4433`).
    public static func parse(_ text: String, setting: String) throws(ListenAddressError) -> ListenAddress {
        guard let colon = text.lastIndex(of: ":") else {
            throw ListenAddressError(setting: setting, value: text, problem: "it has no port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ListenAddressError(setting: setting, value: text, problem: "the port is not a number from 0 to 65535")
        }
        return ListenAddress(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }
}

/// A listen address that does not parse.
public struct ListenAddressError: Error, Sendable, CustomStringConvertible {
    public let setting: String
    public let value: String
    public let problem: String

    public var description: String {
        "\(setting) '\(value)' is not a listen address: \(problem); expected HOST:PORT, e.g. ':4433', '127.0.0.1:4433' or '[::1]:4433'"
    }
}

/// Which of the Coordinator's servers a listening notice is about.
public enum CoordinatorEndpoint: String, Sendable, Hashable, CaseIterable {
    /// The client API (HTTPS, client certificates optional).
    case clientAPI = "client API"
    /// The marble API (HTTPS, client certificate required).
    case marbleAPI = "marble API"
    /// The plain-HTTP `/metrics`, `/healthz` and `/readyz` listener.
    case metrics = "metrics"
}

/// Settings of the Coordinator's servers.
public struct CoordinatorServerConfiguration: Sendable {
    public var clientAPI: ListenAddress
    public var marbleAPI: ListenAddress
    /// An optional plain-HTTP listener for Prometheus and probes (MarbleRun's `EDG_COORDINATOR_PROMETHEUS_ADDR`).
    public var metrics: ListenAddress?
    /// How long a marble API connection may send nothing while no answer is pending before it is closed.
    public var marbleIdleTimeout: Duration
    public var logger: Logger
    /// Called once per server when it listens, with the bound port (useful with port 0).
    public var onListening: @Sendable (CoordinatorEndpoint, Int) async -> Void

    public init(
        clientAPI: ListenAddress = ListenAddress(host: "0.0.0.0", port: ClientAPIPath.defaultPort),
        marbleAPI: ListenAddress = ListenAddress(host: "0.0.0.0", port: ActivationRequest.defaultPort),
        metrics: ListenAddress? = nil,
        marbleIdleTimeout: Duration = .seconds(60),
        logger: Logger = Logger(label: "cloister.coordinator.server"),
        onListening: @escaping @Sendable (CoordinatorEndpoint, Int) async -> Void = { _, _ in }
    ) {
        self.clientAPI = clientAPI
        self.marbleAPI = marbleAPI
        self.metrics = metrics
        self.marbleIdleTimeout = marbleIdleTimeout
        self.logger = logger
        self.onListening = onListening
    }
}

/// The Coordinator's network face: the client API and the marble API over TLS with the Coordinator's own certificate,
/// plus the optional metrics listener. Run it as a `Service` (in a `ServiceGroup` that turns SIGTERM and SIGINT into
/// a graceful shutdown); it stops when its task is cancelled or a graceful shutdown is requested.
public struct CoordinatorServer: Service {
    public let coordinator: Coordinator
    public let metrics: CoordinatorMetrics
    let configuration: CoordinatorServerConfiguration
    let identity: TLSIdentityStore

    /// Loads the Coordinator's TLS identity; the servers start listening when ``run()`` is called.
    public static func make(
        coordinator: Coordinator, configuration: CoordinatorServerConfiguration, metrics: CoordinatorMetrics
    )
        async throws -> CoordinatorServer
    {
        let identity = try TLSIdentityStore(try await coordinator.tlsIdentity())
        metrics.record(state: await coordinator.state)
        return CoordinatorServer(coordinator: coordinator, metrics: metrics, configuration: configuration, identity: identity)
    }

    public func run() async throws {
        let logger = configuration.logger
        let statusAnswers = StatusAnswerCache(coordinator: coordinator, metrics: metrics)
        let clientRouter = Self.router(metrics: metrics, server: "client_api")
        ClientAPIRoutes(coordinator: coordinator, identity: identity, metrics: metrics, logger: logger, statusAnswers: statusAnswers)
            .add(to: clientRouter)
        var applications: [any Service] = [
            Application(
                router: clientRouter,
                server: clientAPIServer(
                    HTTP1Channel.Configuration(additionalChannelHandlers: [StatusFastPath(answers: statusAnswers, metrics: metrics)])),
                configuration: ApplicationConfiguration(address: .hostname(configuration.clientAPI.host, port: configuration.clientAPI.port)),
                onServerRunning: announce(.clientAPI, logger: logger), logger: logger),
            MarbleAPIServer(
                activation: ActivationEndpoint(coordinator: coordinator, metrics: metrics, logger: logger), identity: identity,
                address: configuration.marbleAPI, idleTimeout: .nanoseconds(configuration.marbleIdleTimeout.nanoseconds),
                onListening: announce(.marbleAPI, logger: logger)),
        ]
        if let address = configuration.metrics {
            let metricsRouter = Self.router(metrics: metrics, server: "metrics")
            OperationalRoutes(coordinator: coordinator, metrics: metrics).add(to: metricsRouter)
            applications.append(
                Application(
                    router: metricsRouter, configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port)),
                    onServerRunning: announce(.metrics, logger: logger), logger: logger))
        }
        try await withThrowingDiscardingTaskGroup { group in
            for application in applications {
                group.addTask { try await application.run() }
            }
        }
    }

    private func clientAPIServer(_ configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        HTTPServerBuilder { [identity] responder in
            CoordinatorTLSChannel(base: HTTP1Channel(responder: responder, configuration: configuration), identity: identity)
        }
    }

    private func announce(_ endpoint: CoordinatorEndpoint, logger: Logger) -> @Sendable (any Channel) async -> Void {
        let onListening = configuration.onListening
        return { channel in
            let port = channel.localAddress?.port ?? 0
            logger.info(
                "Listening",
                metadata: ["server": "\(endpoint.rawValue)", "port": "\(port)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            await onListening(endpoint, port)
        }
    }

    private static func router(metrics: CoordinatorMetrics, server: String) -> Router<CoordinatorRequestContext> {
        let router = Router(context: CoordinatorRequestContext.self)
        router.middlewares.add(RequestMetricsMiddleware(metrics: metrics, server: server))
        router.middlewares.add(JSendErrorMiddleware())
        return router
    }
}
