import Attestation
import CoordinatorAPI
import Foundation
import Platform

/// Applies what the Coordinator returned: files, environment and argv (MarbleRun premain, spec sections 5.2 and 5.4).
public struct ParameterApplication {
    /// Gramine's encrypted-files key directory; files below it are keys, set through the platform.
    public static let keyDirectory = "/dev/attestation/keys/"
    /// The pre-1.5 Gramine single key, 32 hex digits, which is the key named `default`.
    public static let legacyKeyFile = "/dev/attestation/protected_files_key"
    static let attestationDirectory = "/dev/attestation/"

    public let platform: any EnclavePlatform
    /// Relative file paths are taken from here.
    public let workingDirectory: String

    public init(platform: any EnclavePlatform, workingDirectory: String) {
        self.platform = platform
        self.workingDirectory = workingDirectory
    }

    /// Checks, before the activation is requested, every target the activation will write (`ConfinedFileWriter.check`),
    /// so that a launch that could not write its files does not use up one of the marble type's activations.
    /// Key files are the platform's; every other file must be writable where the manifest says.
    public func checkTargets(_ paths: [String]) throws(LauncherError) {
        for path in paths where !path.hasPrefix(Self.attestationDirectory) {
            try ConfinedFileWriter().check(absolutePath(path))
        }
    }

    /// Writes `files`: encrypted-files keys first (through the platform, which redirects them in simulation), so that
    /// encrypted mounts can be opened, then every other file in path order, each with `ConfinedFileWriter` (missing
    /// directories created 0700, files 0600, no link followed). Returns the paths written, in order.
    @discardableResult
    public func writeFiles(_ files: [String: Data]) throws(LauncherError) -> [String] {
        let keys = files.keys.filter { $0.hasPrefix(Self.attestationDirectory) }.sorted()
        let others = files.keys.filter { !$0.hasPrefix(Self.attestationDirectory) }.sorted()
        for path in keys {
            try setKey(path: path, content: Array(files[path] ?? Data()))
        }
        for path in others {
            try ConfinedFileWriter().write(Array(files[path] ?? Data()), to: absolutePath(path))
        }
        return keys + others
    }

    private func setKey(path: String, content: [UInt8]) throws(LauncherError) {
        let name: String
        let key: [UInt8]
        if path.hasPrefix(Self.keyDirectory) {
            name = String(path.dropFirst(Self.keyDirectory.count))
            key = content
        } else if path == Self.legacyKeyFile {
            name = "default"
            let text = String(decoding: content, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let decoded = [UInt8](hexadecimal: text), decoded.count == 16 else {
                throw LauncherError(
                    .parameters, path, found: "\(content.count) bytes that are not 32 hexadecimal digits",
                    expected: "a 128-bit key as 32 hexadecimal digits",
                    hint: "prefer /dev/attestation/keys/default with the raw 16-byte key in the manifest")
            }
            key = decoded
        } else {
            throw LauncherError(
                .parameters, path, found: "a file in /dev/attestation that is not a key",
                expected: "\(Self.keyDirectory)NAME or \(Self.legacyKeyFile)",
                hint: "remove the file from the manifest's Files; other /dev/attestation files are not writable")
        }
        do {
            try platform.setEncryptedFileKey(named: name, key: key)
        } catch {
            throw LauncherError(
                .parameters, path, found: "\(error)", expected: "an encrypted-files key the platform accepts",
                hint: "give the key as a 16-byte raw value, e.g. {{ raw .Secrets.key }} of a symmetric-key secret of Size 128")
        }
    }

    func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: workingDirectory, isDirectory: true).appendingPathComponent(path).standardized.path
    }

    /// The program's environment: the launcher's own, with the activation's entries added or replacing.
    public static func environment(
        inherited: [String: String], activation: [String: Data]
    ) throws(LauncherError)
        -> [String: [UInt8]]
    {
        var environment = inherited.mapValues { Array($0.utf8) }
        for (name, value) in activation {
            guard !name.isEmpty, !name.contains("="), !name.contains("\0") else {
                throw LauncherError(
                    .parameters, "environment variable \(name.quotedForError())", found: "an invalid name",
                    expected: "a name without '=' or NUL", hint: "fix the name in the manifest's Env")
            }
            guard !value.contains(0) else {
                throw LauncherError(
                    .parameters, "environment variable \(name)", found: "a value with a NUL byte",
                    expected: "a value without NUL bytes",
                    hint: "environment values cannot hold binary data: use {{ base64 ... }} or {{ hex ... }} in the manifest's Env")
            }
            environment[name] = Array(value)
        }
        return environment
    }
}
