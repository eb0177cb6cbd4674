import CoordinatorAPI
import Foundation
import Launcher
import Platform

/// One marble ready to activate, made exactly as `cloister-premain` makes it: a fresh P-256 key with its self-signed
/// certificate and CSR (`MarbleKey`), a new UUID, and a quote from the simulated platform whose report data binds
/// SHA-256 of that certificate.
struct MarbleIdentity: Sendable {
    let key: MarbleKey
    let request: ActivationRequest

    init(marbleType: String, platform: SimulatedPlatform) throws {
        key = try MarbleKey(names: MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        let quote = try platform.quote(reportData: key.reportData)
        request = ActivationRequest(
            quote: Data(quote), csr: Data(key.csrDER), marbleType: marbleType, uuid: UUID().uuidString.lowercased())
    }

    /// Makes `count` identities on `workers` parallel tasks, so that the launcher's own cost stays out of the timed part.
    static func prepare(count: Int, marbleType: String, platform: SimulatedPlatform, workers: Int) async throws -> [MarbleIdentity] {
        try await withThrowingTaskGroup(of: [MarbleIdentity].self) { group in
            for worker in 0..<workers {
                let share = count / workers + (worker < count % workers ? 1 : 0)
                group.addTask {
                    try (0..<share).map { _ in try MarbleIdentity(marbleType: marbleType, platform: platform) }
                }
            }
            var identities: [MarbleIdentity] = []
            identities.reserveCapacity(count)
            for try await batch in group { identities += batch }
            return identities
        }
    }
}
