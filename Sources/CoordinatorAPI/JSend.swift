/// The JSend envelope that every Coordinator endpoint answers with, as MarbleRun's API v2 does.
///
/// - `success`: `{"status":"success","data":...}`
/// - `fail` (the client's request was at fault): `{"status":"fail","data":...,"message":"..."}`
/// - `error` (the server could not do it): `{"status":"error","message":"..."}`
public struct JSend<Payload: Codable & Sendable>: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case success, fail, error
    }

    public var status: Status
    public var data: Payload?
    public var message: String?

    public init(status: Status, data: Payload?, message: String?) {
        self.status = status
        self.data = data
        self.message = message
    }

    public static func success(_ data: Payload) -> JSend { JSend(status: .success, data: data, message: nil) }
}

/// The payload of a JSend answer that carries no data (`null`).
public struct NoPayload: Codable, Sendable, Hashable {
    public init() {}
}
