import Foundation

/// Locates the read-only reference data that lives beside the repository (`../shared`).
///
/// A fresh clone has no such folder, so tests that need it ask `SharedData.directory(_:)` and skip with
/// `SharedData.missingMessage` when it returns nil. `CLOISTER_SHARED` overrides the location.
public enum SharedData {
    /// The repository's root folder, derived from this file's location so that no machine path is written anywhere.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    public static var root: URL {
        if let override = ProcessInfo.processInfo.environment["CLOISTER_SHARED"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    /// The folder `relativePath` under the shared data, or nil when it is not there.
    public static func directory(_ relativePath: String) -> URL? {
        let url = root.appendingPathComponent(relativePath)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        return url
    }

    public static func missingMessage(_ relativePath: String) -> String {
        "skipped: shared reference data '\(relativePath)' not found at \(root.path) (set CLOISTER_SHARED to its location; CI provides it)"
    }
}
