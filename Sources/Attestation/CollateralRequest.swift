import Hexadecimal

/// The trusted execution environment a quote comes from; it selects the `/sgx/` or `/tdx/` certification paths.
public enum TEEType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case sgx = "SGX"
    case tdx = "TDX"

    /// The path segment Intel's certification APIs use for this TEE (`sgx` or `tdx`).
    public var pathComponent: String { rawValue.lowercased() }

    public var description: String { rawValue }
}

/// The CA that issued a PCK certificate; it selects which PCK CRL applies (`/pckcrl?ca=processor|platform`).
public enum PCKCertificateAuthority: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case processor
    case platform

    public var description: String { rawValue }
}

/// What a collateral source is asked for: the collateral of one platform family (FMSPC) under one PCK CA.
public struct CollateralRequest: Sendable, Hashable, CustomStringConvertible {
    public let tee: TEEType
    /// Twelve upper-case hexadecimal digits (six bytes), the form Intel's APIs take.
    public let fmspc: String
    public let certificateAuthority: PCKCertificateAuthority

    /// - Throws: `CollateralSourceError.invalidFMSPC` when `fmspc` is not six bytes of hexadecimal.
    public init(tee: TEEType, fmspc: String, certificateAuthority: PCKCertificateAuthority) throws(CollateralSourceError) {
        let normalized = fmspc.uppercased()
        guard normalized.utf8.count == 12, normalized.utf8.allSatisfy({ $0.hexadecimalDigitValue != nil }) else {
            throw .invalidFMSPC(fmspc)
        }
        self.tee = tee
        self.fmspc = normalized
        self.certificateAuthority = certificateAuthority
    }

    /// - Throws: `CollateralSourceError.invalidFMSPC` when `fmspc` is not six bytes long.
    public init(tee: TEEType, fmspc: [UInt8], certificateAuthority: PCKCertificateAuthority) throws(CollateralSourceError) {
        try self.init(tee: tee, fmspc: fmspc.hexadecimal.uppercased(), certificateAuthority: certificateAuthority)
    }

    public var description: String { "\(tee) FMSPC \(fmspc), PCK \(certificateAuthority) CA" }
}
