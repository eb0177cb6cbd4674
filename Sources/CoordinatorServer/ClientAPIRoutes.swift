import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The client API (MarbleRun API v2 over HTTPS): each route reads the request, asks the Coordinator, and answers in
/// JSend with MarbleRun's shapes and status codes. User endpoints pass the TLS client certificate to the Coordinator,
/// which decides who the user is and what they may do.
struct ClientAPIRoutes: Sendable {
    let coordinator: Coordinator
    let identity: TLSIdentityStore
    let metrics: CoordinatorMetrics
    let logger: Logger
    let statusAnswers: StatusAnswerCache

    /// The largest request body accepted (a manifest with many users and certificates fits well within).
    static let maximumBodySize = 4 << 20

    func add(to router: Router<CoordinatorRequestContext>) {
        router.get(RouterPath(ClientAPIPath.status)) { _, _ in statusAnswers.response() }
        router.get(RouterPath(ClientAPIPath.quote)) { request, _ in try await quote(request) }
        router.get(RouterPath(ClientAPIPath.manifest)) { _, _ in try await signedManifest() }
        router.post(RouterPath(ClientAPIPath.manifest)) { request, context in try await setManifest(request, context) }
        router.get(RouterPath(ClientAPIPath.update)) { _, _ in try await updateLog() }
        router.post(RouterPath(ClientAPIPath.update)) { request, context in try await update(request, context) }
        router.get(RouterPath(ClientAPIPath.updateManifest)) { _, _ in try await pendingUpdate() }
        router.post(RouterPath(ClientAPIPath.updateManifest)) { request, context in try await acknowledgeUpdate(request, context) }
        router.post(RouterPath(ClientAPIPath.updateCancel)) { _, context in try await cancelUpdate(context) }
        router.get(RouterPath(ClientAPIPath.secrets)) { request, context in try await readSecrets(request, context) }
        router.post(RouterPath(ClientAPIPath.secrets)) { request, context in try await writeSecrets(request, context) }
        router.post(RouterPath(ClientAPIPath.recover)) { request, context in try await recover(request, context) }
        router.get(RouterPath(ClientAPIPath.recoveryPublicKey)) { _, _ in try await recoveryPublicKey() }
        router.post(RouterPath(ClientAPIPath.signQuote)) { request, context in try await signQuote(request, context) }
        router.post(RouterPath(ClientAPIPath.monotonicCounter)) { request, context in try await setMonotonicCounter(request, context) }
        router.get(RouterPath(ClientAPIPath.openAPI)) { _, _ in OpenAPIDocument.response() }
        OperationalRoutes(coordinator: coordinator, metrics: metrics).add(to: router)
    }

    private func quote(_ request: Request) async throws -> Response {
        var nonce: [UInt8]?
        if let text = request.uri.queryParameters["nonce"], !text.isEmpty {
            guard let bytes = Base64URL.decode(String(text)) else {
                throw CoordinatorError(
                    .badRequest, .malformedRequest, found: "nonce '\(text.prefix(80))'", expected: "base64url (RFC 4648 section 5)",
                    hint: "encode the nonce with the URL-safe base64 alphabet (- and _ instead of + and /)")
            }
            nonce = bytes
        }
        let quote = try await coordinator.quote(nonce: nonce)
        return JSendResponse.success(CertQuoteResponse(cert: quote.certificateChainPEM, quote: Data(quote.quote)))
    }

    private func signedManifest() async throws -> Response {
        let signed = try await coordinator.signedManifest()
        return JSendResponse.success(
            ManifestGetResponse(
                manifestSignatureRootECDSA: Data(signed.signature), manifestFingerprint: signed.fingerprint,
                manifest: Data(signed.manifest)))
    }

    private func setManifest(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let body = try await RequestBody.decode(ManifestRequest.self, from: request, context: context, shape: #"{"manifest": base64 manifest JSON}"#)
        let result = try await coordinator.setManifest(Array(body.manifest))
        await refreshIdentity()
        return JSendResponse.success(ManifestSetResponse(recoverySecrets: result.recoverySecrets.mapValues { Data($0) }))
    }

    private func updateLog() async throws -> Response {
        JSendResponse.success(UpdateLogResponse(updateLog: try await coordinator.updateLog()))
    }

    private func update(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let certificate = await context.clientCertificateDER()
        let body = try await RequestBody.decode(ManifestRequest.self, from: request, context: context, shape: #"{"manifest": base64 manifest JSON}"#)
        let result = try await coordinator.update(Array(body.manifest), clientCertificateDER: certificate)
        await refreshIdentity()
        return JSendResponse.success(
            UpdateApplyResponse(
                missingAcknowledgments: result.missingAcknowledgments, missingUsers: result.missingUsers,
                recoverySecrets: result.recoverySecrets?.mapValues { Data($0) }))
    }

    private func pendingUpdate() async throws -> Response {
        let pending = try await coordinator.pendingUpdate()
        return JSendResponse.success(
            UpdateManifestGetResponse(
                manifest: Data(pending.manifest), message: Self.missingMessage(pending.missingAcknowledgments),
                missingUsers: pending.missingUsers))
    }

    private func acknowledgeUpdate(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let certificate = await context.clientCertificateDER()
        let body = try await RequestBody.decode(ManifestRequest.self, from: request, context: context, shape: #"{"manifest": base64 manifest JSON}"#)
        let result = try await coordinator.acknowledgeUpdate(Array(body.manifest), clientCertificateDER: certificate)
        await refreshIdentity()
        let message =
            switch result.missingAcknowledgments {
            case 0: "All users have acknowledged the update manifest. Update successfully applied"
            default:
                Self.missingMessage(result.missingAcknowledgments)
                    + ".\nThe following users have not yet accepted: \(result.missingUsers.joined(separator: ", "))"
            }
        return JSendResponse.success(
            UpdateManifestPostResponse(
                message: message, missingUsers: result.missingUsers, missingAcknowledgments: result.missingAcknowledgments,
                recoverySecrets: result.recoverySecrets?.mapValues { Data($0) }))
    }

    private func cancelUpdate(_ context: CoordinatorRequestContext) async throws -> Response {
        try await coordinator.cancelUpdate(clientCertificateDER: await context.clientCertificateDER())
        return JSendResponse.success(UpdateCancelResponse(message: "Update successfully cancelled"))
    }

    private func readSecrets(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let certificate = await context.clientCertificateDER()
        let names = request.uri.queryParameters.getAll("s").map { String($0) }
        if names.contains(where: { $0.isEmpty }) {
            throw CoordinatorError(
                .badRequest, .malformedRequest, found: "an empty secret name in the query", expected: "?s=NAME for each secret",
                hint: "remove the empty s= parameter")
        }
        let records = try await coordinator.readSecrets(names, clientCertificateDER: certificate)
        return JSendResponse.success(SecretsGetResponse(secrets: records.mapValues(SecretObject.init)))
    }

    private func writeSecrets(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let certificate = await context.clientCertificateDER()
        let body = try await RequestBody.decode(
            SecretsSetRequest.self, from: request, context: context,
            shape: #"{"secrets": {"NAME": {"Key": base64} or {"Cert": base64 DER, "Private": base64 PKCS#8}}}"#)
        let uploads = body.secrets.mapValues {
            UserSecretUpload(certificate: Array($0.cert ?? Data()), privateKey: Array($0.privateKey ?? Data()), key: Array($0.key ?? Data()))
        }
        try await coordinator.writeSecrets(uploads, clientCertificateDER: certificate)
        return JSendResponse.success(Optional<NoPayload>.none)
    }

    private func recover(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let body = try await RequestBody.decode(
            RecoveryRequest.self, from: request, context: context,
            shape: #"{"recoverySecret": base64, "recoverySecretSignature": base64}"#, limit: RecoveryRequest.maximumBodySize)
        let progress = try await coordinator.recover(secret: Array(body.recoverySecret), signature: Array(body.recoverySecretSignature))
        await refreshIdentity()
        return JSendResponse.success(RecoveryResponse(remaining: progress.remaining, message: progress.message))
    }

    private func recoveryPublicKey() async throws -> Response {
        JSendResponse.success(RecoveryPublicKeyResponse(ephemeralPublicKey: Data(try await coordinator.recoveryPublicKey())))
    }

    private func signQuote(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let body = try await RequestBody.decode(
            SignQuoteRequest.self, from: request, context: context, shape: #"{"sgxQuote": base64 SGX quote}"#)
        do {
            let verdict = try await coordinator.signQuote(Array(body.sgxQuote))
            return JSendResponse.success(
                SignQuoteResponse(
                    tcbStatus: verdict.tcbStatus, verificationSignature: Data(verdict.signature), simulation: verdict.isSimulation))
        } catch  where error.reason == .invalidQuote {
            return Self.invalidQuote(error)
        }
    }

    /// MarbleRun's answer to a quote that does not verify: a 400 `fail` whose `data.sgxQuote` says why.
    static func invalidQuote(_ error: CoordinatorError) -> Response {
        let refusal = SignQuoteRefusal(
            sgxQuote: error.description, reason: error.reason.rawValue, found: error.found, expected: error.expected,
            hint: error.hint)
        let envelope = JSend(status: .fail, data: refusal, message: error.description)
        // The refusal is made of strings only, which always encode.
        let bytes = (try? JSendResponse.encoder.encode(envelope)) ?? Data()
        return Response(
            status: .badRequest, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func setMonotonicCounter(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let certificate = await context.clientCertificateDER()
        let body = try await RequestBody.decode(
            MonotonicCounterRequest.self, from: request, context: context, shape: #"{"name": string, "value": unsigned 64-bit integer}"#)
        let previous = try await coordinator.setMonotonicCounter(name: body.name, value: body.value, clientCertificateDER: certificate)
        return JSendResponse.success(MonotonicCounterResponse(value: previous))
    }

    /// Reloads the servers' TLS identity after an operation that may have replaced the intermediate.
    private func refreshIdentity() async {
        do {
            try identity.update(try await coordinator.tlsIdentity())
        } catch {
            logger.error("The new TLS identity could not be loaded; the servers keep presenting the previous one", metadata: ["error": "\(error)"])
        }
        metrics.record(state: await coordinator.state)
    }

    /// MarbleRun's wording for the acknowledgements still missing.
    static func missingMessage(_ missing: Int) -> String {
        missing == 1 ? "1 user still needs to acknowledge the update manifest" : "\(missing) users still need to acknowledge the update manifest"
    }
}

extension SecretObject {
    init(_ record: SecretRecord) {
        self.init(
            type: record.type, size: record.size, shared: record.shared, userDefined: record.userDefined,
            cert: Data(record.certificate), validFor: record.validFor, privateKey: Data(record.privateKey),
            publicKey: Data(record.publicKey))
    }
}

/// `/metrics`, `/healthz` and `/readyz`, served on the client API and, when configured, on a plain HTTP listener.
struct OperationalRoutes: Sendable {
    let coordinator: Coordinator
    let metrics: CoordinatorMetrics

    func add(to router: Router<CoordinatorRequestContext>) {
        router.get(RouterPath(ClientAPIPath.metrics)) { _, _ in
            metrics.record(state: await coordinator.state)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        router.get(RouterPath(ClientAPIPath.health)) { _, _ in JSendResponse.success(health()) }
        router.get(RouterPath(ClientAPIPath.readiness)) { _, _ in
            let health = health()
            guard health.code != CoordinatorState.uninitialized.rawValue else {
                return JSendResponse.error(
                    "the Coordinator is \(health.state): it has not finished starting; wait and retry", status: .serviceUnavailable)
            }
            return JSendResponse.success(health)
        }
    }

    private func health() -> HealthResponse {
        let status = coordinator.status()
        metrics.record(state: status.state)
        return HealthResponse(code: status.code, state: status.state.description, simulation: status.isSimulation)
    }
}

/// Reading and decoding request bodies, with refusals that say what was expected.
enum RequestBody {
    static func decode<Body: Decodable>(
        _ type: Body.Type, from request: Request, context: CoordinatorRequestContext, shape: String,
        limit: Int = ClientAPIRoutes.maximumBodySize
    ) async throws -> Body {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw tooLarge(limit: limit, shape: shape, path: request.uri.path)
        }
        return try decode(type, from: buffer, shape: shape)
    }

    /// The refusal of a body over `limit` bytes.
    static func tooLarge(limit: Int, shape: String, path: String) -> CoordinatorError {
        CoordinatorError(
            .badRequest, .malformedRequest, found: "a request body larger than \(limit) bytes", expected: shape,
            hint: "send the body MarbleRun's API v2 defines for \(path)")
    }

    /// Decodes a collected body.
    static func decode<Body: Decodable>(_ type: Body.Type, from buffer: ByteBuffer, shape: String) throws(CoordinatorError) -> Body {
        do {
            return try JSONDecoder().decode(Body.self, from: Data(buffer.readableBytesView))
        } catch {
            throw CoordinatorError(
                .badRequest, .malformedRequest, found: "a body that is not the expected JSON (\(describe(error)))",
                expected: shape, hint: "byte fields are base64 (standard alphabet, with padding), as Go's encoding/json writes them")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.typeMismatch(_, let context),
            DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        case DecodingError.keyNotFound(let key, let context):
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing member \(path)"
        default:
            return "\(error)"
        }
    }
}
