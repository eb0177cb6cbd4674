import Foundation

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
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: Data(json))
        } catch {
            throw Self.decodingFailure(error, json: json)
        }
        guard raw.version >= 3, let id = raw.id else {
            throw AttestationError(
                check: .collateralFormat, found: "TCB Info version \(raw.version)\(raw.id == nil ? " without an id" : "")",
                expected: "TCB Info version 3 (id SGX or TDX)",
                hint: "Fetch TCB Info from PCS API v4 (/sgx/certification/v4/tcb or /tdx/certification/v4/tcb); version 2 (API v3) is not supported, as in dcap-qvl.")
        }
        func date(_ text: String, _ field: String) throws(AttestationError) -> Int64 {
            guard let seconds = UTCTimestamp.parse(text) else {
                throw AttestationError(
                    check: .collateralFormat, found: "TCB Info \(field) \"\(text)\"", expected: "an RFC 3339 UTC time",
                    hint: "The TCB Info is malformed; fetch it again.")
            }
            return seconds
        }
        func hex(_ text: String, _ field: String) throws(AttestationError) -> [UInt8] {
            guard let bytes = [UInt8](hexadecimal: text) else {
                throw AttestationError(
                    check: .collateralFormat, found: "TCB Info \(field) \"\(text.prefix(40))\"", expected: "hexadecimal",
                    hint: "The TCB Info is malformed; fetch it again.")
            }
            return bytes
        }
        self.id = id
        version = raw.version
        issueDate = try date(raw.issueDate, "issueDate")
        nextUpdate = try date(raw.nextUpdate, "nextUpdate")
        fmspc = try hex(raw.fmspc, "fmspc")
        pceID = try hex(raw.pceId, "pceId")
        var levels = [Level]()
        for level in raw.tcbLevels {
            levels.append(
                Level(
                    sgxComponents: level.tcb.sgxtcbcomponents.map { UInt8(clamping: $0.svn) },
                    pceSVN: UInt16(clamping: level.tcb.pcesvn),
                    tdxComponents: level.tcb.tdxtcbcomponents?.map { UInt8(clamping: $0.svn) },
                    tcbDate: try date(level.tcbDate, "tcbDate"), status: level.tcbStatus,
                    advisoryIDs: level.advisoryIDs ?? []))
        }
        levels.sort { lhs, rhs in
            if lhs.sgxComponents != rhs.sgxComponents { return lhs.sgxComponents.lexicographicallyPrecedes(rhs.sgxComponents) == false }
            if lhs.pceSVN != rhs.pceSVN { return lhs.pceSVN > rhs.pceSVN }
            return (rhs.tdxComponents ?? []).lexicographicallyPrecedes(lhs.tdxComponents ?? [])
        }
        self.levels = levels
        func identity(_ raw: Raw.Module, id: String) throws(AttestationError) -> ModuleIdentity {
            var levels: [(isvSVN: UInt8, tcbDate: Int64, status: TCBStatus, advisoryIDs: [String])] = []
            for level in raw.tcbLevels ?? [] {
                levels.append((UInt8(clamping: level.tcb.isvsvn), try date(level.tcbDate, "tdxModuleIdentities.tcbDate"), level.tcbStatus, level.advisoryIDs ?? []))
            }
            return ModuleIdentity(
                id: id, mrSigner: try hex(raw.mrsigner, "mrsigner"), attributes: try hex(raw.attributes, "attributes"),
                attributesMask: try hex(raw.attributesMask, "attributesMask"), levels: levels)
        }
        module = try raw.tdxModule.map { (module) throws(AttestationError) in try identity(module, id: "tdxModule") }
        var identities = [ModuleIdentity]()
        for entry in raw.tdxModuleIdentities ?? [] { identities.append(try identity(entry, id: entry.id ?? "")) }
        moduleIdentities = identities
    }

    static func decodingFailure(_ error: any Error, json: [UInt8]) -> AttestationError {
        let detail: String
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            detail = "missing key '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            detail = "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        default:
            detail = "\(error)"
        }
        return AttestationError(
            check: .collateralFormat, found: "TCB Info JSON that does not decode (\(detail))",
            expected: "a TCB Info v3 object as served by Intel PCS",
            hint: json.first == UInt8(ascii: "{") && detail.contains("sgxtcbcomponents")
                ? "This looks like TCB Info version 2 (PCS API v3, sgxtcbcompNNsvn fields), which is not supported: fetch TCB Info from PCS API v4."
                : "The collateral's tcb_info must be the exact JSON text of the tcbInfo object; fetch it again.")
    }

    private struct Raw: Decodable {
        struct Component: Decodable { let svn: Int }
        struct TCB: Decodable {
            let sgxtcbcomponents: [Component]
            let pcesvn: Int
            let tdxtcbcomponents: [Component]?
        }
        struct Level: Decodable {
            let tcb: TCB
            let tcbDate: String
            let tcbStatus: TCBStatus
            let advisoryIDs: [String]?
        }
        struct ModuleLevel: Decodable {
            struct SVN: Decodable { let isvsvn: Int }
            let tcb: SVN
            let tcbDate: String
            let tcbStatus: TCBStatus
            let advisoryIDs: [String]?
        }
        struct Module: Decodable {
            let id: String?
            let mrsigner: String
            let attributes: String
            let attributesMask: String
            let tcbLevels: [ModuleLevel]?
        }
        let id: String?
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let fmspc: String
        let pceId: String
        let tcbLevels: [Level]
        let tdxModule: Module?
        let tdxModuleIdentities: [Module]?
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
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: Data(json))
        } catch {
            throw AttestationError(
                check: .collateralFormat, found: "QE Identity JSON that does not decode (\(error))",
                expected: "a QE Identity v2 object as served by Intel PCS",
                hint: "The collateral's qe_identity must be the exact JSON text of the enclaveIdentity object; fetch it again.")
        }
        func malformed(_ field: String, _ value: String) -> AttestationError {
            AttestationError(
                check: .collateralFormat, found: "QE Identity \(field) \"\(value.prefix(40))\"",
                expected: field.contains("Date") ? "an RFC 3339 UTC time" : "hexadecimal of the right length",
                hint: "The QE Identity is malformed; fetch it again.")
        }
        func date(_ text: String, _ field: String) throws(AttestationError) -> Int64 {
            guard let seconds = UTCTimestamp.parse(text) else { throw malformed(field, text) }
            return seconds
        }
        func hex(_ text: String, _ field: String, count: Int) throws(AttestationError) -> [UInt8] {
            guard let bytes = [UInt8](hexadecimal: text), bytes.count == count else { throw malformed(field, text) }
            return bytes
        }
        func littleEndian32(_ text: String, _ field: String) throws(AttestationError) -> UInt32 {
            let bytes = try hex(text, field, count: 4)
            return bytes.uint32(at: 0)
        }
        id = raw.id
        version = raw.version
        issueDate = try date(raw.issueDate, "issueDate")
        nextUpdate = try date(raw.nextUpdate, "nextUpdate")
        miscSelect = try littleEndian32(raw.miscselect, "miscselect")
        miscSelectMask = try littleEndian32(raw.miscselectMask, "miscselectMask")
        attributes = try hex(raw.attributes, "attributes", count: 16)
        attributesMask = try hex(raw.attributesMask, "attributesMask", count: 16)
        mrSigner = try hex(raw.mrsigner, "mrsigner", count: 32)
        isvProductID = UInt16(clamping: raw.isvprodid)
        var levels = [Level]()
        for level in raw.tcbLevels {
            levels.append(
                Level(
                    isvSVN: UInt16(clamping: level.tcb.isvsvn), tcbDate: try date(level.tcbDate, "tcbDate"),
                    status: level.tcbStatus, advisoryIDs: level.advisoryIDs ?? []))
        }
        self.levels = levels
    }

    private struct Raw: Decodable {
        struct Level: Decodable {
            struct SVN: Decodable { let isvsvn: Int }
            let tcb: SVN
            let tcbDate: String
            let tcbStatus: TCBStatus
            let advisoryIDs: [String]?
        }
        let id: String
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let miscselect: String
        let miscselectMask: String
        let attributes: String
        let attributesMask: String
        let mrsigner: String
        let isvprodid: Int
        let tcbLevels: [Level]
    }
}
