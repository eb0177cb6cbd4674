import Foundation
import StrictJSON

/// A marble API request body that does not have the request's shape.
public struct MalformedRequestBody: Error, Sendable, Equatable, CustomStringConvertible {
    public let found: String
    public let expected: String

    public var description: String { "found \(found), expected \(expected)" }
}

extension ActivationRequest {
    public static let shape = #"{"quote": base64, "csr": base64 DER, "marbleType": string, "uuid": string}"#

    /// Reads a request with the strict parser rather than `JSONDecoder`, whose generic decoding was a measurable part
    /// of each activation's cost. Members are matched exactly; unknown members are ignored; of repeated members the
    /// last counts, as Go's `encoding/json` reads them. Byte fields are standard base64 with padding.
    public init(strictJSON bytes: [UInt8]) throws(MalformedRequestBody) {
        func malformed(_ found: String) -> MalformedRequestBody { MalformedRequestBody(found: found, expected: Self.shape) }
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes, maximumDepth: 4)
        } catch {
            throw malformed("a body that is not JSON (\(error))")
        }
        guard case .object(let members) = document else { throw malformed("\(document.kindDescription) instead of an object") }
        var fields: [String: JSONValue] = [:]
        for member in members { fields[member.key] = member.value }
        func text(_ name: String) throws(MalformedRequestBody) -> String {
            guard let field = fields[name] else { throw malformed("no member \(name)") }
            guard case .string(let value) = field else { throw malformed("\(name): \(field.kindDescription) instead of a string") }
            return value
        }
        func data(_ name: String) throws(MalformedRequestBody) -> Data {
            let encoded = try text(name)
            guard let value = Data(base64Encoded: encoded) else { throw malformed("\(name): \(encoded.count) characters that are not base64") }
            return value
        }
        self.init(quote: try data("quote"), csr: try data("csr"), marbleType: try text("marbleType"), uuid: try text("uuid"))
    }
}

extension ActivationPlanRequest {
    public static let shape = #"{"marbleType": string}"#

    public init(strictJSON bytes: [UInt8]) throws(MalformedRequestBody) {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes, maximumDepth: 2)
        } catch {
            throw MalformedRequestBody(found: "a body that is not JSON (\(error))", expected: Self.shape)
        }
        guard case .object(let members) = document, let member = members.last(where: { $0.key == "marbleType" }),
            case .string(let value) = member.value
        else { throw MalformedRequestBody(found: "no string member marbleType", expected: Self.shape) }
        self.init(marbleType: value)
    }
}
