import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import NIOCore
import StrictJSON

/// Builds the JSend answers of the Coordinator's servers, encoded as MarbleRun's handlers write them
/// (`coordinator/server/handler`): success and fail carry `data` (`null` when there is none), error carries only
/// `message`.
enum JSendResponse {
    static func success<Payload: Encodable>(_ payload: Payload?) -> Response {
        respond(.ok, bytes: successBody(payload))
    }

    /// The encoded success envelope, for an answer that is kept and sent again (see ``StatusAnswerCache``).
    static func successBody<Payload: Encodable>(_ payload: Payload?) -> ByteBuffer {
        encode(Envelope(status: "success", data: Optional(payload), includesData: true, message: nil))
    }

    /// The success envelope of an activation, written directly rather than through `JSONEncoder`: an activation's
    /// answer is mostly certificates, keys and files as base64, and the generic encoder was a measurable part of each
    /// activation's cost (scripts/benchmark-coordinator). Keys are sorted as the encoder sorts them.
    static func activationBody(_ response: ActivationResponse) -> ByteBuffer {
        var body = ByteBuffer()
        body.reserveCapacity(response.files.values.reduce(1024) { $0 + $1.count * 4 / 3 } + response.env.values.reduce(0) { $0 + $1.count * 4 / 3 })
        func write(_ bytes: some Collection<UInt8>) { body.writeBytes(bytes) }
        func writeLiteral(_ text: String) { write(JSONValue.stringLiteral(text).utf8) }
        func writeBase64Map(_ map: [String: Data]) {
            write("{".utf8)
            for (index, key) in map.keys.sorted().enumerated() {
                if index > 0 { write(",".utf8) }
                writeLiteral(key)
                write(":\"".utf8)
                write(map[key, default: Data()].base64EncodedString().utf8)
                write("\"".utf8)
            }
            write("}".utf8)
        }
        write(#"{"data":{"argv":["#.utf8)
        for (index, argument) in response.argv.enumerated() {
            if index > 0 { write(",".utf8) }
            writeLiteral(argument)
        }
        write(#"],"env":"#.utf8)
        writeBase64Map(response.env)
        write(#","files":"#.utf8)
        writeBase64Map(response.files)
        write(#"},"status":"success"}"#.utf8)
        return body
    }

    /// A success answer whose envelope was encoded before.
    static func success(encoded body: ByteBuffer) -> Response {
        respond(.ok, bytes: body)
    }

    /// The answer to a refused or failed operation, with MarbleRun's status code and JSend status for its kind.
    /// A `fail` carries the refusal's parts in `data` so that scripts need not parse the message.
    static func refusal(_ error: CoordinatorError) -> Response {
        let answer = refusalAnswer(error)
        return respond(answer.status, bytes: answer.body)
    }

    static func error(_ message: String, status: HTTPResponse.Status) -> Response {
        respond(status, bytes: errorBody(message))
    }

    /// MarbleRun answers unknown paths and methods with 405 and a JSend error.
    static func notAnEndpointMessage(method: String, path: String) -> String {
        "\(method) \(path) is not an endpoint of this server: the Coordinator serves MarbleRun's API v2 under /api/v2/ "
            + "(see /api/v2/openapi.json)"
    }

    /// The status and body of ``refusal(_:)``, for a server that writes its answers itself.
    static func refusalAnswer(_ error: CoordinatorError) -> (status: HTTPResponse.Status, body: ByteBuffer) {
        let status = HTTPResponse.Status(code: error.httpStatus)
        guard error.isClientFault else { return (status, errorBody(error.description)) }
        let details = RefusalDetails(reason: error.reason.rawValue, found: error.found, expected: error.expected, hint: error.hint)
        return (status, encode(Envelope(status: "fail", data: details, includesData: true, message: error.description)))
    }

    /// The body of ``error(_:status:)``.
    static func errorBody(_ message: String) -> ByteBuffer {
        encode(Envelope<RefusalDetails>(status: "error", data: nil, includesData: false, message: message))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func respond(_ status: HTTPResponse.Status, bytes: ByteBuffer) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: bytes))
    }

    private static func encode(_ body: some Encodable) -> ByteBuffer {
        // Every payload is made of strings, numbers, base64 data and collections of them, which always encode.
        ByteBuffer(bytes: (try? encoder.encode(body)) ?? Data(#"{"status":"error","message":"the answer could not be encoded"}"#.utf8))
    }

    private struct Envelope<Payload: Encodable>: Encodable {
        let status: String
        let data: Payload?
        let includesData: Bool
        let message: String?

        enum CodingKeys: String, CodingKey { case status, data, message }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status, forKey: .status)
            if includesData {
                if let data { try container.encode(data, forKey: .data) } else { try container.encodeNil(forKey: .data) }
            }
            if let message { try container.encode(message, forKey: .message) }
        }
    }
}

/// The `data` of a JSend `fail`: the refusal's stable reason identifier and its parts.
struct RefusalDetails: Codable, Sendable, Hashable {
    let reason: String
    let found: String
    let expected: String
    let hint: String
}
