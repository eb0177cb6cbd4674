import Crypto
import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A directory that is removed when the test is done with it.
final class TestDirectory: Sendable {
    let url: URL
    var path: String { url.path }

    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-e2e-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A failure of the test harness itself (not of the system under test), with what happened and what to look at.
struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Programs the tests need from the host: the Debian packages of `scripts/setup`, so the system directories come
/// before `PATH` (where version managers put wrapper scripts such as pyenv's shims).
enum HostProgram {
    static func path(_ name: String) -> String? {
        let directories = "/usr/sbin:/usr/bin:/sbin:/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
        for directory in directories.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path
            }
        }
        return nil
    }

    static func installed(_ names: String...) -> Bool { names.allSatisfy { path($0) != nil } }

    /// Runs `name` to completion; `allowFailure` returns the outcome of a non-zero exit instead of throwing.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], allowFailure: Bool = false) throws -> Outcome {
        guard let path = path(name) else { throw HarnessFailure("\(name) is not installed; run scripts/setup") }
        let outcome = try ProgramRunner.run(path, arguments)
        if !allowFailure && outcome.exitCode != 0 {
            throw HarnessFailure("\(name) \(arguments.joined(separator: " ")) exited \(outcome.exitCode): \(outcome.standardError)")
        }
        return outcome
    }

    /// Runs `name` under coreutils `timeout`, for programs with no time limit of their own (redis-cli, openssl
    /// s_client): exit code 124 means the limit was hit.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], timeLimit seconds: Int, allowFailure: Bool = false) throws -> Outcome {
        guard let program = path(name) else { throw HarnessFailure("\(name) is not installed; run scripts/setup") }
        return try run("timeout", ["--kill-after=2", "\(seconds)", program] + arguments, allowFailure: allowFailure)
    }
}

typealias Outcome = ProgramOutcome

/// A background process the test owns, its output in `logPath`; it is stopped (SIGTERM, then SIGKILL) when `stop()`
/// runs or the object goes. Started with ``ProgramRunner``, for the reason given there.
final class ChildProcess: Sendable {
    let processIdentifier: pid_t
    let logPath: String
    /// The wait status once reaped; reaping and signalling happen under this lock, so that a signal never reaches a
    /// reused process ID.
    private let waitStatus = Mutex<Int32?>(nil)

    init(executable: String, arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        self.logPath = logPath
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw HarnessFailure("could not create the log file \(logPath): \(String(cString: strerror(errno)))") }
        defer { close(log) }
        processIdentifier = try ProgramRunner.spawn(executable, arguments, environment: environment, standardOutput: log, standardError: log)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var isRunning: Bool { waitStatus.withLock { reap(into: &$0, blocking: false) == nil } }

    /// How the process ended ("exit 0", "signal 9"), or nil while it runs.
    var termination: String? { waitStatus.withLock { reap(into: &$0, blocking: false).map(WaitStatus.describe) } }

    /// The wait status once the process has exited (reaping it), nil while it runs.
    private func reap(into stored: inout Int32?, blocking: Bool) -> Int32? {
        while stored == nil {
            var status: Int32 = 0
            let result = waitpid(processIdentifier, &status, blocking ? 0 : WNOHANG)
            if result == processIdentifier {
                stored = status
            } else if result != -1 || errno != EINTR {
                break
            }
        }
        return stored
    }

    /// Polls `condition` every 100 ms for at most `attempts` tries; fails with the log when the process exits first.
    func waitUntil(_ what: String, attempts: Int = 300, _ condition: () -> Bool) throws {
        for _ in 0..<attempts {
            if condition() { return }
            if let termination { throw HarnessFailure("\(what): the process exited (\(termination)):\n\(log)") }
            usleep(100_000)
        }
        throw HarnessFailure("\(what): not ready after \(attempts / 10) s:\n\(log)")
    }

    func stop() {
        guard isRunning else { return }
        kill(processIdentifier, SIGTERM)
        for _ in 0..<100 where isRunning { usleep(50_000) }
        crash()
    }

    /// Kills without warning, as a crash would.
    func crash() {
        waitStatus.withLock {
            guard reap(into: &$0, blocking: false) == nil else { return }
            kill(processIdentifier, SIGKILL)
            _ = reap(into: &$0, blocking: true)
        }
    }

    deinit { stop() }
}

/// `cloister coordinator --simulation` (``SimulatedCoordinatorProcess``) with its state in `directory/data`, driven
/// through its client API with curl.
final class Coordinator: Sendable {
    let directory: TestDirectory
    let clientPort: Int
    let marblePort: Int
    private let current: Mutex<SimulatedCoordinatorProcess>
    /// The Coordinator root (PEM), fetched once as `curl -k` would and pinned from then on.
    let rootPath: String
    var machineDirectory: String { directory.file("data/simulated-sgx-machine") }
    var clientURL: String { "https://127.0.0.1:\(clientPort)" }
    var server: SimulatedCoordinatorProcess { current.withLock { $0 } }

    init(directory: TestDirectory) throws {
        self.directory = directory
        let server = try SimulatedCoordinatorProcess(
            blockingWith: URL(fileURLWithPath: directory.file("data")),
            machineDirectory: URL(fileURLWithPath: directory.file("data/simulated-sgx-machine")))
        (clientPort, marblePort) = (server.clientPort, server.marblePort)
        current = Mutex(server)
        rootPath = directory.file("coordinator-root.pem")
        try waitForRoot(writingTo: rootPath)
    }

    private func waitForRoot(writingTo path: String) throws {
        var root: String?
        try waitUntil("the Coordinator's client API") {
            guard let outcome = try? HostProgram.run("curl", ["-sk", "\(clientURL)/api/v2/quote"], allowFailure: true),
                outcome.exitCode == 0,
                let json = try? JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any],
                let chain = (json["data"] as? [String: Any])?["cert"] as? String
            else { return false }
            let certificates = chain.components(separatedBy: "-----END CERTIFICATE-----").filter { $0.contains("BEGIN") }
            root = certificates.last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) + "\n-----END CERTIFICATE-----\n" }
            return root != nil
        }
        if FileManager.default.fileExists(atPath: path) {
            let pinned = try String(contentsOfFile: path, encoding: .utf8)
            guard pinned == root else { throw HarnessFailure("the restarted Coordinator presents another root certificate") }
        } else {
            try root!.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// Polls `condition` every 100 ms for 30 s; fails with the Coordinator's log when it exits first.
    private func waitUntil(_ what: String, _ condition: () -> Bool) throws {
        for _ in 0..<300 {
            if condition() { return }
            if let exit = server.exitCode {
                throw HarnessFailure("\(what): the Coordinator exited (code \(exit)):\n\(server.logText)")
            }
            usleep(100_000)
        }
        throw HarnessFailure("\(what): not ready after 30 s:\n\(server.logText)")
    }

    /// Kills the Coordinator (SIGKILL, as a crash would) and starts it again on the same ports and state; it must keep
    /// its root.
    func restart() throws {
        let old = server
        old.signal(SIGKILL)
        _ = old.waitForExitBlocking(timeout: .seconds(30))
        let restarted = try SimulatedCoordinatorProcess(
            blockingWith: old.dataDirectory, machineDirectory: old.machineDirectory,
            arguments: ["--client-address", "127.0.0.1:\(clientPort)", "--marble-address", "127.0.0.1:\(marblePort)"],
            loopbackAddresses: false)
        current.withLock { $0 = restarted }
        try waitForRoot(writingTo: rootPath)
        try waitUntil("the restarted Coordinator's state") {
            (try? curl(["\(clientURL)/api/v2/status"]).contains("\"status\"")) ?? false
        }
    }

    /// curl pinned to the Coordinator root.
    func curl(_ arguments: [String]) throws -> String {
        try HostProgram.run("curl", ["-sS", "--fail-with-body", "--cacert", rootPath] + arguments).standardOutput
    }

    func setManifest(_ manifest: [String: Any]) throws {
        let path = directory.file("manifest-\(UUID().uuidString.prefix(8)).json")
        let body = ["manifest": try JSONSerialization.data(withJSONObject: manifest).base64EncodedString()]
        try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: path))
        _ = try curl(["-H", "Content-Type: application/json", "--data-binary", "@\(path)", "\(clientURL)/api/v2/manifest"])
    }

    /// The Coordinator's current certificate chain (intermediate, then the pinned root) written to `path`: what
    /// `cloister certificate chain` gives a user, for clients that get only a marble's leaf from the server.
    func writeCertificateChain(to path: String) throws {
        let answer = try curl(["\(clientURL)/api/v2/quote"])
        guard let json = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
            let chain = (json["data"] as? [String: Any])?["cert"] as? String
        else { throw HarnessFailure("GET /api/v2/quote answered \(answer.prefix(400))") }
        let root = try String(contentsOfFile: rootPath, encoding: .utf8)
        guard chain.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix(root.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessFailure("the Coordinator's chain does not end with the pinned root:\n\(chain)")
        }
        try chain.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The secret `name` as the user holding `user` fetches it (`GET /api/v2/secrets`, mutual TLS).
    func secret(_ name: String, as user: UserFiles) throws -> [UInt8] {
        let answer = try curl(["--cert", user.certificatePath, "--key", user.keyPath, "\(clientURL)/api/v2/secrets?s=\(name)"])
        guard let json = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
            let secrets = (json["data"] as? [String: Any])?["secrets"] as? [String: Any] ?? (json["data"] as? [String: Any]),
            let secret = secrets[name] as? [String: Any], let privateBase64 = secret["Private"] as? String,
            let bytes = Data(base64Encoded: privateBase64)
        else { throw HarnessFailure("GET /api/v2/secrets?s=\(name) answered \(answer.prefix(400))") }
        return [UInt8](bytes)
    }

    deinit { server.stop() }
}

/// A simulated enclave: a signing key and a description (Gramine's model) trusting the given files; the host's
/// command line gives the program and its arguments.
struct SimulatedEnclave {
    let descriptionPath: String
    let signerPath: String
    let trustedFiles: [String]

    init(directory: TestDirectory, name: String, trustedFiles: [String]) throws {
        signerPath = directory.file("\(name)-signer.pem")
        if !FileManager.default.fileExists(atPath: signerPath) {
            try HostProgram.run("openssl", ["genrsa", "-3", "-out", signerPath, "3072"])
        }
        self.trustedFiles = trustedFiles
        descriptionPath = directory.file("\(name)-enclave.json")
        let files = try trustedFiles.map { path -> [String: String] in
            let contents = try Data(contentsOf: URL(fileURLWithPath: path))
            return ["path": path, "sha256": SHA256.hash(data: contents).map { String(format: "%02x", $0) }.joined()]
        }
        let description: [String: Any] = [
            "entrypoint": "cloister-premain", "arguments": ["fromHost": true], "trustedFiles": files,
            "productID": 1, "securityVersion": 1, "debug": false,
        ]
        try JSONSerialization.data(withJSONObject: description).write(to: URL(fileURLWithPath: descriptionPath))
    }

    /// The manifest package pinning this enclave (`cloister-premain --print-measurement`).
    func package() throws -> [String: Any] {
        let outcome = try ProgramRunner.run(
            BuiltProgram(named: "cloister-premain").url.path, ["--print-measurement"],
            environment: ["CLOISTER_ENCLAVE_DESCRIPTION": descriptionPath, "CLOISTER_ENCLAVE_SIGNER": signerPath])
        guard outcome.exitCode == 0, let report = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any],
            let uniqueID = report["UniqueID"] as? String
        else { throw HarnessFailure("cloister-premain --print-measurement failed: \(outcome.standardError)") }
        return ["UniqueID": uniqueID, "Debug": false]
    }
}

/// How one marble is launched: its type, enclave, UUID file and Coordinator.
struct MarbleLaunch {
    let coordinator: Coordinator
    let enclave: SimulatedEnclave
    let type: String
    let uuidFile: String
    var rootPath: String? = nil
    var extraEnvironment: [String: String] = [:]

    var environment: [String: String] {
        [
            "CLOISTER_PLATFORM": "simulation", "CLOISTER_SIMULATION_STATE_DIR": coordinator.machineDirectory,
            "CLOISTER_ENCLAVE_DESCRIPTION": enclave.descriptionPath, "CLOISTER_ENCLAVE_SIGNER": enclave.signerPath,
            "EDG_MARBLE_TYPE": type, "EDG_MARBLE_COORDINATOR_ADDR": "127.0.0.1:\(coordinator.marblePort)",
            "EDG_MARBLE_UUID_FILE": uuidFile, "CLOISTER_COORDINATOR_ROOT_CA": rootPath ?? coordinator.rootPath,
        ].merging(extraEnvironment) { $1 }
    }

    /// Runs `cloister-premain program...` to completion.
    func run(_ command: [String]) throws -> Outcome {
        try ProgramRunner.run(BuiltProgram(named: "cloister-premain").url.path, command, environment: environment)
    }

    /// Starts `cloister-premain program...` in the background (servers).
    func start(_ command: [String], logPath: String) throws -> ChildProcess {
        try ChildProcess(
            executable: BuiltProgram(named: "cloister-premain").url.path, arguments: command, environment: environment,
            logPath: logPath)
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

/// The last `lines` lines of the file at `path` (empty when there is none), for failure messages.
func tail(_ path: String, lines: Int = 40) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
    return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
}

/// The live (not zombie) processes whose parent is `parent`, read from /proc: the workers a server forked.
func childProcesses(of parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
        guard let status = processStatus(pid) else { return false }
        return status.parent == parent && status.state != "Z"
    }
}

/// Whether `pid` is a process that has not exited (a zombie has exited).
func isRunning(_ pid: pid_t) -> Bool {
    guard let status = processStatus(pid) else { return false }
    return status.state != "Z"
}

/// State and parent from /proc/PID/stat ("pid (comm) state ppid ..."; comm may hold spaces and parentheses).
private func processStatus(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count >= 2, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
    return (state, parent)
}
