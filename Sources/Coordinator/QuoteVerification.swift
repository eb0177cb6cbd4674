import Attestation
import Foundation
import Platform
import Synchronization

/// How the Coordinator verifies marble quotes: the root every quote must chain to, and where verification collateral
/// (TCB Info, QE Identity, CRLs) comes from.
public struct QuoteVerificationConfiguration: Sendable {
    /// Where collateral comes from.
    public enum CollateralProvider: Sendable {
        /// A simulated SGX machine signs fresh collateral itself (its marbles run on the same machine).
        case simulatedMachine(SimulatedSGXMachine)
        /// A real source (Intel PCS, a PCCS, Azure THIM, a bundle file), cached until the collateral's next update.
        case source(any CollateralSource, cache: CollateralCache)
    }

    public let trustAnchor: TrustAnchor
    public let collateral: CollateralProvider

    public init(trustAnchor: TrustAnchor, collateral: CollateralProvider) {
        self.trustAnchor = trustAnchor
        self.collateral = collateral
    }

    /// Verification of quotes made on `machine`: its simulation root is the trust anchor and it signs the collateral.
    /// Every result is marked as simulation.
    public static func simulated(_ machine: SimulatedSGXMachine) -> QuoteVerificationConfiguration {
        QuoteVerificationConfiguration(
            trustAnchor: .simulation(root: machine.rootCertificate), collateral: .simulatedMachine(machine))
    }

    /// Verification of real quotes under the Intel SGX Root CA with collateral from `source`.
    public static func intel(
        source: any CollateralSource, cache: CollateralCache = CollateralCache()
    )
        -> QuoteVerificationConfiguration
    {
        QuoteVerificationConfiguration(trustAnchor: .intelSGXRootCA, collateral: .source(source, cache: cache))
    }
}

/// Verifies quotes with a warm cache; shared by concurrent activations.
final class MarbleQuoteVerifier: Sendable {
    let configuration: QuoteVerificationConfiguration
    private let verifier: CachingQuoteVerifier
    /// Simulated collateral is signed once and reused until it nears expiry, so the verifier cache stays warm.
    private let simulatedCollateral = Mutex<(collateral: Collateral, renewAfter: Date)?>(nil)
    private static let simulatedCollateralValidity: TimeInterval = 7 * 86_400
    private static let simulatedCollateralRenewal: TimeInterval = 86_400

    init(configuration: QuoteVerificationConfiguration) {
        self.configuration = configuration
        verifier = CachingQuoteVerifier(trustAnchor: configuration.trustAnchor)
    }

    var isSimulation: Bool { configuration.trustAnchor.isSimulation }

    /// Parses and verifies `quoteBytes` (authenticity and TCB status only; the policy is applied by the caller).
    func verify(quoteBytes: [UInt8], at instant: Date) async throws(CoordinatorError) -> VerifiedQuote {
        let quote: Quote
        do {
            quote = try Quote(bytes: quoteBytes)
        } catch {
            throw Self.rejected(error)
        }
        let collateral = try await collateral(for: quote, at: instant)
        do {
            return try verifier.verify(quote, collateral: collateral, at: instant)
        } catch {
            throw Self.rejected(error)
        }
    }

    static func rejected(_ error: AttestationError) -> CoordinatorError {
        CoordinatorError(
            .activationRefused, .quoteRejected, found: "\(error.check.title) check failed: \(error.found)",
            expected: error.expected, hint: error.hint, attestation: error)
    }

    private func collateral(for quote: Quote, at instant: Date) async throws(CoordinatorError) -> Collateral {
        switch configuration.collateral {
        case .simulatedMachine(let machine):
            if let cached = simulatedCollateral.withLock({ $0 }), instant < cached.renewAfter {
                return cached.collateral
            }
            do {
                let collateral = try machine.collateral(at: instant, validity: Self.simulatedCollateralValidity)
                simulatedCollateral.withLock {
                    $0 = (collateral, instant.addingTimeInterval(Self.simulatedCollateralRenewal))
                }
                return collateral
            } catch {
                throw CoordinatorError(
                    .internal, .collateralUnavailable, found: "\(error)", expected: "collateral signed by the simulated machine",
                    hint: "check the simulated machine's state directory")
            }
        case .source(let source, let cache):
            let request = try Self.collateralRequest(for: quote)
            do {
                return try await cache.collateral(for: request, from: source, at: instant)
            } catch {
                throw CoordinatorError(
                    .internal, .collateralUnavailable, found: "\(error)", expected: "collateral for \(request) from \(source.identity)",
                    hint: "check the collateral source's address and reachability, or provide a collateral bundle file")
            }
        }
    }

    /// The collateral the quote needs: its TEE, and the FMSPC and issuing CA of the PCK certificate chain it carries.
    static func collateralRequest(for quote: Quote) throws(CoordinatorError) -> CollateralRequest {
        do {
            return try CollateralRequest(quote: quote)
        } catch {
            let found: String
            switch error {
            case .quoteWithoutPCKChain(let certificationType): found = "certification data type \(certificationType)"
            case .pckLeafUnreadable(let reason): found = "a PCK certificate chain that names no collateral: \(reason)"
            default: found = "a PCK certificate that names no collateral: \(error)"
            }
            throw CoordinatorError(
                .activationRefused, .quoteRejected, found: found,
                expected: "a quote carrying its Intel PCK certificate chain (certification data type 5)",
                hint: "generate the quote with a DCAP quoting enclave that embeds the PCK chain (Gramine does by default)")
        }
    }
}
