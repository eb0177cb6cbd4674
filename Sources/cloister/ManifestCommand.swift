import ArgumentParser
import Foundation
import Manifest

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Check and fingerprint MarbleRun-compatible deployment manifests.",
        subcommands: [
            ManifestCheckCommand.self, ManifestHashCommand.self, ManifestSetCommand.self, ManifestGetCommand.self, ManifestVerifyCommand.self,
            ManifestLogCommand.self, ManifestSignatureCommand.self, ManifestUpdateCommand.self,
        ]
    )
}

struct ManifestCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Report every fault (errors) and likely mistake (warnings) in a manifest.",
        discussion: """
            Accepts JSON, or YAML which is converted as the MarbleRun CLI converts it before upload.
            Exit codes: 0 valid (warnings allowed), 1 invalid, 2 unreadable (missing file, neither JSON nor YAML).
            """
    )

    @Argument(help: "The manifest file (JSON or YAML).")
    var file: String

    @Flag(help: "Print the findings as one JSON object.")
    var json = false

    func run() throws {
        let manifest: Manifest
        do {
            manifest = try ManifestDocument.parse(try ManifestFile.read(file))
        } catch {
            try report(unreadable: error.message, hint: error.hint)
        }
        let report = manifest.validate()
        if json {
            let output = CheckOutput(
                file: file, readable: true, valid: report.isValid, format: manifest.sourceFormat.rawValue,
                sha256: manifest.fingerprint, errors: report.errors, warnings: report.warnings, problem: nil)
            print(try ManifestFile.encode(output))
        } else {
            let verdict = report.isValid ? "valid" : "invalid"
            print("\(file): \(verdict) (\(count(report.errors.count, "error")), \(count(report.warnings.count, "warning")))")
            if manifest.sourceFormat == .yaml {
                print("note: YAML was converted to JSON as the MarbleRun CLI does; SHA-256 of that JSON: \(manifest.fingerprint)")
            } else {
                print("SHA-256: \(manifest.fingerprint)")
            }
            for finding in report.errors {
                print("error: \(finding.path.isEmpty ? "(manifest)" : finding.path): \(finding.message)\n  hint: \(finding.hint)")
            }
            for finding in report.warnings {
                print("warning: \(finding.path.isEmpty ? "(manifest)" : finding.path): \(finding.message)\n  hint: \(finding.hint)")
            }
        }
        if !report.isValid { throw ExitCode(1) }
    }

    private func report(unreadable message: String, hint: String) throws -> Never {
        if json {
            let output = CheckOutput(
                file: file, readable: false, valid: false, format: nil, sha256: nil, errors: [], warnings: [],
                problem: .init(message: message, hint: hint))
            print(try ManifestFile.encode(output))
        } else {
            FileHandle.standardError.write(Data("error: \(file): \(message)\n  hint: \(hint)\n".utf8))
        }
        throw ExitCode(2)
    }

    private func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    private struct CheckOutput: Encodable {
        struct Problem: Encodable {
            let message: String
            let hint: String
        }
        let file: String
        let readable: Bool
        let valid: Bool
        let format: String?
        let sha256: String?
        let errors: [Finding]
        let warnings: [Finding]
        let problem: Problem?
    }
}

struct ManifestHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 of a manifest as MarbleRun computes it (manifestFingerprint).",
        discussion: """
            JSON is hashed as the exact bytes of the file. YAML is hashed as the JSON the MarbleRun CLI converts it to
            and uploads (keys sorted, compact, Go escaping), which is what the Coordinator stores and signs.
            Exit codes: 0 printed, 2 unreadable.
            """
    )

    @Argument(help: "The manifest file (JSON or YAML).")
    var file: String

    func run() throws {
        do {
            let manifest = try ManifestDocument.parse(try ManifestFile.read(file))
            print(manifest.fingerprint)
            if manifest.sourceFormat == .yaml {
                FileHandle.standardError.write(
                    Data("note: \(file) is YAML; hashed the \(manifest.bytes.count)-byte JSON that the MarbleRun CLI would upload\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(file): \(error.message)\n  hint: \(error.hint)\n".utf8))
            throw ExitCode(2)
        }
    }
}

enum ManifestFile {
    struct Failure: Error {
        let message: String
        let hint: String
    }

    static func read(_ path: String) throws(Failure) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                throw Failure(message: isDirectory.boolValue ? "is a directory" : "cannot be read", hint: "pass a readable manifest file")
            }
            throw Failure(message: "no such file", hint: "check the path")
        }
        return Array(data)
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension ManifestDocument {
    fileprivate static func parse(_ bytes: [UInt8]) throws(ManifestFile.Failure) -> Manifest {
        do {
            return try parse(bytes, formats: .jsonOrYAML)
        } catch {
            throw ManifestFile.Failure(message: error.message, hint: error.hint)
        }
    }
}
