import CoordinatorAPI
import Foundation

extension CoordinatorClient {
    /// `GET /api/v2/recover/public-key`: the Coordinator's ephemeral recovery key (recovery mode only).
    public func recoveryTransportKey() async throws(CoordinatorClientError) -> RecoveryTransportKey {
        let answer: RecoveryPublicKeyResponse = try await get(ClientAPIPath.recoveryPublicKey)
        guard answer.algorithm == "RSA" else {
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's recovery public key has an unknown algorithm", found: answer.algorithm,
                expected: "RSA", hint: "Check that the Coordinator version is compatible.")
        }
        return try RecoveryTransportKey(derRepresentation: Array(answer.ephemeralPublicKey))
    }

    /// `POST /api/v2/recover`: one share (decrypted or encrypted to ``recoveryTransportKey()``) and its signature.
    public func recover(_ share: RecoveryShare) async throws(CoordinatorClientError) -> RecoveryResponse {
        try await post(
            ClientAPIPath.recover, body: RecoveryRequest(recoverySecret: Data(share.secret), recoverySecretSignature: Data(share.signature)))
    }
}
