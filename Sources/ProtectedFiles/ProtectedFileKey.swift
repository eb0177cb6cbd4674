import Crypto
import Hexadecimal
import _CryptoExtras

/// The 16-byte key-derivation key (Gramine's "KDK", pf-crypt's wrap key) that every file of an encrypted mount is
/// protected with (gramine.md §11.9).
///
/// Inside the enclave it is what `/dev/attestation/keys/<name>` holds (16 raw bytes, §8) or what
/// `fs.insecure__keys.<name>` spells as 32 hex characters. The key never encrypts data directly: each file derives its
/// metadata key from it and a fresh nonce, and every node gets a random key of its own.
public struct ProtectedFileKey: Sendable, Equatable {
    public static let byteCount = 16

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(ProtectedFileKeyError) {
        guard bytes.count == Self.byteCount else {
            throw ProtectedFileKeyError(
                message: "a protected-files key is 16 bytes, found \(bytes.count)",
                hint: "generate one with `head -c 16 /dev/urandom > KEY` (or gramine-sgx-pf-crypt gen-key)")
        }
        self.bytes = bytes
    }

    /// Parses a key file the way both Gramine tools write keys: exactly 16 raw bytes (pf-crypt `gen-key`), or 32
    /// hexadecimal characters optionally followed by one newline (the `fs.insecure__keys` spelling).
    public init(keyFileContents contents: [UInt8]) throws(ProtectedFileKeyError) {
        if contents.count == Self.byteCount {
            self.bytes = contents
            return
        }
        var text = contents[...]
        if text.last == UInt8(ascii: "\n") { text = text.dropLast() }
        if text.last == UInt8(ascii: "\r") { text = text.dropLast() }
        guard text.count == Self.byteCount * 2 else {
            throw ProtectedFileKeyError(
                message: "the key file holds \(contents.count) bytes; expected 16 raw bytes or 32 hexadecimal characters",
                hint: "write the key as 16 raw bytes (head -c 16 /dev/urandom) or as 32 hex digits on one line")
        }
        guard let decoded = [UInt8](hexadecimal: String(decoding: text, as: UTF8.self)) else {
            throw ProtectedFileKeyError(
                message: "the key file holds 32 characters that are not all hexadecimal digits",
                hint: "a text key is exactly 32 characters 0-9, a-f (either case), optionally followed by a newline")
        }
        self.bytes = decoded
    }

    /// The metadata key for `nonce`: NIST SP 800-108 counter-mode KDF with AES-128-CMAC as the PRF, over
    /// `u32le(1) | "SGX-PROTECTED-FS-METADATA-KEY" NUL-padded to 64 | nonce[32] | u32le(128)` (gramine.md §11.3).
    func metadataKey(nonce: some Collection<UInt8>) -> SymmetricKey {
        var input = [UInt8]()
        input.reserveCapacity(104)
        input += [1, 0, 0, 0]
        let label = Array("SGX-PROTECTED-FS-METADATA-KEY".utf8)
        input += label + [UInt8](repeating: 0, count: 64 - label.count)
        input += nonce
        input += [128, 0, 0, 0]
        // A 16-byte AES key is the only input AES.CMAC rejects, and `bytes` is always 16 bytes long.
        var mac = try! AES.CMAC(key: SymmetricKey(data: bytes))
        mac.update(data: input)
        return SymmetricKey(data: Array(mac.finalize()))
    }
}

extension ProtectedFileKey: CustomStringConvertible {
    /// Never the key itself: keys end up in logs through string interpolation.
    public var description: String { "ProtectedFileKey(16 bytes)" }
}

public struct ProtectedFileKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let hint: String
    public var description: String { message }
}
