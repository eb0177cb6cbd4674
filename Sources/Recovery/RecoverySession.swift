import Crypto
import Foundation
import SealedStore
import _CryptoExtras

/// Collects recovery shares while the Coordinator is in recovery mode (MarbleRun `POST /api/v2/recover`).
///
/// Each share is checked on submission against the stored ``RecoveryData``: its length, that it is one of the
/// issued shares (by SHA-256), that it was not submitted before, and its signature by the matching recovery key
/// (RSA PKCS#1 v1.5 over SHA-256(share), as the MarbleRun CLI makes it). Once enough shares are in,
/// ``unlock(_:resealingWith:)`` reassembles the data key, opens the state and re-seals it.
public struct RecoverySession: Sendable {
    public let recoveryData: RecoveryData
    public let requiresSignatures: Bool
    private var accepted: [String: [UInt8]] = [:]

    public init(recoveryData: RecoveryData, requiresSignatures: Bool = true) {
        self.recoveryData = recoveryData
        self.requiresSignatures = requiresSignatures
    }

    /// A session for the recovery data stored beside `locked`.
    public init(for locked: LockedSealedState, requiresSignatures: Bool = true) throws(RecoveryError) {
        guard let data = locked.recoveryData else {
            throw RecoveryError.malformedRecoveryData(
                detail: "none is stored: the state was sealed without RecoveryKeys in the manifest"
            )
        }
        self.init(recoveryData: try RecoveryData(decoding: data), requiresSignatures: requiresSignatures)
    }

    /// Names of the recovery keys whose shares were accepted, sorted.
    public var acceptedKeyNames: [String] { accepted.keys.sorted() }

    /// Names of the recovery keys whose shares are still missing, sorted.
    public var missingKeyNames: [String] {
        recoveryData.shares.map(\.keyName).filter { accepted[$0] == nil }.sorted()
    }

    /// How many more shares are needed (0 when the data key can be reassembled).
    public var remaining: Int { max(0, recoveryData.required - accepted.count) }

    /// Checks and accepts one decrypted share; returns how many more are needed.
    @discardableResult
    public mutating func submit(share: Data, signature: Data? = nil) throws(RecoveryError) -> Int {
        guard share.count == recoveryData.shareLength else {
            throw RecoveryError.shareWrongLength(found: share.count, expected: recoveryData.shareLength)
        }
        let hash = RecoveryData.hash(share)
        guard let record = recoveryData.shares.first(where: { $0.sha256 == hash }) else {
            throw RecoveryError.unknownShare(
                sha256Prefix: String(hash.prefix(16)), expectedFrom: recoveryData.shares.map(\.keyName).sorted()
            )
        }
        guard accepted[record.keyName] == nil else {
            throw RecoveryError.duplicateShare(keyName: record.keyName, remaining: remaining, missingFrom: missingKeyNames)
        }
        if let signature {
            let key = try RecoveryKeys.key(name: record.keyName, der: record.publicKey)
            guard key.isValidSignature(signature, for: share) else { throw RecoveryError.invalidSignature(keyName: record.keyName) }
        } else if requiresSignatures {
            throw RecoveryError.missingSignature(keyName: record.keyName)
        }
        accepted[record.keyName] = Array(share)
        return remaining
    }

    /// The reassembled data key, or ``RecoveryError/insufficientShares(accepted:required:missingFrom:)``.
    public func dataKey() throws(RecoveryError) -> SymmetricKey {
        guard remaining == 0 else {
            throw RecoveryError.insufficientShares(
                accepted: accepted.count, required: recoveryData.required, missingFrom: missingKeyNames
            )
        }
        let shares = acceptedKeyNames.compactMap { accepted[$0] }
        switch recoveryData.scheme {
        case .single:
            return SymmetricKey(data: shares[0])
        case .xor:
            let key = shares.dropFirst().reduce(shares[0]) { sum, share in zip(sum, share).map { $0 ^ $1 } }
            return SymmetricKey(data: key)
        case .threshold:
            return SymmetricKey(data: Shamir.combine(Array(shares.prefix(recoveryData.required))))
        }
    }

    /// Reassembles the data key, opens `locked` with it and seals it with `sealingKey` (the current platform's).
    /// Throws ``RecoveryError`` while shares are missing, ``SealedStoreError`` if the key does not open the state.
    public func unlock(_ locked: LockedSealedState, resealingWith sealingKey: SymmetricKey) throws -> SealedStore {
        try locked.unlock(dataKey: dataKey(), resealingWith: sealingKey)
    }
}
