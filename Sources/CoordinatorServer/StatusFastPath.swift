import CoordinatorAPI
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `GET /api/v2/status` on the connection's event loop, in front of the router: the same JSend body, status
/// and headers as the route, without the hops through the connection's task and the router that made up most of
/// the cost of this polled endpoint (scripts/benchmark-coordinator).
///
/// Only a plain keep-alive request takes this path: another method, a query, a `Connection` header other than
/// `keep-alive`, or any request that arrives while an earlier request on the connection still waits for its answer goes
/// to the router, so answers keep the order of the requests.
final class StatusFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let answers: StatusAnswerCache
    private let requests: RequestMetricRecorder
    private var date = HTTPDateHeader()
    private var routing = StatusRequestRouting()
    /// When the status request being read arrived.
    private var statusRequestArrival = ContinuousClock.now
    private var needsFlush = false

    init(answers: StatusAnswerCache, metrics: CoordinatorMetrics) {
        self.answers = answers
        requests = metrics.requestRecorder(server: "client_api", method: "GET", path: ClientAPIPath.status, code: 200)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch routing.inbound(part) {
        case .forward:
            context.fireChannelRead(data)
        case .swallow:
            if case .head = part { statusRequestArrival = .now }
        case .answerStatus:
            answerStatus(context: context, arrival: statusRequestArrival)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        routing.outbound(unwrapOutboundIn(data))
        context.write(data, promise: promise)
    }

    private func answerStatus(context: ChannelHandlerContext, arrival: ContinuousClock.Instant) {
        let body = answers.body()
        let head = HTTPResponse(
            status: .ok,
            headerFields: [.contentType: "application/json", .contentLength: String(body.readableBytes), .date: date.current()])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        needsFlush = true
        requests.record(duration: .now - arrival)
    }
}

/// Which request parts the fast path answers itself and which go on to the router: the fast path's logic, kept apart
/// from the channel so that every transition is tested without a connection.
struct StatusRequestRouting {
    enum Decision: Equatable {
        /// The part belongs to a request for the router.
        case forward
        /// The part belongs to a status request the fast path answers at its end.
        case swallow
        /// The status request is complete: answer it now.
        case answerStatus
    }

    /// Requests passed to the router whose answers have not been written completely.
    private(set) var unansweredRequests = 0
    private(set) var readingStatusRequest = false

    static func takesFastPath(_ request: HTTPRequest) -> Bool {
        guard request.method == .get, request.path == ClientAPIPath.status else { return false }
        guard let connection = request.headerFields[.connection] else { return true }
        return connection.lowercased() == "keep-alive"
    }

    mutating func inbound(_ part: HTTPRequestPart) -> Decision {
        switch part {
        case .head(let request):
            if unansweredRequests == 0, Self.takesFastPath(request) {
                readingStatusRequest = true
                return .swallow
            }
            unansweredRequests += 1
            return .forward
        case .body:
            return readingStatusRequest ? .swallow : .forward
        case .end:
            guard readingStatusRequest else { return .forward }
            readingStatusRequest = false
            return .answerStatus
        }
    }

    /// The router's answers pass through on their way out; the end of one frees the fast path for the next request.
    mutating func outbound(_ part: HTTPResponsePart) {
        if case .end = part { unansweredRequests = max(unansweredRequests - 1, 0) }
    }
}

/// The value of the `Date` response header (RFC 9110 IMF-fixdate), formatted again only when the second changes.
struct HTTPDateHeader {
    private var second = -1
    private var text = ""

    mutating func current() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if now.tv_sec != second {
            second = now.tv_sec
            text = Self.format(secondsSinceEpoch: now.tv_sec)
        }
        return text
    }

    static func format(secondsSinceEpoch: Int) -> String {
        var time = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }
}
