import Crypto
import Hexadecimal
import NIOCore

/// A content address as OCI and the distribution API write it: `sha256:` and 64 lower-case hexadecimal digits.
///
/// Only SHA-256 is accepted: it is what every registry and image in use writes, and accepting an algorithm means
/// trusting its collision resistance for every blob that names it.
public struct ContentDigest: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 64 lower-case hexadecimal digits.
    public let hex: String

    /// Reads `text` (`sha256:<64 lower-case hex>`); upper-case hex is refused because the OCI image spec's
    /// `encoded` grammar for sha256 is `[a-f0-9]{64}` and two spellings of one digest would name two blob paths.
    public init(parsing text: String) throws(ImageFormatError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw .malformedDigest(text, reason: "there is no ':' between an algorithm and the encoded hash")
        }
        let algorithm = String(text[..<colon])
        let encoded = text[text.index(after: colon)...]
        guard algorithm == "sha256" else {
            let knownAlgorithms: Set = ["sha384", "sha512", "blake3", "sha512_256"]
            let isAlgorithmName =
                !algorithm.isEmpty
                && algorithm.utf8.allSatisfy { byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
                        || byte == UInt8(ascii: "-")
                }
            if knownAlgorithms.contains(algorithm) || isAlgorithmName {
                throw .unsupportedDigestAlgorithm(algorithm, digest: text)
            }
            throw .malformedDigest(text, reason: "'\(algorithm)' is not a digest algorithm name")
        }
        guard encoded.utf8.count == 64 else {
            throw .malformedDigest(text, reason: "the sha256 hash has \(encoded.utf8.count) characters, expected 64")
        }
        guard
            encoded.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else {
            throw .malformedDigest(text, reason: "the sha256 hash must be lower-case hexadecimal (0-9, a-f)")
        }
        hex = String(encoded)
    }

    init(sha256 hash: SHA256.Digest) {
        hex = Array(hash).hexadecimal
    }

    /// The digest of `bytes`.
    public static func of(_ bytes: some Sequence<UInt8>) -> ContentDigest {
        ContentDigest(sha256: SHA256.hash(data: Array(bytes)))
    }

    public var description: String { "sha256:" + hex }

    public static func < (lhs: ContentDigest, rhs: ContentDigest) -> Bool { lhs.hex < rhs.hex }
}

/// Hashes and counts bytes as they stream past.
struct DigestAccumulator {
    private var hasher = SHA256()
    private(set) var byteCount: Int64 = 0

    mutating func update(_ chunk: ByteBuffer) {
        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        byteCount += Int64(chunk.readableBytes)
    }

    func finalize() -> ContentDigest {
        ContentDigest(sha256: hasher.finalize())
    }
}
