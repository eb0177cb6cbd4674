import Synchronization
import X509

/// Results of expensive, instant-independent work (parsing and signature checks), keyed on the exact input bytes.
///
/// Nothing cached depends on the verification instant: validity periods, CRL expiry and revocation are re-checked
/// against every verification's instant, so a cached entry can never make an expired input pass.
final class VerificationCache: Sendable {
    struct SignedDocumentKey: Hashable, Sendable {
        let json: [UInt8]
        let signature: [UInt8]
        let issuerChain: String
    }

    struct QEReportKey: Hashable, Sendable {
        let pckLeaf: Certificate
        let qeReport: EnclaveReport
        let qeReportSignature: [UInt8]
        let attestationKey: [UInt8]
        let qeAuthenticationData: [UInt8]
    }

    struct PCKCRLSignatureKey: Hashable, Sendable {
        let crl: [UInt8]
        let issuer: Certificate
    }

    struct State: Sendable {
        var rootCRLs: [[UInt8]: CertificateRevocationList] = [:]
        var pckCRLs: [[UInt8]: CertificateRevocationList] = [:]
        var pckCRLSignatures: Set<PCKCRLSignatureKey> = []
        var issuerChains: [String: CertifiedPath] = [:]
        var tcbInfos: [SignedDocumentKey: TCBInfo] = [:]
        var qeIdentities: [SignedDocumentKey: QEIdentity] = [:]
        var pckChains: [[UInt8]: (path: CertifiedPath, pck: PCKExtension)] = [:]
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
