import Foundation
import ProtectedFiles
import TestSupport
import Testing

@Suite("Writing and reading back")
struct RoundTripTests {
    static let path = try! BoundPath("/data/file.bin")

    /// Boundaries of the tree: the metadata node's 3072 bytes, the first data node, the root MHT node's 96 data nodes
    /// (3072 + 96 * 4096 = 396288), and a second level of MHT nodes under the first child.
    @Test(
        "round trips keep every byte and the expected tree",
        arguments: [
            0, 1, 3071, 3072, 3073, 4096, 7168, 7169, 10_000, 100_000, 396_288, 396_289, 1_000_000,
        ])
    func roundTrip(size: Int) throws {
        let plaintext = Fixtures.pattern(size, seed: UInt64(size))
        let file = try ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: Self.path)
        let shape = ProtectedFileShape(plainSize: UInt64(size))
        #expect(UInt64(file.count) == shape.onDiskSize)
        #expect(try ProtectedFileCodec.decrypt(file, key: Fixtures.vectorKey, path: Self.path) == plaintext)
    }

    @Test(
        "on-disk sizes match the ones the spec verified against Gramine",
        arguments: [
            (0, 4096), (3072, 4096), (3073, 12_288), (10_000, 16_384), (1_000_000, 1_015_808),
        ])
    func onDiskSizes(plainSize: UInt64, onDisk: UInt64) {
        #expect(ProtectedFileShape(plainSize: plainSize).onDiskSize == onDisk)
        #expect(ProtectedFileShape.plainSizeRange(nodeCount: onDisk / 4096)?.contains(plainSize) == true)
    }

    @Test("tree shapes: one MHT level up to 96 data nodes, two up to 33 * 96, three beyond")
    func treeLevels() {
        #expect(ProtectedFileShape(plainSize: 3072).mhtLevels == 0)
        #expect(ProtectedFileShape(plainSize: 396_288).mhtLevels == 1)
        #expect(ProtectedFileShape(plainSize: 396_289).mhtLevels == 2)
        #expect(ProtectedFileShape(plainSize: 3072 + 33 * 96 * 4096).mhtLevels == 2)
        #expect(ProtectedFileShape(plainSize: 3072 + 33 * 96 * 4096 + 1).mhtLevels == 3)
        #expect(ProtectedFileShape(plainSize: 1_000_000).nodeCount == 248)
        #expect(ProtectedFileShape.plainSizeRange(nodeCount: 2) == nil)
        let lowest: UInt64 = 3072 + 95 * 4096 + 1
        let highest: UInt64 = 3072 + 96 * 4096
        #expect(ProtectedFileShape.plainSizeRange(nodeCount: 98) == lowest...highest)
    }

    @Test("a three-level tree (MHT node 33 is a grandchild of the root) round-trips and reads at random")
    func threeLevels() throws {
        let size = 3072 + 33 * 96 * 4096 + 5000
        let plaintext = Fixtures.pattern(size, seed: 3)
        let file = try ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: Self.path)
        #expect(ProtectedFileShape(plainSize: UInt64(size)).mhtLevels == 3)
        #expect(try ProtectedFileCodec.decrypt(file, key: Fixtures.vectorKey, path: Self.path) == plaintext)
        var reader = try ProtectedFileReader(storage: ProtectedFileBytes(file), key: Fixtures.vectorKey, expectedPath: Self.path)
        var generator = SeededGenerator(seed: 33)
        for _ in 0..<50 {
            let offset = Int.random(in: 0..<size, using: &generator)
            let count = Int.random(in: 0...min(20_000, size - offset), using: &generator)
            #expect(try reader.read(at: UInt64(offset), count: count) == Array(plaintext[offset..<(offset + count)]))
        }
    }

    @Test("random-access reads at node edges and arbitrary offsets return exactly the plaintext")
    func randomAccess() throws {
        let size = 500_000
        let plaintext = Fixtures.pattern(size, seed: 5)
        let file = try ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: Self.path)
        var reader = try ProtectedFileReader(storage: ProtectedFileBytes(file), key: Fixtures.vectorKey, expectedPath: nil)
        var offsets: [(Int, Int)] = [(0, 0), (0, size), (size, 0), (3071, 2), (3072, 4096), (3071, 4098), (size - 1, 1)]
        for node in [0, 1, 95, 96, 97, 120] {
            let start = 3072 + node * 4096
            offsets += [(start - 1, 1), (start, 1), (start - 3, 4102)].filter { $0.0 >= 0 && $0.0 + $0.1 <= size }
        }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            let offset = Int.random(in: 0..<size, using: &generator)
            offsets.append((offset, Int.random(in: 0...min(9000, size - offset), using: &generator)))
        }
        for (offset, count) in offsets {
            #expect(
                try reader.read(at: UInt64(offset), count: count) == Array(plaintext[offset..<(offset + count)]), "offset \(offset) count \(count)")
        }
        #expect(throws: ProtectedFileError.rangeOutOfBounds(offset: UInt64(size - 1), count: 2, plainSize: UInt64(size))) {
            try reader.read(at: UInt64(size - 1), count: 2)
        }
    }

    @Test("writes in any chunking give a file that reads back the same")
    func chunkedWrites() throws {
        let plaintext = Fixtures.pattern(50_000, seed: 9)
        var writer = ProtectedFileWriter(sink: ProtectedFileBytes(), key: Fixtures.vectorKey, path: Self.path)
        var generator = SeededGenerator(seed: 11)
        var offset = 0
        while offset < plaintext.count {
            let count = min(plaintext.count - offset, Int.random(in: 0...9000, using: &generator))
            try writer.write(Array(plaintext[offset..<(offset + count)]))
            offset += count
        }
        try writer.finish()
        let file = writer.sink.bytes
        #expect(try ProtectedFileCodec.decrypt(file, key: Fixtures.vectorKey, path: Self.path) == plaintext)
    }

    @Test("two encryptions of one plaintext share no ciphertext: every key and nonce is fresh")
    func freshKeys() throws {
        let plaintext = Fixtures.pattern(20_000)
        let first = try ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: Self.path)
        let second = try ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: Self.path)
        for node in 0..<(first.count / 4096) {
            #expect(first[(node * 4096 + 59)..<(node * 4096 + 3943)] != second[(node * 4096 + 59)..<(node * 4096 + 3943)])
        }
    }
}
