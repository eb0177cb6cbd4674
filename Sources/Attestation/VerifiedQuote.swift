import Foundation

/// The outcome of a successful verification: the quote is authentic under ``trustAnchor`` and its platform has TCB
/// ``status``. Whether that is acceptable is for an ``AttestationPolicy`` to decide.
public struct VerifiedQuote: Sendable, Hashable {
    public let quote: Quote
    public let trustAnchor: TrustAnchor
    /// The instant the verification was made for.
    public let verificationTime: Date
    /// The converged TCB status of platform, TDX module and QE (Intel's `convergeTcbStatuses`, as dcap-qvl 0.7.0).
    public let status: TCBStatus
    /// Advisory IDs: the platform level's, then the TDX module's, then the QE's, without duplicates.
    public let advisoryIDs: [String]
    public let platformStatus: TCBStatus
    public let qeStatus: TCBStatus
    /// TDX only, when the TDX module version is above 0: the status of the module's level.
    public let tdxModuleStatus: TCBStatus?
    public let platformTCBLevel: TCBLevelSummary
    public let qeTCBLevel: TCBLevelSummary
    public let tdxModuleTCBLevel: TCBLevelSummary?
    /// The older of the platform's and TDX module's level dates: since when the platform is in ``status``.
    public let tcbDate: Date
    /// The SGX extension of the PCK certificate (FMSPC, CPUSVN, PCESVN, ...).
    public let pck: PCKExtension
    /// The earliest moment a piece of the collateral used (TCB Info, QE Identity, CRLs, certificates) stops being valid.
    public let collateralExpiry: Date

    /// True when the trust anchor is a simulation root: the quote proves nothing about real SGX/TDX hardware.
    public var isSimulation: Bool { trustAnchor.isSimulation }
    public var tee: TEE { quote.tee }
}
