import Foundation

extension ClientAPIPath {
    public static let signQuote = "/api/v2/sign-quote"
    public static let monotonicCounter = "/api/v2/monotonic-counter"
}

/// `POST /api/v2/sign-quote` (manifest feature gate `SignQuoteEndpoint`): an SGX quote for the Coordinator to verify.
public struct SignQuoteRequest: Codable, Sendable, Hashable {
    /// The raw DCAP quote, or the quote behind the 16-byte Open Enclave header.
    public var sgxQuote: Data

    public init(sgxQuote: Data) {
        self.sgxQuote = sgxQuote
    }
}

/// `POST /api/v2/sign-quote`: the quote's TCB status and the Coordinator's signature over it.
public struct SignQuoteResponse: Codable, Sendable, Hashable {
    /// Intel's spelling of the TCB status (`UpToDate`, `SWHardeningNeeded`, `OutOfDate`, ...).
    public var tcbStatus: String
    /// ASN.1 DER ECDSA signature by the Coordinator's root key over SHA-256(base64(sgxQuote as sent) ‖ tcbStatus).
    public var verificationSignature: Data
    /// True when the quote was verified against the simulation root, so the verdict proves nothing about SGX
    /// hardware. Not in MarbleRun's answer, whose clients ignore it; absent when a MarbleRun Coordinator answers.
    public var simulation: Bool?

    public init(tcbStatus: String, verificationSignature: Data, simulation: Bool? = nil) {
        self.tcbStatus = tcbStatus
        self.verificationSignature = verificationSignature
        self.simulation = simulation
    }

    /// The bytes whose SHA-256 the signature covers: base64 (standard alphabet, padded) of the quote exactly as it was
    /// sent, followed by the TCB status.
    public static func signedMessage(sgxQuote: Data, tcbStatus: String) -> Data {
        Data(sgxQuote.base64EncodedString().utf8) + Data(tcbStatus.utf8)
    }
}

/// The `data` of a refused `POST /api/v2/sign-quote` whose quote does not verify, as MarbleRun answers it
/// (`data.sgxQuote`), with the reason's parts as every other refusal carries them.
public struct SignQuoteRefusal: Codable, Sendable, Hashable {
    /// Why the quote did not verify.
    public var sgxQuote: String
    public var reason: String
    public var found: String
    public var expected: String
    public var hint: String

    public init(sgxQuote: String, reason: String, found: String, expected: String, hint: String) {
        self.sgxQuote = sgxQuote
        self.reason = reason
        self.found = found
        self.expected = expected
        self.hint = hint
    }
}

/// `POST /api/v2/monotonic-counter` (manifest feature gate `MonotonicCounter`, marble certificate): raises the calling
/// marble's counter `name` to `value` if it is higher.
public struct MonotonicCounterRequest: Codable, Sendable, Hashable {
    public var name: String
    public var value: UInt64

    public init(name: String, value: UInt64) {
        self.name = name
        self.value = value
    }
}

/// `POST /api/v2/monotonic-counter`: the counter's value before the request (0 when it was new).
public struct MonotonicCounterResponse: Codable, Sendable, Hashable {
    public var value: UInt64

    public init(value: UInt64) {
        self.value = value
    }
}
