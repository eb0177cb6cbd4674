import Foundation

/// One state change for the update log, with MarbleRun's messages and field names (`coordinator/updatelog`,
/// spec section 6.6): a JSON line `{"time": ISO 8601, "update": message, ...fields}`.
struct UpdateLogEvent: Sendable {
    let message: String
    /// Field name and value, in order.
    let fields: [(String, String)]

    static func initialManifest(fingerprint: String) -> UpdateLogEvent {
        UpdateLogEvent(message: "Initial manifest set", fields: [("manifestFingerprint", fingerprint)])
    }

    static func securityVersionIncreased(user: String, package: String, version: UInt64) -> UpdateLogEvent {
        UpdateLogEvent(
            message: "SecurityVersion increased", fields: [("user", user), ("package", package), ("new version", "\(version)")])
    }

    static func secretSet(user: String, secret: String, type: String) -> UpdateLogEvent {
        UpdateLogEvent(message: "Secret set", fields: [("user", user), ("secret", secret), ("type", type)])
    }

    static func manifestUpdate(_ message: String, fingerprint: String, missingAcknowledgments: Int, missingUsers: [String])
        -> UpdateLogEvent
    {
        UpdateLogEvent(
            message: message,
            fields: [
                ("manifestFingerprint", fingerprint), ("missingAcknowledgments", "\(missingAcknowledgments)"),
                ("missingUsers", missingUsers.joined(separator: ",")),
            ])
    }

    static func activation(marbleType: String, uuid: UUID, simulation: Bool) -> UpdateLogEvent {
        UpdateLogEvent(
            message: "Marble activated",
            fields: [("marbleType", marbleType), ("uuid", uuid.uuidString.lowercased())]
                + (simulation ? [("platform", "simulation")] : []))
    }

    static func recovered() -> UpdateLogEvent {
        UpdateLogEvent(message: "State recovered", fields: [])
    }

    static func discardedForNewManifest() -> UpdateLogEvent {
        UpdateLogEvent(message: "Sealed state discarded in recovery mode for a new manifest", fields: [])
    }

    /// The JSON line, keys in order: `time`, `update`, then the fields.
    func line(at time: Date) -> String {
        let members = [("time", Self.timestamp(time)), ("update", message)] + fields
        return "{" + members.map { "\(Self.quoted($0.0)):\(Self.quoted($0.1))" }.joined(separator: ",") + "}"
    }

    private static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    private static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
