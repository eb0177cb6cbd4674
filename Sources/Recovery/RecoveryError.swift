/// Failures of recovery setup and share submission. Each names what was wrong, the value seen versus expected, and
/// what to do.
public enum RecoveryError: Error, Equatable, CustomStringConvertible {
    case invalidRecoveryKey(name: String, detail: String)
    case invalidThreshold(found: Int, keyCount: Int)
    case noRecoveryKeys
    case encryptionFailed(keyName: String, detail: String)
    case malformedRecoveryData(detail: String)
    case shareWrongLength(found: Int, expected: Int)
    case unknownShare(sha256Prefix: String, expectedFrom: [String])
    case duplicateShare(keyName: String, remaining: Int, missingFrom: [String])
    case missingSignature(keyName: String)
    case invalidSignature(keyName: String)
    case insufficientShares(accepted: Int, required: Int, missingFrom: [String])

    public var description: String {
        switch self {
        case .invalidRecoveryKey(let name, let detail):
            "recovery key '\(name)' is invalid: \(detail); give an RSA public key (2048 bits or more) as PEM "
                + "'-----BEGIN PUBLIC KEY-----' (openssl pkey -in key.pem -pubout)"
        case .invalidThreshold(let found, let keyCount):
            "RecoveryThreshold is \(found) but there are \(keyCount) recovery keys; expected 0 (all keys) or a "
                + "number from 1 to \(keyCount)"
        case .noRecoveryKeys:
            "no recovery keys are defined; add RecoveryKeys to the manifest to make the state recoverable"
        case .encryptionFailed(let keyName, let detail):
            "encrypting the recovery secret for key '\(keyName)' failed: \(detail); check that the key is a valid "
                + "RSA public key"
        case .malformedRecoveryData(let detail):
            "the recovery data stored with the sealed state is unreadable: \(detail); the state cannot be recovered "
                + "with shares, restore the data directory from a backup"
        case .shareWrongLength(let found, let expected):
            "recovery share has \(found) bytes, expected \(expected); submit the share decrypted with `openssl "
                + "pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256`, not the encrypted "
                + "secret or its base64 text"
        case .unknownShare(let prefix, let expectedFrom):
            "recovery share with SHA-256 \(prefix)... is not a share of this state; expected a share decrypted with "
                + "one of the keys \(expectedFrom.joined(separator: ", ")) from the secrets issued for the current "
                + "state"
        case .duplicateShare(let keyName, let remaining, let missingFrom):
            "the share of recovery key '\(keyName)' was already accepted; \(remaining) more needed from "
                + missingFrom.joined(separator: ", ")
        case .missingSignature(let keyName):
            "the share of recovery key '\(keyName)' has no signature; sign it with that key: `openssl dgst -sha256 "
                + "-sign key.pem -out share.sig share.bin`"
        case .invalidSignature(let keyName):
            "the signature of the share does not verify with recovery key '\(keyName)' (expected RSA PKCS#1 v1.5 "
                + "over SHA-256 of the share); sign with the private key of '\(keyName)'"
        case .insufficientShares(let accepted, let required, let missingFrom):
            "\(accepted) of \(required) recovery shares accepted; \(required - accepted) more needed from "
                + missingFrom.joined(separator: ", ")
        }
    }
}
