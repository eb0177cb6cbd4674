/// An SGX enclave report (Intel `sgx_report_body_t`, 384 bytes): the body of an SGX quote, and the QE report.
///
/// The report is a view on the quote's bytes (no copy is made when parsing); each property reads its field.
public struct EnclaveReport: Sendable, Hashable {
    /// The length of an SGX enclave report.
    public static let length = 384
    /// `attributes.flags` bit 1: the enclave was launched in debug mode, so its memory can be read by the host.
    public static let debugFlag: UInt64 = 0x02

    private let storage: [UInt8]
    private let start: Int

    init(storage: [UInt8], start: Int) {
        self.storage = storage
        self.start = start
    }

    /// Parses a standalone 384-byte report.
    public init(bytes: [UInt8]) throws(AttestationError) {
        try ByteReader(bytes, limitName: "the report").require(Self.length, for: "EnclaveReport")
        self.init(storage: bytes, start: 0)
    }

    private func field(_ offset: Int, _ count: Int) -> [UInt8] { storage.bytes(at: start + offset, count: count) }

    /// The 384 raw bytes of the report.
    public var rawBytes: [UInt8] { field(0, Self.length) }
    var rawSlice: ArraySlice<UInt8> { storage[start..<start + Self.length] }

    public var cpuSVN: [UInt8] { field(0, 16) }
    public var miscSelect: UInt32 { storage.uint32(at: start + 16) }
    public var isvExtendedProductID: [UInt8] { field(32, 16) }
    /// The 16 attribute bytes: flags (u64 LE), then XFRM (u64 LE).
    public var attributes: [UInt8] { field(48, 16) }
    public var attributeFlags: UInt64 { storage.uint64(at: start + 48) }
    public var xfrm: UInt64 { storage.uint64(at: start + 56) }
    /// Whether the DEBUG attribute is set.
    public var isDebug: Bool { attributeFlags & Self.debugFlag != 0 }
    public var mrEnclave: [UInt8] { field(64, 32) }
    public var mrSigner: [UInt8] { field(128, 32) }
    public var configID: [UInt8] { field(192, 64) }
    public var isvProductID: UInt16 { storage.uint16(at: start + 256) }
    public var isvSVN: UInt16 { storage.uint16(at: start + 258) }
    public var configSVN: UInt16 { storage.uint16(at: start + 260) }
    public var isvFamilyID: [UInt8] { field(304, 16) }
    /// The 64 bytes the enclave chose to bind into the report (a key hash, a nonce, ...).
    public var reportData: [UInt8] { field(320, 64) }

    func mrSignerEquals(_ expected: [UInt8]) -> Bool { storage[start + 128..<start + 160].elementsEqual(expected) }
    func reportDataPrefix(_ count: Int) -> ArraySlice<UInt8> { storage[start + 320..<start + 320 + count] }

    public static func == (lhs: EnclaveReport, rhs: EnclaveReport) -> Bool { lhs.rawSlice == rhs.rawSlice }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawSlice) }
}

/// A TDX TD report as carried in a TDX quote: TD 1.0 (584 bytes), TD 1.5 (648 bytes) or TD 1.5ex (885 bytes).
///
/// Fields that a version lacks are nil. The report is a view on the quote's bytes.
public struct TDReport: Sendable, Hashable {
    /// The layout version of a TD report.
    public enum Version: String, Sendable, Hashable, Codable {
        case td10 = "TD1.0"
        case td15 = "TD1.5"
        case td15ex = "TD1.5ex"

        /// The report's length in bytes.
        public var length: Int {
            switch self {
            case .td10: 584
            case .td15: 648
            case .td15ex: 885
            }
        }
    }

    /// TD attribute bits (u64 LE `td_attributes`).
    public enum AttributeBit {
        public static let debug: UInt64 = 1 << 0
        public static let serviceTDExtension: UInt64 = 1 << 17
        public static let septVEDisable: UInt64 = 1 << 28
        public static let migratable: UInt64 = 1 << 29
        /// Bits 4-6: debug-related (perfmon and friends), rejected with DEBUG unless debug is allowed.
        public static let debugRelated: UInt64 = 0b111 << 4
        /// Bits 1-3, 7-15, 23-26 and 32-61: must be zero.
        public static let reservedMustBeZero: UInt64 = {
            var mask: UInt64 = 0b1110 | 0xFF80 | (0b1111 << 23)
            for bit in 32...61 { mask |= 1 << UInt64(bit) }
            return mask
        }()
    }

    public let version: Version
    private let storage: [UInt8]
    private let start: Int

    init(version: Version, storage: [UInt8], start: Int) {
        self.version = version
        self.storage = storage
        self.start = start
    }

    private func field(_ offset: Int, _ count: Int) -> [UInt8] { storage.bytes(at: start + offset, count: count) }

    public var rawBytes: [UInt8] { field(0, version.length) }
    var rawSlice: ArraySlice<UInt8> { storage[start..<start + version.length] }

    /// TEE TCB SVN at launch: byte 0 is the TDX module ISVSVN, byte 1 the module version (major).
    public var teeTCBSVN: [UInt8] { field(0, 16) }
    public var mrSeam: [UInt8] { field(16, 48) }
    public var mrSignerSeam: [UInt8] { field(64, 48) }
    public var seamAttributes: [UInt8] { field(112, 8) }
    public var tdAttributes: UInt64 { storage.uint64(at: start + 120) }
    public var tdAttributeBytes: [UInt8] { field(120, 8) }
    public var xfam: UInt64 { storage.uint64(at: start + 128) }
    public var mrTD: [UInt8] { field(136, 48) }
    public var mrConfigID: [UInt8] { field(184, 48) }
    public var mrOwner: [UInt8] { field(232, 48) }
    public var mrOwnerConfig: [UInt8] { field(280, 48) }
    /// RTMR0 to RTMR3.
    public var rtmrs: [[UInt8]] { (0..<4).map { field(328 + 48 * $0, 48) } }
    public var reportData: [UInt8] { field(520, 64) }
    /// Whether the TD DEBUG attribute is set.
    public var isDebug: Bool { tdAttributes & AttributeBit.debug != 0 }

    /// TD 1.5: the current TEE TCB SVN (after a TDX module update without relaunching the TD).
    public var teeTCBSVN2: [UInt8]? { version == .td10 ? nil : field(584, 16) }
    /// TD 1.5: the measurement of the service TD bound to this TD (all zero when none).
    public var mrServiceTD: [UInt8]? { version == .td10 ? nil : field(600, 48) }

    /// TD 1.5ex extension fields (signed, not appraised).
    public var vmID: UInt8? { version == .td15ex ? storage[start + 648] : nil }
    public var tdID: [UInt8]? { version == .td15ex ? field(649, 32) : nil }
    public var deviceInfo: [UInt8]? { version == .td15ex ? field(681, 48) : nil }
    public var initialServiceTDHash: [UInt8]? { version == .td15ex ? field(729, 48) : nil }
    public var initialServiceTDAttributes: [UInt8]? { version == .td15ex ? field(777, 8) : nil }
    public var initialCPUSVN: [UInt8]? { version == .td15ex ? field(785, 16) : nil }
    public var initialTEETCBSVN: [UInt8]? { version == .td15ex ? field(801, 16) : nil }
    public var initialTEEFMSPC: [UInt8]? { version == .td15ex ? field(817, 12) : nil }
    public var currentServiceTDHash: [UInt8]? { version == .td15ex ? field(829, 48) : nil }
    public var currentServiceTDAttributes: [UInt8]? { version == .td15ex ? field(877, 8) : nil }

    func teeTCBSVNByte(_ index: Int) -> UInt8 { storage[start + index] }
    func teeTCBSVN2Byte(_ index: Int) -> UInt8 { storage[start + 584 + index] }
    func mrSignerSeamEquals(_ expected: [UInt8]) -> Bool { storage[start + 64..<start + 112].elementsEqual(expected) }
    func seamAttributeByte(_ index: Int) -> UInt8 { storage[start + 112 + index] }
    var mrServiceTDIsZero: Bool { version == .td10 || storage[start + 600..<start + 648].allSatisfy { $0 == 0 } }

    public static func == (lhs: TDReport, rhs: TDReport) -> Bool { lhs.version == rhs.version && lhs.rawSlice == rhs.rawSlice }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawSlice) }
}
