import Attestation
import Foundation

/// The TCB situation the simulated platform's collateral describes, so that tests can produce every verdict a real
/// platform can get: a platform or quoting-enclave TCB level with any status and advisories, and a revoked PCK
/// certificate.
///
/// A status other than UpToDate is produced the way Intel publishes it: the TCB Info (or QE Identity) lists a newer
/// UpToDate level the platform does not reach, and the platform's own level with the chosen status below it.
public struct SimulatedTCBState: Sendable, Hashable, Codable {
    public var platformStatus: TCBStatus
    public var platformAdvisoryIDs: [String]
    /// The quoting enclave's status. Intel never publishes SWHardeningNeeded variants for the QE; the simulation
    /// writes whatever it is given, so verifiers can be tested against such collateral too.
    public var qeStatus: TCBStatus
    public var qeAdvisoryIDs: [String]
    /// Lists the PCK certificate in the PCK CRL.
    public var pckCertificateRevoked: Bool

    public init(
        platformStatus: TCBStatus = .upToDate, platformAdvisoryIDs: [String] = [],
        qeStatus: TCBStatus = .upToDate, qeAdvisoryIDs: [String] = [],
        pckCertificateRevoked: Bool = false
    ) {
        self.platformStatus = platformStatus
        self.platformAdvisoryIDs = platformAdvisoryIDs
        self.qeStatus = qeStatus
        self.qeAdvisoryIDs = qeAdvisoryIDs
        self.pckCertificateRevoked = pckCertificateRevoked
    }

    public static let upToDate = SimulatedTCBState()

    func validate() throws(PlatformError) {
        for id in platformAdvisoryIDs + qeAdvisoryIDs {
            let allowed =
                !id.isEmpty
                && id.utf8.allSatisfy { byte in
                    (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                }
            guard allowed else {
                throw .simulationSetting(
                    name: "advisory ID", found: "'\(id)'", expected: "letters, digits and '-', like INTEL-SA-00615")
            }
        }
    }
}

/// The platform's hardware identity as its PCK certificate states it.
public struct SimulatedHardware: Sendable, Hashable, Codable {
    /// Family-Model-Stepping-Platform-CustomSKU, 6 bytes.
    public var fmspc: [UInt8]
    /// PCE ID, 2 bytes.
    public var pceID: [UInt8]
    /// The 16 CPU SVN components.
    public var cpuSVN: [UInt8]
    public var pceSVN: UInt16
    /// ISVSVN of the simulated quoting enclave.
    public var qeSecurityVersion: UInt16
    /// 0 Standard, 1 Scalable, 2 Scalable with Integrity.
    public var sgxType: Int

    public init(
        fmspc: [UInt8] = [0x00, 0x90, 0x6E, 0xD5, 0x00, 0x00], pceID: [UInt8] = [0, 0],
        cpuSVN: [UInt8] = [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], pceSVN: UInt16 = 13,
        qeSecurityVersion: UInt16 = 8, sgxType: Int = 0
    ) {
        self.fmspc = fmspc
        self.pceID = pceID
        self.cpuSVN = cpuSVN
        self.pceSVN = pceSVN
        self.qeSecurityVersion = qeSecurityVersion
        self.sgxType = sgxType
    }

    func validate() throws(PlatformError) {
        guard fmspc.count == 6 else {
            throw .simulationSetting(name: "fmspc", found: "\(fmspc.count) bytes", expected: "6 bytes")
        }
        guard pceID.count == 2 else {
            throw .simulationSetting(name: "pceID", found: "\(pceID.count) bytes", expected: "2 bytes")
        }
        guard cpuSVN.count == 16 else {
            throw .simulationSetting(name: "cpuSVN", found: "\(cpuSVN.count) bytes", expected: "16 bytes")
        }
        guard pceSVN < UInt16.max else {
            throw .simulationSetting(name: "pceSVN", found: "\(pceSVN)", expected: "below \(UInt16.max)")
        }
        guard qeSecurityVersion < UInt16.max else {
            throw .simulationSetting(
                name: "qeSecurityVersion", found: "\(qeSecurityVersion)", expected: "below \(UInt16.max)")
        }
        guard (0...2).contains(sgxType) else {
            throw .simulationSetting(name: "sgxType", found: "\(sgxType)", expected: "0, 1 or 2")
        }
    }
}

/// Writes the TCB Info v3 and QE Identity v2 texts in Intel's compact byte form (dcap-verification.md §8).
enum SimulatedCollateralText {
    static let tcbEvaluationDataNumber = 17
    /// The QE Identity attribute policy Intel publishes; the simulated QE's attributes satisfy it.
    static let qeAttributes = "11000000000000000000000000000000"
    static let qeAttributesMask = "FBFFFFFFFFFFFFFF0000000000000000"

    static func date(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }

    static func tcbInfo(hardware: SimulatedHardware, state: SimulatedTCBState, issued: Date, nextUpdate: Date) -> String {
        func level(cpuSVN: [UInt8], pceSVN: UInt16, status: TCBStatus, advisories: [String]) -> String {
            let components = cpuSVN.map { "{\"svn\":\($0)}" }.joined(separator: ",")
            return "{\"tcb\":{\"sgxtcbcomponents\":[\(components)],\"pcesvn\":\(pceSVN)},"
                + "\"tcbDate\":\"\(date(issued))\",\"tcbStatus\":\"\(status.rawValue)\"" + advisoryList(advisories) + "}"
        }
        var levels: [String] = []
        if state.platformStatus != .upToDate {
            levels.append(level(cpuSVN: hardware.cpuSVN, pceSVN: hardware.pceSVN + 1, status: .upToDate, advisories: []))
        }
        levels.append(
            level(
                cpuSVN: hardware.cpuSVN, pceSVN: hardware.pceSVN,
                status: state.platformStatus, advisories: state.platformAdvisoryIDs))
        return "{\"id\":\"SGX\",\"version\":3,\"issueDate\":\"\(date(issued))\",\"nextUpdate\":\"\(date(nextUpdate))\","
            + "\"fmspc\":\"\(hardware.fmspc.hexadecimal.uppercased())\",\"pceId\":\"\(hardware.pceID.hexadecimal.uppercased())\","
            + "\"tcbType\":0,\"tcbEvaluationDataNumber\":\(tcbEvaluationDataNumber),"
            + "\"tcbLevels\":[\(levels.joined(separator: ","))]}"
    }

    static func qeIdentity(
        hardware: SimulatedHardware, state: SimulatedTCBState, qeMRSigner: [UInt8], issued: Date, nextUpdate: Date
    ) -> String {
        func level(securityVersion: UInt16, status: TCBStatus, advisories: [String]) -> String {
            "{\"tcb\":{\"isvsvn\":\(securityVersion)},\"tcbDate\":\"\(date(issued))\",\"tcbStatus\":\"\(status.rawValue)\""
                + advisoryList(advisories) + "}"
        }
        var levels: [String] = []
        if state.qeStatus != .upToDate {
            levels.append(level(securityVersion: hardware.qeSecurityVersion + 1, status: .upToDate, advisories: []))
        }
        levels.append(level(securityVersion: hardware.qeSecurityVersion, status: state.qeStatus, advisories: state.qeAdvisoryIDs))
        return "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"\(date(issued))\",\"nextUpdate\":\"\(date(nextUpdate))\","
            + "\"tcbEvaluationDataNumber\":\(tcbEvaluationDataNumber),\"miscselect\":\"00000000\","
            + "\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"\(qeAttributes)\",\"attributesMask\":\"\(qeAttributesMask)\","
            + "\"mrsigner\":\"\(qeMRSigner.hexadecimal.uppercased())\",\"isvprodid\":\(SimulatedQuotingEnclave.productID),"
            + "\"tcbLevels\":[\(levels.joined(separator: ","))]}"
    }

    private static func advisoryList(_ advisories: [String]) -> String {
        advisories.isEmpty ? "" : ",\"advisoryIDs\":[" + advisories.map { "\"\($0)\"" }.joined(separator: ",") + "]"
    }
}

/// Constants of the simulated quoting enclave.
enum SimulatedQuotingEnclave {
    static let productID: UInt16 = 1
    /// INIT | MODE64BIT | PROVISIONKEY, as Intel's QE runs.
    static let attributeFlags: UInt64 = 0x15
    static let xfrm: UInt64 = 0xE7
    /// Intel's QE authentication data is the 32 bytes 0x00...0x1F.
    static let authenticationData: [UInt8] = Array(0..<32)
}
