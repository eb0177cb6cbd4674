import ProtectedFiles
import TestSupport
import Testing

@Suite("Damaged and misused files never yield plaintext")
struct CorruptionTests {
    static let path = try! BoundPath("/data/file.bin")

    /// 3072 + 2 data nodes: a metadata node, a root MHT node and two data nodes, the second partly padding.
    static let plaintext = Fixtures.pattern(10_000, seed: 21)
    static let file = try! ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: path)

    @Test("flipping any bit of any byte is refused")
    func everyByte() throws {
        var generator = SeededGenerator(seed: 99)
        for offset in 0..<Self.file.count {
            var damaged = Self.file
            damaged[offset] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
            #expect(throws: ProtectedFileError.self, "byte \(offset)") {
                try ProtectedFileCodec.decrypt(damaged, key: Fixtures.vectorKey, path: Self.path)
            }
        }
    }

    @Test(
        "each kind of damage is named",
        arguments: [
            (3, "file_id"), (8, "major"), (9, "minor"), (20, "nonce"), (50, "metadata tag"), (58, "flags"), (1000, "encrypted metadata"),
            (4000, "padding"), (4096 + 10, "root MHT"), (8192 + 4095, "data node 0"), (12_288 + 4095, "data node 1 padding"),
        ])
    func namedDamage(offset: Int, region: String) throws {
        var damaged = Self.file
        damaged[offset] ^= 0x01
        let expected: ProtectedFileError =
            switch offset {
            case 3: .notProtectedFile(foundFileID: Array(damaged[0..<8]))
            case 8: .unsupportedVersion(major: 3, minor: 0)
            case 9: .unsupportedVersion(major: 2, minor: 1)
            case 20, 50, 1000: .metadataAuthenticationFailed(storedTag: Array(damaged[42..<58]))
            case 58: .pendingWrite
            case 4000: .metadataPaddingAltered(offset: 4000, found: 1)
            case 4096 + 10: .mhtNodeAuthenticationFailed(mhtNode: 0, physicalNode: 1, expectedTag: rootTag())
            case 8192 + 4095: .dataNodeAuthenticationFailed(dataNode: 0, physicalNode: 2, plainOffset: 3072, expectedTag: dataTag(0))
            default: .dataNodeAuthenticationFailed(dataNode: 1, physicalNode: 3, plainOffset: 7168, expectedTag: dataTag(1))
            }
        #expect(throws: expected, "\(region)") {
            try ProtectedFileCodec.decrypt(damaged, key: Fixtures.vectorKey, path: Self.path)
        }
    }

    @Test("unknown feature flags are refused")
    func featureFlags() {
        var damaged = Self.file
        damaged[58] = 0x80
        #expect(throws: ProtectedFileError.unknownFeatureFlags(0x80)) {
            try ProtectedFileCodec.decrypt(damaged, key: Fixtures.vectorKey, path: Self.path)
        }
    }

    @Test("truncated and extended files are refused with both sizes")
    func truncatedOrExtended() {
        #expect(throws: ProtectedFileError.empty) { try ProtectedFileCodec.decrypt([], key: Fixtures.vectorKey, path: nil) }
        #expect(throws: ProtectedFileError.notNodeAligned(size: 16_383)) {
            try ProtectedFileCodec.decrypt(Array(Self.file.dropLast()), key: Fixtures.vectorKey, path: nil)
        }
        #expect(throws: ProtectedFileError.sizeMismatch(onDisk: 12_288, expected: 16_384, plainSize: 10_000)) {
            try ProtectedFileCodec.decrypt(Array(Self.file.dropLast(4096)), key: Fixtures.vectorKey, path: nil)
        }
        #expect(throws: ProtectedFileError.sizeMismatch(onDisk: 20_480, expected: 16_384, plainSize: 10_000)) {
            try ProtectedFileCodec.decrypt(Self.file + Self.file[12_288...], key: Fixtures.vectorKey, path: nil)
        }
        #expect(throws: ProtectedFileError.notNodeAligned(size: 16_385)) {
            try ProtectedFileCodec.decrypt(Self.file + [0], key: Fixtures.vectorKey, path: nil)
        }
    }

    @Test("swapped data nodes, and a node taken from another file, are refused at that node")
    func swappedNodes() throws {
        var swapped = Self.file
        swapped.replaceSubrange(8192..<12_288, with: Self.file[12_288..<16_384])
        swapped.replaceSubrange(12_288..<16_384, with: Self.file[8192..<12_288])
        #expect(throws: ProtectedFileError.dataNodeAuthenticationFailed(dataNode: 0, physicalNode: 2, plainOffset: 3072, expectedTag: dataTag(0))) {
            try ProtectedFileCodec.decrypt(swapped, key: Fixtures.vectorKey, path: Self.path)
        }
        let other = try ProtectedFileCodec.encrypt(Self.plaintext, key: Fixtures.vectorKey, path: Self.path)
        var mixed = Self.file
        mixed.replaceSubrange(12_288..<16_384, with: other[12_288..<16_384])
        #expect(throws: ProtectedFileError.dataNodeAuthenticationFailed(dataNode: 1, physicalNode: 3, plainOffset: 7168, expectedTag: dataTag(1))) {
            try ProtectedFileCodec.decrypt(mixed, key: Fixtures.vectorKey, path: Self.path)
        }
        // Another file's metadata node authenticates on its own (same key, same path), but its root key does not open
        // this file's root MHT node.
        var rolledBack = Self.file
        rolledBack.replaceSubrange(0..<4096, with: other[0..<4096])
        #expect(throws: ProtectedFileError.mhtNodeAuthenticationFailed(mhtNode: 0, physicalNode: 1, expectedTag: try rootTag(of: other))) {
            try ProtectedFileCodec.decrypt(rolledBack, key: Fixtures.vectorKey, path: Self.path)
        }
    }

    @Test("swapped MHT nodes in a two-level tree are refused at the first MHT node reached")
    func swappedMHTNodes() throws {
        let plaintext = Fixtures.pattern(3072 + 200 * 4096, seed: 4)
        let file = try ProtectedFileCodec.encrypt(plaintext, key: Fixtures.vectorKey, path: Self.path)
        var swapped = file
        let mht1 = 98 * 4096
        let mht2 = 195 * 4096
        swapped.replaceSubrange(mht1..<(mht1 + 4096), with: file[mht2..<(mht2 + 4096)])
        swapped.replaceSubrange(mht2..<(mht2 + 4096), with: file[mht1..<(mht1 + 4096)])
        #expect {
            try ProtectedFileCodec.decrypt(swapped, key: Fixtures.vectorKey, path: Self.path)
        } throws: { error in
            guard case .mhtNodeAuthenticationFailed(1, 98, _)? = error as? ProtectedFileError else { return false }
            return true
        }
        var reader = try ProtectedFileReader(storage: ProtectedFileBytes(swapped), key: Fixtures.vectorKey, expectedPath: Self.path)
        #expect(try reader.read(at: 0, count: 3072 + 96 * 4096) == Array(plaintext[0..<(3072 + 96 * 4096)]), "nodes under the root stay readable")
    }

    @Test("random garbage and random headers never crash and never decrypt")
    func garbage() {
        var generator = SeededGenerator(seed: 1234)
        for round in 0..<300 {
            let nodes = Int.random(in: 0...4, using: &generator)
            var bytes = (0..<(nodes * 4096 + (round % 7 == 0 ? 1 : 0))).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count >= 60, round % 2 == 0 {
                bytes.replaceSubrange(0..<10, with: Array("GRAFS_PF".utf8) + [2, 0])
                bytes[58] = 0
                for index in 3943..<min(4096, bytes.count) { bytes[index] = 0 }
            }
            #expect(throws: ProtectedFileError.self) {
                try ProtectedFileCodec.decrypt(bytes, key: Fixtures.vectorKey, path: nil)
            }
        }
    }

    private func rootTag(of file: [UInt8] = CorruptionTests.file) throws -> [UInt8] {
        let inspection = try ProtectedFileInspection(metadataNode: Array(file[0..<4096]), onDiskSize: UInt64(file.count), key: Fixtures.vectorKey)
        return inspection.metadata?.rootMHTTag ?? []
    }

    private func rootTag() -> [UInt8] { (try? rootTag(of: Self.file)) ?? [] }

    private func dataTag(_ dataNode: Int) -> [UInt8] {
        let root = decryptedRoot()
        return Array(root[(dataNode * 32 + 16)..<(dataNode * 32 + 32)])
    }

    private func decryptedRoot() -> [UInt8] {
        RootNode.decrypt(Self.file)
    }
}
