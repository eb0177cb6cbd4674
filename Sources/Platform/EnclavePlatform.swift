import Crypto

/// The one interface through which the Coordinator and the marble launcher reach the trusted execution environment:
/// quotes, sealing keys, the enclave's own measurement and Gramine encrypted-file keys.
///
/// Which implementation runs is always an explicit choice of the caller: `GraminePlatform` inside a real SGX enclave,
/// or `SimulatedPlatform`, which offers no protection at all and must be enabled and announced explicitly.
public protocol EnclavePlatform: Sendable {
    /// What kind of platform this is; `.simulation` is insecure and must be shown as such wherever it is reported.
    var kind: PlatformKind { get }

    /// An SGX DCAP quote (v3 byte format) whose report data is exactly `reportData` (64 bytes).
    func quote(reportData: [UInt8]) throws(PlatformError) -> [UInt8]

    /// A 128-bit sealing key bound to this enclave as SGX's EGETKEY derives it: to its MRENCLAVE, or to its
    /// MRSIGNER and product ID (see `SealingKeyPolicy`). The same enclave on the same platform always gets the same key.
    func sealingKey(_ policy: SealingKeyPolicy) throws(PlatformError) -> SymmetricKey

    /// The measurement of the running enclave, when the platform can tell it.
    func measurement() throws(PlatformError) -> EnclaveMeasurement?

    /// Sets the 16-byte key of a Gramine encrypted-files mount (`/dev/attestation/keys/NAME`).
    func setEncryptedFileKey(named name: String, key: [UInt8]) throws(PlatformError)
}

/// The platform kinds Cloister can run on.
public enum PlatformKind: String, Sendable, Hashable, Codable, CustomStringConvertible {
    /// A real Intel SGX enclave run by Gramine, attested with DCAP.
    case gramine
    /// No enclave at all: quotes come from keys stored on disk, so nothing is protected. For development and tests.
    case simulation

    /// False for simulation: nothing it reports can be trusted by anyone else.
    public var isSecure: Bool { self == .gramine }

    public var description: String {
        switch self {
        case .gramine: "gramine (Intel SGX, DCAP attestation)"
        case .simulation: "simulation (INSECURE: no SGX enclave, quotes are signed with keys stored on disk)"
        }
    }
}

/// Which identity a sealing key is bound to, as in SGX's KEYPOLICY.
///
/// Like Gramine's `_sgx_mrenclave` / `_sgx_mrsigner` keys, both are requested with the enclave's own ISVSVN and the
/// platform's CPUSVN, and include ISVPRODID and the DEBUG attribute: raising ISVSVN, or a microcode update, changes
/// both keys, so data sealed before must then be recovered another way (e.g. recovery keys).
public enum SealingKeyPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Bound to MRENCLAVE: only this exact enclave build can derive it (Gramine `keys/_sgx_mrenclave`).
    case enclave
    /// Bound to MRSIGNER and ISVPRODID: every enclave build of this signer and product (at the same ISVSVN) can
    /// derive it (Gramine `keys/_sgx_mrsigner`).
    case signer

    /// The name Gramine gives this key under `/dev/attestation/keys/`.
    public var gramineKeyName: String {
        switch self {
        case .enclave: "_sgx_mrenclave"
        case .signer: "_sgx_mrsigner"
        }
    }
}

/// The identity SGX reports for an enclave.
public struct EnclaveMeasurement: Sendable, Hashable, Codable {
    /// MRENCLAVE (32 bytes).
    public var mrEnclave: [UInt8]
    /// MRSIGNER (32 bytes).
    public var mrSigner: [UInt8]
    /// ISVPRODID.
    public var productID: UInt16
    /// ISVSVN.
    public var securityVersion: UInt16
    /// Whether the DEBUG attribute is set (the enclave's memory is readable by a debugger).
    public var debug: Bool

    public init(mrEnclave: [UInt8], mrSigner: [UInt8], productID: UInt16, securityVersion: UInt16, debug: Bool) {
        self.mrEnclave = mrEnclave
        self.mrSigner = mrSigner
        self.productID = productID
        self.securityVersion = securityVersion
        self.debug = debug
    }
}

/// The 64 bytes of REPORTDATA every quote carries.
public enum ReportData {
    public static let size = 64

    /// Checks that `bytes` has exactly the REPORTDATA size.
    public static func validate(_ bytes: [UInt8]) throws(PlatformError) {
        guard bytes.count == size else { throw .reportDataSize(bytes.count) }
    }

    /// `digest` (at most 64 bytes, e.g. a SHA-256) followed by zeros, the usual way to bind a hash into a quote.
    public static func padding(_ digest: some Sequence<UInt8>) throws(PlatformError) -> [UInt8] {
        var bytes = Array(digest)
        guard bytes.count <= size else { throw .reportDataSize(bytes.count) }
        bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
        return bytes
    }
}
