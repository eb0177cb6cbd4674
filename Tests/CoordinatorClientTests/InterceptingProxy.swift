import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// A TLS server with its own self-signed certificate that forwards every request to the real Coordinator: a
/// machine-in-the-middle whose quote answers are genuine but whose TLS root is not the one they bind. It counts the
/// requests that reach it; optionally it drops the client's nonce to replay the Coordinator's cached quote.
actor InterceptingProxy {
    private(set) var requests: [String] = []
    let upstream: String
    let dropNonce: Bool

    init(upstream: String, dropNonce: Bool = false) {
        self.upstream = upstream
        self.dropNonce = dropNonce
    }

    private func record(_ path: String) { requests.append(path) }

    func run<Result: Sendable>(_ body: @Sendable (String) async throws -> Result) async throws -> Result {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Intercepting proxy") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(3600), issuer: name,
            subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.certificateVerification = .none
        let forwarder = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: clientTLS))
        let router = Router()
        router.on("**", method: .get) { request, _ in try await self.forward(request, with: forwarder) }
        router.on("**", method: .post) { request, _ in try await self.forward(request, with: forwarder) }
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "intercepting-proxy")
        quiet.logLevel = .critical
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: quiet)
        let outcome: Swift.Result<Result, any Error> = await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = portStream.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                group.cancelAll()
                return .failure(CocoaError(.fileReadUnknown))
            }
            do {
                let result = try await body("127.0.0.1:\(port)")
                group.cancelAll()
                return .success(result)
            } catch {
                group.cancelAll()
                return .failure(error)
            }
        }
        try await forwarder.shutdown()
        return try outcome.get()
    }

    private func forward(_ request: Request, with client: HTTPClient) async throws -> Response {
        record(request.uri.path)
        var query = request.uri.query.map { "?" + $0 } ?? ""
        if dropNonce, request.uri.path.hasSuffix("/quote") { query = "" }
        var outgoing = HTTPClientRequest(url: "https://\(upstream)\(request.uri.path)\(query)")
        outgoing.method = request.method == .post ? .POST : .GET
        let body = try await request.body.collect(upTo: 1 << 20)
        if body.readableBytes > 0 { outgoing.body = .bytes(body) }
        let response = try await client.execute(outgoing, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 16 << 20)
        return Response(
            status: .init(code: Int(response.status.code)), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: answer))
    }
}
