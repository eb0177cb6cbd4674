import Attestation
import CoordinatorAPI
import Foundation

/// The answer of `POST /api/v2/sign-quote`: the quote's TCB status and the Coordinator's root-key signature over it.
public struct SignedQuoteVerdict: Sendable, Hashable {
    /// The TCB status the verification found, in Intel's spelling (`UpToDate`, `SWHardeningNeeded`, ...).
    public let tcbStatus: String
    /// ECDSA (ASN.1 DER) by the Coordinator's root key over SHA-256(base64(quote) ‖ tcbStatus), the quote as it was
    /// received (with or without the OE header), as MarbleRun's `ClientAPI.SignQuote` signs it.
    public let signature: [UInt8]
    /// True when the quote was verified against the simulation root: the verdict proves nothing about SGX hardware.
    public let isSimulation: Bool
}

/// The 16-byte header Open Enclave (and MarbleRun's premain) puts before an SGX quote: version 1, type 2 (SGX remote
/// attestation), then the quote's length, all little-endian (`util.AddOEQuoteHeader`).
enum OpenEnclaveQuoteHeader {
    static let size = 16
    static let version: UInt32 = 1
    static let remoteAttestationType: UInt32 = 2

    /// The quote inside `bytes`: without the header when one that names the remaining length is present, else all.
    static func strip(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= size,
            littleEndian(bytes[0..<4]) == UInt64(version),
            littleEndian(bytes[4..<8]) == UInt64(remoteAttestationType),
            littleEndian(bytes[8..<16]) == UInt64(bytes.count - size)
        else { return bytes }
        return Array(bytes[size...])
    }

    private static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension Coordinator {
    /// The manifest feature gate that enables ``signQuote(_:)``.
    public static let signQuoteFeatureGate = "SignQuoteEndpoint"

    /// `POST /api/v2/sign-quote`: verifies an SGX quote (raw, or with the 16-byte OE header) for authenticity and TCB
    /// status with the Coordinator's collateral, without matching it against any package of the manifest, and signs
    /// the verdict with the root key, so that a client that trusts the Coordinator can trust the verdict.
    ///
    /// Requires the manifest's `SignQuoteEndpoint` feature gate.
    public func signQuote(_ quote: [UInt8]) async throws(CoordinatorError) -> SignedQuoteVerdict {
        try requireFeatureGate(Self.signQuoteFeatureGate, for: "quote signing")
        guard !quote.isEmpty else {
            throw CoordinatorError(
                .badRequest, .invalidQuote, found: "an empty sgxQuote", expected: "an SGX DCAP quote (base64)",
                hint: "send {\"sgxQuote\": base64 of the quote, with or without the OE header}")
        }
        let tcbStatus: String
        let isSimulation: Bool
        do {
            let verified = try await verifier.verify(quoteBytes: OpenEnclaveQuoteHeader.strip(quote), at: configuration.clock())
            (tcbStatus, isSimulation) = (verified.status.rawValue, verified.isSimulation)
        } catch {
            guard error.reason == .quoteRejected else { throw error }
            // Verification reports a Revoked TCB only once the quote has proven authentic. MarbleRun signs that verdict
            // too (only its other checks fail the request), so a client learns the platform is revoked.
            guard error.attestation?.check == .tcbStatus, error.attestation?.found.hasPrefix(TCBStatus.revoked.rawValue) == true else {
                throw CoordinatorError(
                    .badRequest, .invalidQuote, found: error.found, expected: error.expected, hint: error.hint,
                    attestation: error.attestation)
            }
            (tcbStatus, isSimulation) = (TCBStatus.revoked.rawValue, verifier.isSimulation)
        }
        let signature: Data
        do {
            signature = try pki.rootKey.signature(for: SignQuoteResponse.signedMessage(sgxQuote: Data(quote), tcbStatus: tcbStatus))
        } catch {
            throw Self.cryptographyError(error, "signing the quote verdict with the root key")
        }
        logger.info(
            "Quote verified and signed",
            metadata: ["tcbStatus": "\(tcbStatus)", "verification": "\(isSimulation ? "SIMULATION (proves nothing)" : "DCAP")"])
        return SignedQuoteVerdict(tcbStatus: tcbStatus, signature: Array(signature), isSimulation: isSimulation)
    }

    /// Throws the 403-class refusal MarbleRun answers unless the manifest's `Config.FeatureGates` lists `gate`
    /// (case-insensitive); without a manifest every gate is off.
    func requireFeatureGate(_ gate: String, for feature: String) throws(CoordinatorError) {
        guard let config = manifest?.content.config, config.hasFeature(gate) else {
            throw CoordinatorError(
                .featureDisabled, .featureDisabled,
                found: manifest.map { "Config.FeatureGates \($0.content.config.featureGates)" } ?? "no manifest (state \(core.state))",
                expected: "Config.FeatureGates containing \(gate)",
                hint: "set a manifest whose Config.FeatureGates lists \(gate) to enable \(feature)")
        }
    }
}
