import Foundation

/// Why collateral could not be obtained. Every description names what failed, what was seen against what was
/// expected, and what to do next.
public enum CollateralSourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The FMSPC is not six bytes written as twelve hexadecimal digits.
    case invalidFMSPC(String)
    /// A base URL, trust anchor or other setting of the source cannot be used.
    case invalidConfiguration(setting: String, value: String, expected: String)
    /// Nothing answered at the URL (connection refused, unknown host, TLS failure).
    case unreachable(url: String, reason: String)
    /// The server did not answer within the time allowed.
    case timedOut(url: String, seconds: Double)
    /// The server answered with an error status. Intel's services add `Error-Code` and `Error-Message` headers.
    case httpStatus(url: String, status: Int, errorCode: String?, errorMessage: String?)
    /// The TCB Info endpoint answered 404: the service has no TCB Info for this FMSPC.
    case fmspcUnknown(url: String, request: CollateralRequest, errorCode: String?, errorMessage: String?)
    /// A response lacks a header it must carry (an issuer chain).
    case missingHeader(url: String, header: String)
    /// A header is present but cannot be decoded.
    case malformedHeader(url: String, header: String, reason: String)
    /// A response body is not what the endpoint returns (garbage, truncated, wrong shape).
    case malformedBody(url: String, expected: String, reason: String)
    /// The quote carries no PCK certificate chain (an encrypted PPID instead), so its FMSPC is unknown.
    case quoteWithoutPCKChain(certificationType: Int)
    /// The PCK leaf certificate does not tell the FMSPC or the issuing CA.
    case pckLeafUnreadable(reason: String)
    /// A collateral bundle file cannot be read.
    case bundleUnreadable(path: String, reason: String)
    /// A collateral bundle file is not dcap-qvl `QuoteCollateralV3` JSON.
    case bundleMalformed(path: String, reason: String)
    /// A collateral bundle file holds collateral for another platform than the one asked for.
    case bundleDoesNotMatch(path: String, request: CollateralRequest, found: String)
    /// Offline mode was asked for collateral that was never fetched.
    case offlineNotCached(source: String, request: CollateralRequest)
    /// Offline mode holds collateral for the request, but it expired before the instant asked about.
    case offlineCacheExpired(source: String, request: CollateralRequest, nextUpdate: Date, instant: Date)
    /// The validity period of fetched collateral cannot be read, so it cannot be cached safely.
    case expiryUnreadable(component: String, reason: String)

    public var description: String {
        switch self {
        case .invalidFMSPC(let value):
            return "FMSPC '\(value)' is not valid: expected 12 hexadecimal digits (6 bytes, e.g. 00A067110000). "
                + "Take it from the PCK certificate's SGX extension (`cloister quote inspect` prints it)."
        case .invalidConfiguration(let setting, let value, let expected):
            return "collateral source setting \(setting) is '\(value)', expected \(expected). Correct the setting and retry."
        case .unreachable(let url, let reason):
            return "could not connect to \(url): \(reason). Check that the service is running and the URL is right, "
                + "or verify offline with --collateral FILE."
        case .timedOut(let url, let seconds):
            return "\(url) did not answer within \(Self.format(seconds)) s. The service is slow or overloaded: retry later, "
                + "raise the timeout, or verify offline with --collateral FILE."
        case .httpStatus(let url, let status, let errorCode, let errorMessage):
            return "\(url) answered HTTP \(status), expected 200\(Self.intelDetail(errorCode, errorMessage)). "
                + Self.statusHint(status)
        case .fmspcUnknown(let url, let request, let errorCode, let errorMessage):
            return "\(url) has no TCB Info for \(request) (HTTP 404\(Self.intelDetail(errorCode, errorMessage))). "
                + "Check the FMSPC and the TEE type (SGX vs TDX); a platform Intel does not know cannot be attested "
                + "through this service."
        case .missingHeader(let url, let header):
            return "the response of \(url) lacks the '\(header)' header, which every Intel PCS v4-compatible service "
                + "sends. The URL probably points at something else than a PCS v4 / PCCS / THIM endpoint: check it."
        case .malformedHeader(let url, let header, let reason):
            return "the '\(header)' header of \(url) cannot be decoded: \(reason). Expected a URL-encoded PEM "
                + "certificate chain. Check that the URL points at a PCS v4-compatible service."
        case .malformedBody(let url, let expected, let reason):
            return "the response of \(url) is not \(expected): \(reason). Check that the URL points at a PCS "
                + "v4-compatible service, or verify offline with --collateral FILE."
        case .quoteWithoutPCKChain(let type):
            return "the quote's certification data is type \(type), expected 5 (a PCK certificate chain), so its FMSPC "
                + "cannot be read. Fetch the PCK certificate for its encrypted PPID, or verify with --collateral FILE "
                + "holding a pck_certificate_chain."
        case .pckLeafUnreadable(let reason):
            return "cannot tell which collateral the quote needs from its PCK certificate: \(reason). The quote's PCK "
                + "chain is damaged or not from Intel; verify with --collateral FILE instead."
        case .bundleUnreadable(let path, let reason):
            return "cannot read collateral file \(path): \(reason). Check the path and its permissions."
        case .bundleMalformed(let path, let reason):
            return "collateral file \(path) is not dcap-qvl QuoteCollateralV3 JSON: \(reason). Expected an object with "
                + "pck_crl_issuer_chain, root_ca_crl, pck_crl, tcb_info_issuer_chain, tcb_info, tcb_info_signature, "
                + "qe_identity_issuer_chain, qe_identity and qe_identity_signature."
        case .bundleDoesNotMatch(let path, let request, let found):
            return "collateral file \(path) is for \(found), but the quote needs \(request). Use the collateral of "
                + "this platform (same TEE type and FMSPC)."
        case .offlineNotCached(let source, let request):
            return "offline mode: no cached collateral from \(source) for \(request). Fetch it once online, or "
                + "verify with --collateral FILE."
        case .offlineCacheExpired(let source, let request, let nextUpdate, let instant):
            return "offline mode: the cached collateral from \(source) for \(request) expired at "
                + "\(Self.format(nextUpdate)), before \(Self.format(instant)). Fetch fresh collateral online."
        case .expiryUnreadable(let component, let reason):
            return "cannot read the validity period of the \(component): \(reason). The collateral is damaged; "
                + "fetch it again or use another source."
        }
    }

    private static func intelDetail(_ code: String?, _ message: String?) -> String {
        switch (code, message) {
        case (nil, nil): ""
        case (let code?, nil): "; Error-Code: \(code)"
        case (nil, let message?): "; Error-Message: \(message)"
        case (let code?, let message?): "; Error-Code: \(code), Error-Message: \(message)"
        }
    }

    private static func statusHint(_ status: Int) -> String {
        switch status {
        case 400: "The request was rejected as invalid: check the FMSPC and CA type."
        case 401, 403: "The service refused access: check credentials (a PCCS may require an API key) and the URL."
        case 404: "The resource does not exist there: check the base URL and the API version (v4)."
        case 429: "The service is rate-limiting: retry later."
        case 500...599: "The service failed: retry later or use another collateral source."
        default: "Check the URL and the service."
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
