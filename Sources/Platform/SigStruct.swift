import Crypto
import Foundation
import _CryptoExtras

/// An SGX SIGSTRUCT as Gramine writes it to `<app>.sig` (gramine.md §7): the enclave identity that `cloister
/// package-info` prints and that a MarbleRun manifest `Package` pins.
public struct SigStruct: Sendable, Hashable {
    public static let size = 1808
    static let header: [UInt8] = [0x06, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0]
    static let header2: [UInt8] = [0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0]
    static let debugFlag: UInt64 = 0x2

    public let bytes: [UInt8]

    /// Parses and checks a SIGSTRUCT: its size, both fixed headers, exponent 3, and the RSA signature over
    /// bytes 0..<128 ‖ 900..<1028 with the key it carries.
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
            throw SigStructError(field: "EXPONENT", found: "\(exponent)", expected: "3", hint: "SGX accepts only RSA keys with public exponent 3; re-sign with gramine-sgx-sign.")
        }
        try verifySignature()
    }

    /// MRENCLAVE (ENCLAVEHASH).
    public var mrEnclave: [UInt8] { Array(bytes[960..<992]) }
    /// MRSIGNER: SHA-256 of the modulus exactly as stored (384 bytes, little-endian).
    public var mrSigner: [UInt8] { Array(SHA256.hash(data: bytes[128..<512])) }
    public var productID: UInt16 { UInt16(bytes[1024]) | UInt16(bytes[1025]) << 8 }
    public var securityVersion: UInt16 { UInt16(bytes[1026]) | UInt16(bytes[1027]) << 8 }
    public var attributeFlags: UInt64 { Self.uint64(bytes, at: 928) }
    public var xfrm: UInt64 { Self.uint64(bytes, at: 936) }
    public var miscSelect: UInt32 { UInt32(truncatingIfNeeded: Self.uint64(bytes, at: 900) & 0xffff_ffff) }
    public var isDebug: Bool { attributeFlags & Self.debugFlag != 0 }
    var exponent: UInt32 { UInt32(truncatingIfNeeded: Self.uint64(bytes, at: 512) & 0xffff_ffff) }

    /// The signing date (BCD day, month, year), as `YYYY-MM-DD`.
    public var date: String {
        let year = String(format: "%02x%02x", bytes[23], bytes[22])
        return "\(year)-\(String(format: "%02x", bytes[21]))-\(String(format: "%02x", bytes[20]))"
    }

    private func verifySignature() throws(SigStructError) {
        let modulus = Array(bytes[128..<512].reversed())
        let signature = Array(bytes[516..<900].reversed())
        let signed = Array(bytes[0..<128]) + Array(bytes[900..<1028])
        let key: _RSA.Signing.PublicKey
        do {
            key = try _RSA.Signing.PublicKey(n: modulus, e: [3])
        } catch {
            throw SigStructError(field: "MODULUS", found: "\(error)", expected: "a 3072-bit RSA modulus", hint: "The .sig file is damaged; re-sign the enclave.")
        }
        let valid = key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signed), padding: .insecurePKCS1v1_5)
        guard valid else {
            throw SigStructError(
                field: "SIGNATURE", found: "a signature that does not verify with the MODULUS it carries",
                expected: "RSA PKCS#1 v1.5 over SHA-256 of bytes 0..<128 and 900..<1028",
                hint: "The .sig file was modified after signing; re-sign the enclave with gramine-sgx-sign.")
        }
    }

    private static func uint64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, index in value | UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
    }
}

/// A SIGSTRUCT that cannot be used: which field, what it holds, what it should hold, and what to do.
public struct SigStructError: Error, Sendable, Hashable, CustomStringConvertible {
    public let field: String
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String { "SIGSTRUCT \(field): found \(found); expected \(expected). \(hint)" }
}
