import Crypto
import Foundation
import _CryptoExtras

/// The result of making a data key recoverable: the secrets to hand to the key holders and the data to keep
/// beside the sealed state.
public struct RecoverySetup: Sendable {
    /// Key name → RSA-OAEP-SHA256 ciphertext of that holder's share: MarbleRun's `RecoverySecrets`. A holder
    /// decrypts theirs with
    /// `openssl pkeyutl -decrypt -inkey key.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256`.
    public let recoverySecrets: [String: Data]
    public let recoveryData: RecoveryData

    /// Splits `dataKey` among `keys` (MarbleRun `coordinator/recovery/multi.go`):
    /// - one key: the secret is the data key;
    /// - several keys and `threshold` 0 or equal to the number of keys: XOR shares, all needed;
    /// - several keys and `threshold` t below the number of keys: Shamir shares, any t of them needed.
    public static func split(
        dataKey: SymmetricKey, keys: RecoveryKeys, threshold: Int = 0
    ) throws(RecoveryError)
        -> RecoverySetup
    {
        let count = keys.keys.count
        guard count > 0 else { throw RecoveryError.noRecoveryKeys }
        guard threshold >= 0, threshold <= count, count <= 255 else {
            throw RecoveryError.invalidThreshold(found: threshold, keyCount: count)
        }
        let secret = dataKey.withUnsafeBytes { Array($0) }
        let scheme: RecoveryScheme
        let required: Int
        let shares: [[UInt8]]
        if count == 1 {
            (scheme, required, shares) = (.single, 1, [secret])
        } else if threshold == 0 || threshold == count {
            var xorShares = (1..<count).map { _ in SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) } }
            let last = xorShares.reduce(secret) { accumulated, share in zip(accumulated, share).map { $0 ^ $1 } }
            xorShares.append(last)
            (scheme, required, shares) = (.xor, count, xorShares)
        } else {
            (scheme, required, shares) = (.threshold, threshold, Shamir.split(secret, parts: count, threshold: threshold))
        }
        var secrets: [String: Data] = [:]
        var records: [RecoveryData.Share] = []
        for (key, share) in zip(keys.keys, shares) {
            do {
                secrets[key.name] = try key.encrypt(share)
            } catch {
                throw RecoveryError.encryptionFailed(keyName: key.name, detail: "\(error)")
            }
            records.append(
                RecoveryData.Share(keyName: key.name, publicKey: key.derRepresentation, sha256: RecoveryData.hash(share))
            )
        }
        return RecoverySetup(
            recoverySecrets: secrets, recoveryData: RecoveryData(scheme: scheme, required: required, shares: records)
        )
    }
}
