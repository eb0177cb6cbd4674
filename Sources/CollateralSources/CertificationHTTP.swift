import AsyncHTTPClient
import Attestation
import Foundation
import Hexadecimal
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftASN1

/// How collateral is fetched over HTTP: the client, the time allowed per request and the logger.
public struct HTTPFetchSettings: Sendable {
    /// The client to use. The default, `HTTPFetchSettings.sharedClient`, needs no shutdown. A client made for a PCCS
    /// with a private TLS trust anchor (`PCCSTrust.makeHTTPClient()`) belongs to the caller, who shuts it down.
    public var client: HTTPClient
    /// Time allowed for one request, from connecting to the last body byte.
    public var timeout: Duration
    /// Largest response body accepted; collateral responses are tens of kilobytes.
    public var maximumBodyBytes: Int
    public var logger: Logger

    public init(
        client: HTTPClient = HTTPFetchSettings.sharedClient, timeout: Duration = .seconds(30), maximumBodyBytes: Int = 4 << 20,
        logger: Logger = Logger(label: "cloister.collateral")
    ) {
        self.client = client
        self.timeout = timeout
        self.maximumBodyBytes = maximumBodyBytes
        self.logger = logger
    }

    /// A process-wide client that, unlike `HTTPClient.shared`, does not keep retrying a refused connection until the
    /// deadline: a collateral service that is down is reported at once. Like `HTTPClient.shared` it lives as long
    /// as the process and is never shut down.
    public static let sharedClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: collateralClientConfiguration())

    static func collateralClientConfiguration(tls: TLSConfiguration? = nil) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }
}

/// One HTTP response, kept whole so that errors can quote it.
struct FetchedResponse {
    let url: String
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]

    /// Intel PCS reports the reason of a failure in these headers (PCS API v4, "Error responses").
    var intelErrorCode: String? { headers.first(name: "Error-Code") }
    var intelErrorMessage: String? { headers.first(name: "Error-Message") }

    func requireSuccess() throws(CollateralSourceError) {
        guard status == 200 else {
            throw .httpStatus(url: url, status: status, errorCode: intelErrorCode, errorMessage: intelErrorMessage)
        }
    }

    /// A PEM chain sent URL-encoded in a header, as Intel PCS, PCCS and THIM do; the first present name is used.
    func issuerChain(_ names: [String]) throws(CollateralSourceError) -> String {
        guard let name = names.first(where: { headers.contains(name: $0) }), let encoded = headers.first(name: name) else {
            throw .missingHeader(url: url, header: names.joined(separator: "' or '"))
        }
        guard let chain = encoded.removingPercentEncoding else {
            throw .malformedHeader(url: url, header: name, reason: "invalid percent-encoding")
        }
        guard chain.contains("-----BEGIN CERTIFICATE-----") else {
            throw .malformedHeader(url: url, header: name, reason: "no PEM certificate in '\(chain.prefix(40))'")
        }
        return chain
    }

    /// A CRL body. Intel PCS sends DER (`encoding=der`); PCCS sends its root CA CRL as hexadecimal text (PCCS
    /// `rootcacrlService.js`, "to keep backward compatibility"); PEM is accepted as well.
    func certificateRevocationList() throws(CollateralSourceError) -> [UInt8] {
        let expected = "a certificate revocation list (DER, PEM or hexadecimal DER)"
        guard let first = body.first else { throw .malformedBody(url: url, expected: expected, reason: "the body is empty") }
        var der: [UInt8]
        if first == 0x30 {
            der = body
        } else {
            let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("-----BEGIN") {
                let base64 = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
                guard let decoded = Data(base64Encoded: base64) else {
                    throw .malformedBody(url: url, expected: expected, reason: "the PEM block is not valid base64")
                }
                der = Array(decoded)
            } else if let decoded = [UInt8](hexadecimal: text), !decoded.isEmpty {
                der = decoded
            } else {
                throw .malformedBody(url: url, expected: expected, reason: "it starts with \(Self.preview(body))")
            }
        }
        guard der.first == 0x30, (try? DER.parse(der)) != nil else {
            throw .malformedBody(url: url, expected: expected, reason: "its \(der.count) bytes are not one complete DER structure")
        }
        return der
    }

    func signedJSON(key: String, describing: String) throws(CollateralSourceError) -> SignedJSONResponse {
        do {
            return try SignedJSONResponse(body: body, signedKey: key)
        } catch {
            throw .malformedBody(
                url: url, expected: "\(describing) JSON ({\"\(key)\":{...},\"signature\":\"...\"})",
                reason: error.reason + " (body starts with \(Self.preview(body)))")
        }
    }

    static func preview(_ bytes: [UInt8]) -> String {
        let head = bytes.prefix(32)
        if head.allSatisfy({ (0x20...0x7e).contains($0) }) { return "'\(String(decoding: head, as: UTF8.self))'" }
        return "bytes " + head.hexadecimal
    }
}

extension HTTPFetchSettings {
    /// GETs `url` and maps every transport failure to a `CollateralSourceError` naming the URL.
    func get(_ url: String, headers extraHeaders: [(String, String)] = []) async throws(CollateralSourceError) -> FetchedResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let deadline = NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
        logger.debug("fetching collateral", metadata: ["url": "\(url)"])
        do {
            let response = try await client.execute(request, deadline: deadline, logger: logger)
            let body = try await response.body.collect(upTo: maximumBodyBytes)
            return FetchedResponse(
                url: url, status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout, .tlsHandshakeTimeout:
                throw .timedOut(url: url, seconds: seconds)
            case .invalidURL, .emptyHost, .emptyScheme:
                throw .invalidConfiguration(setting: "URL", value: url, expected: "an http:// or https:// URL")
            default:
                throw .unreachable(url: url, reason: Self.describe(error))
            }
        } catch let error as NIOTooManyBytesError {
            throw .malformedBody(url: url, expected: "a collateral response", reason: "larger than \(maximumBodyBytes) bytes (\(error))")
        } catch {
            throw .unreachable(url: url, reason: Self.describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("ECONNREFUSED") || text.localizedCaseInsensitiveContains("connection refused") || text.contains("connectRefused") {
            return "connection refused (nothing listens there)"
        }
        if text.localizedCaseInsensitiveContains("certificate") || text.contains("NIOSSL") || text.contains("handshake") {
            return "TLS failed (\(text)); for a PCCS with a self-signed certificate, configure its trust"
        }
        return text
    }
}
