import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import Logging

/// The marble API (HTTPS with mutual TLS): `POST /api/v2/activate`. The TLS layer demands a client certificate but
/// does not verify it; its DER goes to the Coordinator, which requires the quote to bind SHA-256 of it.
struct MarbleAPIRoutes: Sendable {
    let coordinator: Coordinator
    let metrics: CoordinatorMetrics
    let logger: Logger

    /// A quote with its PCK chain is about 5 KiB and a CSR under 1 KiB; anything far larger is not an activation.
    static let maximumBodySize = 256 << 10

    func add(to router: Router<CoordinatorRequestContext>) {
        router.post(RouterPath(ActivationRequest.path)) { request, context in try await activate(request, context) }
    }

    private func activate(_ request: Request, _ context: CoordinatorRequestContext) async throws -> Response {
        let certificate = await context.clientCertificateDER()
        let activation = try await RequestBody.decode(
            ActivationRequest.self, from: request, context: context,
            shape: #"{"quote": base64, "csr": base64 DER, "marbleType": string, "uuid": string}"#,
            limit: Self.maximumBodySize)
        do {
            let response = try await coordinator.activate(activation, clientCertificateDER: certificate)
            metrics.recordActivation(marbleType: activation.marbleType, known: true, succeeded: true)
            return JSendResponse.success(response)
        } catch {
            metrics.recordActivation(marbleType: activation.marbleType, known: error.reason != .unknownMarbleType, succeeded: false)
            logger.notice(
                "Activation refused",
                metadata: [
                    "marbleType": "\(activation.marbleType.prefix(64))", "uuid": "\(activation.uuid.prefix(64))",
                    "reason": "\(error.reason.rawValue)", "error": "\(error)",
                ])
            throw error
        }
    }
}
