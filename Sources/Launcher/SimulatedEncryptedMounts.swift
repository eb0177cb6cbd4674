import Foundation
import Hexadecimal

#if canImport(Glibc)
    import Glibc
#endif

/// Encrypted mounts in simulation (`CLOISTER_ENCRYPTED_MOUNTS=PATH:KEYNAME[,PATH:KEYNAME]`): there is no Gramine to
/// serve them, so after activation the launcher starts one FUSE server per mount (`cloister-premain
/// --serve-encrypted-mount PATH`, this same binary) with the key the activation wrote to `/dev/attestation/keys/KEYNAME`,
/// waits until it is mounted, and only then runs the program. The program reads and writes plaintext at PATH; the
/// host directory holds Gramine encrypted files that Gramine on SGX hardware opens with the same key.
public struct SimulatedEncryptedMount: Sendable, Hashable {
    public static let variable = "CLOISTER_ENCRYPTED_MOUNTS"
    /// The flag of the server mode; the key comes on standard input as 32 hexadecimal digits.
    public static let serverFlag = "--serve-encrypted-mount"

    public let path: String
    public let keyName: String

    /// A mount of a converted image's manifest. In simulation the host directory is the mount path itself, as
    /// `cloister convert --encrypted-mount` writes it (`uri = "file:PATH"`).
    public init(path: String, uri: String, keyName: String) throws(LauncherError) {
        guard uri == "file:" + path else {
            throw LauncherError(
                .settings, "fs.mounts entry \(path)", found: "uri \(uri)", expected: "file:\(path)",
                hint: "in simulation an encrypted mount is served over its own host directory; convert with --encrypted-mount PATH:KEYNAME")
        }
        self.path = path
        self.keyName = keyName
    }

    private init(checkedPath path: String, keyName: String) {
        self.path = path
        self.keyName = keyName
    }

    /// The mounts `value` names, each `PATH:KEYNAME` with an absolute, normalised PATH.
    public static func parse(_ value: String) throws(LauncherError) -> [SimulatedEncryptedMount] {
        var mounts: [SimulatedEncryptedMount] = []
        for entry in value.split(separator: ",", omittingEmptySubsequences: true) {
            guard let colon = entry.lastIndex(of: ":") else {
                throw refusal(String(entry), found: "no ':'", expected: "PATH:KEYNAME")
            }
            let path = String(entry[..<colon])
            let keyName = String(entry[entry.index(after: colon)...])
            let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard path.hasPrefix("/"), path != "/", !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw refusal(String(entry), found: "the path '\(path)'", expected: "an absolute, normalised path below /")
            }
            guard !keyName.isEmpty, !keyName.contains("/"), keyName != ".", keyName != ".." else {
                throw refusal(String(entry), found: "the key name '\(keyName)'", expected: "a file name under /dev/attestation/keys")
            }
            if let other = mounts.first(where: { $0.path == path || path.hasPrefix($0.path + "/") || $0.path.hasPrefix(path + "/") }) {
                throw refusal(String(entry), found: "it overlaps \(other.path)", expected: "distinct, non-nested paths")
            }
            mounts.append(SimulatedEncryptedMount(checkedPath: path, keyName: keyName))
        }
        return mounts
    }

    /// Starts the servers for `mounts` with the keys among the activation's `files`, each mounted when this returns.
    public static func start(
        _ mounts: [SimulatedEncryptedMount], files: [String: Data], announce: @Sendable (String) -> Void
    ) throws(LauncherError) {
        for mount in mounts {
            let keyPath = ParameterApplication.keyDirectory + mount.keyName
            guard let key = files[keyPath] else {
                throw LauncherError(
                    .parameters, mount.path, found: "no file \(keyPath) among the activation's files",
                    expected: "the mount's key from the Coordinator",
                    hint: "give the marble \"Files\": {\"\(keyPath)\": \"{{ raw .Secrets.NAME }}\"} with a 128-bit symmetric-key secret")
            }
            try serve(mount, key: Array(key))
            announce("serving encrypted mount \(mount.path) (key \(mount.keyName)) through FUSE (simulation)")
        }
    }

    private static func serve(_ mount: SimulatedEncryptedMount, key: [UInt8]) throws(LauncherError) {
        func failure(_ found: String) -> LauncherError {
            LauncherError(
                .parameters, mount.path, found: found, expected: "a FUSE server serving the mount",
                hint: "install fuse3, give the container /dev/fuse (and CAP_SYS_ADMIN), and create \(mount.path); the server's own message is above")
        }
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw failure("pipe(): \(String(cString: strerror(errno)))") }
        for descriptor in input + output { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO)
        let words: [String] = ["cloister-premain", serverFlag, mount.path]
        let argv = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/proc/self/exe", &actions, nil, argv, environ)
        close(input[0])
        close(output[1])
        defer { close(output[0]) }
        guard spawned == 0 else {
            close(input[1])
            throw failure("posix_spawn: \(String(cString: strerror(spawned)))")
        }
        let hex = Array((key.hexadecimal + "\n").utf8)
        let written = hex.withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) }
        close(input[1])
        guard written == hex.count else { throw failure("the key could not be handed to the server") }
        var answer = [UInt8](repeating: 0, count: 64)
        var received = 0
        while received < answer.count {
            let count = answer.withUnsafeMutableBytes { read(output[0], $0.baseAddress! + received, $0.count - received) }
            if count > 0 { received += count } else if count < 0 && errno == EINTR { continue } else { break }
        }
        guard String(decoding: answer[..<received], as: UTF8.self) == "mounted\n" else {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw failure("the server exited before mounting (wait status \(status))")
        }
    }

    private static func refusal(_ entry: String, found: String, expected: String) -> LauncherError {
        LauncherError(
            .settings, "\(variable) entry '\(entry)'", found: found, expected: expected,
            hint: "give PATH:KEYNAME pairs separated by ',', e.g. /data:datakey")
    }
}
