import Crypto
import Foundation
import Hexadecimal
import ProtectedFiles
import TestSupport
import Testing

@Suite("Gramine's reference vectors", .enabled(if: Fixtures.vectorsAvailable, "\(SharedData.missingMessage(Fixtures.vectorsPath))"))
struct VectorTests {
    @Test(
        "each vector decrypts byte for byte under its bound path",
        arguments: [
            ("v1_hello", "/encrypted/hello.txt"), ("v2_pattern10000", "/data/secret.bin"),
        ])
    func decrypts(name: String, path: String) throws {
        let plaintext = try ProtectedFileCodec.decrypt(
            try Fixtures.vector(name + ".pf"), key: Fixtures.vectorKey, path: try BoundPath(path))
        #expect(plaintext == (try Fixtures.vector(name + ".plain")))
    }

    @Test("the decoded metadata matches the dump made by Gramine's code", arguments: ["v1_hello", "v2_pattern10000"])
    func metadataMatchesDump(name: String) throws {
        let dump = String(decoding: try Fixtures.vector(name + ".dump.txt"), as: UTF8.self)
        var fields: [String: String] = [:]
        for line in dump.split(separator: "\n") {
            for pair in line.split(separator: " ") where pair.contains("=") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                // The "offsets:" line repeats names (file_size=772); the first occurrence is the value.
                if fields[String(parts[0])] == nil { fields[String(parts[0])] = String(parts[1]) }
            }
        }
        let inspection = try ProtectedFileInspection(
            metadataNode: Array(try Fixtures.vector(name + ".pf").prefix(4096)),
            onDiskSize: UInt64(try Fixtures.vector(name + ".pf").count), key: Fixtures.vectorKey)
        let metadata = try #require(inspection.metadata)
        #expect(inspection.header.metadataKeyNonce.hexadecimal == fields["metadata_key_nonce"])
        #expect(inspection.header.metadataTag.hexadecimal == fields["metadata_mac"])
        #expect("\"\(metadata.boundPath)\"" == fields["file_path"])
        #expect(String(metadata.plainSize) == fields["file_size"])
        #expect(metadata.rootMHTKey.hexadecimal == fields["root_mht_node_key"])
        #expect(metadata.rootMHTTag.hexadecimal == fields["root_mht_node_mac"])
        #expect(inspection.sizeProblem == nil)
        let plainSize = try #require(UInt64(fields["file_size"] ?? ""))
        #expect(inspection.header.plainSizeRange?.contains(plainSize) == true)
    }

    @Test("a wrong key is refused at the metadata node")
    func wrongKey() throws {
        let file = try Fixtures.vector("v2_pattern10000.pf")
        #expect(throws: ProtectedFileError.metadataAuthenticationFailed(storedTag: Array(file[42..<58]))) {
            try ProtectedFileCodec.decrypt(file, key: Fixtures.otherKey, path: nil)
        }
    }

    @Test("a wrong path is refused and names the bound path")
    func wrongPath() throws {
        let file = try Fixtures.vector("v1_hello.pf")
        #expect(throws: ProtectedFileError.pathMismatch(bound: "/encrypted/hello.txt", expected: "/encrypted/other.txt")) {
            try ProtectedFileCodec.decrypt(file, key: Fixtures.vectorKey, path: try BoundPath("/encrypted/other.txt"))
        }
        // The compared string is the normalised one, as Gramine normalises the path it opens.
        let plaintext = try ProtectedFileCodec.decrypt(file, key: Fixtures.vectorKey, path: try BoundPath("/encrypted/./x/../hello.txt"))
        #expect(plaintext == (try Fixtures.vector("v1_hello.plain")))
    }

    /// In both vectors the file's own draws start 32 bytes into the README's stream: the generator drew 32 bytes
    /// before writing (observed; the README does not say what for).
    @Test("the writer reproduces v1_hello byte for byte from the README's random stream")
    func writerReproducesSmallVector() throws {
        var stream = HashStreamRandomness(seed: "gramine-pf-vector-1")
        var skipped = [UInt8](repeating: 0, count: 32)
        skipped.withUnsafeMutableBytes { stream.fill($0) }
        let written = try ProtectedFileCodec.encrypt(
            try Fixtures.vector("v1_hello.plain"), key: Fixtures.vectorKey, path: try BoundPath("/encrypted/hello.txt"),
            randomness: stream)
        #expect(written == (try Fixtures.vector("v1_hello.pf")))
    }

    /// Gramine draws the keys of one flush in its cache order; the writer draws in file order. Replaying the draws
    /// that v2 was made with, in the writer's order, must give the same file, and those draws must be the README's
    /// stream (after its first 32 bytes: data node 1, data node 0, root, nonce; Gramine's cache puts the most
    /// recently used node first).
    @Test("the writer reproduces v2_pattern10000 byte for byte given the same random draws")
    func writerReproducesTreeVector() throws {
        let file = try Fixtures.vector("v2_pattern10000.pf")
        let inspection = try ProtectedFileInspection(metadataNode: Array(file.prefix(4096)), onDiskSize: UInt64(file.count), key: Fixtures.vectorKey)
        let metadata = try #require(inspection.metadata)
        let rootKey = SymmetricKey(data: metadata.rootMHTKey)
        let sealed = try AES.GCM.SealedBox(
            nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)), ciphertext: file[4096..<8192], tag: metadata.rootMHTTag)
        let root = Array(try AES.GCM.open(sealed, using: rootKey))
        let dataKey0 = Array(root[0..<16])
        let dataKey1 = Array(root[32..<48])

        var stream = HashStreamRandomness(seed: "gramine-pf-vector-2")
        var draws = [UInt8](repeating: 0, count: 32 + 16 * 3 + 32)
        draws.withUnsafeMutableBytes { stream.fill($0) }
        draws.removeFirst(32)
        #expect(Array(draws[0..<16]) == dataKey1)
        #expect(Array(draws[16..<32]) == dataKey0)
        #expect(Array(draws[32..<48]) == metadata.rootMHTKey)
        #expect(Array(draws[48..<80]) == inspection.header.metadataKeyNonce)

        let replay = ReplayedRandomness(bytes: dataKey0 + dataKey1 + metadata.rootMHTKey + inspection.header.metadataKeyNonce)
        let written = try ProtectedFileCodec.encrypt(
            try Fixtures.vector("v2_pattern10000.plain"), key: Fixtures.vectorKey, path: try BoundPath("/data/secret.bin"), randomness: replay)
        #expect(written == file)
    }
}
