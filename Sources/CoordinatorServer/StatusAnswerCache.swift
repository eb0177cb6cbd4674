import CoordinatorAPI
import Hummingbird
import NIOCore
import Synchronization

/// The last encoded `GET /status` answer, sent again while the status stays the same. Monitoring and load balancers
/// poll this endpoint, and encoding the same small object anew was the largest single cost of answering it
/// (scripts/benchmark-coordinator).
final class StatusAnswerCache: Sendable {
    private let last = Mutex<(status: StatusResponse, body: ByteBuffer)?>(nil)

    func response(for status: StatusResponse) -> Response {
        let body = last.withLock { cached in
            if let cached, cached.status == status { return cached.body }
            let body = JSendResponse.successBody(status)
            cached = (status, body)
            return body
        }
        return JSendResponse.success(encoded: body)
    }
}
