import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real `cloister coordinator --simulation` with its data in `dataDirectory` and its simulated SGX machine in
/// `machineDirectory`, its client and marble APIs listening on ports read from its JSON log. It is stopped
/// (SIGTERM, then SIGKILL) by ``stop()`` or when it goes away.
///
/// Started with posix_spawn and reaped with waitpid, not with Foundation's `Process`: on Linux, `Process` reaps its
/// children on one monitoring thread, which a long-lived Coordinator can hold, so that no later process of the test
/// run would be seen to finish.
public final class SimulatedCoordinatorProcess: Sendable {
    public static let program = BuiltProgram(named: "cloister")
    /// MRENCLAVE of the simulated Coordinator enclave (`CoordinatorLauncher.simulatedEnclave`).
    public static let uniqueID = "0b212e17e0666889c14ac88a559bdc087a7b20481d79547a3790f641ed595080"

    public struct LaunchFailure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let dataDirectory: URL
    public let machineDirectory: URL
    public let clientPort: Int
    public let marblePort: Int
    private let child: BackgroundProcess

    /// Starts the Coordinator with the current environment minus its CLOISTER_* and EDG_* variables, plus
    /// `environment`, and waits until both its APIs listen. Without `loopbackAddresses`, the test sets the
    /// addresses itself, through `arguments` or `environment`.
    public init(
        dataDirectory: URL, machineDirectory: URL, environment: [String: String] = [:], arguments: [String] = [],
        loopbackAddresses: Bool = true
    ) async throws {
        self.dataDirectory = dataDirectory
        self.machineDirectory = machineDirectory
        let addresses = loopbackAddresses ? ["--client-address", "127.0.0.1:0", "--marble-address", "127.0.0.1:0"] : []
        let child = try BackgroundProcess(
            Self.program.url.path,
            [
                "coordinator", "--simulation", "--data-directory", dataDirectory.path, "--simulation-state-directory",
                machineDirectory.path, "--log-format", "json",
            ] + addresses + arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOISTER_") && !$0.key.hasPrefix("EDG_") }
                .merging(environment) { $1 })
        // Generous: a whole parallel test run on two cores can slow a debug Coordinator's start a lot.
        let deadline = ContinuousClock.now + .seconds(240)
        while true {
            let ports = Self.ports(in: child.log.text)
            if let client = ports["client API"], let marble = ports["marble API"] {
                (clientPort, marblePort) = (client, marble)
                break
            }
            if let status = child.exitStatus {
                throw LaunchFailure(
                    description: "cloister coordinator exited (\(BackgroundProcess.describe(status))); its log ends with:\n\(child.log.tail)")
            }
            guard ContinuousClock.now < deadline else {
                throw LaunchFailure(description: "cloister coordinator did not listen within 240 s; its log ends with:\n\(child.log.tail)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        self.child = child
    }

    public var clientAddress: String { "127.0.0.1:\(clientPort)" }
    /// What the Coordinator wrote to standard error so far.
    public var logText: String { child.log.text }

    public func signal(_ number: Int32) { child.signal(number) }

    /// The exit code once the Coordinator has exited (128 + the signal when one ended it); nil when it still runs
    /// after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while child.exitStatus == nil {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(5))
        }
        return child.exitStatus.map(BackgroundProcess.exitCode)
    }

    public func stop() { child.stop() }

    private static func ports(in log: String) -> [String: Int] {
        var ports: [String: Int] = [:]
        for line in log.split(separator: "\n") where line.contains("\"Listening\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                let server = object["server"], let port = object["port"].flatMap(Int.init)
            else { continue }
            ports[server] = port
        }
        return ports
    }
}

/// A spawned program with standard input and output on /dev/null and standard error collected in `log`; stopped
/// when it goes away, also when the launch fails before the Coordinator listens.
public final class BackgroundProcess: Sendable {
    public let processIdentifier: pid_t
    public let log = StandardError()
    private let waitStatus = Mutex<Int32?>(nil)

    /// Standard error (and, with `capturingStandardOutput`, standard output) goes to ``log``.
    public init(_ executable: String, _ arguments: [String], environment: [String: String], capturingStandardOutput: Bool = false) throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw SimulatedCoordinatorProcess.LaunchFailure(description: "pipe() failed: \(String(cString: strerror(errno)))")
        }
        // Close-on-exec, so that no other program started meanwhile keeps the pipe open.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let (reading, writing) = (ends[0], ends[1])
        defer { close(writing) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        if capturingStandardOutput {
            posix_spawn_file_actions_adddup2(&actions, writing, STDOUT_FILENO)
        } else {
            posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, writing, STDERR_FILENO)
        // Other tests run concurrently: a descriptor of theirs left open in the Coordinator would keep their pipes
        // from reaching end of file until it exits.
        guard let closeFrom = addCloseFrom, closeFrom(&actions, STDERR_FILENO + 1) == 0 else {
            close(reading)
            throw SimulatedCoordinatorProcess.LaunchFailure(description: "posix_spawn_file_actions_addclosefrom_np (glibc 2.34) is unusable")
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else {
            close(reading)
            throw SimulatedCoordinatorProcess.LaunchFailure(description: "could not start \(executable): \(String(cString: strerror(result)))")
        }
        processIdentifier = pid
        let log = log
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(reading, &buffer, buffer.count)
                if count > 0 {
                    log.append(buffer[..<count])
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(reading)
        }
    }

    /// The wait status once the program has exited, reaping it; nil while it runs.
    public var exitStatus: Int32? { waitStatus.withLock { Self.reap(processIdentifier, into: &$0, blocking: false) } }

    private static func reap(_ pid: pid_t, into stored: inout Int32?, blocking: Bool) -> Int32? {
        while stored == nil {
            var status: Int32 = 0
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid {
                stored = status
            } else if result != -1 || errno != EINTR {
                break
            }
        }
        return stored
    }

    /// Signals only a program not yet reaped, whose process ID cannot have been reused.
    public func signal(_ number: Int32) {
        waitStatus.withLock { if Self.reap(processIdentifier, into: &$0, blocking: false) == nil { kill(processIdentifier, number) } }
    }

    /// SIGTERM, as an operator would stop it, and SIGKILL when it has not exited after five seconds.
    public func stop() {
        signal(SIGTERM)
        for _ in 0..<100 where exitStatus == nil { usleep(50_000) }
        waitStatus.withLock {
            guard Self.reap(processIdentifier, into: &$0, blocking: false) == nil else { return }
            kill(processIdentifier, SIGKILL)
            _ = Self.reap(processIdentifier, into: &$0, blocking: true)
        }
    }

    deinit { stop() }

    public static func exitCode(_ status: Int32) -> Int32 { status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + status & 0x7f }

    public static func describe(_ status: Int32) -> String { status & 0x7f == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(status & 0x7f)" }
}

/// Standard error as it arrives, appended by the reading thread and read by the test.
public final class StandardError: Sendable {
    private let data = Mutex(Data())

    func append(_ bytes: ArraySlice<UInt8>) { data.withLock { $0.append(contentsOf: bytes) } }
    public var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
    public var tail: String { data.withLock { String(decoding: $0.suffix(4000), as: UTF8.self) } }
}

/// glibc 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module hides behind `_GNU_SOURCE`.
let addCloseFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
    unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}
