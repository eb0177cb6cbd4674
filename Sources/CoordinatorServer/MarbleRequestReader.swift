import CoordinatorAPI
import NIOCore
import NIOHTTP1

/// How a marble API connection reads requests, one at a time: the route a request takes, when its body is complete,
/// when it is too large, and when the connection must close. Kept apart from the channel, which does the I/O, so that
/// every transition is tested without a connection.
struct MarbleRequestReader {
    /// The two requests the marble API answers.
    enum Route: Equatable {
        case activation
        case plan
    }

    enum Action: Equatable {
        /// Nothing to do yet.
        case none
        /// The request is complete: ask the Coordinator, then call ``answered()``.
        case answer(Route, HTTPRequestHead, body: ByteBuffer)
        /// The request is complete and names no endpoint.
        case notAnEndpoint(HTTPRequestHead)
        /// The body passed the limit: refuse it now; the rest of it is dropped.
        case refuseTooLarge(HTTPRequestHead)
        /// The rest of a refused body passed the drain limit: close now.
        case close
        /// The refused request ended: close once the refusal is written.
        case closeAfterRefusal
    }

    enum State: Equatable {
        case idle
        case reading(HTTPRequestHead, route: Route?, body: ByteBuffer)
        /// An oversized body was refused; the rest of it is dropped.
        case draining(dropped: Int)
        /// The Coordinator is deciding; the connection may be quiet meanwhile.
        case answering
    }

    let maximumBodySize: Int
    /// What is read and dropped after a refusal, so that the client sees the refusal rather than a reset.
    let drainLimit: Int
    private(set) var state = State.idle

    init(maximumBodySize: Int, drainLimit: Int) {
        self.maximumBodySize = maximumBodySize
        self.drainLimit = drainLimit
    }

    static func route(_ head: HTTPRequestHead) -> Route? {
        switch (head.method, head.uri.prefix { $0 != "?" }) {
        case (.POST, ActivationRequest.path[...]): .activation
        case (.POST, ActivationPlanRequest.path[...]): .plan
        default: nil
        }
    }

    mutating func read(_ part: HTTPServerRequestPart) -> Action {
        switch (part, state) {
        case (.head(let head), _):
            state = .reading(head, route: Self.route(head), body: ByteBuffer())
            return .none
        case (.body(var chunk), .reading(let head, let route?, var body)):
            // Without the state's reference the append below grows the buffer in place instead of copying it.
            state = .idle
            guard body.readableBytes + chunk.readableBytes <= maximumBodySize else {
                state = .draining(dropped: 0)
                return .refuseTooLarge(head)
            }
            body.writeBuffer(&chunk)
            state = .reading(head, route: route, body: body)
            return .none
        case (.body(let chunk), .draining(let dropped)):
            guard dropped + chunk.readableBytes <= drainLimit else { return .close }
            state = .draining(dropped: dropped + chunk.readableBytes)
            return .none
        case (.end, .reading(let head, let route, let body)):
            guard let route else {
                state = .idle
                return .notAnEndpoint(head)
            }
            state = .answering
            return .answer(route, head, body: body)
        case (.end, .draining):
            state = .idle
            return .closeAfterRefusal
        case (.body, _), (.end, _):
            return .none
        }
    }

    /// The answer to the request being decided was handed to the channel.
    mutating func answered() {
        if state == .answering { state = .idle }
    }

    /// An idle connection closes, unless the Coordinator is still deciding its request.
    var closesWhenIdle: Bool { state != .answering }
}
