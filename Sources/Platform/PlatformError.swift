/// Everything that can go wrong when talking to the enclave platform. Each case says what failed, what was seen and
/// what was expected, and its description ends with a hint of what to do.
public enum PlatformError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Report data must be exactly 64 bytes.
    case reportDataSize(Int)
    /// A Gramine encrypted-files key must be exactly 16 bytes.
    case encryptedFileKeySize(name: String, byteCount: Int)
    /// An encrypted-files key name that Gramine would refuse or that would escape `keys/`.
    case invalidKeyName(String)
    /// `/dev/attestation/attestation_type` is not `dcap`.
    case attestationType(path: String, found: String)
    /// A `/dev/attestation` file could not be read or written.
    case attestationFile(path: String, operation: String, reason: String)
    /// A `/dev/attestation` file returned a different number of bytes than the protocol defines.
    case attestationFileSize(path: String, found: Int, expected: String)
    /// The simulated platform's state directory could not be read, written or understood.
    case simulationState(path: String, reason: String)
    /// A setting of the simulated platform is out of range.
    case simulationSetting(name: String, found: String, expected: String)
    /// Building a certificate, CRL or signature of the simulated platform failed.
    case simulationCryptography(step: String, reason: String)
    /// The enclave signing key is not usable as an SGX signing key.
    case signingKey(reason: String)
    /// The same trusted file is listed twice with different hashes.
    case conflictingTrustedFile(path: String)
    /// A trusted file's listed hash is not a SHA-256.
    case trustedFileHashSize(path: String, byteCount: Int)
    /// A trusted file on disk does not match the hash in the enclave description.
    case trustedFileMismatch(path: String, expectedSHA256: String, foundSHA256: String)
    /// A trusted file could not be read.
    case trustedFileUnreadable(path: String, reason: String)
    /// A signed Gramine application (`.manifest.sgx`, `.sig`, the Gramine installation) is unusable.
    case gramineImage(path: String, reason: String)

    public var description: String {
        switch self {
        case .reportDataSize(let count):
            "report data is \(count) bytes, expected exactly \(ReportData.size); pad a digest with ReportData.padding(_:)"
        case .encryptedFileKeySize(let name, let count):
            "encrypted-files key '\(name)' is \(count) bytes, expected exactly 16 (Gramine rejects any other length); "
                + "pass the raw 128-bit key, not its hex or base64 text"
        case .invalidKeyName(let name):
            "encrypted-files key name '\(name)' is not allowed: expected a non-empty name without '/', NUL or a leading "
                + "'_sgx_' (reserved for sealing keys); use the mount's key_name, e.g. 'default'"
        case .attestationType(let path, let found):
            "\(path) says '\(found)', expected 'dcap'; set sgx.remote_attestation = \"dcap\" in the Gramine manifest"
        case .attestationFile(let path, let operation, let reason):
            "could not \(operation) \(path): \(reason); check that the program runs inside Gramine-SGX with "
                + "sgx.remote_attestation = \"dcap\" (or choose the simulation platform explicitly)"
        case .attestationFileSize(let path, let found, let expected):
            "\(path) gave \(found) bytes, expected \(expected); the Gramine attestation interface misbehaves, check the "
                + "Gramine version and the AESM service"
        case .simulationState(let path, let reason):
            "simulated SGX platform state at \(path) is unusable: \(reason); delete the directory to create a new "
                + "simulated platform (every quote it signed becomes unverifiable)"
        case .simulationSetting(let name, let found, let expected):
            "simulated SGX platform setting '\(name)' is \(found), expected \(expected); fix the setting"
        case .simulationCryptography(let step, let reason):
            "simulated SGX platform could not \(step): \(reason); this is a bug or a corrupted state directory"
        case .signingKey(let reason):
            "enclave signing key unusable: \(reason); create one with `openssl genrsa -3 -out enclave-key.pem 3072`"
        case .conflictingTrustedFile(let path):
            "trusted file \(path) is listed twice with different SHA-256 values, expected one hash per file; remove "
                + "the stale entry"
        case .trustedFileHashSize(let path, let count):
            "trusted file \(path) has a \(count)-byte hash, expected a 32-byte SHA-256; regenerate the description"
        case .trustedFileMismatch(let path, let expected, let found):
            "trusted file \(path) was modified: its SHA-256 is \(found), expected \(expected); restore the file or "
                + "rebuild and re-sign the enclave (its MRENCLAVE changes)"
        case .trustedFileUnreadable(let path, let reason):
            "trusted file \(path) cannot be read: \(reason); every trusted file must exist and be readable"
        case .gramineImage(let path, let reason):
            "the signed Gramine application is unusable at \(path): \(reason); convert the image again with `cloister convert`, "
                + "or sign the manifest again with `cloister gramine sign`"
        }
    }
}
