import Crypto
import Foundation
import Hexadecimal

/// How the data key is split among the recovery keys (MarbleRun section 6.4).
public enum RecoveryScheme: String, Codable, Sendable {
    /// One key: the recovery secret is the 32-byte data key itself.
    case single
    /// Several keys, all needed: random 32-byte shares whose XOR is the data key.
    case xor
    /// Several keys, `RecoveryThreshold` of them needed: Shamir shares over GF(256), 33 bytes each.
    case threshold
}

/// What the Coordinator keeps beside the sealed state, unencrypted, so that it can check shares while the state is
/// locked: the scheme, how many shares are needed, and per recovery key its public key and the SHA-256 of its
/// share. Share hashes reveal nothing about the shares (they are 256-bit random or derived from random values).
///
/// Stored with `StateChange.setRecoveryData(_:)` as ``encoded()``.
public struct RecoveryData: Codable, Sendable, Equatable {
    public struct Share: Codable, Sendable, Equatable {
        public var keyName: String
        /// SubjectPublicKeyInfo DER of the recovery key, to check the share's signature before unlocking.
        public var publicKey: Data
        /// Lower-case hex SHA-256 of the (decrypted) share.
        public var sha256: String
    }

    public static let currentVersion = 1
    public var version: Int
    public var scheme: RecoveryScheme
    /// How many shares reassemble the data key.
    public var required: Int
    public var shares: [Share]

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding plain strings, numbers and Data cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    public init(decoding data: Data) throws(RecoveryError) {
        let decoded: RecoveryData
        do {
            decoded = try JSONDecoder().decode(RecoveryData.self, from: data)
        } catch {
            throw RecoveryError.malformedRecoveryData(detail: "\(data.count) bytes are not recovery JSON (\(error))")
        }
        guard decoded.version == Self.currentVersion else {
            throw RecoveryError.malformedRecoveryData(
                detail: "found version \(decoded.version), expected \(Self.currentVersion)"
            )
        }
        guard decoded.required >= 1, decoded.required <= decoded.shares.count else {
            throw RecoveryError.malformedRecoveryData(
                detail: "\(decoded.required) shares required of \(decoded.shares.count)"
            )
        }
        self = decoded
    }

    init(scheme: RecoveryScheme, required: Int, shares: [Share]) {
        self.version = Self.currentVersion
        self.scheme = scheme
        self.required = required
        self.shares = shares
    }

    /// The byte length of one decrypted share.
    public var shareLength: Int { scheme == .threshold ? 33 : 32 }

    static func hash(_ share: some DataProtocol) -> String {
        Array(SHA256.hash(data: share)).hexadecimal
    }
}
