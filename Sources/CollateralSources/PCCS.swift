import AsyncHTTPClient
import Attestation
import NIOSSL

/// A Provisioning Certificate Caching Service (Intel's reference PCCS, `QuoteGeneration/pccs` in
/// SGXDataCenterAttestationPrimitives): the PCS v4 paths under its own base URL, plus
/// `GET {base}/sgx/certification/v4/rootcacrl`, which PCCS answers with the root CA CRL as hexadecimal text.
/// TDX TCB Info and QE Identity are under `/tdx/certification/v4/`; both CRLs stay under `/sgx/`.
///
/// A PCCS usually presents a self-signed TLS certificate; see `PCCSTrust`. TLS only protects the transport: every
/// collateral item is signed by Intel and checked by verification whatever the transport.
public struct PCCS: CollateralSource {
    public let baseURL: String
    public let update: TCBUpdateType
    public let http: HTTPFetchSettings

    public init(
        baseURL: String, update: TCBUpdateType = .standard, http: HTTPFetchSettings = HTTPFetchSettings()
    )
        throws(CollateralSourceError)
    {
        self.baseURL = try CertificationServiceLayout.normalizedBase(baseURL, setting: "PCCS base URL")
        self.update = update
        self.http = http
    }

    public var identity: String { "PCCS at \(baseURL)" }

    public func collateral(for request: CollateralRequest) async throws(CollateralSourceError) -> Collateral {
        try await layout.collateral(for: request, using: http)
    }

    var layout: CertificationServiceLayout {
        let (base, update) = (baseURL, update.rawValue)
        return CertificationServiceLayout(
            pckCRL: { "\(base)/sgx/certification/v4/pckcrl?ca=\($0.certificateAuthority.rawValue)&encoding=der" },
            rootCACRL: { _ in "\(base)/sgx/certification/v4/rootcacrl" },
            tcbInfo: { "\(base)/\($0.tee.pathComponent)/certification/v4/tcb?fmspc=\($0.fmspc)&update=\(update)" },
            qeIdentity: { "\(base)/\($0.tee.pathComponent)/certification/v4/qe/identity?update=\(update)" })
    }
}

/// How the TLS certificate of a PCCS is trusted.
public enum PCCSTrust: Sendable, Hashable {
    /// The system's trust store (a PCCS behind a publicly trusted certificate).
    case systemRoots
    /// Only the given PEM certificate(s), typically the PCCS's own self-signed certificate.
    case pinnedCertificates(pem: String)
    /// Any certificate, like `USE_SECURE_CERT=FALSE` in Intel's QCNL configuration. Integrity still holds because
    /// collateral is Intel-signed, but a man in the middle can withhold fresh collateral.
    case anyCertificate

    /// An HTTP client that trusts the PCCS accordingly. The caller owns it and must call `shutdown()`.
    public func makeHTTPClient() throws(CollateralSourceError) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .systemRoots:
            break
        case .pinnedCertificates(let pem):
            do {
                let certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
                guard !certificates.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
                tls.trustRoots = .certificates(certificates)
            } catch {
                throw .invalidConfiguration(
                    setting: "PCCS trusted certificate", value: String(pem.prefix(40)),
                    expected: "one or more PEM certificates (-----BEGIN CERTIFICATE-----)")
            }
        case .anyCertificate:
            tls.certificateVerification = .none
        }
        return HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPFetchSettings.collateralClientConfiguration(tls: tls))
    }

    /// Runs `body` with fetch settings whose client trusts the PCCS accordingly, and shuts that client down after.
    public func withFetchSettings<Result: Sendable>(
        timeout: Duration, _ body: (HTTPFetchSettings) async throws(CollateralSourceError) -> Result
    ) async throws(CollateralSourceError) -> Result {
        let client = try makeHTTPClient()
        let outcome: Swift.Result<Result, CollateralSourceError>
        do {
            outcome = .success(try await body(HTTPFetchSettings(client: client, timeout: timeout)))
        } catch {
            outcome = .failure(error)
        }
        try? await client.shutdown()
        return try outcome.get()
    }
}
