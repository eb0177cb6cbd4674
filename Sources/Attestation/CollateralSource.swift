/// Somewhere verification collateral comes from: a bundle file, Intel PCS, a PCCS, or Azure THIM.
public protocol CollateralSource: Sendable {
    /// Names the source and its location, e.g. `Intel PCS at https://api.trustedservices.intel.com`; it is part of
    /// every cache key and every error message.
    var identity: String { get }

    /// The complete collateral for `request`, with the TCB Info and QE Identity kept as the exact signed bytes.
    func collateral(for request: CollateralRequest) async throws(CollateralSourceError) -> Collateral
}
