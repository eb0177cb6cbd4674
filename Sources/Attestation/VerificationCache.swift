import Synchronization

/// Results of expensive, instant-independent work (parsing and signature checks), keyed on the exact input bytes.
///
/// Nothing cached depends on the verification instant: validity periods, CRL expiry and revocation are re-checked
/// against every verification's instant, so a cached entry can never make an expired input pass.
final class VerificationCache: Sendable {
    struct SignedDocumentKey: Hashable, Sendable {
        let json: ExactBytes
        let signature: ExactBytes
        let issuerChain: ExactText
    }

    struct QEReportKey: Hashable, Sendable {
        /// The PCK chain the QE report signature was checked against (its leaf's key signed the QE report).
        let pckChain: ExactBytes
        let qeReport: ExactBytes
        let qeReportSignature: ExactBytes
        let attestationKey: ExactBytes
        let qeAuthenticationData: ExactBytes
    }

    struct PCKCRLSignatureKey: Hashable, Sendable {
        let crl: ExactBytes
        let issuerPublicKey: ExactBytes
    }

    struct State: Sendable {
        var rootCRLs: [ExactBytes: CertificateRevocationList] = [:]
        var pckCRLs: [ExactBytes: CertificateRevocationList] = [:]
        var pckCRLSignatures: Set<PCKCRLSignatureKey> = []
        var issuerChains: [ExactText: CertifiedPath] = [:]
        var tcbInfos: [SignedDocumentKey: TCBInfo] = [:]
        var qeIdentities: [SignedDocumentKey: QEIdentity] = [:]
        var pckChains: [ExactBytes: (path: CertifiedPath, pck: PCKExtension)] = [:]
        var qeReports: Set<QEReportKey> = []
    }

    /// Past this many entries in one table, the table is emptied: a verifier facing unbounded distinct inputs stays
    /// bounded, at worst doing cold work again.
    static let tableLimit = 4096

    private let state = Mutex(State())

    func lookup<Value>(_ read: (State) -> Value?) -> Value? {
        state.withLock { read($0) }
    }

    func store(_ write: (inout State) -> Void) {
        state.withLock { write(&$0) }
    }

    func removeAll() {
        state.withLock { $0 = State() }
    }
}

extension Dictionary {
    /// Inserts, emptying the table first when it reached `VerificationCache.tableLimit`.
    mutating func insertBounded(_ value: Value, for key: Key) {
        if count >= VerificationCache.tableLimit { removeAll(keepingCapacity: true) }
        self[key] = value
    }
}

extension Set {
    mutating func insertBounded(_ member: Element) {
        if count >= VerificationCache.tableLimit { removeAll(keepingCapacity: true) }
        insert(member)
    }
}

/// Bytes as a cache key: hashed in bulk (`Array<UInt8>`'s own hashing feeds the hasher a byte at a time, which cost more
/// than the warm path's signature check) and compared exactly.
struct ExactBytes: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = Array(bytes) }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// Text (PEM chains) as a cache key, hashed in bulk over its UTF-8 and compared byte for byte.
struct ExactText: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    // String equality is exact here: PEM text is ASCII, so canonical equivalence is byte equality.
    static func == (lhs: ExactText, rhs: ExactText) -> Bool { lhs.text == rhs.text }
}
