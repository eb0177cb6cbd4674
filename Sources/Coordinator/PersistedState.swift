import Foundation
import SealedStore

/// The Coordinator's state as it is kept in the sealed store.
///
/// Everything but the activation counters is one JSON record (`coordinator/core`), rewritten in the same transaction
/// as the audit entry of each change; activation counters are small records of their own
/// (`coordinator/activations/<type>`), so that an activation writes only its counter and its audit entry.
struct PersistedCore: Codable, Sendable {
    static let key = "coordinator/core"
    static let activationPrefix = "coordinator/activations/"
    static let currentFormat = 1

    var format = PersistedCore.currentFormat
    var state: CoordinatorState
    /// `CoordinatorPKI.serialized()`.
    var pki: Data
    var rootSecret: Data
    var previousRootSecret: Data?
    var manifest: Data?
    var manifestSignature: Data?
    /// SecurityVersion raised by package updates, per package; the stored manifest bytes stay as uploaded.
    var packageSecurityVersions: [String: UInt64] = [:]
    var sharedSecrets: [String: SecretRecord] = [:]
    /// Values before the last regeneration (`.Previous.Secrets`).
    var previousSecrets: [String: SecretRecord] = [:]
    var userSecrets: [String: SecretRecord] = [:]
    var pendingUpdate: PersistedPendingUpdate?

    static func activationKey(_ marbleType: String) -> String { activationPrefix + marbleType }

    func encoded() throws(CoordinatorError) -> Data {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return try encoder.encode(self)
        } catch {
            throw CoordinatorError(
                .internal, .storage, found: "the state cannot be encoded (\(error))", expected: "encodable state",
                hint: "report this as a bug")
        }
    }

    static func decode(_ data: Data) throws(CoordinatorError) -> PersistedCore {
        let core: PersistedCore
        do {
            core = try JSONDecoder().decode(PersistedCore.self, from: data)
        } catch {
            throw CoordinatorError(
                .internal, .storage, found: "\(data.count) bytes that are not the Coordinator state (\(error))",
                expected: "the record written by this Coordinator", hint: "restore the data directory from a backup")
        }
        guard core.format == currentFormat else {
            throw CoordinatorError(
                .internal, .storage, found: "state format \(core.format)", expected: "format \(currentFormat)",
                hint: "run the Cloister version that wrote this state")
        }
        return core
    }
}

/// A full manifest update waiting for acknowledgements.
struct PersistedPendingUpdate: Codable, Sendable, Hashable {
    var manifest: Data
    /// Users who acknowledged, the submitter first.
    var acknowledgedBy: [String]
    /// How many acknowledgements the update needs (the current manifest's `UpdateThreshold`, or all update users).
    var requiredCount: Int
    /// Users holding `UpdateManifest` in the current manifest.
    var requiredUsers: [String]

    var missingUsers: [String] { requiredUsers.filter { !acknowledgedBy.contains($0) }.sorted() }
    var missingCount: Int { max(0, requiredCount - acknowledgedBy.count) }
}
