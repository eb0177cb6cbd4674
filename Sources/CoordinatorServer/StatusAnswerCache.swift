import Coordinator
import CoordinatorAPI
import Hummingbird
import NIOCore
import Synchronization

/// The encoded `GET /status` answer of the Coordinator's current status, encoded again only when the status changes.
/// Monitoring and load balancers poll this endpoint, and encoding the same small object anew was the largest single
/// cost of answering it (scripts/benchmark-coordinator).
final class StatusAnswerCache: Sendable {
    private let coordinator: Coordinator
    private let metrics: CoordinatorMetrics
    private let last = Mutex<(status: CoordinatorStatus, body: ByteBuffer)?>(nil)

    init(coordinator: Coordinator, metrics: CoordinatorMetrics) {
        self.coordinator = coordinator
        self.metrics = metrics
    }

    /// The JSend body of the current status.
    func body() -> ByteBuffer {
        let status = coordinator.status()
        metrics.record(state: status.state)
        return last.withLock { cached in
            if let cached, cached.status == status { return cached.body }
            let body = JSendResponse.successBody(
                StatusResponse(code: status.code, message: status.message, version: CloisterRelease.version))
            cached = (status, body)
            return body
        }
    }

    func response() -> Response {
        JSendResponse.success(encoded: body())
    }
}
