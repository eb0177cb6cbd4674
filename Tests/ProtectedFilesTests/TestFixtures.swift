import Crypto
import Foundation
import ProtectedFiles
import TestSupport

enum Fixtures {
    static let vectorsPath = "vectors/gramine-pf"
    static var vectors: URL? { SharedData.directory(vectorsPath) }
    static var vectorsAvailable: Bool { vectors != nil }
    static let vectorKey = try! ProtectedFileKey(bytes: Array(0..<16))
    static let otherKey = try! ProtectedFileKey(bytes: Array(repeating: 0x42, count: 16))

    static func vector(_ name: String) throws -> [UInt8] {
        guard let vectors else { throw CocoaError(.fileNoSuchFile) }
        return Array(try Data(contentsOf: vectors.appendingPathComponent(name)))
    }

    static func pattern(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }
}

/// The vectors' random stream (README): SHA256(seed || u64le(0)) || SHA256(seed || u64le(1)) || ...
struct HashStreamRandomness: ProtectedFileRandomness {
    let seed: [UInt8]
    private var block: UInt64 = 0
    private var buffered: [UInt8] = []

    init(seed: String) {
        self.seed = Array(seed.utf8)
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for index in 0..<buffer.count {
            if buffered.isEmpty {
                var counter = block
                let counterBytes = (0..<8).map { _ -> UInt8 in
                    defer { counter >>= 8 }
                    return UInt8(truncatingIfNeeded: counter)
                }
                buffered = Array(SHA256.hash(data: seed + counterBytes))
                block += 1
            }
            buffer[index] = buffered.removeFirst()
        }
    }
}

/// Hands out exactly the bytes it was given, in order: to replay another writer's draws.
struct ReplayedRandomness: ProtectedFileRandomness {
    var bytes: [UInt8]

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= buffer.count, "the replayed draws ran out")
        for index in 0..<buffer.count { buffer[index] = bytes[index] }
        bytes.removeFirst(buffer.count)
    }
}

/// The root MHT node's plaintext, decrypted with swift-crypto directly rather than through the reader under test.
enum RootNode {
    static func decrypt(_ file: [UInt8]) -> [UInt8] {
        guard
            let inspection = try? ProtectedFileInspection(
                metadataNode: Array(file[0..<4096]), onDiskSize: UInt64(file.count), key: Fixtures.vectorKey),
            let metadata = inspection.metadata,
            let box = try? AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)), ciphertext: file[4096..<8192], tag: metadata.rootMHTTag),
            let root = try? AES.GCM.open(box, using: SymmetricKey(data: metadata.rootMHTKey))
        else { return [] }
        return Array(root)
    }
}
