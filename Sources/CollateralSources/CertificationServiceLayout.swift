import Attestation
import Foundation

/// Where a PCS v4-compatible service keeps the four collateral items, and which extra request headers it needs.
///
/// Intel PCS, PCCS and Azure THIM answer with the same response shapes (Intel "Provisioning Certification Service
/// for ECDSA Attestation" API v4): PCK CRL with the `SGX-PCK-CRL-Issuer-Chain` header, TCB Info JSON with
/// `TCB-Info-Issuer-Chain` (`SGX-TCB-Info-Issuer-Chain` in v3 and some THIM answers), QE Identity JSON with
/// `SGX-Enclave-Identity-Issuer-Chain`. They differ only in URLs and query parameters.
struct CertificationServiceLayout: Sendable {
    var pckCRL: @Sendable (CollateralRequest) -> String
    var rootCACRL: @Sendable (CollateralRequest) -> String
    var tcbInfo: @Sendable (CollateralRequest) -> String
    var qeIdentity: @Sendable (CollateralRequest) -> String
    var requestHeaders: [(String, String)] = []

    static let pckCRLIssuerChainHeaders = ["SGX-PCK-CRL-Issuer-Chain"]
    static let tcbInfoIssuerChainHeaders = ["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"]
    static let qeIdentityIssuerChainHeaders = ["SGX-Enclave-Identity-Issuer-Chain"]

    /// Fetches the four items in turn and assembles them into `Collateral` without re-serializing anything.
    func collateral(for request: CollateralRequest, using http: HTTPFetchSettings) async throws(CollateralSourceError) -> Collateral {
        let crlResponse = try await http.get(pckCRL(request), headers: requestHeaders)
        try crlResponse.requireSuccess()
        let pckCRLIssuerChain = try crlResponse.issuerChain(Self.pckCRLIssuerChainHeaders)
        let pckCRLBytes = try crlResponse.certificateRevocationList()

        let rootResponse = try await http.get(rootCACRL(request), headers: requestHeaders)
        try rootResponse.requireSuccess()
        let rootCACRLBytes = try rootResponse.certificateRevocationList()

        let tcbResponse = try await http.get(tcbInfo(request), headers: requestHeaders)
        if tcbResponse.status == 404 {
            throw .fmspcUnknown(
                url: tcbResponse.url, request: request, errorCode: tcbResponse.intelErrorCode,
                errorMessage: tcbResponse.intelErrorMessage)
        }
        try tcbResponse.requireSuccess()
        let tcbInfoIssuerChain = try tcbResponse.issuerChain(Self.tcbInfoIssuerChainHeaders)
        let signedTCBInfo = try tcbResponse.signedJSON(key: "tcbInfo", describing: "TCB Info")

        let qeResponse = try await http.get(qeIdentity(request), headers: requestHeaders)
        try qeResponse.requireSuccess()
        let qeIdentityIssuerChain = try qeResponse.issuerChain(Self.qeIdentityIssuerChainHeaders)
        let signedQEIdentity = try qeResponse.signedJSON(key: "enclaveIdentity", describing: "QE Identity")

        return Collateral(
            pckCRLIssuerChain: pckCRLIssuerChain, rootCACRL: rootCACRLBytes, pckCRL: pckCRLBytes,
            tcbInfoIssuerChain: tcbInfoIssuerChain, tcbInfo: signedTCBInfo.signedBytes,
            tcbInfoSignature: signedTCBInfo.signature,
            qeIdentityIssuerChain: qeIdentityIssuerChain, qeIdentity: signedQEIdentity.signedBytes,
            qeIdentitySignature: signedQEIdentity.signature)
    }

    /// `base` without trailing slashes, checked to be an absolute http(s) URL.
    static func normalizedBase(_ base: String, setting: String) throws(CollateralSourceError) -> String {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw .invalidConfiguration(setting: setting, value: base, expected: "an absolute http:// or https:// URL")
        }
        return trimmed
    }
}

/// Which TCB Info and QE Identity generation Intel serves (PCS v4 `update` parameter): `standard` follows the
/// regular TCB recovery schedule, `early` gets new levels as soon as they are published.
public enum TCBUpdateType: String, Sendable, Hashable {
    case standard
    case early
}
