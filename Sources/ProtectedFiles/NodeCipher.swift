import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// AES-128-GCM as the format uses it everywhere: a 12-byte all-zero IV, no additional data, a 16-byte tag
/// (gramine.md §11.4). The zero IV is safe only because no key ever encrypts twice: every node write draws a fresh
/// key, and the metadata key is derived from a fresh nonce.
///
/// Both directions work on caller-owned buffers so that the hot loops allocate nothing of their own. swift-crypto
/// still copies once inside (the sealed box assembles nonce, ciphertext and tag); that copy is the only one left.
enum NodeCipher {
    static let zeroNonce = try! AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12))

    /// Encrypts `plaintext` into `ciphertext` (same length) and writes the 16-byte tag into `tag`.
    static func seal(
        _ plaintext: UnsafeRawBufferPointer, key: SymmetricKey,
        into ciphertext: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer
    ) {
        // Sealing only fails for a key that is not 128, 192 or 256 bits; every key here is 128 bits.
        let box = try! AES.GCM.seal(plaintext, using: key, nonce: zeroNonce)
        let nonceSize = 12
        // `combined` is the box's own storage; `ciphertext`/`tag` would build two more slices of it.
        box.combined!.withUnsafeBytes { combined in
            ciphertext.copyMemory(from: UnsafeRawBufferPointer(rebasing: combined[nonceSize..<(nonceSize + plaintext.count)]))
            tag.copyMemory(from: UnsafeRawBufferPointer(rebasing: combined[(nonceSize + plaintext.count)...]))
        }
    }

    static func seal(
        _ plaintext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
        into ciphertext: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer
    ) {
        seal(plaintext, key: SymmetricKey(data: key), into: ciphertext, tag: tag)
    }

    /// Decrypts `ciphertext` into `plaintext` (same length); false when the tag does not authenticate it.
    static func open(
        _ ciphertext: UnsafeRawBufferPointer, key: SymmetricKey, tag: UnsafeRawBufferPointer,
        into plaintext: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard let box = try? AES.GCM.SealedBox(nonce: zeroNonce, ciphertext: ciphertext, tag: tag),
            let opened = try? AES.GCM.open(box, using: key)
        else { return false }
        opened.withUnsafeBytes { plaintext.copyMemory(from: $0) }
        return true
    }

    static func open(
        _ ciphertext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer,
        into plaintext: UnsafeMutableRawBufferPointer
    ) -> Bool {
        open(ciphertext, key: SymmetricKey(data: key), tag: tag, into: plaintext)
    }
}

/// Where the writer draws node keys and metadata nonces from.
///
/// Production code uses `SystemRandomness`; tests substitute a recorded stream to reproduce reference files byte for
/// byte.
public protocol ProtectedFileRandomness {
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

/// The C library's CSPRNG (`arc4random_buf`: the kernel's getrandom on glibc, the system generator on Darwin), drawn
/// 4 KiB at a time: glibc makes one system call per `arc4random_buf`, which would otherwise cost more than sealing the
/// node the key is for.
public struct SystemRandomness: ProtectedFileRandomness {
    private var pool = [UInt8](repeating: 0, count: 4096)
    private var used = 4096

    public init() {}

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var written = 0
        while written < buffer.count {
            if used == pool.count {
                pool.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
                used = 0
            }
            let take = min(buffer.count - written, pool.count - used)
            let start = used
            pool.withUnsafeMutableBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[written..<(written + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + take)]))
                // Bytes handed out are not kept around in the pool.
                _ = source[start..<(start + take)].initializeMemory(as: UInt8.self, repeating: 0)
            }
            used += take
            written += take
        }
    }
}
