import BigInt
import Crypto
import Foundation
import Hexadecimal
import _CryptoExtras

/// An SGX SIGSTRUCT exactly as Gramine writes it to `<app>.sig` (gramine.md §7): parsed and verified from bytes, or
/// built from its fields and signed. All multi-byte integers are little-endian; the RSA numbers too.
public struct SigStruct: Sendable, Hashable {
    public static let size = 1808
    static let header: [UInt8] = [0x06, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0]
    static let header2: [UInt8] = [0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0]
    static let debugFlag: UInt64 = 0x2

    public let bytes: [UInt8]

    /// Parses and checks a SIGSTRUCT: its size, both fixed headers, exponent 3, the RSA signature over
    /// bytes 0..<128 ‖ 900..<1028 with the key it carries, and Q1/Q2.
    public init(bytes: [UInt8]) throws(SigStructError) {
        guard bytes.count == Self.size else {
            throw SigStructError(
                field: "size", found: "\(bytes.count) bytes", expected: "\(Self.size) bytes",
                hint: "Give the .sig file gramine-sgx-sign wrote next to the .manifest.sgx.")
        }
        guard Array(bytes[0..<16]) == Self.header, Array(bytes[24..<40]) == Self.header2 else {
            throw SigStructError(
                field: "HEADER", found: bytes[0..<16].hexadecimal + " / " + bytes[24..<40].hexadecimal,
                expected: Self.header.hexadecimal + " / " + Self.header2.hexadecimal,
                hint: "The file is not an SGX SIGSTRUCT; give Gramine's .sig file.")
        }
        self.bytes = bytes
        guard exponent == 3 else {
            throw SigStructError(
                field: "EXPONENT", found: "\(exponent)", expected: "3",
                hint: "SGX accepts only RSA keys with public exponent 3; re-sign with gramine-sgx-sign.")
        }
        try verifySignature()
    }

    /// MRENCLAVE (ENCLAVEHASH).
    public var mrEnclave: [UInt8] { Array(bytes[960..<992]) }
    /// MRSIGNER: SHA-256 of the modulus exactly as stored (384 bytes, little-endian).
    public var mrSigner: [UInt8] { Array(SHA256.hash(data: bytes[128..<512])) }
    public var productID: UInt16 { UInt16(bytes[1024]) | UInt16(bytes[1025]) << 8 }
    public var securityVersion: UInt16 { UInt16(bytes[1026]) | UInt16(bytes[1027]) << 8 }
    public var attributeFlags: UInt64 { ELFFile.uint64(bytes, 928) }
    public var xfrm: UInt64 { ELFFile.uint64(bytes, 936) }
    public var attributeFlagsMask: UInt64 { ELFFile.uint64(bytes, 944) }
    public var xfrmMask: UInt64 { ELFFile.uint64(bytes, 952) }
    public var miscSelect: UInt32 { ELFFile.uint32(bytes, 900) }
    public var miscMask: UInt32 { ELFFile.uint32(bytes, 904) }
    public var isDebug: Bool { attributeFlags & Self.debugFlag != 0 }
    var exponent: UInt32 { ELFFile.uint32(bytes, 512) }

    /// The signing date (BCD day, month, year), as `YYYY-MM-DD`.
    public var date: String {
        "\([bytes[23], bytes[22]].hexadecimal)-\([bytes[21]].hexadecimal)-\([bytes[20]].hexadecimal)"
    }

    /// The bytes RSA signs: the first 128 bytes and bytes 900..<1028.
    static func signedData(_ bytes: [UInt8]) -> [UInt8] { Array(bytes[0..<128]) + Array(bytes[900..<1028]) }

    private func verifySignature() throws(SigStructError) {
        let modulus = Array(bytes[128..<512].reversed())
        let signature = Array(bytes[516..<900].reversed())
        let key: _RSA.Signing.PublicKey
        do {
            key = try _RSA.Signing.PublicKey(n: modulus, e: [3])
        } catch {
            throw SigStructError(
                field: "MODULUS", found: "\(error)", expected: "a 3072-bit RSA modulus", hint: "The .sig file is damaged; re-sign the enclave.")
        }
        let valid = key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: Self.signedData(bytes)), padding: .insecurePKCS1v1_5)
        guard valid else {
            throw SigStructError(
                field: "SIGNATURE", found: "a signature that does not verify with the MODULUS it carries",
                expected: "RSA PKCS#1 v1.5 over SHA-256 of bytes 0..<128 and 900..<1028",
                hint: "The .sig file was modified after signing; re-sign the enclave with gramine-sgx-sign.")
        }
        let (q1, q2) = Self.quotients(signature: BigUInt(Data(signature)), modulus: BigUInt(Data(modulus)))
        guard Array(bytes[1040..<1424]) == q1, Array(bytes[1424..<1808]) == q2 else {
            throw SigStructError(
                field: "Q1/Q2", found: "values that do not match the signature", expected: "floor(s²/n) and floor((s² mod n)·s/n)",
                hint: "The .sig file was modified after signing; re-sign the enclave.")
        }
    }

    /// Q1 and Q2, the helper values SGX uses to check the signature without a division, as 384-byte little-endian
    /// numbers.
    static func quotients(signature s: BigUInt, modulus n: BigUInt) -> (q1: [UInt8], q2: [UInt8]) {
        let square = s * s
        let q1 = square / n
        let q2 = (square % n) * s / n
        return (littleEndian(q1), littleEndian(q2))
    }

    static func littleEndian(_ number: BigUInt, width: Int = 384) -> [UInt8] {
        let bigEndian = Array(number.serialize())
        return Array((Array(repeating: 0, count: max(0, width - bigEndian.count)) + bigEndian).reversed())
    }
}

extension SigStruct {
    /// The SIGSTRUCT fields that are not the signature, as `get_tbssigstruct` fills them in.
    public struct Fields: Sendable, Hashable {
        public var date: SigStructDate
        public var mrEnclave: [UInt8]
        public var productID: UInt16
        public var securityVersion: UInt16
        public var attributeFlags: UInt64
        public var xfrm: UInt64
        public var attributeFlagsMask: UInt64 = .max
        public var xfrmMask: UInt64 = Self.xfrmMaskConstant
        public var miscSelect: UInt32
        public var miscMask: UInt32 = .max

        static let mode64BitFlag: UInt64 = 0x4
        static let exinfoMisc: UInt32 = 0x1
        static let legacyXFRM: UInt64 = 0x3
        public static let xfrmMaskConstant: UInt64 = 0xFFFF_FFFF_FFF9_FF1B

        public init(
            date: SigStructDate, mrEnclave: [UInt8], productID: UInt16, securityVersion: UInt16, attributeFlags: UInt64, xfrm: UInt64,
            miscSelect: UInt32
        ) {
            self.date = date
            self.mrEnclave = mrEnclave
            self.productID = productID
            self.securityVersion = securityVersion
            self.attributeFlags = attributeFlags
            self.xfrm = xfrm
            self.miscSelect = miscSelect
        }

        /// The fields for `manifest` (a `.manifest.sgx` with the signer's defaults): ISV ids, DEBUG and MODE64BIT,
        /// MISCSELECT.EXINFO from `sgx.use_exinfo`, and XFRM with its mask from `sgx.cpu_features` (avx, avx512,
        /// amx may be unspecified; mpx and pkru must be required or disabled; "disabled" also clears the bits).
        public init(manifest: TOMLTable, mrEnclave: [UInt8], date: SigStructDate) throws(GramineManifestError) {
            let sgx = manifest["sgx"]?.table ?? TOMLTable()
            func identifier(_ key: String) throws(GramineManifestError) -> UInt16 {
                guard let value = sgx[key] else { return 0 }
                guard let number = value.integer, let identifier = UInt16(exactly: number) else {
                    throw GramineManifestError(
                        key: "sgx.\(key)", found: value.integer.map { "\($0)" } ?? "a \(value.typeName)", expected: "an integer from 0 to 65535",
                        hint: "SIGSTRUCT stores it in 16 bits.")
                }
                return identifier
            }
            var flags = Self.mode64BitFlag
            if sgx["debug"] == .boolean(true) { flags |= SigStruct.debugFlag }
            var xfrm = Self.legacyXFRM
            var mask = Self.xfrmMaskConstant
            if let features = sgx["cpu_features"] {
                guard let features = features.table else {
                    throw GramineManifestError(
                        key: "sgx.cpu_features", found: "a \(features.typeName)", expected: "a table", hint: "Write [sgx.cpu_features].")
                }
                let options: [(name: String, bits: UInt64, mayBeUnspecified: Bool)] = [
                    ("avx", 0x4, true), ("avx512", 0xE4, true), ("amx", 0x60000, true), ("mpx", 0x18, false), ("pkru", 0x200, false),
                ]
                for option in options {
                    guard let value = features[option.name] else { continue }
                    switch value.string {
                    case "required":
                        xfrm |= option.bits
                        mask |= option.bits
                    case "disabled":
                        xfrm &= ~option.bits
                        mask |= option.bits
                    case "unspecified" where option.mayBeUnspecified:
                        break
                    default:
                        throw GramineManifestError(
                            key: "sgx.cpu_features.\(option.name)", found: value.string.map { "\"\($0)\"" } ?? "a \(value.typeName)",
                            expected: option.mayBeUnspecified ? "\"unspecified\", \"disabled\" or \"required\"" : "\"disabled\" or \"required\"",
                            hint: "Gramine accepts only these values.")
                    }
                }
            }
            self.init(
                date: date, mrEnclave: mrEnclave, productID: try identifier("isvprodid"), securityVersion: try identifier("isvsvn"),
                attributeFlags: flags, xfrm: xfrm, miscSelect: sgx["use_exinfo"] == .boolean(true) ? Self.exinfoMisc : 0)
            self.xfrmMask = mask
        }

        /// The 1808 bytes with the key, signature and Q1/Q2 left zero.
        public var unsignedBytes: [UInt8] {
            var bytes = [UInt8](repeating: 0, count: SigStruct.size)
            bytes.replaceSubrange(0..<16, with: SigStruct.header)
            bytes.replaceSubrange(20..<24, with: date.bcdBytes)
            bytes.replaceSubrange(24..<40, with: SigStruct.header2)
            put32(&bytes, 900, miscSelect)
            put32(&bytes, 904, miscMask)
            put64(&bytes, 928, attributeFlags)
            put64(&bytes, 936, xfrm)
            put64(&bytes, 944, attributeFlagsMask)
            put64(&bytes, 952, xfrmMask)
            bytes.replaceSubrange(960..<992, with: mrEnclave.prefix(32) + [UInt8](repeating: 0, count: max(0, 32 - mrEnclave.count)))
            bytes[1024] = UInt8(truncatingIfNeeded: productID)
            bytes[1025] = UInt8(truncatingIfNeeded: productID >> 8)
            bytes[1026] = UInt8(truncatingIfNeeded: securityVersion)
            bytes[1027] = UInt8(truncatingIfNeeded: securityVersion >> 8)
            return bytes
        }
    }

    /// Signs `fields` as Gramine does: PKCS#1 v1.5 with SHA-256 over bytes 0..<128 ‖ 900..<1028, then stores the
    /// modulus, exponent 3, the signature and Q1/Q2. PKCS#1 v1.5 is deterministic, so the same key and fields
    /// always give the same bytes.
    public static func signed(_ fields: Fields, with key: SGXSigningKey) throws(SigStructError) -> SigStruct {
        guard fields.mrEnclave.count == 32 else {
            throw SigStructError(
                field: "ENCLAVEHASH", found: "\(fields.mrEnclave.count) bytes", expected: "32 bytes (SHA-256)",
                hint: "Pass the MRENCLAVE from the measurement.")
        }
        var bytes = fields.unsignedBytes
        let signature: [UInt8]
        do {
            signature = Array(try key.privateKey.signature(for: SHA256.hash(data: signedData(bytes)), padding: .insecurePKCS1v1_5).rawRepresentation)
        } catch {
            throw SigStructError(
                field: "SIGNATURE", found: "a signing failure: \(error)", expected: "an RSA signature", hint: "Check the signing key.")
        }
        let (q1, q2) = quotients(signature: BigUInt(Data(signature)), modulus: BigUInt(Data(key.modulus)))
        bytes.replaceSubrange(128..<512, with: key.modulus.reversed())
        put32(&bytes, 512, 3)
        bytes.replaceSubrange(516..<900, with: littleEndian(BigUInt(Data(signature))))
        bytes.replaceSubrange(1040..<1424, with: q1)
        bytes.replaceSubrange(1424..<1808, with: q2)
        return try SigStruct(bytes: bytes)
    }
}

/// The SIGSTRUCT DATE: each decimal digit of `YYYY-MM-DD` stored as a BCD nibble (2026-01-15 is `15 01 26 20`).
/// Like `gramine-sgx-sign --date`, any digits are accepted, including the invalid date 0000-00-00.
public struct SigStructDate: Sendable, Hashable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) throws(SigStructError) {
        guard (0...9999).contains(year), (0...99).contains(month), (0...99).contains(day) else {
            throw SigStructError(
                field: "DATE", found: "\(year)-\(month)-\(day)", expected: "a four-digit year and two-digit month and day",
                hint: "Give the date as YYYY-MM-DD.")
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` (exactly those digits) or `today`.
    public init(parsing text: String, now: Date = Date(), calendar: Calendar = .current) throws(SigStructError) {
        if text.lowercased() == "today" {
            self = Self.day(of: now, calendar: calendar)
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, zip(parts, [4, 2, 2]).allSatisfy({ $0.count == $1 && $0.allSatisfy(\.isASCIIDigit) }) else {
            throw SigStructError(
                field: "DATE", found: "\"\(text)\"", expected: "YYYY-MM-DD or \"today\"", hint: "Give the date as, for example, 2026-01-15.")
        }
        try self.init(year: Int(parts[0])!, month: Int(parts[1])!, day: Int(parts[2])!)
    }

    /// The local calendar day, as `datetime.date.today()` gives it.
    public static func day(of date: Date, calendar: Calendar = .current) -> SigStructDate {
        let components = calendar.dateComponents([.year, .month, .day], from: date)
        return SigStructDate(uncheckedYear: components.year!, month: components.month!, day: components.day!)
    }

    private init(uncheckedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    var bcdBytes: [UInt8] {
        func bcd(_ value: Int) -> UInt8 { UInt8((value / 10 % 10) << 4 | value % 10) }
        return [bcd(day), bcd(month), bcd(year % 100), bcd(year / 100)]
    }

    public var description: String {
        func padded(_ value: Int, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(value).count)) + String(value) }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A SIGSTRUCT that cannot be used or made: which field, what it holds, what it should hold, and what to do.
public struct SigStructError: Error, Sendable, Hashable, CustomStringConvertible {
    public let field: String
    public let found: String
    public let expected: String
    public let hint: String

    public init(field: String, found: String, expected: String, hint: String) {
        self.field = field
        self.found = found
        self.expected = expected
        self.hint = hint
    }

    public var description: String { "SIGSTRUCT \(field): found \(found); expected \(expected). \(hint)" }
}
