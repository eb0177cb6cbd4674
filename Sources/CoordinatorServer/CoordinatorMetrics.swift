import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import Metrics
import Prometheus
import Synchronization

/// The Coordinator's metrics, with MarbleRun's names (`coordinator/core/metrics.go`, `coordinator/server/metrics.go`),
/// kept in a registry of their own (no global metrics system) and served in the Prometheus text format at `/metrics`.
public final class CoordinatorMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let state: Metrics.Gauge
    /// The request counter and timer of each label set, made once: making them anew through the factory on every
    /// request (name and label checks, registry lookups under its lock) cost about 5% of the CPU of a `GET /status`.
    /// The label sets are bounded (see ``RequestMetricsMiddleware``).
    private let requestRecorders = Mutex<[RequestLabels: RequestMetricRecorder]>([:])

    private struct RequestLabels: Hashable {
        let server: String
        let method: String
        let path: String
        let code: Int
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), version: String) {
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        state = Metrics.Gauge(label: "coordinator_state", factory: factory)
        Metrics.Gauge(label: "coordinator_version_info", dimensions: [("version", version), ("commit", "")], factory: factory).record(1)
    }

    /// Records the Coordinator's state code (0 uninitialized, 1 recovery, 2 accepting manifest, 3 accepting marbles).
    func record(state: CoordinatorState) {
        self.state.record(state.rawValue)
    }

    /// Counts an activation attempt of `marbleType` and, when it succeeded, a success. Types that are not in the
    /// manifest are counted as `unknown` so that a client cannot create unbounded label values.
    func recordActivation(marbleType: String, known: Bool, succeeded: Bool) {
        let dimensions = [("type", known ? marbleType : "unknown")]
        Metrics.Counter(label: "coordinator_marble_activations_total", dimensions: dimensions, factory: factory).increment()
        if succeeded {
            Metrics.Counter(label: "coordinator_marble_activations_success_total", dimensions: dimensions, factory: factory).increment()
        }
    }

    /// Counts a request of `server` (`client_api` or `marble_api`) and its duration.
    func recordRequest(server: String, method: String, path: String, code: Int, duration: Duration) {
        requestRecorder(server: server, method: method, path: path, code: code).record(duration: duration)
    }

    /// The counter and timer of one kind of request, for a caller that records many of them.
    func requestRecorder(server: String, method: String, path: String, code: Int) -> RequestMetricRecorder {
        let labels = RequestLabels(server: server, method: method, path: path, code: code)
        return requestRecorders.withLock { made in
            if let recorder = made[labels] { return recorder }
            let recorder = RequestMetricRecorder(
                counter: Metrics.Counter(
                    label: "server_\(server)_http_request_total", dimensions: [("code", "\(code)"), ("method", method), ("path", path)],
                    factory: factory),
                timer: Metrics.Timer(
                    label: "server_\(server)_http_request_duration_histogram_seconds", dimensions: [("method", method), ("path", path)],
                    factory: factory))
            made[labels] = recorder
            return recorder
        }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// Counts and times requests with one set of labels.
struct RequestMetricRecorder: Sendable {
    let counter: Metrics.Counter
    let timer: Metrics.Timer

    func record(duration: Duration) {
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Counts and times every request of a server, labelled with its endpoint, or `unmatched` so that clients cannot
/// create unbounded label values.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = CoordinatorRequestContext
    let metrics: CoordinatorMetrics
    let server: String

    /// Every documented path: the endpoints of both APIs.
    static let endpoints = Set(OpenAPIDocument.methodsByPath.keys)

    static func label(for path: String) -> String {
        endpoints.contains(path) ? path : "unmatched"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(
            server: server, method: request.method.rawValue, path: Self.label(for: request.uri.path),
            code: response.status.code, duration: ContinuousClock.now - start)
        return response
    }
}

/// Turns what Hummingbird throws (no route, wrong method, body too large) into JSend answers; MarbleRun answers
/// unknown paths and methods with 405 and a JSend error.
struct JSendErrorMiddleware: RouterMiddleware {
    typealias Context = CoordinatorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as CoordinatorError {
            return JSendResponse.refusal(error)
        } catch let error as HTTPError {
            if error.status == .notFound {
                var response = JSendResponse.error(
                    JSendResponse.notAnEndpointMessage(method: request.method.rawValue, path: request.uri.path), status: .methodNotAllowed)
                response.headers[.allow] = OpenAPIDocument.allowHeader(for: request.uri.path)
                return response
            }
            return JSendResponse.error(error.body ?? "\(error.status.reasonPhrase)", status: error.status)
        }
    }
}
