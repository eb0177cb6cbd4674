import Foundation
import TestSupport
import Testing

/// `cloister fs encrypt|decrypt|verify|inspect` as a user runs them: files and trees round-trip, the exit codes say
/// refused (1) or unusable input (2), and every failure names the file and what to do.
@Suite(.enabled(if: BuiltProgram(named: "cloister").exists, "needs the built cloister binary (swift build)"))
struct FileSystemCommandTests {
    static let cloister = BuiltProgram(named: "cloister")

    @Test func filesAndTreesRoundTripAndRefusalsAreNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = directory.path
        let key = root + "/wrap.key"
        let otherKey = root + "/other.key"
        try String(repeating: "ab", count: 16).write(toFile: key, atomically: true, encoding: .utf8)
        try String(repeating: "cd", count: 16).write(toFile: otherKey, atomically: true, encoding: .utf8)
        let plain = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try plain.write(to: URL(fileURLWithPath: root + "/secret.bin"))

        let encrypted = try Self.cloister.run(
            ["fs", "encrypt", root + "/secret.bin", "--output", root + "/secret.pf", "--key", key, "--path", "/data/secret.bin"])
        #expect(encrypted.exitCode == 0, "\(encrypted.standardError)")
        #expect(encrypted.standardOutput.contains("bound to /data/secret.bin"))
        let decrypted = try Self.cloister.run(
            ["fs", "decrypt", root + "/secret.pf", "--output", root + "/secret.out", "--key", key, "--path", "/data/secret.bin"])
        #expect(decrypted.exitCode == 0, "\(decrypted.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/secret.out")) == plain)

        let verified = try Self.cloister.run(["fs", "verify", root + "/secret.pf", "--key", key, "--json"])
        #expect(verified.exitCode == 0, "\(verified.standardError)")
        let inspected = try Self.cloister.run(["fs", "inspect", root + "/secret.pf", "--key", key, "--json"])
        let inspection = try JSONSerialization.jsonObject(with: Data(inspected.standardOutput.utf8)) as? [String: Any]
        #expect(inspection?["boundPath"] as? String == "/data/secret.bin")
        #expect(inspection?["plainSize"] as? Int == plain.count)

        // Refused: another key, another bound path. Nothing is written.
        let wrongKey = try Self.cloister.run(["fs", "decrypt", root + "/secret.pf", "--output", root + "/wrong.out", "--key", otherKey])
        #expect(wrongKey.exitCode == 1)
        #expect(wrongKey.standardError.contains(root + "/secret.pf"), "\(wrongKey.standardError)")
        #expect(!FileManager.default.fileExists(atPath: root + "/wrong.out"))
        let wrongPath = try Self.cloister.run(
            ["fs", "verify", root + "/secret.pf", "--key", key, "--path", "/data/other.bin", "--json"])
        #expect(wrongPath.exitCode == 1)
        let refusal = try JSONSerialization.jsonObject(with: Data(wrongPath.standardOutput.utf8)) as? [String: Any]
        #expect(refusal?["ok"] as? Bool == false)
        #expect(refusal?["hint"] as? String != nil)

        // Unusable input: no bound path for encryption, options of the wrong kind.
        let unbound = try Self.cloister.run(["fs", "encrypt", root + "/secret.bin", "--output", root + "/x.pf", "--key", key])
        #expect(unbound.exitCode == 2)
        #expect(unbound.standardError.contains("--path BOUND_PATH"), "\(unbound.standardError)")
        let mountForFile = try Self.cloister.run(
            ["fs", "verify", root + "/secret.pf", "--key", key, "--mount-uri", "file:enc/"])
        #expect(mountForFile.exitCode == 2)
        #expect(mountForFile.standardError.contains("--mount-uri is for directories"), "\(mountForFile.standardError)")

        // A tree: every file bound under the mount's uri, and back.
        try FileManager.default.createDirectory(atPath: root + "/tree/sub", withIntermediateDirectories: true)
        try Data("one".utf8).write(to: URL(fileURLWithPath: root + "/tree/one.txt"))
        try Data("two".utf8).write(to: URL(fileURLWithPath: root + "/tree/sub/two.txt"))
        let tree = try Self.cloister.run(["fs", "encrypt", root + "/tree", "--output", root + "/enc", "--key", key, "--mount-uri", "file:enc/"])
        #expect(tree.exitCode == 0, "\(tree.standardError)")
        let back = try Self.cloister.run(["fs", "decrypt", root + "/enc", "--output", root + "/back", "--key", key, "--mount-uri", "file:enc/"])
        #expect(back.exitCode == 0, "\(back.standardError)")
        #expect(try String(contentsOfFile: root + "/back/sub/two.txt", encoding: .utf8) == "two")
        let moved = try Self.cloister.run(["fs", "verify", root + "/enc", "--key", key, "--mount-uri", "file:elsewhere/"])
        #expect(moved.exitCode == 1, "\(moved.standardOutput) \(moved.standardError)")
    }

    /// `--secret NAME` reads the key from a verified Coordinator as its user: the same 16 bytes `cloister secret get`
    /// shows, so a file encrypted with the secret decrypts with those bytes as a key file.
    @Test func theKeyMayComeFromACoordinatorSecret() async throws {
        let coordinator = try await ScratchCoordinator()
        let root = coordinator.directory.path
        let alice = try UserFiles(name: "alice", directory: root)
        let verify = coordinator.verificationArguments
        let manifest = root + "/manifest.json"
        try ClientCommandTests.manifest(users: [alice]).write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try coordinator.cli(["manifest", "set", manifest] + verify).exitCode == 0)
        let read = try ClientCommandTests.json(coordinator.cli(["secret", "get", "generated", "--json"] + verify + alice.arguments))
        let secrets = try #require(read["secrets"] as? [String: [String: Any]])
        let encodedKey = try #require(secrets["generated"]?["private"] as? String)
        let keyBytes = try #require(Data(base64Encoded: encodedKey))
        try keyBytes.write(to: URL(fileURLWithPath: root + "/generated.key"))
        try Data("model weights".utf8).write(to: URL(fileURLWithPath: root + "/model.bin"))
        let asUser = ["--user-cert", alice.certificatePath, "--user-key", alice.keyPath]

        let encrypted = try coordinator.cli(
            ["fs", "encrypt", root + "/model.bin", "--output", root + "/model.pf", "--secret", "generated", "--path", "/data/model.bin"]
                + verify + asUser)
        #expect(encrypted.exitCode == 0, "\(encrypted.standardError)")
        let decrypted = try coordinator.cli(
            ["fs", "decrypt", root + "/model.pf", "--output", root + "/model.out", "--key", root + "/generated.key", "--path", "/data/model.bin"])
        #expect(decrypted.exitCode == 0, "\(decrypted.standardError)")
        #expect(try String(contentsOfFile: root + "/model.out", encoding: .utf8) == "model weights")

        try #"{"token": {"Key": "c2VjcmV0LXRva2Vu"}}"#.write(toFile: root + "/token.json", atomically: true, encoding: .utf8)
        #expect(try coordinator.cli(["secret", "set", root + "/token.json"] + verify + alice.arguments).exitCode == 0)
        let plainSecret = try coordinator.cli(["fs", "verify", root + "/model.pf", "--secret", "token", "--json"] + verify + asUser)
        #expect(plainSecret.exitCode == 2)
        #expect(plainSecret.standardOutput.contains("not a 128-bit symmetric key"), "\(plainSecret.standardOutput)")
        let anonymous = try coordinator.cli(["fs", "verify", root + "/model.pf", "--secret", "generated"] + verify)
        #expect(anonymous.exitCode == 1, "\(anonymous.standardError)")
        #expect(anonymous.standardError.contains("secret generated"), "\(anonymous.standardError)")
        let halfUser = try coordinator.cli(
            ["fs", "verify", root + "/model.pf", "--secret", "generated", "--user-cert", alice.certificatePath] + verify)
        #expect(halfUser.exitCode == 2)
        #expect(halfUser.standardError.contains("--user-cert without --user-key"), "\(halfUser.standardError)")
        let both = try coordinator.cli(["fs", "verify", root + "/model.pf", "--secret", "generated", "--key", root + "/generated.key"])
        #expect(both.exitCode == 2)
        #expect(both.standardError.contains("either --key or --secret"), "\(both.standardError)")
    }
}
