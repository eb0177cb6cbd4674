import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real `cloister coordinator --simulation` with its data in `dataDirectory` and its simulated SGX machine in
/// `machineDirectory`, its client and marble APIs listening on ports read from its JSON log. It is stopped
/// (SIGTERM, then SIGKILL) by ``stop()`` or when it goes away.
///
/// Started and reaped as ``ProgramRunner`` says.
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
    public convenience init(
        dataDirectory: URL, machineDirectory: URL, environment: [String: String] = [:], arguments: [String] = [],
        loopbackAddresses: Bool = true
    ) async throws {
        let child = try Self.spawn(dataDirectory, machineDirectory, environment, arguments, loopbackAddresses)
        let deadline = ContinuousClock.now + Self.startLimit
        while try Self.listening(child, before: deadline) == nil { try await Task.sleep(for: .milliseconds(20)) }
        try self.init(dataDirectory: dataDirectory, machineDirectory: machineDirectory, child: child, deadline: deadline)
    }

    /// The same start for a test that is not async: it blocks its thread while the Coordinator starts.
    public convenience init(
        blockingWith dataDirectory: URL, machineDirectory: URL, environment: [String: String] = [:], arguments: [String] = [],
        loopbackAddresses: Bool = true
    ) throws {
        let child = try Self.spawn(dataDirectory, machineDirectory, environment, arguments, loopbackAddresses)
        let deadline = ContinuousClock.now + Self.startLimit
        while try Self.listening(child, before: deadline) == nil { usleep(20_000) }
        try self.init(dataDirectory: dataDirectory, machineDirectory: machineDirectory, child: child, deadline: deadline)
    }

    private init(dataDirectory: URL, machineDirectory: URL, child: BackgroundProcess, deadline: ContinuousClock.Instant) throws {
        self.dataDirectory = dataDirectory
        self.machineDirectory = machineDirectory
        (clientPort, marblePort) = try Self.listening(child, before: deadline)!
        self.child = child
    }

    /// Generous: a whole parallel test run on two cores can slow a debug Coordinator's start a lot.
    private static let startLimit = Duration.seconds(240)

    private static func spawn(
        _ dataDirectory: URL, _ machineDirectory: URL, _ environment: [String: String], _ arguments: [String], _ loopbackAddresses: Bool
    ) throws -> BackgroundProcess {
        let addresses = loopbackAddresses ? ["--client-address", "127.0.0.1:0", "--marble-address", "127.0.0.1:0"] : []
        return try BackgroundProcess(
            program.url.path,
            [
                "coordinator", "--simulation", "--data-directory", dataDirectory.path, "--simulation-state-directory",
                machineDirectory.path, "--log-format", "json",
            ] + addresses + arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOISTER_") && !$0.key.hasPrefix("EDG_") }
                .merging(environment) { $1 })
    }

    /// The client and marble API ports once the log says both listen; nil before. Throws when the Coordinator exited
    /// or `deadline` passed.
    private static func listening(_ child: BackgroundProcess, before deadline: ContinuousClock.Instant) throws -> (client: Int, marble: Int)? {
        let ports = ports(in: child.log.text)
        if let client = ports["client API"], let marble = ports["marble API"] { return (client, marble) }
        if let status = child.exitStatus {
            throw LaunchFailure(description: "cloister coordinator exited (\(WaitStatus.describe(status))); its log ends with:\n\(child.log.tail)")
        }
        guard ContinuousClock.now < deadline else {
            throw LaunchFailure(description: "cloister coordinator did not listen within 240 s; its log ends with:\n\(child.log.tail)")
        }
        return nil
    }

    public var processIdentifier: pid_t { child.processIdentifier }
    public var clientAddress: String { "127.0.0.1:\(clientPort)" }
    public var clientURL: String { "https://\(clientAddress)" }
    public var marbleURL: String { "https://127.0.0.1:\(marblePort)" }
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
        return child.exitStatus.map(WaitStatus.exitCode)
    }

    /// The exit code once the Coordinator has exited (128 + the signal when one ended it); nil while it runs.
    public var exitCode: Int32? { child.exitStatus.map(WaitStatus.exitCode) }

    /// ``waitForExit(timeout:)`` for a test that is not async.
    public func waitForExitBlocking(timeout: Duration = .seconds(30)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while child.exitStatus == nil {
            guard ContinuousClock.now < deadline else { return nil }
            usleep(5_000)
        }
        return child.exitStatus.map(WaitStatus.exitCode)
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
        let output = try ClosingPipe()
        processIdentifier = try ProgramRunner.spawn(
            executable, arguments, environment: environment, standardOutput: capturingStandardOutput ? output.writing : nil,
            standardError: output.writing)
        output.closeWriting()
        let log = log
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(output.reading, &buffer, buffer.count)
                if count > 0 {
                    log.append(buffer[..<count])
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            output.closeReading()
            log.end()
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

}

/// Standard error as it arrives, appended by the reading thread and read by the test.
public final class StandardError: Sendable {
    private let data = Mutex(Data())
    private let ended = Mutex(false)

    func append(_ bytes: ArraySlice<UInt8>) { data.withLock { $0.append(contentsOf: bytes) } }
    func end() { ended.withLock { $0 = true } }

    /// Everything the program wrote, once the program and every process that inherited its output have closed it
    /// (at most `timeout` later; then what has arrived).
    public func complete(timeout: Duration = .seconds(10)) -> String {
        let deadline = ContinuousClock.now + timeout
        while !ended.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(2_000) }
        return text
    }
    public var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
    public var tail: String { data.withLock { String(decoding: $0.suffix(4000), as: UTF8.self) } }
}
