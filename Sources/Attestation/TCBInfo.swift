import Foundation
import StrictJSON

/// A TCB status as Intel publishes it in TCB Info and QE Identity levels, and as the verdict of a verification.
public enum TCBStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case upToDate = "UpToDate"
    case swHardeningNeeded = "SWHardeningNeeded"
    case configurationNeeded = "ConfigurationNeeded"
    case configurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
    case outOfDate = "OutOfDate"
    case outOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded"
    /// TD 1.5: the TD was launched on an out-of-date TCB that has since been updated; relaunching it clears the status.
    case tdRelaunchAdvised = "TDRelaunchAdvised"
    case tdRelaunchAdvisedConfigurationNeeded = "TDRelaunchAdvisedConfigurationNeeded"
    case revoked = "Revoked"

    /// What the status means for an operator, in one sentence.
    public var advice: String {
        switch self {
        case .upToDate: "the platform is patched against all known issues"
        case .swHardeningNeeded: "the platform is patched, but the enclave must use software mitigations for the listed advisories"
        case .configurationNeeded: "the platform's BIOS configuration must change (for example disable hyper-threading) to be fully mitigated"
        case .configurationAndSWHardeningNeeded: "the platform needs both a BIOS configuration change and software mitigations"
        case .outOfDate: "the platform's microcode/BIOS (or the QE/TDX module) is out of date: update BIOS/microcode"
        case .outOfDateConfigurationNeeded: "the platform is out of date and also needs a configuration change: update BIOS/microcode"
        case .tdRelaunchAdvised: "the TDX module was updated since the TD launched: relaunch the TD"
        case .tdRelaunchAdvisedConfigurationNeeded: "relaunch the TD, and change the platform configuration"
        case .revoked: "Intel revoked this TCB level: the platform cannot be trusted"
        }
    }
}

/// One level of a TCB Info or QE Identity: the status and advisories of a platform at or above these SVNs.
public struct TCBLevelSummary: Sendable, Hashable, Codable {
    public let status: TCBStatus
    /// Unix seconds of the level's `tcbDate`.
    public let tcbDate: Int64
    public let advisoryIDs: [String]
    /// The level's SVNs in a short readable form, such as `sgx=[2,2,2,...] pcesvn=13` or `isvsvn=8`.
    public let svns: String

    public var tcbDateText: String { UTCTimestamp.iso8601(tcbDate) }
}

/// Parsed TCB Info v3 (`tcbInfo` object), SGX or TDX. Decoded once from the exact signed bytes.
struct TCBInfo: Sendable {
    struct Level: Sendable {
        let sgxComponents: [UInt8]
        let pceSVN: UInt16
        let tdxComponents: [UInt8]?
        let tcbDate: Int64
        let status: TCBStatus
        let advisoryIDs: [String]

        var summary: TCBLevelSummary {
            var svns = "sgx=\(sgxComponents.map(String.init).joined(separator: ",")) pcesvn=\(pceSVN)"
            if let tdxComponents { svns += " tdx=\(tdxComponents.map(String.init).joined(separator: ","))" }
            return TCBLevelSummary(status: status, tcbDate: tcbDate, advisoryIDs: advisoryIDs, svns: svns)
        }
    }

    struct ModuleIdentity: Sendable {
        let id: String
        let mrSigner: [UInt8]
        let attributes: [UInt8]
        let attributesMask: [UInt8]
        let levels: [(isvSVN: UInt8, tcbDate: Int64, status: TCBStatus, advisoryIDs: [String])]
    }

    let id: String
    let version: Int
    let issueDate: Int64
    let nextUpdate: Int64
    let fmspc: [UInt8]
    let pceID: [UInt8]
    /// Sorted like Intel QVL and dcap-qvl: descending SGX components, then PCESVN, then TDX components.
    let levels: [Level]
    let module: ModuleIdentity?
    let moduleIdentities: [ModuleIdentity]

    init(json: [UInt8]) throws(AttestationError) {
        let document = try Self.document(json, what: "TCB Info")
        do {
            let version = try document["version"].integer()
            guard version >= 3, let id = try document.optional("id")?.string() else {
                throw AttestationError(
                    check: .collateralFormat, found: "TCB Info version \(version)\(try document.optional("id") == nil ? " without an id" : "")",
                    expected: "TCB Info version 3 (id SGX or TDX)",
                    hint:
                        "Fetch TCB Info from PCS API v4 (/sgx/certification/v4/tcb or /tdx/certification/v4/tcb); version 2 (API v3, sgxtcbcompNNsvn fields) is not supported, as in dcap-qvl."
                )
            }
            self.id = id
            self.version = Int(version)
            issueDate = try Self.date(document["issueDate"])
            nextUpdate = try Self.date(document["nextUpdate"])
            fmspc = try Self.hex(document["fmspc"])
            pceID = try Self.hex(document["pceId"])
            var levels = [Level]()
            for level in try document["tcbLevels"].elements() {
                let tcb = try level["tcb"]
                var tdx: [UInt8]?
                if let components = try tcb.optional("tdxtcbcomponents") { tdx = try Self.svns(components) }
                levels.append(
                    Level(
                        sgxComponents: try Self.svns(tcb["sgxtcbcomponents"]), pceSVN: UInt16(clamping: try tcb["pcesvn"].integer()),
                        tdxComponents: tdx, tcbDate: try Self.date(level["tcbDate"]), status: try Self.status(level["tcbStatus"]),
                        advisoryIDs: try level.optional("advisoryIDs")?.strings() ?? []))
            }
            levels.sort { lhs, rhs in
                if lhs.sgxComponents != rhs.sgxComponents { return rhs.sgxComponents.lexicographicallyPrecedes(lhs.sgxComponents) }
                if lhs.pceSVN != rhs.pceSVN { return lhs.pceSVN > rhs.pceSVN }
                return (rhs.tdxComponents ?? []).lexicographicallyPrecedes(lhs.tdxComponents ?? [])
            }
            self.levels = levels
            module = try document.optional("tdxModule").map { (entry) throws(JSONCursor.Failure) in try Self.moduleIdentity(entry, id: "tdxModule") }
            var identities = [ModuleIdentity]()
            for entry in try document.optional("tdxModuleIdentities")?.elements() ?? [] {
                identities.append(try Self.moduleIdentity(entry, id: try entry["id"].string()))
            }
            moduleIdentities = identities
        } catch let failure as JSONCursor.Failure {
            throw Self.fieldFailure(failure, what: "TCB Info", expected: "a TCB Info v3 object as served by Intel PCS")
        } catch let error as AttestationError {
            throw error
        } catch {
            throw Self.fieldFailure(JSONCursor.Failure(path: "?", problem: "\(error)"), what: "TCB Info", expected: "a TCB Info v3 object")
        }
    }

    private static func moduleIdentity(_ entry: JSONCursor, id: String) throws(JSONCursor.Failure) -> ModuleIdentity {
        var levels: [(isvSVN: UInt8, tcbDate: Int64, status: TCBStatus, advisoryIDs: [String])] = []
        for level in try entry.optional("tcbLevels")?.elements() ?? [] {
            levels.append(
                (
                    UInt8(clamping: try level["tcb"]["isvsvn"].integer()), try date(level["tcbDate"]), try status(level["tcbStatus"]),
                    try level.optional("advisoryIDs")?.strings() ?? []
                ))
        }
        return ModuleIdentity(
            id: id, mrSigner: try hex(entry["mrsigner"]), attributes: try hex(entry["attributes"]),
            attributesMask: try hex(entry["attributesMask"]), levels: levels)
    }

    /// The `svn` of each component, read directly (this is most of a TCB Info); paths are rendered only on failure.
    static func svns(_ components: JSONCursor) throws(JSONCursor.Failure) -> [UInt8] {
        guard case .array(let values) = components.value else {
            throw JSONCursor.Failure(path: components.path, problem: "is not an array")
        }
        var svns = [UInt8]()
        svns.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            guard case .object(let members) = value, let member = members.first(where: { $0.key == "svn" }),
                let svn = JSONCursor.integer(member.value)
            else {
                throw JSONCursor.Failure(path: "\(components.path)[\(index)].svn", problem: "is missing or not an integer")
            }
            svns.append(UInt8(clamping: svn))
        }
        return svns
    }

    static func date(_ field: JSONCursor) throws(JSONCursor.Failure) -> Int64 {
        guard let seconds = UTCTimestamp.parse(try field.string()) else {
            throw JSONCursor.Failure(path: field.path, problem: "is not an RFC 3339 UTC time")
        }
        return seconds
    }

    static func hex(_ field: JSONCursor, count: Int? = nil) throws(JSONCursor.Failure) -> [UInt8] {
        guard let bytes = [UInt8](hexadecimal: try field.string()), count == nil || bytes.count == count else {
            throw JSONCursor.Failure(path: field.path, problem: "is not hexadecimal\(count.map { " of \($0) bytes" } ?? "")")
        }
        return bytes
    }

    static func status(_ field: JSONCursor) throws(JSONCursor.Failure) -> TCBStatus {
        let text = try field.string()
        guard let status = TCBStatus(rawValue: text) else {
            throw JSONCursor.Failure(path: field.path, problem: "is the unknown status \"\(text)\"")
        }
        return status
    }

    static func document(_ json: [UInt8], what: String) throws(AttestationError) -> JSONCursor {
        do {
            return JSONCursor(try JSONParser.parse(json, maximumDepth: 64))
        } catch {
            throw AttestationError(
                check: .collateralFormat, found: "\(what) text that is not JSON (\(error.message) at byte \(error.offset))",
                expected: "the exact JSON text of the \(what) object",
                hint: "The collateral's \(what) field is damaged or truncated; fetch it again from Intel PCS or the PCCS.")
        }
    }

    static func fieldFailure(_ failure: JSONCursor.Failure, what: String, expected: String) -> AttestationError {
        AttestationError(
            check: .collateralFormat, found: "\(what) field '\(failure.path)' that \(failure.problem)", expected: expected,
            hint: "The collateral's \(what) must be the exact JSON text Intel PCS serves; fetch it again.")
    }
}

/// Parsed QE Identity v2 (`enclaveIdentity` object), for the SGX QE (`QE`) or the TDX QE (`TD_QE`).
struct QEIdentity: Sendable {
    struct Level: Sendable {
        let isvSVN: UInt16
        let tcbDate: Int64
        let status: TCBStatus
        let advisoryIDs: [String]

        var summary: TCBLevelSummary {
            TCBLevelSummary(status: status, tcbDate: tcbDate, advisoryIDs: advisoryIDs, svns: "isvsvn=\(isvSVN)")
        }
    }

    let id: String
    let version: Int
    let issueDate: Int64
    let nextUpdate: Int64
    let miscSelect: UInt32
    let miscSelectMask: UInt32
    let attributes: [UInt8]
    let attributesMask: [UInt8]
    let mrSigner: [UInt8]
    let isvProductID: UInt16
    /// In JSON order: the first level the QE's ISVSVN reaches applies.
    let levels: [Level]

    init(json: [UInt8]) throws(AttestationError) {
        let document = try TCBInfo.document(json, what: "QE Identity")
        do {
            id = try document["id"].string()
            version = Int(try document["version"].integer())
            issueDate = try TCBInfo.date(document["issueDate"])
            nextUpdate = try TCBInfo.date(document["nextUpdate"])
            miscSelect = try TCBInfo.hex(document["miscselect"], count: 4).uint32(at: 0)
            miscSelectMask = try TCBInfo.hex(document["miscselectMask"], count: 4).uint32(at: 0)
            attributes = try TCBInfo.hex(document["attributes"], count: 16)
            attributesMask = try TCBInfo.hex(document["attributesMask"], count: 16)
            mrSigner = try TCBInfo.hex(document["mrsigner"], count: 32)
            isvProductID = UInt16(clamping: try document["isvprodid"].integer())
            var levels = [Level]()
            for level in try document["tcbLevels"].elements() {
                levels.append(
                    Level(
                        isvSVN: UInt16(clamping: try level["tcb"]["isvsvn"].integer()), tcbDate: try TCBInfo.date(level["tcbDate"]),
                        status: try TCBInfo.status(level["tcbStatus"]), advisoryIDs: try level.optional("advisoryIDs")?.strings() ?? []))
            }
            self.levels = levels
        } catch {
            throw TCBInfo.fieldFailure(error, what: "QE Identity", expected: "a QE Identity v2 object as served by Intel PCS")
        }
    }
}
