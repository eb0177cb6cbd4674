import Crypto
import Foundation
import Platform

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file opened once and checked against its trusted-file hash through that descriptor, so that the bytes that were
/// measured are the bytes that run: the launcher later executes the descriptor, not the path, and a file swapped in
/// under the same name meanwhile is never run.
public struct MeasuredFile: Sendable, Hashable {
    public let path: String
    public let descriptor: Int32
    private let identity: Identity

    /// What changes when the file's content changes in place: a write updates the modification and change times,
    /// and the change time cannot be set back from user space.
    private struct Identity: Sendable, Hashable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: [Int]
        let changed: [Int]

        init(_ status: stat) {
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
            size = Int64(status.st_size)
            modified = [status.st_mtim.tv_sec, status.st_mtim.tv_nsec]
            changed = [status.st_ctim.tv_sec, status.st_ctim.tv_nsec]
        }
    }

    /// Opens `path` and checks its content against `expectedSHA256`.
    public static func open(_ path: String, expectedSHA256: [UInt8]) throws(LauncherError) -> MeasuredFile {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw LauncherError(
                .trustedFiles, path, found: "a file that cannot be opened (\(ConfinedFileWriter.systemError()))",
                expected: "a readable trusted file", hint: "every trusted file of the enclave description must exist")
        }
        do throws(LauncherError) {
            let before = try status(of: descriptor, path: path)
            guard before.st_mode & S_IFMT == S_IFREG else {
                throw LauncherError(
                    .trustedFiles, path, found: "a file that is not a regular file", expected: "a regular executable file",
                    hint: "name the program itself in the enclave description")
            }
            let found = try sha256(of: descriptor, path: path)
            guard found == expectedSHA256 else {
                throw LauncherError(
                    .trustedFiles, path, found: "SHA-256 \(found.hexadecimal)",
                    expected: "SHA-256 \(expectedSHA256.hexadecimal) as measured",
                    hint: "the file was modified, so the enclave refuses to start: restore it, or re-measure the enclave "
                        + "and update the manifest's package (its MRENCLAVE changes)")
            }
            let file = MeasuredFile(path: path, descriptor: descriptor, identity: Identity(before))
            try file.checkUnchanged()
            return file
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Refuses a file that was written, renamed over or unlinked since it was measured: each moves its change time.
    /// The descriptor would still run the measured bytes after a rename, but a host that swaps the program while
    /// the launcher activates is attacking it, so nothing runs.
    public func checkUnchanged() throws(LauncherError) {
        let now = try Self.status(of: descriptor, path: path)
        guard Identity(now) == identity else {
            throw LauncherError(
                .trustedFiles, path, found: "a file written, replaced or unlinked after it was measured (its change time moved)",
                expected: "the measured file, untouched until it runs",
                hint: "something on the host is modifying the enclave's files; nothing was started")
        }
    }

    /// The first `count` bytes (fewer for a shorter file).
    func prefix(_ count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, 0) }
        return Array(buffer.prefix(max(read, 0)))
    }

    private static func status(of descriptor: Int32, path: String) throws(LauncherError) -> stat {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw LauncherError(
                .trustedFiles, path, found: "a file whose status cannot be read (\(ConfinedFileWriter.systemError()))",
                expected: "a readable trusted file", hint: "check the file")
        }
        return status
    }

    private static func sha256(of descriptor: Int32, path: String) throws(LauncherError) -> [UInt8] {
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if read < 0 && errno == EINTR { continue }
            guard read >= 0 else {
                throw LauncherError(
                    .trustedFiles, path, found: "a read error (\(ConfinedFileWriter.systemError()))",
                    expected: "a readable trusted file", hint: "check the file")
            }
            if read == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<read])) }
            offset += off_t(read)
        }
        return Array(hasher.finalize())
    }
}

/// The program to run in simulation, with the interpreter its `#!` line names, each measured through its descriptor.
///
/// The kernel would open a script's interpreter by path; the launcher instead runs the measured interpreter's
/// descriptor and hands it the measured script as `/dev/fd/N`, as `fexecve` of a script does. The script therefore
/// sees `/dev/fd/N` as its own name (`$0`); a program that needs its real path is started through its interpreter
/// (`cloister-premain /usr/bin/python3 /app/main.py`).
public struct MeasuredProgram: Sendable, Hashable {
    public let program: MeasuredFile
    /// The `#!` interpreter and its optional single argument.
    public let interpreter: MeasuredFile?
    public let interpreterArgument: String?

    /// Linux reads at most this many bytes of a `#!` line.
    static let interpreterLineLimit = 256

    /// Opens and measures `path`, and its interpreter when it is a script; both must be trusted files of
    /// `description`.
    public static func open(_ path: String, description: EnclaveDescription) throws(LauncherError) -> MeasuredProgram {
        let program = try MeasuredFile.open(path, expectedSHA256: try trustedHash(path, description: description))
        do throws(LauncherError) {
            guard let (interpreterPath, argument) = try interpreterLine(of: program) else {
                return MeasuredProgram(program: program, interpreter: nil, interpreterArgument: nil)
            }
            let interpreter = try MeasuredFile.open(interpreterPath, expectedSHA256: try trustedHash(interpreterPath, description: description))
            if (try? interpreterLine(of: interpreter)) != nil {
                close(interpreter.descriptor)
                throw LauncherError(
                    .program, interpreterPath, found: "an interpreter that is itself a script",
                    expected: "an executable binary as the interpreter of \(path)",
                    hint: "name a binary interpreter in the #! line of \(path)")
            }
            return MeasuredProgram(program: program, interpreter: interpreter, interpreterArgument: argument)
        } catch {
            close(program.descriptor)
            throw error
        }
    }

    /// The paths this program measured, which the simulated enclave need not hash again.
    public var measuredPaths: Set<String> {
        Set([program.path] + (interpreter.map { [$0.path] } ?? []))
    }

    /// `fexecve` of the measured descriptor, after checking that nothing changed it in place. Returns only by
    /// throwing.
    func execute(arguments: [String], environment: [String: [UInt8]], signals: SignalState) throws(LauncherError) -> Never {
        try program.checkUnchanged()
        guard let interpreter else {
            try ProcessReplacement.execute(
                descriptor: program.descriptor, shownAs: program.path, arguments: arguments, environment: environment, signals: signals)
        }
        try interpreter.checkUnchanged()
        let flags = fcntl(program.descriptor, F_GETFD)
        guard flags >= 0, fcntl(program.descriptor, F_SETFD, flags & ~FD_CLOEXEC) == 0 else {
            throw LauncherError(
                .execution, program.path, found: "a descriptor that cannot be passed on (\(ConfinedFileWriter.systemError()))",
                expected: "the script's descriptor open for its interpreter", hint: "report this")
        }
        let interpreterArguments =
            [interpreter.path] + (interpreterArgument.map { [$0] } ?? []) + ["/dev/fd/\(program.descriptor)"] + arguments.dropFirst()
        try ProcessReplacement.execute(
            descriptor: interpreter.descriptor, shownAs: interpreter.path, arguments: interpreterArguments,
            environment: environment, signals: signals)
    }

    private static func trustedHash(_ path: String, description: EnclaveDescription) throws(LauncherError) -> [UInt8] {
        guard let file = description.trustedFiles.first(where: { $0.path == path }) else {
            throw LauncherError(
                .program, path, found: "a program that is not a trusted file of the enclave",
                expected: "one of the \(description.trustedFiles.count) trusted files of the enclave description",
                hint: "add \(path) to the description's trustedFiles (Gramine measures every file it executes) and "
                    + "re-measure the enclave")
        }
        return file.sha256
    }

    /// The interpreter path and optional argument of a `#!` line, parsed as Linux does; nil for a binary.
    static func interpreterLine(of file: MeasuredFile) throws(LauncherError) -> (String, String?)? {
        let head = file.prefix(interpreterLineLimit)
        guard head.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else { return nil }
        let line = head.dropFirst(2).prefix { $0 != UInt8(ascii: "\n") }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        let interpreter = String(text.prefix { $0 != " " && $0 != "\t" })
        let rest = text.dropFirst(interpreter.count).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        guard interpreter.hasPrefix("/") else {
            throw LauncherError(
                .program, file.path, found: "the #! line \(text.quotedForError())", expected: "an absolute interpreter path",
                hint: "write the interpreter's absolute path in the #! line")
        }
        return (interpreter, rest.isEmpty ? nil : rest)
    }
}
