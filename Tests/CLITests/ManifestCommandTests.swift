import Foundation
import TestSupport
import Testing

/// `cloister manifest check|hash`, run as the built binary.
@Suite struct ManifestCommandTests {
    let cloister = BuiltProgram(named: "cloister")
    static let validJSON =
        #"{"Packages":{"p":{"UniqueID":"abababababababababababababababababababababababababababababababab"}},"Marbles":{"m":{"Package":"p"}}}"#
    static let invalidJSON =
        #"{"Packages":{"p":{"UniqueID":"abababababababababababababababababababababababababababababababab"}},"Marbles":{"m":{"Package":"q","Parameters":{"Env":{"KEY":"{{ raw .Secrets.k }}"}}}},"Secrets":{"k":{"Type":"symmetric-key","Size":128}}}"#

    func temporaryFile(_ contents: String, name: String = "manifest.json") throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent(name)
        try Data(contents.utf8).write(to: file)
        return file
    }

    @Test func validManifestExitsZero() throws {
        let file = try temporaryFile(Self.validJSON)
        let outcome = try cloister.run(["manifest", "check", file.path])
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.hasPrefix("\(file.path): valid (0 errors, 0 warnings)\n"))
        #expect(outcome.standardOutput.contains("SHA-256: 0fce865b4705d0dde9f9c69694eddb82a68eed3acfee5eb13b9342e6c1995cb6"))
    }

    @Test func invalidManifestPrintsEveryFaultAndExitsOne() throws {
        let file = try temporaryFile(Self.invalidJSON)
        let outcome = try cloister.run(["manifest", "check", file.path])
        #expect(outcome.exitCode == 1)
        #expect(outcome.standardOutput.contains("invalid (2 errors, 1 warning)"))
        #expect(
            outcome.standardOutput.contains(
                "error: Marbles.m.Package: the package \"q\" is not defined in Packages\n  hint: define it, or use one of: \"p\""))
        #expect(
            outcome.standardOutput.contains(
                "error: Marbles.m.Parameters.Env.KEY: the raw function may only be used in Files\n  hint: use base64 or hex in Env"))
    }

    @Test func jsonOutputCarriesPathsMessagesAndHints() throws {
        let file = try temporaryFile(Self.invalidJSON)
        let outcome = try cloister.run(["manifest", "check", "--json", file.path])
        #expect(outcome.exitCode == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false)
        #expect(object["readable"] as? Bool == true)
        #expect(object["format"] as? String == "json")
        let errors = try #require(object["errors"] as? [[String: String]])
        #expect(errors.map { $0["path"] } == ["Marbles.m.Package", "Marbles.m.Parameters.Env.KEY"])
        #expect(errors.allSatisfy { $0["severity"] == "error" && !($0["hint"] ?? "").isEmpty })
    }

    @Test func unreadableInputExitsTwo() throws {
        let missing = try cloister.run(["manifest", "check", "/nonexistent/manifest.json"])
        #expect(missing.exitCode == 2)
        #expect(missing.standardError.contains("no such file"))
        let garbage = try cloister.run(["manifest", "check", try temporaryFile("{\"Packages\": [1, 2}").path])
        #expect(garbage.exitCode == 2)
        #expect(garbage.standardError.contains("the manifest is not valid JSON (line 1, column 19: expected ',' or ']' after an array element)"))
        let asJSON = try cloister.run(["manifest", "check", "--json", try temporaryFile("key: [unclosed").path])
        #expect(asJSON.exitCode == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(asJSON.standardOutput.utf8)) as? [String: Any])
        #expect(object["readable"] as? Bool == false)
        #expect((object["problem"] as? [String: String])?["message"]?.hasPrefix("the manifest is neither JSON nor YAML") == true)
    }

    @Test func hashIsTheSHA256OfTheExactBytes() throws {
        let outcome = try cloister.run(["manifest", "hash", try temporaryFile(Self.validJSON).path])
        #expect(outcome.exitCode == 0)
        #expect(outcome.standardOutput == "0fce865b4705d0dde9f9c69694eddb82a68eed3acfee5eb13b9342e6c1995cb6\n")
    }

    @Test func hashOfYAMLIsTheHashOfTheUploadedJSON() throws {
        let outcome = try cloister.run(["manifest", "hash", try temporaryFile("TestSignature: signature\n", name: "manifest.yaml").path])
        #expect(outcome.exitCode == 0)
        // SHA-256 of {"TestSignature":"signature"}, the JSON MarbleRun's CLI uploads for this YAML.
        #expect(outcome.standardOutput == "768e895b767d12d6a8101c097e5cc476c074be83394d447d0e5e63eb7dffafa5\n")
        #expect(outcome.standardError.contains("is YAML; hashed the 29-byte JSON that the MarbleRun CLI would upload"))
        #expect(try cloister.run(["manifest", "hash", "/nonexistent"]).exitCode == 2)
    }

    @Test(.enabled(if: SharedData.directory("corpus/marblerun-manifests") != nil, "shared corpus/marblerun-manifests is absent"))
    func corpusVerdicts() throws {
        let folder = try #require(SharedData.directory("corpus/marblerun-manifests"))
        for name in ["helloworld.json", "gramine-redis.json", "estore.json"] {
            #expect(try cloister.run(["manifest", "check", folder.appendingPathComponent(name).path]).exitCode == 0, "\(name)")
        }
        let invalid = try cloister.run(["manifest", "check", "--json", folder.appendingPathComponent("invalid-sample-manifest.json").path])
        #expect(invalid.exitCode == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(invalid.standardOutput.utf8)) as? [String: Any])
        #expect((object["errors"] as? [Any])?.count == 7)
        let yaml = try cloister.run(["manifest", "check", folder.appendingPathComponent("invalid-manifest-template.yaml").path])
        #expect(yaml.exitCode == 1)
        #expect(yaml.standardOutput.contains("note: YAML was converted to JSON as the MarbleRun CLI does"))
    }
}
