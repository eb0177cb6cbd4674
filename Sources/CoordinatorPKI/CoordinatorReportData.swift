import Crypto

/// The SGX report data that binds the Coordinator's quote to its root certificate (MarbleRun section 4.6).
///
/// Layout of the 64 bytes:
/// - bytes 0..<32: SHA-256(root certificate DER), or SHA-256(root certificate DER ‖ nonce) when the client sent a
///   nonce (`GET /api/v2/quote?nonce=<base64url>`; the nonce bytes are appended after decoding, with no separator
///   or length prefix);
/// - bytes 32..<64: zero.
///
/// MarbleRun clients check only `reportData[0..<32]` (`api/attestation` `VerifyCertificate`), and EGo zero-fills the
/// rest, so this layout is what existing clients accept. An empty nonce is the same as no nonce.
public enum CoordinatorReportData {
    public static let size = 64

    public static func make(rootCertificateDER: [UInt8], nonce: [UInt8]? = nil) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: rootCertificateDER)
        if let nonce { hasher.update(data: nonce) }
        var reportData = Array(hasher.finalize())
        reportData.append(contentsOf: [UInt8](repeating: 0, count: size - reportData.count))
        return reportData
    }

    /// Whether `reportData` (from a verified quote) binds `rootCertificateDER` and `nonce` as ``make(rootCertificateDER:nonce:)`` does.
    public static func binds(_ reportData: [UInt8], rootCertificateDER: [UInt8], nonce: [UInt8]? = nil) -> Bool {
        let expected = make(rootCertificateDER: rootCertificateDER, nonce: nonce)
        guard reportData.count >= 32 else { return false }
        return reportData.prefix(32).elementsEqual(expected.prefix(32))
    }
}
