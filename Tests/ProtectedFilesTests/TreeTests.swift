import Foundation
import ProtectedFiles
import Testing

@Suite("Directories of protected files")
struct TreeTests {
    @Test("a directory encrypts, verifies and decrypts with bindings from the mount uri")
    func directoryRoundTrip() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pf-tree-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let plain = root + "/plain"
        let encrypted = root + "/enc"
        let decrypted = root + "/dec"
        let files = [
            "a.txt": Fixtures.pattern(10), "sub/b.bin": Fixtures.pattern(5000), "sub/deeper/c": Fixtures.pattern(0),
            "sub/deeper/d": Fixtures.pattern(400_000),
        ]
        for (name, bytes) in files {
            let path = plain + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        try FileManager.default.createSymbolicLink(atPath: plain + "/link", withDestinationPath: plain + "/a.txt")
        let mount = ProtectedFileMount(uri: "file:enc_files/")

        let encryption = try ProtectedFileTree.encrypt(directory: plain, into: encrypted, key: Fixtures.vectorKey, mount: mount)
        #expect(encryption.failures.isEmpty)
        #expect(encryption.entries.map(\.relativePath) == files.keys.sorted())
        #expect(encryption.entries.map(\.boundPath) == files.keys.sorted().map { "enc_files/" + $0 })
        #expect(encryption.skipped == ["link"])

        let verification = try ProtectedFileTree.verify(directory: encrypted, key: Fixtures.vectorKey, mount: mount)
        #expect(verification.failures.isEmpty)
        let decryption = try ProtectedFileTree.decrypt(directory: encrypted, into: decrypted, key: Fixtures.vectorKey, mount: mount)
        #expect(decryption.failures.isEmpty)
        for (name, bytes) in files {
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: decrypted + "/" + name))) == bytes)
        }

        let elsewhere = try ProtectedFileTree.verify(directory: encrypted, key: Fixtures.vectorKey, mount: ProtectedFileMount(uri: "file:/other"))
        #expect(elsewhere.failures.count == files.count)
        if case .failure(.file(.pathMismatch(let bound, let expected))) = elsewhere.entries[0].outcome {
            #expect(bound == "enc_files/a.txt")
            #expect(expected == "/other/a.txt")
        } else {
            Issue.record("expected a path mismatch, got \(elsewhere.entries[0].outcome)")
        }

        // A refused file leaves no output behind.
        let refusedOutput = root + "/refused"
        let refused = try ProtectedFileTree.decrypt(directory: encrypted, into: refusedOutput, key: Fixtures.otherKey, mount: nil)
        #expect(refused.failures.count == files.count)
        let left = FileManager.default.enumerator(atPath: refusedOutput)?.allObjects.compactMap { $0 as? String } ?? []
        #expect(left.allSatisfy { !$0.contains(".tmp-") && !files.keys.contains($0) })
    }

    @Test("inspecting a file shows the header without the key and everything with it")
    func inspectFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pf-inspect-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(Fixtures.pattern(100_000)).write(to: URL(fileURLWithPath: directory + "/plain"))
        try ProtectedFileOperations.encryptFile(at: directory + "/plain", to: directory + "/pf", key: Fixtures.vectorKey, path: try BoundPath("/x/y"))
        let blind = try ProtectedFileOperations.inspectFile(at: directory + "/pf", key: nil)
        #expect(blind.metadata == nil)
        #expect(blind.header.majorVersion == 2)
        #expect(blind.header.plainSizeRange?.contains(100_000) == true)
        let full = try ProtectedFileOperations.inspectFile(at: directory + "/pf", key: Fixtures.vectorKey)
        #expect(full.metadata?.boundPath == "/x/y")
        #expect(full.metadata?.plainSize == 100_000)
        #expect(full.metadata?.shape.nodeCount == blind.header.nodeCount)
    }
}
