import Foundation

/// The reference data beside the repository (`../shared`, or `CLOISTER_SHARED`), for seeds and fixed inputs.
public enum SharedCorpus {
    public static var root: URL {
        if let override = ProcessInfo.processInfo.environment["CLOISTER_SHARED"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()  // Fuzz
            .deletingLastPathComponent().deletingLastPathComponent()  // the repository's parent
            .appendingPathComponent("shared")
    }

    /// The bytes of `relativePath` under the shared folder; stops the fuzzer with a message when it is absent.
    public static func read(_ relativePath: String) -> [UInt8] {
        let url = root.appendingPathComponent(relativePath)
        guard let data = try? Data(contentsOf: url) else {
            FileHandle.standardError.write(Data("this fuzz target needs \(url.path) (../shared beside the repository, or CLOISTER_SHARED)\n".utf8))
            exit(2)
        }
        return Array(data)
    }

    /// Every file directly in `relativeDirectory`, sorted by name.
    public static func files(in relativeDirectory: String) -> [[UInt8]] {
        let directory = root.appendingPathComponent(relativeDirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        return names.compactMap { try? Array(Data(contentsOf: directory.appendingPathComponent($0))) }
    }
}
