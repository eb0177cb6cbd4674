import Foundation

/// Why the launcher refused to start the program. Every error names the step and the thing that failed, what was
/// found, what was expected and what to do; its description is one line, printed before the launcher exits.
public struct LauncherError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The step of the launch that failed.
    public enum Stage: String, Sendable, Hashable, CaseIterable {
        case settings = "settings"
        case platform = "enclave platform"
        case trustedFiles = "trusted files"
        case program = "program"
        case marbleKey = "marble key"
        case uuid = "marble UUID"
        case quote = "quote"
        case connection = "connection to the Coordinator"
        case coordinatorCertificate = "Coordinator certificate"
        case activation = "activation"
        case parameters = "applying the parameters"
        case execution = "starting the program"
    }

    public let stage: Stage
    /// What failed: an environment variable, a path, an address.
    public let subject: String
    public let found: String
    public let expected: String
    public let hint: String

    public init(_ stage: Stage, _ subject: String, found: String, expected: String, hint: String) {
        self.stage = stage
        self.subject = subject
        self.found = found
        self.expected = expected
        self.hint = hint
    }

    /// Creates the directories above `path` that are missing, readable only by the marble's user (the files written
    /// there hold its UUID or its secrets).
    static func createPrivateParentDirectory(of path: String, stage: Stage, expected: String, hint: String) throws(LauncherError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LauncherError(
                stage, directory.path, found: "a directory that cannot be created (\(error.localizedDescription))",
                expected: expected, hint: hint)
        }
    }

    public var description: String {
        let oneLine = "\(stage.rawValue): \(subject): found \(found), expected \(expected); \(hint)"
        return oneLine.replacingOccurrences(of: "\n", with: " ")
    }

    /// 2 for settings the operator must fix before anything is attempted, 1 for every other refusal.
    public var exitCode: Int32 { stage == .settings ? 2 : 1 }
}

extension String {
    /// The text for an error message: at most `limit` characters, with newlines made visible.
    func quotedForError(limit: Int = 120) -> String {
        let shown = prefix(limit).replacingOccurrences(of: "\n", with: "\\n")
        return "'" + shown + (count > limit ? "…'" : "'")
    }
}
