import Foundation

/// A ``QuoteVerifier`` that remembers what it has already verified, for a steady stream of quotes from known platforms.
///
/// It keeps, keyed on the exact input bytes: parsed and signature-checked CRLs, issuer chains, TCB Info and QE Identity
/// documents, a platform's PCK chain with its SGX extension, and QE reports already checked against a PCK key and an
/// attestation key. Validity periods, CRL expiry, revocation and every policy rule are still evaluated at each call's
/// instant, so results are identical to a cold verification; a warm call costs about one ECDSA verification (the
/// quote's own signature). Safe to share between threads; the synchronous API avoids actor hops on the hot path.
public final class CachingQuoteVerifier: Sendable {
    private let verifier: QuoteVerifier
    private let cache = VerificationCache()

    public init(trustAnchor: TrustAnchor = .intelSGXRootCA) {
        verifier = QuoteVerifier(trustAnchor: trustAnchor, cache: cache)
    }

    public var trustAnchor: TrustAnchor { verifier.trustAnchor }

    /// Verifies a parsed quote, reusing earlier verified collateral and platform results.
    public func verify(_ quote: Quote, collateral: Collateral, at instant: Date) throws(AttestationError) -> VerifiedQuote {
        try verifier.verify(quote, collateral: collateral, at: instant)
    }

    /// Parses and verifies quote bytes.
    public func verify(quoteBytes: [UInt8], collateral: Collateral, at instant: Date) throws(AttestationError) -> VerifiedQuote {
        try verifier.verify(quoteBytes: quoteBytes, collateral: collateral, at: instant)
    }

    /// Like ``QuoteVerifier/explain(quoteBytes:collateral:at:policy:)``; steps served from the cache are marked.
    public func explain(quoteBytes: [UInt8], collateral: Collateral, at instant: Date, policy: AttestationPolicy? = nil) -> Explanation {
        verifier.explain(quoteBytes: quoteBytes, collateral: collateral, at: instant, policy: policy)
    }

    /// Forgets everything cached.
    public func removeAll() {
        cache.removeAll()
    }
}
