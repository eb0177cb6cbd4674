import Attestation

/// Intel's Provisioning Certification Service, API v4.
///
/// Paths (Intel "SGX and TDX PCS API v4" reference, and dcap-qvl 0.7.0 `collateral.rs`):
/// `GET {base}/sgx/certification/v4/pckcrl?ca=processor|platform&encoding=der`,
/// `GET {base}/{sgx|tdx}/certification/v4/tcb?fmspc=XXXXXXXXXXXX&update=standard|early`,
/// `GET {base}/{sgx|tdx}/certification/v4/qe/identity?update=standard|early`.
/// Intel PCS has no root CA CRL endpoint: the root CA CRL lives at the CRL distribution point of the Intel SGX Root
/// CA certificate, `https://certificates.trustedservices.intel.com/IntelSGXRootCA.der`.
/// Failures carry `Error-Code` and `Error-Message` headers, which the errors quote.
public struct IntelPCS: CollateralSource {
    public static let defaultBaseURL = "https://api.trustedservices.intel.com"
    public static let defaultRootCACRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

    public let baseURL: String
    public let rootCACRLURL: String
    public let update: TCBUpdateType
    public let http: HTTPFetchSettings

    public init(
        baseURL: String = IntelPCS.defaultBaseURL, rootCACRLURL: String = IntelPCS.defaultRootCACRLURL,
        update: TCBUpdateType = .standard, http: HTTPFetchSettings = HTTPFetchSettings()
    ) throws(CollateralSourceError) {
        self.baseURL = try CertificationServiceLayout.normalizedBase(baseURL, setting: "Intel PCS base URL")
        self.rootCACRLURL = try CertificationServiceLayout.normalizedBase(rootCACRLURL, setting: "root CA CRL URL")
        self.update = update
        self.http = http
    }

    public var identity: String { "Intel PCS at \(baseURL)" }

    public func collateral(for request: CollateralRequest) async throws(CollateralSourceError) -> Collateral {
        try await layout.collateral(for: request, using: http)
    }

    var layout: CertificationServiceLayout {
        let (base, root, update) = (baseURL, rootCACRLURL, update.rawValue)
        return CertificationServiceLayout(
            pckCRL: { "\(base)/sgx/certification/v4/pckcrl?ca=\($0.certificateAuthority.rawValue)&encoding=der" },
            rootCACRL: { _ in root },
            tcbInfo: { "\(base)/\($0.tee.pathComponent)/certification/v4/tcb?fmspc=\($0.fmspc)&update=\(update)" },
            qeIdentity: { "\(base)/\($0.tee.pathComponent)/certification/v4/qe/identity?update=\(update)" })
    }
}
