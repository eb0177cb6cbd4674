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
        // Only what each file says about its libraries is kept: a program and its libraries can be tens of megabytes each.
        let root = try readELF(program)
        let interpreter = root.interpreter
        var libraries: [Library] = []
        var seen: Set<String> = []
        var queue: [(dynamic: ELFFile.DynamicInfo?, path: String)] = [(root.dynamic, program)]
        while !queue.isEmpty {
            let (dynamic, path) = queue.removeFirst()
            for name in dynamic?.needed ?? [] where seen.insert(name).inserted {
                let origin = (path as NSString).deletingLastPathComponent
                let searchPath = (dynamic?.runPath ?? dynamic?.rPath ?? []).map {
                    $0.replacingOccurrences(of: "$ORIGIN", with: origin).replacingOccurrences(of: "${ORIGIN}", with: origin)
                }
                guard
                    let found = (searchPath + systemDirectories).lazy.map({ $0 + "/" + name })
                        .first(where: { FileManager.default.fileExists(atPath: $0) })
                else {
                    throw ConversionError(
                        .unusableInput, path,
                        found: "a program that needs \(name), which is in none of \((searchPath + systemDirectories).joined(separator: ", "))",
                        expected: "every needed library present on this machine",
                        hint: "install the library, or build the program statically")
                }
                let resolved = URL(fileURLWithPath: found).resolvingSymlinksInPath().path
                libraries.append(Library(name: name, path: resolved))
                queue.append((try readELF(resolved).dynamic, resolved))
            }
        }
        return SharedLibraries(interpreter: interpreter, libraries: libraries)
    }

    /// The directories `/etc/ld.so.conf` lists, following its `include` lines.
    static func configuredDirectories(file: String = "/etc/ld.so.conf", depth: Int = 0) -> [String] {
        guard depth < 8, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        var directories: [String] = []
        for rawLine in text.split(separator: "\n") {
            let line =
                rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
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

    /// The file read once, straight into the array the parser takes.
    private static func readELF(_ path: String) throws(ConversionError) -> ELFFile {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        var status = stat()
        guard descriptor >= 0, fstat(descriptor, &status) == 0 else {
            if descriptor >= 0 { close(descriptor) }
            throw ConversionError(
                .unusableInput, path, found: "an unreadable file (\(String(cString: strerror(errno))))", expected: "a readable program",
                hint: "check the path")
        }
        defer { close(descriptor) }
        let size = Int(status.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            while count < size {
                let read = Glibc.read(descriptor, buffer.baseAddress! + count, size - count)
                if read < 0 && errno == EINTR { continue }
                guard read > 0 else {
                    failed = true
                    break
                }
                count += read
            }
        }
        guard !failed else {
            throw ConversionError(
                .unusableInput, path, found: "a read error (\(String(cString: strerror(errno))))", expected: "a readable program",
                hint: "check the file")
        }
        do {
            return try ELFFile(bytes: bytes)
        } catch {
            throw ConversionError(
                .unusableInput, path, found: "\(error)", expected: "an x86-64 ELF program or library", hint: "name the program itself, not a script")
        }
    }
}
