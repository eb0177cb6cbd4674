import Attestation
import Foundation

/// Azure's Trusted Hardware Identity Management service, which caches Intel collateral for Azure confidential VMs.
///
/// URLs follow the Azure DCAP client (`microsoft/Azure-DCAP-Client`, `src/dcap_provider.cpp`, collateral v4):
/// * SGX, global cache `https://global.acccache.azure.net`:
///   `{base}/sgx/certification/v4/pckcrl?uri=<CRL name>&clientid=<id>&api-version=2020-02-12-preview` for both CRLs
///   (the Intel CRL URL is sent pre-escaped and escaped again, exactly as the Azure client does),
///   `{base}/sgx/certification/v4/tcb?fmspc=<FMSPC>&clientid=<id>&api-version=2018-10-01-preview`,
///   `{base}/sgx/certification/v4/qe/identity?clientid=<id>&api-version=2018-10-01-preview`.
/// * TDX (regional `https://<region>.thim.azure.net`; pass it as the base URL):
///   `{base}/sgx/certification/v4/pckcrl?ca=processor|platform&clientid=<id>`,
///   `{base}/sgx/certification/v4/rootcacrl?clientid=<id>`, and TCB Info / QE Identity under `/tdx/certification/v4/`
///   with `api-version=2018-10-01-preview`.
/// * The VM-local endpoint `http://169.254.169.254/metadata/THIM` serves the same paths and requires the request
///   header `Metadata: true` (`AzureTHIM.local`).
public struct AzureTHIM: CollateralSource {
    public static let globalBaseURL = "https://global.acccache.azure.net"
    public static let localBaseURL = "http://169.254.169.254/metadata/THIM"
    public static let defaultClientID = "production_client"

    static let crlAPIVersion = "api-version=2020-02-12-preview"
    static let collateralAPIVersion = "api-version=2018-10-01-preview"
    /// The Azure client's CRL names: Intel's CRL URLs, already percent-encoded once.
    static let rootCRLName = "https%3a%2f%2fcertificates.trustedservices.intel.com%2fintelsgxrootca.crl"
    static let processorCRLName = "https%3a%2f%2fcertificates.trustedservices.intel.com%2fintelsgxpckprocessor.crl"
    static let platformCRLName =
        "https%3a%2f%2fapi.trustedservices.intel.com%2fsgx%2fcertification%2fv3%2fpckcrl%3fca%3dplatform%26encoding%3dpem"

    public let baseURL: String
    public let clientID: String
    /// Whether requests carry `Metadata: true`, which the VM-local endpoint requires.
    public let sendsMetadataHeader: Bool
    public let http: HTTPFetchSettings

    public init(
        baseURL: String = AzureTHIM.globalBaseURL, clientID: String = AzureTHIM.defaultClientID,
        sendsMetadataHeader: Bool = false, http: HTTPFetchSettings = HTTPFetchSettings()
    ) throws(CollateralSourceError) {
        self.baseURL = try CertificationServiceLayout.normalizedBase(baseURL, setting: "Azure THIM base URL")
        guard !clientID.isEmpty, clientID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw .invalidConfiguration(setting: "Azure THIM client ID", value: clientID, expected: "letters, digits, '_' or '-'")
        }
        self.clientID = clientID
        self.sendsMetadataHeader = sendsMetadataHeader
        self.http = http
    }

    /// The VM-local THIM endpoint (`http://169.254.169.254/metadata/THIM`, header `Metadata: true`).
    public static func local(
        baseURL: String = AzureTHIM.localBaseURL, http: HTTPFetchSettings = HTTPFetchSettings()
    )
        throws(CollateralSourceError) -> AzureTHIM
    {
        try AzureTHIM(baseURL: baseURL, sendsMetadataHeader: true, http: http)
    }

    public var identity: String { "Azure THIM at \(baseURL)" }

    public func collateral(for request: CollateralRequest) async throws(CollateralSourceError) -> Collateral {
        try await layout.collateral(for: request, using: http)
    }

    var layout: CertificationServiceLayout {
        let (base, client) = (baseURL, clientID)
        return CertificationServiceLayout(
            pckCRL: { request in
                switch request.tee {
                case .sgx:
                    let name = request.certificateAuthority == .processor ? Self.processorCRLName : Self.platformCRLName
                    return "\(base)/sgx/certification/v4/pckcrl?uri=\(Self.queryEscaped(name))&clientid=\(client)&\(Self.crlAPIVersion)"
                case .tdx:
                    return "\(base)/sgx/certification/v4/pckcrl?ca=\(request.certificateAuthority.rawValue)&clientid=\(client)"
                }
            },
            rootCACRL: { request in
                switch request.tee {
                case .sgx:
                    "\(base)/sgx/certification/v4/pckcrl?uri=\(Self.queryEscaped(Self.rootCRLName))&clientid=\(client)&\(Self.crlAPIVersion)"
                case .tdx:
                    "\(base)/sgx/certification/v4/rootcacrl?clientid=\(client)"
                }
            },
            tcbInfo: {
                "\(base)/\($0.tee.pathComponent)/certification/v4/tcb?fmspc=\($0.fmspc)&clientid=\(client)&\(Self.collateralAPIVersion)"
            },
            qeIdentity: {
                "\(base)/\($0.tee.pathComponent)/certification/v4/qe/identity?clientid=\(client)&\(Self.collateralAPIVersion)"
            },
            requestHeaders: sendsMetadataHeader ? [("Metadata", "true")] : [])
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters, as curl_easy_escape does.
    static func queryEscaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
