import Attestation
import Foundation

/// Which Coordinator enclave a client accepts, in the format of MarbleRun's `coordinator-era.json`: either `UniqueID`
/// (MRENCLAVE), or `SignerID` (MRSIGNER) + `ProductID` + minimum `SecurityVersion`; plus the accepted TCB statuses and
/// advisories (MarbleRun semantics: `UpToDate` is always accepted; absent means `UpToDate` and `SWHardeningNeeded`).
public struct CoordinatorPolicy: Sendable, Hashable, Codable {
    public var uniqueID: String?
    public var signerID: String?
    public var productID: UInt16?
    public var securityVersion: UInt16?
    public var debug: Bool?
    public var acceptedTCBStatuses: [String]?
    public var acceptedAdvisories: [String]?

    public init(
        uniqueID: String? = nil, signerID: String? = nil, productID: UInt16? = nil, securityVersion: UInt16? = nil,
        debug: Bool? = nil, acceptedTCBStatuses: [String]? = nil, acceptedAdvisories: [String]? = nil
    ) {
        self.uniqueID = uniqueID
        self.signerID = signerID
        self.productID = productID
        self.securityVersion = securityVersion
        self.debug = debug
        self.acceptedTCBStatuses = acceptedTCBStatuses
        self.acceptedAdvisories = acceptedAdvisories
    }

    enum CodingKeys: String, CodingKey {
        case uniqueID = "UniqueID"
        case signerID = "SignerID"
        case productID = "ProductID"
        case securityVersion = "SecurityVersion"
        case debug = "Debug"
        case acceptedTCBStatuses = "AcceptedTCBStatuses"
        case acceptedAdvisories = "AcceptedAdvisories"
    }

    /// Reads a policy file (`coordinator-era.json` format).
    public static func load(path: String) throws(CoordinatorClientError) -> CoordinatorPolicy {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "cannot read the Coordinator policy file \(path)", found: error.localizedDescription,
                hint: "Check the path given with --policy (or CLOISTER_POLICY).")
        }
        do {
            return try JSONDecoder().decode(CoordinatorPolicy.self, from: data)
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "the Coordinator policy file \(path) is not a coordinator-era.json object",
                found: String(describing: error),
                expected: #"{"UniqueID": "<hex>"} or {"SignerID": "<hex>", "ProductID": 3, "SecurityVersion": 3}"#,
                hint: "Fix the file; MarbleRun's published coordinator-era.json has this format.")
        }
    }

    /// Overlays the values set in `other` (flags) on this policy (file).
    public func overridden(by other: CoordinatorPolicy) -> CoordinatorPolicy {
        CoordinatorPolicy(
            uniqueID: other.uniqueID ?? uniqueID, signerID: other.signerID ?? signerID,
            productID: other.productID ?? productID, securityVersion: other.securityVersion ?? securityVersion,
            debug: other.debug ?? debug, acceptedTCBStatuses: other.acceptedTCBStatuses ?? acceptedTCBStatuses,
            acceptedAdvisories: other.acceptedAdvisories ?? acceptedAdvisories)
    }

    /// The attestation policy, binding the report data to `expectedReportDataPrefix`.
    public func attestationPolicy(expectedReportDataPrefix: [UInt8]) throws(CoordinatorClientError) -> AttestationPolicy {
        let hint = "Give --unique-id HEX, or --signer-id HEX with --product-id N and --security-version N (or a --policy file)."
        var policy = AttestationPolicy(allowDebug: debug ?? false, reportData: .prefix(expectedReportDataPrefix))
        if let uniqueID {
            policy.mrEnclaves = [try Self.measurement(uniqueID, name: "UniqueID")]
        }
        if let signerID {
            guard let productID, let securityVersion else {
                throw CoordinatorClientError(
                    .invalidInput, "the Coordinator policy has a SignerID without ProductID and SecurityVersion",
                    found:
                        "SignerID \(signerID), ProductID \(productID.map(String.init) ?? "absent"), SecurityVersion \(securityVersion.map(String.init) ?? "absent")",
                    expected: "all three", hint: hint)
            }
            policy.signer = .init(
                mrSigner: try Self.measurement(signerID, name: "SignerID"), productID: productID,
                minimumSecurityVersion: securityVersion)
        }
        guard uniqueID != nil || signerID != nil else {
            throw CoordinatorClientError(
                .invalidInput, "no Coordinator identity to verify against", found: "no UniqueID and no SignerID",
                expected: "UniqueID, or SignerID + ProductID + SecurityVersion", hint: hint + " Or --insecure to skip verification (unsafe).")
        }
        let statuses = AttestationPolicy.marbleRunAcceptedStatuses(acceptedTCBStatuses ?? ["SWHardeningNeeded"])
        guard statuses.unknown.isEmpty else {
            throw CoordinatorClientError(
                .invalidInput, "unknown TCB status names in the Coordinator policy",
                found: statuses.unknown.joined(separator: ", "),
                expected: TCBStatus.allCases.map(\.rawValue).joined(separator: ", "), hint: "Fix --accepted-tcb-statuses or AcceptedTCBStatuses.")
        }
        policy.acceptedTCBStatuses = statuses.accepted
        policy.acceptedAdvisories = acceptedAdvisories ?? []
        return policy
    }

    private static func measurement(_ text: String, name: String) throws(CoordinatorClientError) -> [UInt8] {
        guard let bytes = [UInt8](hexadecimal: text), bytes.count == 32 else {
            throw CoordinatorClientError(
                .invalidInput, "the Coordinator policy's \(name) is not 32 bytes of hexadecimal", found: text,
                expected: "64 hexadecimal digits", hint: "Copy the value from coordinator-era.json or `cloister package-info`.")
        }
        return bytes
    }
}
