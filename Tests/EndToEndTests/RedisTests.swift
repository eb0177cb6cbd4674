import Foundation
import TestSupport
import Testing

/// MarbleRun's `gramine-redis.json` sample, run unchanged except where a single test machine needs it: its package
/// is the simulated enclave trusting redis-server, `/redis-data/` becomes one directory per marble under the test
/// directory, the TLS ports are free ports, and both servers listen on 127.0.0.1, where the replica finds the main.
struct RedisDeployment {
    static let corpus = "corpus/marblerun-manifests"
    static var manifestPath: String? { SharedData.directory(corpus)?.appendingPathComponent("gramine-redis.json").path }
    static var available: Bool {
        manifestPath.map { FileManager.default.fileExists(atPath: $0) } ?? false
    }

    let directory: TestDirectory
    let coordinator: Coordinator
    let enclave: SimulatedEnclave
    /// The real binary: Debian's `redis-server` is a symlink to it, and redis-server picks its role from argv[0],
    /// which the manifest's Argv sets.
    let redisServer: String
    let ports: [String: Int]
    /// The intermediate and the root, as `cloister certificate chain` writes them for redis-cli.
    let chainPath: String

    init() throws {
        directory = try TestDirectory("redis")
        redisServer = try #require(HostProgram.path("redis-server"))
        ports = ["redis-main": try freeLoopbackPort(), "redis-replica": try freeLoopbackPort()]
        coordinator = try Coordinator(directory: directory)
        enclave = try SimulatedEnclave(directory: directory, name: "redis", trustedFiles: [redisServer])
        let corpusPath = try #require(Self.manifestPath)
        let corpus = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: corpusPath)))
        let manifest = try Self.adapt(try #require(corpus as? [String: Any]), package: try enclave.package(), directory: directory, ports: ports)
        try coordinator.setManifest(manifest)
        chainPath = directory.file("coordinator-chain.pem")
        try coordinator.writeCertificateChain(to: chainPath)
    }

    func dataDirectory(_ marble: String) -> String { directory.file(marble) + "/" }

    /// The sample adapted to this machine; every replaced text must be found, so that a changed sample fails here
    /// with what is missing rather than later with a server that does not start.
    static func adapt(_ sample: [String: Any], package: [String: Any], directory: TestDirectory, ports: [String: Int]) throws -> [String: Any] {
        var manifest = sample
        guard let packages = sample["Packages"] as? [String: Any], Array(packages.keys) == ["redis-package"] else {
            throw HarnessFailure("gramine-redis.json: Packages is \(String(describing: sample["Packages"])), expected only redis-package")
        }
        manifest["Packages"] = ["redis-package": package]
        guard var marbles = sample["Marbles"] as? [String: Any], Set(marbles.keys) == Set(ports.keys) else {
            throw HarnessFailure(
                "gramine-redis.json: Marbles are \(String(describing: (sample["Marbles"] as? [String: Any])?.keys.sorted())), expected \(ports.keys.sorted())"
            )
        }
        let mainPort = try #require(ports["redis-main"])
        for (name, value) in marbles {
            guard var marble = value as? [String: Any], var parameters = marble["Parameters"] as? [String: Any],
                let arguments = parameters["Argv"] as? [String], let files = parameters["Files"] as? [String: String]
            else { throw HarnessFailure("gramine-redis.json: marble \(name) has no Parameters with Argv and Files") }
            let dataDirectory = directory.file(name) + "/"
            var replacements = [
                ("/redis-data/", dataDirectory), ("bind 0.0.0.0", "bind 127.0.0.1"), ("tls-port 6379", "tls-port \(try #require(ports[name]))"),
            ]
            if name == "redis-replica" { replacements.append(("replicaof redis-main.redis 6379", "replicaof 127.0.0.1 \(mainPort)")) }
            var unused = Set(replacements.map(\.0))
            func adapted(_ text: String) -> String {
                replacements.reduce(text) { text, replacement in
                    guard text.contains(replacement.0) else { return text }
                    unused.remove(replacement.0)
                    return text.replacingOccurrences(of: replacement.0, with: replacement.1)
                }
            }
            parameters["Argv"] = arguments.map(adapted)
            parameters["Files"] = Dictionary(uniqueKeysWithValues: files.map { (adapted($0.key), adapted($0.value)) })
            guard unused.isEmpty else {
                throw HarnessFailure("gramine-redis.json: marble \(name) no longer contains \(unused.sorted()); update RedisDeployment.adapt")
            }
            marble["Parameters"] = parameters
            marbles[name] = marble
        }
        manifest["Marbles"] = marbles
        return manifest
    }

    /// Each marble is its own enclave, with its own `/dev/attestation`: the main uses the simulated machine's
    /// default directory, the replica one of its own.
    func attestationDirectory(_ marble: String) -> String {
        marble == "redis-main" ? coordinator.machineDirectory + "/attestation" : directory.file("\(marble)-attestation")
    }

    func start(_ marble: String) throws -> ChildProcess {
        var launch = MarbleLaunch(coordinator: coordinator, enclave: enclave, type: marble, uuidFile: directory.file("uuid-\(marble)"))
        if marble != "redis-main" { launch.extraEnvironment["CLOISTER_ATTESTATION_DIR"] = attestationDirectory(marble) }
        return try launch.start([redisServer], logPath: directory.file("\(marble).log"))
    }

    /// redis-cli against `marble`'s TLS port, trusting the Coordinator's chain (no client certificate: the sample
    /// sets `tls-auth-clients no`). The chain, as in MarbleRun's instructions for this sample (`marblerun certificate
    /// chain`), because the sample's redis.crt holds only the leaf, whose issuer is the intermediate's name.
    func cli(_ marble: String, _ command: [String], tls: Bool = true) throws -> Outcome {
        let port = try #require(ports[marble])
        let security = tls ? ["--tls", "--cacert", chainPath] : []
        return try HostProgram.run("redis-cli", security + ["-h", "127.0.0.1", "-p", "\(port)"] + command, timeLimit: 10, allowFailure: true)
    }
}

@Suite(
    .serialized,
    .enabled(
        if: HostProgram.installed("redis-server", "redis-cli", "timeout"), "redis-server, redis-cli or timeout is not installed; run scripts/setup"),
    .enabled(if: RedisDeployment.available, "\(SharedData.missingMessage(RedisDeployment.corpus))"))
struct RedisTests {
    @Test func theReplicaReceivesOverTLSWhatAClientWroteToTheMain() throws {
        let deployment = try RedisDeployment()
        let main = try deployment.start("redis-main")
        defer { main.stop() }
        let logs = { "redis-main:\n\(tail(main.logPath))\nredis-replica:\n\(tail(deployment.directory.file("redis-replica.log")))" }
        try main.waitUntil("redis-main answering PING over TLS") {
            (try? deployment.cli("redis-main", ["PING"]))?.standardOutput.contains("PONG") ?? false
        }

        let key = deployment.attestationDirectory("redis-main") + "/keys/redis-key"
        #expect(try Data(contentsOf: URL(fileURLWithPath: key)).count == 16, "the encrypted-files key reached the simulated /dev/attestation")
        let certificate = deployment.dataDirectory("redis-main") + "redis.crt"
        let verified = try HostProgram.run(
            "openssl", ["verify", "-CAfile", deployment.coordinator.rootPath, "-untrusted", deployment.chainPath, certificate], allowFailure: true)
        #expect(verified.exitCode == 0, "redis.crt chains to the Coordinator root: \(verified.standardOutput) \(verified.standardError)")
        let uuid = try String(contentsOfFile: deployment.directory.file("uuid-redis-main"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let subject = try HostProgram.run("openssl", ["x509", "-in", certificate, "-noout", "-subject", "-nameopt", "compat"])
        #expect(subject.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=/CN=\(uuid)", "redis.crt is the main marble's own")

        let replica = try deployment.start("redis-replica")
        defer { replica.stop() }
        let value = UUID().uuidString
        let set = try deployment.cli("redis-main", ["SET", "greeting", value])
        #expect(
            set.exitCode == 0 && set.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "OK",
            "SET: \(set.standardOutput) \(set.standardError)\n\(logs())")

        do {
            try replica.waitUntil("the replica serving the value written to the main (diskless sync waits 5 s)") {
                (try? deployment.cli("redis-replica", ["GET", "greeting"]))?.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == value
            }
        } catch {
            throw HarnessFailure("\(error)\nredis-main:\n\(tail(main.logPath))")
        }
        let replication = try deployment.cli("redis-replica", ["INFO", "replication"]).standardOutput
        #expect(replication.contains("role:slave"), "\(replication)")
        #expect(replication.contains("master_link_status:up"), "\(replication)\n\(logs())")
        let mainReplication = try deployment.cli("redis-main", ["INFO", "replication"]).standardOutput
        #expect(mainReplication.contains("connected_slaves:1"), "\(mainReplication)")

        let replicaKey = try Data(contentsOf: URL(fileURLWithPath: deployment.attestationDirectory("redis-replica") + "/keys/redis-key"))
        #expect(replicaKey.count == 16)
        #expect(replicaKey != (try Data(contentsOf: URL(fileURLWithPath: key))), "ProtectedFilesKey is not Shared: one key per marble")

        // The sample has no plain port (port 0): a client that does not speak TLS gets no answer.
        let plain = try deployment.cli("redis-main", ["PING"], tls: false)
        #expect(
            plain.exitCode != 0 && !plain.standardOutput.contains("PONG"),
            "plain text to the TLS port: \(plain.exitCode) \(plain.standardOutput) \(plain.standardError)")
    }
}
