import Foundation
import TestSupport
import Testing

enum FUSESupport {
    /// Whether this machine lets the launcher's FUSE server mount: root, the tools, and a trial mount that works (a
    /// container may have /dev/fuse but not the right to mount).
    static let usable: Bool = {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/dev/fuse"), HostProgram.installed("fusermount3", "sqlite3"),
            let directory = try? TemporaryDirectory()
        else { return false }
        defer { directory.remove() }
        guard let input = try? ProgramRunner.run("sh", ["-c", probe, "probe", BuiltProgram(named: "cloister-premain").url.path, directory.path])
        else { return false }
        return input.exitCode == 0
    }()

    /// Starts the server on the directory, waits for "mounted", unmounts.
    static let probe = #"""
        out=$(mktemp); echo 000102030405060708090a0b0c0d0e0f | "$1" --serve-encrypted-mount "$2" >"$out" 2>/dev/null &
        server=$!
        for _ in $(seq 50); do grep -q mounted "$out" && break; kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        grep -q mounted "$out"; status=$?; fusermount3 -u "$2" 2>/dev/null; wait; rm -f "$out"; exit $status
        """#
}

/// An encrypted mount in simulation, as Gramine serves one on SGX hardware: the unmodified `sqlite3` shell writes and
/// reads a database at the mount path through the launcher's FUSE server, with the key the Coordinator gives the
/// activated marble; the host directory holds only Gramine encrypted files, which `cloister fs decrypt` turns back into
/// the same database.
@Suite(.serialized, .enabled(if: FUSESupport.usable, "needs root, /dev/fuse, fusermount3 and sqlite3 (scripts/setup)"))
struct EncryptedVolumeTests {
    @Test func sqliteWritesAndReadsADatabaseThatTheHostSeesOnlyEncrypted() throws {
        let directory = try TestDirectory("encrypted-mount")
        let volume = directory.file("volume")
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        let sqlite = try #require(HostProgram.path("sqlite3"))
        let coordinator = try Coordinator(directory: directory)
        let owner = try UserFiles(name: "owner", directory: directory.path)
        let enclave = try SimulatedEnclave(directory: directory, name: "sqlite", trustedFiles: [sqlite])
        try coordinator.setManifest([
            "Packages": ["sqlite": try enclave.package()],
            "Marbles": [
                "db": ["Package": "sqlite", "Parameters": ["Files": ["/dev/attestation/keys/datakey": "{{ raw .Secrets.datakey }}"]]],
                "keyless": ["Package": "sqlite"],
            ],
            "Secrets": ["datakey": ["Type": "symmetric-key", "Size": 128, "Shared": true]],
            "Users": ["owner": ["Certificate": owner.certificatePEM, "Roles": ["keyReader"]]],
            "Roles": ["keyReader": ["ResourceType": "Secrets", "ResourceNames": ["datakey"], "Actions": ["ReadSecret"]]],
        ])
        func marble(_ type: String) -> MarbleLaunch {
            var launch = MarbleLaunch(coordinator: coordinator, enclave: enclave, type: type, uuidFile: directory.file("uuid-\(type)"))
            launch.extraEnvironment = ["CLOISTER_ENCRYPTED_MOUNTS": "\(volume):datakey"]
            return launch
        }
        let database = volume + "/app.db"

        let created = try marble("db").run([sqlite, database, "create table t(x); insert into t values (42), ('hello');"])
        #expect(created.exitCode == 0, "\(created.standardError)")
        #expect(created.standardError.contains("serving encrypted mount \(volume)"), "\(created.standardError)")
        try Self.waitUntilUnmounted(volume)
        let onHost = try Data(contentsOf: URL(fileURLWithPath: database))
        #expect(onHost.prefix(8) == Data("GRAFS_PF".utf8), "a Gramine protected file, not a database")
        #expect(onHost.range(of: Data("hello".utf8)) == nil && onHost.range(of: Data("SQLite format".utf8)) == nil)

        let selected = try marble("db").run([sqlite, database, "select x from t order by rowid;"])
        #expect(selected.exitCode == 0, "\(selected.standardError)")
        #expect(selected.standardOutput == "42\nhello\n")
        try Self.waitUntilUnmounted(volume)

        // The user allowed to read the key decrypts the volume with the CLI: the same database.
        let key = try coordinator.secret("datakey", as: owner)
        #expect(key.count == 16)
        try Data(key).write(to: URL(fileURLWithPath: directory.file("datakey")))
        let decrypted = try BuiltProgram(named: "cloister").run(
            ["fs", "decrypt", volume, "--output", directory.file("plain"), "--key", directory.file("datakey"), "--mount-uri", "file:\(volume)"])
        #expect(decrypted.exitCode == 0, "\(decrypted.standardError)")
        let plain = try HostProgram.run("sqlite3", [directory.file("plain/app.db"), "select x from t order by rowid;"])
        #expect(plain.standardOutput == "42\nhello\n")

        // A marble the manifest gives no key is refused before the program runs, naming what is missing.
        let keyless = try marble("keyless").run([sqlite, database, "select 1;"])
        #expect(keyless.exitCode != 0)
        #expect(keyless.standardError.contains("no file /dev/attestation/keys/datakey"), "\(keyless.standardError)")
        #expect(keyless.standardError.contains("the program was not started"))
    }

    /// The server unmounts once the program (the launcher's process) is gone.
    static func waitUntilUnmounted(_ path: String) throws {
        for _ in 0..<100 {
            let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
            if !mounts.contains(" \(path) ") { return }
            usleep(100_000)
        }
        _ = try? HostProgram.run("fusermount3", ["-uz", path], allowFailure: true)
        throw HarnessFailure("\(path) is still mounted 10 s after the program ended")
    }
}
