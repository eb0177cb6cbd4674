import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a program did when run to completion; a program killed by a signal has exit code 128 + the signal, as in a
/// shell.
public struct ProgramOutcome: Sendable {
    public let exitCode: Int32
    public let standardOutputBytes: Data
    public let standardErrorBytes: Data

    public var standardOutput: String { String(decoding: standardOutputBytes, as: UTF8.self) }
    public var standardError: String { String(decoding: standardErrorBytes, as: UTF8.self) }
}

/// Why a program could not be started or waited for at all (not how it ended).
public struct ProgramLaunchFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The one way the tests start programs: posix_spawn and waitpid.
///
/// Not Foundation's `Process`: on Linux it learns that a child exited when a descriptor the child inherited reaches end
/// of file, then reaps it with a blocking waitpid on its one monitoring thread. A program that closes inherited
/// descriptors (cloister-premain must) or outlives the test (a Coordinator, a server marble) holds that thread, and no
/// other process of the test run is seen to finish meanwhile.
///
/// The child gets `standardInput`, `standardOutput` and `standardError` (/dev/null where nil) and no other descriptor:
/// other tests run concurrently, and their pipes must not stay open in a program that outlives them.
public enum ProgramRunner {
    /// Starts `executable` (a path, or a name looked up on PATH) with the current environment overlaid by
    /// `environment` (an empty value unsets nothing: it sets the variable empty), in `workingDirectory` when given.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
        standardInput: Int32? = nil, standardOutput: Int32? = nil, standardError: Int32? = nil
    ) throws -> pid_t {
        guard let path = Tools.path(executable) else {
            throw ProgramLaunchFailure("\(executable) is not on PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? "")); run scripts/setup")
        }
        let pid = try spawnInOwnGroup(
            path, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            workingDirectory: workingDirectory, standardInput: standardInput, standardOutput: standardOutput, standardError: standardError)
        OrphanGuard.shared?.watch(pid)
        return pid
    }

    /// posix_spawn with exactly `environment`, in a process group of its own (so that the orphan guard can end the
    /// program with whatever it started), with no descriptor but the three standard ones.
    fileprivate static func spawnInOwnGroup(
        _ path: String, _ arguments: [String], environment: [String: String], workingDirectory: String? = nil,
        standardInput: Int32? = nil, standardOutput: Int32? = nil, standardError: Int32? = nil
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (descriptor, target, mode) in [
            (standardInput, STDIN_FILENO, O_RDONLY), (standardOutput, STDOUT_FILENO, O_WRONLY), (standardError, STDERR_FILENO, O_WRONLY),
        ] {
            if let descriptor {
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", mode, 0)
            }
        }
        guard let closeFrom = glibcAddCloseFrom else {
            throw ProgramLaunchFailure("posix_spawn_file_actions_addclosefrom_np is missing: the tests need glibc 2.34 or newer")
        }
        let closing = closeFrom(&actions, STDERR_FILENO + 1)
        guard closing == 0 else {
            throw ProgramLaunchFailure("posix_spawn_file_actions_addclosefrom_np failed: \(String(cString: strerror(closing)))")
        }
        if let workingDirectory {
            guard let changeDirectory = glibcAddChangeDirectory, changeDirectory(&actions, workingDirectory) == 0 else {
                throw ProgramLaunchFailure("posix_spawn_file_actions_addchdir_np (glibc 2.29) is unusable")
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw ProgramLaunchFailure("could not start \(path): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Runs a program to completion, writing `standardInput` to it while reading both of its outputs as they fill, so
    /// that neither side can block the other.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
        standardInput: Data? = nil
    ) throws -> ProgramOutcome {
        let output = try ClosingPipe()
        let error = try ClosingPipe()
        let input = try standardInput.map { _ in try ClosingPipe() }
        let pid = try spawn(
            executable, arguments, environment: environment, workingDirectory: workingDirectory, standardInput: input?.reading,
            standardOutput: output.writing, standardError: error.writing)
        output.closeWriting()
        error.closeWriting()
        if let input, let standardInput {
            input.closeReading()
            let bytes = [UInt8](standardInput)
            Thread.detachNewThread {
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { write(input.writing, $0.baseAddress, $0.count) }
                    if written > 0 { offset += written } else if errno != EINTR { break }
                }
                input.closeWriting()
            }
        }
        let (standardOutput, standardError) = readToEnd(output.reading, error.reading)
        let status = waitForExit(pid)
        return ProgramOutcome(exitCode: WaitStatus.exitCode(status), standardOutputBytes: standardOutput, standardErrorBytes: standardError)
    }

    /// ``run(_:_:environment:workingDirectory:standardInput:)`` on a thread of its own (see ``offThePool(_:)``).
    public static func runOffPool(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
        standardInput: Data? = nil
    ) async throws -> ProgramOutcome {
        try await offThePool {
            try run(executable, arguments, environment: environment, workingDirectory: workingDirectory, standardInput: standardInput)
        }
    }

    /// The wait status of `pid` once it has exited.
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    /// Everything written to `first` and `second` until both reach end of file, read as it comes.
    private static func readToEnd(_ first: Int32, _ second: Int32) -> (Data, Data) {
        var collected = [Data(), Data()]
        var descriptors = [pollfd(fd: first, events: Int16(POLLIN), revents: 0), pollfd(fd: second, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while descriptors.contains(where: { $0.fd >= 0 }) {
            for index in descriptors.indices { descriptors[index].revents = 0 }
            guard poll(&descriptors, nfds_t(descriptors.count), -1) >= 0 || errno == EINTR else { break }
            for index in descriptors.indices where descriptors[index].fd >= 0 && descriptors[index].revents != 0 {
                let count = read(descriptors[index].fd, &buffer, buffer.count)
                if count > 0 {
                    collected[index].append(contentsOf: buffer[..<count])
                } else if count == 0 || errno != EINTR {
                    descriptors[index].fd = -1
                }
            }
        }
        return (collected[0], collected[1])
    }
}

/// How a wait status reads.
public enum WaitStatus {
    /// The exit code, or 128 + the signal that ended the program.
    public static func exitCode(_ status: Int32) -> Int32 { status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + status & 0x7f }

    /// "exit N" or "signal N".
    public static func describe(_ status: Int32) -> String { status & 0x7f == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(status & 0x7f)" }
}

/// A pipe whose descriptors are close-on-exec in this process; a child gets one end through dup2.
final class ClosingPipe: Sendable {
    private let ends: Mutex<(reading: Int32, writing: Int32)>

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { throw ProgramLaunchFailure("pipe() failed: \(String(cString: strerror(errno)))") }
        // pipe2(O_CLOEXEC) is hidden behind _GNU_SOURCE in Swift's Glibc module.
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        ends = Mutex((descriptors[0], descriptors[1]))
    }

    var reading: Int32 { ends.withLock { $0.reading } }
    var writing: Int32 { ends.withLock { $0.writing } }

    func closeReading() {
        ends.withLock {
            if $0.reading >= 0 { close($0.reading) }
            $0.reading = -1
        }
    }

    func closeWriting() {
        ends.withLock {
            if $0.writing >= 0 { close($0.writing) }
            $0.writing = -1
        }
    }

    deinit {
        closeReading()
        closeWriting()
    }
}

/// Ends every program the tests started when the test process itself ends, also when it crashes or is killed: one
/// shell per test run waits for this process to go, then sends SIGKILL to each registered program's process group
/// whose process still has the start time it was registered with (so that a reused process ID is left alone).
final class OrphanGuard: Sendable {
    static let shared = try? OrphanGuard()

    private let registry: Mutex<FileHandle>

    private init() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-test-programs-\(getpid())").path
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ProgramLaunchFailure("could not create the orphan guard's registry \(path)")
        }
        registry = Mutex(handle)
        let script = #"""
            while kill -0 "$1" 2>/dev/null; do sleep 1; done
            while read -r pid start; do
                [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)" = "$start" ] && kill -9 "-$pid" 2>/dev/null
            done < "$2"
            rm -f "$2"
            """#
        _ = try ProgramRunner.spawnInOwnGroup(
            "/bin/sh", ["-c", script, "orphan-guard", "\(getpid())", path], environment: ["PATH": "/usr/bin:/bin"])
    }

    /// Registers `pid` with its start time (field 22 of /proc/PID/stat).
    func watch(_ pid: pid_t) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ", options: .backwards)
        else { return }
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 19 else { return }
        registry.withLock { $0.write(Data("\(pid) \(fields[19])\n".utf8)) }
    }
}

/// glibc 2.34's `posix_spawn_file_actions_addclosefrom_np` and 2.29's `posix_spawn_file_actions_addchdir_np`, which
/// Swift's Glibc module hides behind `_GNU_SOURCE`; closing a list of descriptors instead would race with descriptors
/// other threads open.
private let glibcAddCloseFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
    unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}

private let glibcAddChangeDirectory = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map {
    unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
}
