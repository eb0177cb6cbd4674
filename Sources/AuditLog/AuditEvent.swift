import Foundation

/// A value of an audit log field: MarbleRun's update log fields are strings, numbers or string lists.
public enum AuditFieldValue: Sendable, Hashable {
    case string(String)
    case integer(Int64)
    case strings([String])
}

/// One state change to record. `message` and `fields` follow MarbleRun's update log (`coordinator/updatelog`), so
/// that tools reading `{"time", "update", ...fields}` lines (such as `marblerun manifest get -u`) keep working.
public struct AuditEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case manifestSet
        case packageUpdate
        case manifestUpdateInitiated
        case acknowledgement
        case manifestUpdateCancelled
        case manifestUpdated
        case secretWrite
        case recovery
        case activation
    }

    public var kind: Kind
    /// MarbleRun's `update` text, e.g. "Initial manifest set".
    public var message: String
    /// Extra fields in order; names must not be one of ``AuditLogLine/reservedNames``.
    public var fields: [Field]
    public var time: Date

    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: AuditFieldValue
        public init(_ name: String, _ value: AuditFieldValue) {
            self.name = name
            self.value = value
        }
    }

    public init(kind: Kind, message: String, fields: [Field] = [], time: Date = Date()) {
        self.kind = kind
        self.message = message
        self.fields = fields
        self.time = time
    }

    public static func manifestSet(fingerprint: String, time: Date = Date()) -> AuditEvent {
        AuditEvent(
            kind: .manifestSet, message: "Initial manifest set",
            fields: [Field("manifestFingerprint", .string(fingerprint))], time: time
        )
    }

    public static func securityVersionIncreased(
        user: String, package: String, version: Int64, time: Date = Date()
    )
        -> AuditEvent
    {
        AuditEvent(
            kind: .packageUpdate, message: "SecurityVersion increased",
            fields: [Field("user", .string(user)), Field("package", .string(package)), Field("new version", .integer(version))],
            time: time
        )
    }

    public static func secretSet(user: String, secret: String, type: String, time: Date = Date()) -> AuditEvent {
        AuditEvent(
            kind: .secretWrite, message: "Secret set",
            fields: [Field("user", .string(user)), Field("secret", .string(secret)), Field("type", .string(type))],
            time: time
        )
    }

    /// The multi-party update events; `kind` selects MarbleRun's message for it.
    public static func manifestUpdate(
        _ kind: Kind, user: String?, fingerprint: String, missingAcknowledgments: Int, missingUsers: [String],
        time: Date = Date()
    ) -> AuditEvent {
        let message: String
        switch kind {
        case .manifestUpdateInitiated: message = "Complete Manifest update initiated by user"
        case .acknowledgement: message = "Complete Manifest update acknowledged by user"
        case .manifestUpdateCancelled:
            message =
                user == nil
                ? "Complete Manifest update cancelled due to error during apply"
                : "Complete Manifest update cancelled by user"
        default: message = "Complete Manifest updated"
        }
        var fields: [Field] = []
        if let user { fields.append(Field("user", .string(user))) }
        fields += [
            Field("manifestFingerprint", .string(fingerprint)),
            Field("missingAcknowledgments", .integer(Int64(missingAcknowledgments))),
            Field("missingUsers", .strings(missingUsers)),
        ]
        return AuditEvent(kind: kind, message: message, fields: fields, time: time)
    }

    public static func recovered(sharesUsed: Int, time: Date = Date()) -> AuditEvent {
        AuditEvent(
            kind: .recovery, message: "Coordinator recovered", fields: [Field("shares", .integer(Int64(sharesUsed)))],
            time: time
        )
    }

    public static func activation(marbleType: String, uuid: UUID, time: Date = Date()) -> AuditEvent {
        AuditEvent(
            kind: .activation, message: "Marble activated",
            fields: [Field("marbleType", .string(marbleType)), Field("uuid", .string(uuid.uuidString.lowercased()))],
            time: time
        )
    }
}
