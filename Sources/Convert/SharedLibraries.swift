import Foundation
import Gramine

/// The shared libraries a program needs, found the way the dynamic loader finds them (`DT_RUNPATH` or `DT_RPATH`
/// with `$ORIGIN`, then the directories of `/etc/ld.so.conf` and the system's default directories), so that a
/// program can be copied into an image with exactly what it loads.
public struct SharedLibraries: Sendable, Hashable {
    /// A library by the name programs ask for, and the file that provides it.
    public struct Library: Sendable, Hashable {
        public let name: String
        public let path: String
    }

    /// The program's dynamic loader (`PT_INTERP`), nil for a static program.
    public let interpreter: String?
    /// Every library in the closure, each once, in the order first needed.
    public let libraries: [Library]

    /// The defaults glibc searches after the cache on x86-64 Debian-family systems.
    static let defaultDirectories = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]

    /// The closure of `program`'s `DT_NEEDED` libraries on this machine.
    public static func resolve(program: String) throws(ConversionError) -> SharedLibraries {
        let systemDirectories = configuredDirectories() + defaultDirectories
        let root = try readELF(program)
        var libraries: [Library] = []
        var seen: Set<String> = []
        var queue: [(file: ELFFile, path: String)] = [(root, program)]
        while !queue.isEmpty {
            let (file, path) = queue.removeFirst()
            for name in file.dynamic?.needed ?? [] where seen.insert(name).inserted {
                let origin = (path as NSString).deletingLastPathComponent
                let searchPath = (file.dynamic?.runPath ?? file.dynamic?.rPath ?? []).map {
                    $0.replacingOccurrences(of: "$ORIGIN", with: origin).replacingOccurrences(of: "${ORIGIN}", with: origin)
                }
                guard let found = (searchPath + systemDirectories).lazy.map({ $0 + "/" + name })
                    .first(where: { FileManager.default.fileExists(atPath: $0) })
                else {
                    throw ConversionError(
                        .unusableInput, path, found: "a program that needs \(name), which is in none of \((searchPath + systemDirectories).joined(separator: ", "))",
                        expected: "every needed library present on this machine",
                        hint: "install the library, or build the program statically")
                }
                let resolved = URL(fileURLWithPath: found).resolvingSymlinksInPath().path
                libraries.append(Library(name: name, path: resolved))
                queue.append((try readELF(resolved), resolved))
            }
        }
        return SharedLibraries(interpreter: root.interpreter, libraries: libraries)
    }

    /// The directories `/etc/ld.so.conf` lists, following its `include` lines.
    static func configuredDirectories(file: String = "/etc/ld.so.conf", depth: Int = 0) -> [String] {
        guard depth < 8, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        var directories: [String] = []
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.hasPrefix("include ") {
                let pattern = line.dropFirst("include ".count).trimmingCharacters(in: .whitespaces)
                for included in expand(pattern, relativeTo: (file as NSString).deletingLastPathComponent) {
                    directories += configuredDirectories(file: included, depth: depth + 1)
                }
            } else if line.hasPrefix("/") {
                directories.append(line)
            }
        }
        return directories
    }

    private static func expand(_ pattern: String, relativeTo directory: String) -> [String] {
        let absolute = pattern.hasPrefix("/") ? pattern : directory + "/" + pattern
        let parent = (absolute as NSString).deletingLastPathComponent
        let namePattern = (absolute as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        return names.sorted().filter { fnmatch(namePattern, $0, 0) == 0 }.map { parent + "/" + $0 }
    }

    private static func readELF(_ path: String) throws(ConversionError) -> ELFFile {
        do {
            return try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)))
        } catch let error as ELFError {
            throw ConversionError(.unusableInput, path, found: "\(error)", expected: "an x86-64 ELF program or library", hint: "name the program itself, not a script")
        } catch {
            throw ConversionError(.unusableInput, path, found: "an unreadable file (\(error.localizedDescription))", expected: "a readable program", hint: "check the path")
        }
    }
}
