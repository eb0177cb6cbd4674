import AsyncHTTPClient
import Attestation
import CoordinatorAPI
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftASN1
import X509

/// Where the collateral for the Coordinator's quote comes from, and which trust anchor verifies it.
public enum CoordinatorTrust: Sendable {
    /// Real SGX: Intel's root CA, collateral from a source.
    case intel(any CollateralSource)
    /// A simulated Coordinator: the simulated SGX machine's root certificate and collateral the machine signed.
    /// Proves nothing; accepted only when the user asked for it.
    case simulation(root: Certificate, collateral: Collateral)
}

/// How the client decides to trust the Coordinator.
public enum CoordinatorVerification: Sendable {
    /// Verify the quote against `policy` with `trust` before anything else is sent.
    case attested(policy: CoordinatorPolicy, trust: CoordinatorTrust)
    /// Skip every check (the Coordinator's identity is unknown).
    case insecure
}

/// A user's TLS client identity (`--cert`/`--key`, PEM files).
public struct UserIdentity: Sendable {
    public let certificatePath: String
    public let keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}

/// What verification established about the Coordinator.
public struct CoordinatorIdentity: Sendable {
    /// The root certificate (PEM), pinned for every call after the quote.
    public let rootPEM: String
    public let rootDER: [UInt8]
    /// The intermediate certificate (PEM) from the quote answer.
    public let intermediatePEM: String
    /// Nil when verification was skipped (`--insecure`).
    public let explanation: Explanation?
    public let isSimulation: Bool
    /// The quote the Coordinator sent for this connection's fresh nonce.
    public let quote: [UInt8]
}

/// A client that verifies the Coordinator's quote before it sends anything else, then pins the attested root
/// certificate for every later call.
///
/// `connect` sends exactly one request without trust: `GET /api/v2/quote?nonce=` with a fresh 32-byte nonce. The quote
/// must verify, meet the policy, and carry report data SHA-256(root DER ‖ nonce) for the root in the answer's chain.
/// Every later request goes over TLS whose only trust root is that certificate, so a server presenting another root
/// fails the handshake before a request is written.
public struct CoordinatorClient: Sendable {
    public let address: String
    public let identity: CoordinatorIdentity
    private let pinned: HTTPClient
    private let timeout: TimeAmount

    /// Verifies the Coordinator at `address` (`host:port` or `https://host:port`) and returns a client pinned to it.
    public static func connect(
        address: String, verification: CoordinatorVerification, user: UserIdentity? = nil, timeoutSeconds: Int64 = 30,
        now: Date = Date()
    ) async throws(CoordinatorClientError) -> CoordinatorClient {
        let base = try baseURL(address)
        let timeout = TimeAmount.seconds(timeoutSeconds)
        let nonce = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
        let unverified = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration(tls: unverifiedTLS()))
        let answer: CertQuoteResponse
        do {
            answer = try await request(
                unverified, base: base, method: .GET, path: ClientAPIPath.quote,
                query: "nonce=" + Base64URL.encode(nonce), body: Optional<NoPayload>.none, timeout: timeout)
            try? await unverified.shutdown()
        } catch {
            try? await unverified.shutdown()
            throw error
        }
        let chain = try certificates(in: answer.cert)
        guard chain.count >= 2 else {
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's quote answer does not carry an intermediate and a root certificate",
                found: "\(chain.count) certificate(s)", expected: "2 (intermediate, root)",
                hint: "The server at \(address) is probably not a Cloister or MarbleRun Coordinator.")
        }
        let (rootPEM, rootDER) = chain[chain.count - 1]
        let expected = Array(SHA256.hash(data: rootDER + nonce))
        var explanation: Explanation?
        switch verification {
        case .insecure:
            break
        case .attested(let policy, let trust):
            explanation = try await verify(
                quote: Array(answer.quote), policy: policy.attestationPolicy(expectedReportDataPrefix: expected),
                trust: trust, address: address, now: now)
        }
        let identity = CoordinatorIdentity(
            rootPEM: rootPEM, rootDER: rootDER, intermediatePEM: chain[0].pem, explanation: explanation,
            isSimulation: explanation?.isSimulation ?? false, quote: Array(answer.quote))
        let tls = try pinnedTLS(rootDER: rootDER, user: user, insecure: explanation == nil)
        return CoordinatorClient(
            address: base, identity: identity,
            pinned: HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration(tls: tls)),
            timeout: timeout)
    }

    private init(address: String, identity: CoordinatorIdentity, pinned: HTTPClient, timeout: TimeAmount) {
        self.address = address
        self.identity = identity
        self.pinned = pinned
        self.timeout = timeout
    }

    /// Releases the connections.
    public func close() async {
        try? await pinned.shutdown()
    }

    /// `GET path?query` over the pinned connection; returns the JSend `data`.
    public func get<Answer: Codable & Sendable>(
        _ path: String, query: String? = nil, as type: Answer.Type = Answer.self
    ) async throws(CoordinatorClientError) -> Answer {
        try await Self.request(
            pinned, base: address, method: .GET, path: path, query: query, body: Optional<NoPayload>.none, timeout: timeout)
    }

    /// `POST path` with a JSON body over the pinned connection; returns the JSend `data`.
    public func post<Body: Encodable & Sendable, Answer: Codable & Sendable>(
        _ path: String, body: Body?, as type: Answer.Type = Answer.self
    ) async throws(CoordinatorClientError) -> Answer {
        try await Self.request(pinned, base: address, method: .POST, path: path, query: nil, body: body, timeout: timeout)
    }

    /// `POST path` whose answer carries no data (`null`).
    public func post<Body: Encodable & Sendable>(_ path: String, body: Body?) async throws(CoordinatorClientError) {
        let _: OptionalPayload = try await Self.request(
            pinned, base: address, method: .POST, path: path, query: nil, body: body, timeout: timeout)
    }

    // MARK: - Verification

    private static func verify(
        quote: [UInt8], policy: AttestationPolicy, trust: CoordinatorTrust, address: String, now: Date
    ) async throws(CoordinatorClientError) -> Explanation {
        let anchor: TrustAnchor
        let collateral: Collateral
        switch trust {
        case .simulation(let root, let machineCollateral):
            anchor = .simulation(root: root)
            collateral = machineCollateral
        case .intel(let source):
            anchor = .intelSGXRootCA
            do {
                let parsed = try Quote(bytes: quote)
                collateral = try await source.collateral(for: try CollateralRequest(quote: parsed))
            } catch let error as AttestationError {
                throw CoordinatorClientError(
                    .untrusted, "the Coordinator at \(address) sent a quote that cannot be parsed", found: error.description,
                    hint: "The server is not a genuine Coordinator, or it runs in simulation (then use --accept-simulation).")
            } catch {
                throw CoordinatorClientError(
                    .unreachable, "cannot fetch collateral for the Coordinator's quote from \(source.identity)",
                    found: "\(error)", hint: "Check the collateral source (--pcs, --pccs or --collateral).")
            }
        }
        let explanation = QuoteVerifier(trustAnchor: anchor).explain(quoteBytes: quote, collateral: collateral, at: now, policy: policy)
        guard explanation.accepted else {
            throw CoordinatorClientError(
                .untrusted, "the Coordinator at \(address) failed verification; nothing else was sent to it",
                found: explanation.error?.found, expected: explanation.error?.expected,
                hint: (explanation.error?.hint ?? "Check the policy.")
                    + (anchor.isSimulation ? "" : " A simulated Coordinator is accepted only with --accept-simulation."),
                explanation: explanation.rendered())
        }
        return explanation
    }

    // MARK: - Transport

    private struct OptionalPayload: Codable, Sendable {}

    private static func request<Body: Encodable & Sendable, Answer: Codable & Sendable>(
        _ client: HTTPClient, base: String, method: HTTPMethod, path: String, query: String?, body: Body?,
        timeout: TimeAmount
    ) async throws(CoordinatorClientError) -> Answer {
        let url = base + path + (query.map { "?" + $0 } ?? "")
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            do {
                request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
            } catch {
                throw CoordinatorClientError(.invalidInput, "cannot encode the request to \(path)", found: "\(error)", hint: "Report this as a bug.")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let status: UInt
        let bytes: [UInt8]
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            bytes = Array(buffer: try await response.body.collect(upTo: 64 << 20))
        } catch {
            throw transportError(error, url: url)
        }
        let envelope: JSend<Answer>
        do {
            envelope = try JSONDecoder().decode(JSend<Answer>.self, from: Data(bytes))
        } catch {
            if let failure = try? JSONDecoder().decode(JSend<OptionalPayload>.self, from: Data(bytes)), failure.status != .success {
                throw refusal(failure.message, status: status, url: url, path: path)
            }
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's answer to \(method.rawValue) \(path) is not the expected JSend answer",
                found: "HTTP \(status): \(String(decoding: bytes.prefix(200), as: UTF8.self))", expected: "\(Answer.self) in a JSend envelope",
                hint: "Check that \(base) is a Cloister or MarbleRun Coordinator of a compatible version.")
        }
        guard envelope.status == .success else { throw refusal(envelope.message, status: status, url: url, path: path) }
        if let data = envelope.data { return data }
        if let empty = OptionalPayload() as? Answer { return empty }
        throw CoordinatorClientError(
            .malformedAnswer, "the Coordinator's answer to \(path) has no data", found: "data: null",
            expected: "\(Answer.self)", hint: "Check that the Coordinator version is compatible.")
    }

    private static func refusal(_ message: String?, status: UInt, url: String, path: String) -> CoordinatorClientError {
        let hint =
            switch status {
            case 401: "Authenticate as a user of the manifest with --cert FILE --key FILE (PEM)."
            case 404: "There is nothing to act on (for example no pending update)."
            case 400: "The request was malformed; check the input file."
            default: "Read the Coordinator's message; check its state with `cloister status`."
            }
        return CoordinatorClientError(
            .refused, "the Coordinator refused \(path): \(message ?? "no message")", found: "HTTP \(status)", hint: hint)
    }

    private static func transportError(_ error: any Error, url: String) -> CoordinatorClientError {
        let text = String(describing: error)
        if text.contains("handshake") || text.contains("NIOSSL") || text.contains("certificate") || text.contains("BoringSSL") {
            return CoordinatorClientError(
                .untrusted,
                "the TLS connection to \(url) failed: the server did not present the attested root's chain, or refused the client certificate",
                found: text, expected: "a TLS certificate chain ending at the root certificate bound by the verified quote",
                hint:
                    "Another server answers at this address, or the Coordinator's TLS identity changed; check the address and the --cert/--key files."
            )
        }
        return CoordinatorClientError(
            .unreachable, "cannot reach the Coordinator at \(url)", found: text,
            hint:
                "Check the address (--coordinator or CLOISTER_COORDINATOR, host:port of the client API, default port \(ClientAPIPath.defaultPort)) and that the Coordinator runs."
        )
    }

    private static func configuration(tls: TLSConfiguration) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        return configuration
    }

    private static func unverifiedTLS() -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return tls
    }

    private static func pinnedTLS(rootDER: [UInt8], user: UserIdentity?, insecure: Bool) throws(CoordinatorClientError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if insecure {
                tls.certificateVerification = .none
            } else {
                tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: rootDER, format: .der)])
                // The attested root is the identity; the address is whatever the user typed (often an IP address).
                tls.certificateVerification = .noHostnameVerification
            }
        } catch {
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's root certificate cannot be used for TLS", found: "\(error)",
                hint: "The Coordinator sent a certificate BoringSSL cannot read.")
        }
        if let user {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(user.certificatePath).map { .certificate($0) }
            } catch {
                throw CoordinatorClientError(
                    .invalidInput, "cannot read the user certificate \(user.certificatePath)", found: "\(error)",
                    expected: "a PEM certificate", hint: "Check --cert.")
            }
            do {
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: user.keyPath, format: .pem))
            } catch {
                throw CoordinatorClientError(
                    .invalidInput, "cannot read the user private key \(user.keyPath)", found: "\(error)",
                    expected: "a PEM private key", hint: "Check --key.")
            }
        }
        return tls
    }

    static func baseURL(_ address: String) throws(CoordinatorClientError) -> String {
        var text = address.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("http://") {
            throw CoordinatorClientError(
                .invalidInput, "the Coordinator address uses plain HTTP", found: address, expected: "host:port or https://host:port",
                hint: "The client API is served over TLS only.")
        }
        if text.hasPrefix("https://") { text.removeFirst("https://".count) }
        while text.hasSuffix("/") { text.removeLast() }
        guard !text.isEmpty, !text.contains("/"), !text.contains(" ") else {
            throw CoordinatorClientError(
                .invalidInput, "the Coordinator address is not host:port", found: address.isEmpty ? "(empty)" : address,
                expected: "host:port, e.g. localhost:4433", hint: "Fix --coordinator or CLOISTER_COORDINATOR.")
        }
        let hasPort = text.hasSuffix("]") ? false : text.split(separator: ":").count == 2
        return "https://" + text + (hasPort ? "" : ":\(ClientAPIPath.defaultPort)")
    }

    static func certificates(in pem: String) throws(CoordinatorClientError) -> [(pem: String, der: [UInt8])] {
        do {
            return try PEMDocument.parseMultiple(pemString: pem).map { document in
                let _ = try Certificate(derEncoded: document.derBytes)
                return (document.pemString + "\n", document.derBytes)
            }
        } catch {
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's certificate chain cannot be parsed", found: "\(error)",
                expected: "PEM certificates (intermediate, root)", hint: "The server is probably not a Coordinator.")
        }
    }
}
