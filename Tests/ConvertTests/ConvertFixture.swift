import Foundation
import TestSupport
import Testing

/// What the conversion tests share: a real image of this machine's redis-server (merged /usr, a `redis` user) pushed
/// to a local registry, a directory laid out like a Gramine installation around the test `libpal.so` of
/// `../shared/vectors/gramine-mrenclave/`, a signing key from `cloister gramine keygen`, and the built CLI.
struct ConvertFixture: Sendable {
    static let vectors = SharedData.directory("vectors/gramine-mrenclave/case1")
    static let cloister = BuiltProgram(named: "cloister")
    static var toolsPresent: Bool {
        Tools.registryTools && Tools.available("redis-check-rdb", "sha256sum", "ldd") && vectors != nil && cloister.exists
    }
    static var toolsMissing: String {
        if vectors == nil { return SharedData.missingMessage("vectors/gramine-mrenclave") }
        return "needs docker-registry, skopeo, umoci, redis-server and the built cloister (scripts/setup; swift build)"
    }
    static var runcPresent: Bool { Tools.available("runc", "redis-cli") && getuid() == 0 }

    let registry: LocalRegistry
    let directory: TemporaryDirectory
    let gramine: String
    let key: String

    struct Converted: Sendable {
        let mrEnclave: String
        let argv: [String]
        let trustedFiles: Int
    }

    /// Builds the fixture (a key, an image, a push) off the cooperative pool.
    static func make(registry: LocalRegistry) async throws -> ConvertFixture {
        try await offThePool { try ConvertFixture(registry: registry) }
    }

    private init(registry: LocalRegistry) throws {
        self.registry = registry
        directory = try TemporaryDirectory()
        gramine = directory.path + "/gramine"
        key = directory.path + "/enclave-key.pem"
        try Self.makeGramineInstallation(at: gramine)
        let keygen = try Self.cloister.run(["gramine", "keygen", "--output", key])
        guard keygen.exitCode == 0 else {
            throw CommandFailure(command: "cloister gramine keygen", status: keygen.exitCode, output: keygen.standardError)
        }
        try buildRedisImage()
    }

    /// `lib/x86_64-linux-gnu/gramine/` with the test libpal.so, the stand-in LibOS, a loader that says it is one, and
    /// a glibc directory.
    static func makeGramineInstallation(at prefix: String) throws {
        let vectors = try #require(vectors)
        let library = prefix + "/lib/x86_64-linux-gnu/gramine"
        for directory in [library + "/sgx", library + "/runtime/glibc"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: vectors.appendingPathComponent("libpal.so").path, toPath: library + "/sgx/libpal.so")
        try FileManager.default.copyItem(
            atPath: vectors.appendingPathComponent("rootfs/gramine/meson_build_output/lib/x86_64-linux-gnu/gramine/libsysdb.so").path,
            toPath: library + "/libsysdb.so")
        try "#!/bin/sh\necho 'a stand-in for the Gramine SGX loader' >&2\nexit 1\n".write(
            toFile: library + "/sgx/loader", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: library + "/sgx/loader")
        try FileManager.default.copyItem(atPath: "/lib/x86_64-linux-gnu/libc.so.6", toPath: library + "/runtime/glibc/libc.so.6")
    }

    /// redis-server with its libraries, as a merged-/usr image (`/lib` -> `usr/lib`) run as user `redis`, pushed as
    /// `redis:t`.
    func buildRedisImage() throws {
        let root = directory.path + "/rootfs"
        let libraries = root + "/usr/lib/x86_64-linux-gnu"
        for path in [root + "/usr/bin", libraries, root + "/lib64", root + "/etc", root + "/data"] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let program = try #require(Tools.path("redis-check-rdb"))
        try FileManager.default.copyItem(atPath: program, toPath: root + "/usr/bin/redis-check-rdb")
        try FileManager.default.createSymbolicLink(atPath: root + "/usr/bin/redis-server", withDestinationPath: "redis-check-rdb")
        try FileManager.default.createSymbolicLink(atPath: root + "/lib", withDestinationPath: "usr/lib")
        for line in try runProgram("ldd", [program]).split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let arrow = fields.firstIndex(of: "=>"), arrow + 1 < fields.count, fields[arrow + 1].hasPrefix("/") {
                let source = URL(fileURLWithPath: String(fields[arrow + 1])).resolvingSymlinksInPath().path
                try FileManager.default.copyItem(atPath: source, toPath: libraries + "/" + String(fields[0]))
            }
        }
        try FileManager.default.copyItem(
            atPath: URL(fileURLWithPath: "/lib64/ld-linux-x86-64.so.2").resolvingSymlinksInPath().path, toPath: root + "/lib64/ld-linux-x86-64.so.2")
        try "root:x:0:0:root:/root:/bin/sh\nredis:x:999:999::/data:/bin/sh\n".write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\nredis:x:999:\n".write(toFile: root + "/etc/group", atomically: true, encoding: .utf8)
        #expect(chown(root + "/data", 999, 999) == 0)
        let image = directory.path + "/image:t"
        try runProgram("umoci", ["init", "--layout", directory.path + "/image"])
        try runProgram("umoci", ["new", "--image", image])
        try runProgram("umoci", ["insert", "--image", image, root, "/"])
        try runProgram(
            "umoci",
            [
                "config", "--image", image, "--config.entrypoint", "redis-server", "--config.cmd", "--port", "--config.cmd", "0",
                "--config.cmd", "--appendonly", "--config.cmd", "no",
                "--config.workingdir", "/data", "--config.user", "redis",
                "--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ])
        try runProgram("skopeo", ["--insecure-policy", "copy", "--dest-tls-verify=false", "oci:\(image)", "docker://\(registry.host)/redis:t"])
    }

    var conversionFlags: [String] { ["--gramine", gramine, "--key", key, "--plain-http"] }

    func cloister(_ arguments: [String], environment: [String: String] = [:]) async throws -> BuiltProgram.Outcome {
        let home = ["HOME": directory.path, "XDG_CONFIG_HOME": directory.path + "/config"].merging(environment) { $1 }
        return try await offThePool { try Self.cloister.run(arguments, environment: home) }
    }

    func cloisterJSON(_ arguments: [String]) async throws -> [String: Any] {
        let outcome = try await cloister(arguments)
        guard outcome.exitCode == 0 else {
            throw CommandFailure(
                command: "cloister " + arguments.joined(separator: " "), status: outcome.exitCode,
                output: outcome.standardOutput + outcome.standardError)
        }
        return try json(outcome.standardOutput)
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(400))")
    }

    /// Converts `redis:t` to `name:t` and returns what the CLI printed.
    func convert(_ name: String) async throws -> Converted {
        let result = try await cloisterJSON(
            ["convert", "docker://\(registry.host)/redis:t", "docker://\(registry.host)/\(name):t", "--json"] + conversionFlags)
        return Converted(
            mrEnclave: try #require(result["mrenclave"] as? String), argv: try #require(result["argv"] as? [String]),
            trustedFiles: try #require(result["trustedFiles"] as? Int))
    }

    /// Pulls `name:t` with skopeo into an OCI layout and unpacks it with umoci; returns the root filesystem's path.
    func unpack(_ name: String) async throws -> String {
        let layout = directory.path + "/pulled-\(name)"
        let bundle = directory.path + "/bundle-\(name)"
        try await runProgramOffPool(
            "skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", "docker://\(registry.host)/\(name):t", "oci:\(layout):t"])
        try await runProgramOffPool("umoci", ["unpack", "--image", "\(layout):t", bundle])
        return bundle + "/rootfs"
    }

    func tagExists(_ name: String) async throws -> Bool {
        (try? await runProgramOffPool("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(registry.host)/\(name):t"])) != nil
    }

    /// The `[[sgx.trusted_files]]` of a `.manifest.sgx`, path to hexadecimal SHA-256.
    static func trustedFiles(in manifest: String) -> [String: String] {
        var files: [String: String] = [:]
        var uri: String?
        for line in manifest.split(separator: "\n") {
            if line.hasPrefix("uri = \"file:") { uri = String(line.dropFirst("uri = \"file:".count).dropLast()) }
            if line.hasPrefix("sha256 = \""), let path = uri {
                files[path] = String(line.dropFirst("sha256 = \"".count).dropLast())
                uri = nil
            }
        }
        return files
    }

    static func redisManifest(uniqueID: String, port: Int) -> String {
        """
        {
          "Packages": {"redis": {"UniqueID": "\(uniqueID)", "Debug": false}},
          "Marbles": {"redis": {"Package": "redis", "Parameters": {
            "Files": {
              "/data/tls/cert.pem": "{{ pem .MarbleRun.MarbleCert.Cert }}",
              "/data/tls/key.pem": "{{ pem .MarbleRun.MarbleCert.Private }}",
              "/data/tls/ca.pem": "{{ pem .MarbleRun.RootCA.Cert }}"
            },
            "Argv": ["/usr/bin/redis-server", "--port", "0", "--tls-port", "\(port)", "--tls-cert-file", "/data/tls/cert.pem",
                     "--tls-key-file", "/data/tls/key.pem", "--tls-ca-cert-file", "/data/tls/ca.pem", "--tls-auth-clients", "no",
                     "--save", "", "--appendonly", "no"]
          }}}
        }
        """
    }

    func setManifest(_ manifest: String, on coordinator: SimulatedCoordinatorProcess) async throws {
        let path = directory.path + "/manifest.json"
        try manifest.write(toFile: path, atomically: true, encoding: .utf8)
        let outcome = try await cloister(
            [
                "manifest", "set", path, coordinator.clientAddress, "--accept-simulation", "--simulation-state-directory",
                coordinator.machineDirectory.path,
            ])
        guard outcome.exitCode == 0 else {
            throw CommandFailure(command: "cloister manifest set", status: outcome.exitCode, output: outcome.standardError)
        }
    }

    /// The Coordinator's root certificate (PEM), verified by the CLI; its chain is written to `chainPath`.
    func rootCertificate(of coordinator: SimulatedCoordinatorProcess, chainPath: String) async throws -> String {
        let verify = [coordinator.clientAddress, "--accept-simulation", "--simulation-state-directory", coordinator.machineDirectory.path]
        let rootPath = directory.path + "/root.pem"
        for (kind, output) in [("chain", chainPath), ("root", rootPath)] {
            let outcome = try await cloister(["certificate", kind, "-o", output] + verify)
            guard outcome.exitCode == 0 else {
                throw CommandFailure(command: "cloister certificate \(kind)", status: outcome.exitCode, output: outcome.standardError)
            }
        }
        return try String(contentsOfFile: rootPath, encoding: .utf8)
    }

    /// An OCI layout whose one layer holds a file at `../../etc/evil`, as a hostile image would.
    func layoutWithEscapingEntry() async throws -> String {
        let layout = directory.path + "/escaping"
        let script = #"""
            import hashlib, io, json, os, sys, tarfile
            layout = sys.argv[1]
            os.makedirs(layout + "/blobs/sha256", exist_ok=True)
            def blob(data):
                digest = hashlib.sha256(data).hexdigest()
                open(layout + "/blobs/sha256/" + digest, "wb").write(data)
                return "sha256:" + digest, len(data)
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
                content = b"owned\n"
                info = tarfile.TarInfo("../../etc/evil")
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            layer = buffer.getvalue()
            layer_digest, layer_size = blob(layer)
            config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/evil"]},
                                 "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
            config_digest, config_size = blob(config)
            manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]}).encode()
            manifest_digest, manifest_size = blob(manifest)
            json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "t"}}]},
                open(layout + "/index.json", "w"))
            open(layout + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
            """#
        try await runProgramOffPool("python3", ["-c", script, layout])
        return layout
    }
}

/// An unpacked image's bundle run by runc in the host's network namespace, with extra environment and bind mounts.
final class RuncContainer: Sendable {
    let identifier = "cloister-test-\(UUID().uuidString.prefix(8).lowercased())"
    let bundle: String
    private let process: BackgroundProcess

    /// `environment` is added to the image's, replacing variables of the same names; `user` replaces the image's user.
    init(
        bundle: String, environment: [String], mounts: [(source: String, destination: String)], user: (uid: Int, gid: Int)? = nil,
        arguments: [String]? = nil, readOnlyRoot: Bool = false
    ) throws {
        self.bundle = bundle
        let configPath = bundle + "/config.json"
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var process = try #require(config["process"] as? [String: Any])
        process["terminal"] = false
        let replaced = Set(environment.map { String($0.prefix { $0 != "=" }) })
        process["env"] = (process["env"] as? [String] ?? []).filter { !replaced.contains(String($0.prefix { $0 != "=" })) } + environment
        if let user { process["user"] = ["uid": user.uid, "gid": user.gid] }
        if let arguments { process["args"] = arguments }
        config["process"] = process
        var linux = try #require(config["linux"] as? [String: Any])
        linux["namespaces"] = (linux["namespaces"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "network" }
        config["linux"] = linux
        var root = config["root"] as? [String: Any] ?? [:]
        root["readonly"] = readOnlyRoot
        config["root"] = root
        var allMounts = config["mounts"] as? [[String: Any]] ?? []
        for mount in mounts {
            allMounts.removeAll { $0["destination"] as? String == mount.destination }
            allMounts.append(["destination": mount.destination, "type": "bind", "source": mount.source, "options": ["rbind", "rw"]])
        }
        config["mounts"] = allMounts
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        self.process = try BackgroundProcess(
            try #require(Tools.path("runc")), ["run", "--bundle", bundle, identifier], environment: ProcessInfo.processInfo.environment,
            capturingStandardOutput: true)
    }

    /// A converted image as a marble of the simulated Coordinator `coordinator`, which runs on this host.
    static func marble(bundle: String, coordinator: SimulatedCoordinatorProcess, rootCertificate: String, marbleType: String) throws -> RuncContainer
    {
        let config = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))) as? [String: Any])
        // The launcher runs as the image's user and reads the simulated machine's keys, files of the Coordinator's
        // (mode 0600); on SGX hardware the quote comes from the CPU instead.
        let user = (config["process"] as? [String: Any])?["user"] as? [String: Any]
        try runProgram("chown", ["-R", "\((user?["uid"] as? Int) ?? 0):\((user?["gid"] as? Int) ?? 0)", coordinator.machineDirectory.path])
        return try RuncContainer(
            bundle: bundle,
            environment: [
                "CLOISTER_PLATFORM=simulation", "CLOISTER_SIMULATION_STATE_DIR=\(coordinator.machineDirectory.path)",
                "EDG_MARBLE_TYPE=\(marbleType)", "EDG_MARBLE_COORDINATOR_ADDR=127.0.0.1:\(coordinator.marblePort)",
                "CLOISTER_COORDINATOR_ROOT_CA=\(rootCertificate)",
            ],
            mounts: [(coordinator.machineDirectory.path, coordinator.machineDirectory.path)])
    }

    var log: String { process.log.text }

    func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<600 {
            if condition() { return }
            if let status = process.exitStatus {
                throw CommandFailure(command: "runc run", status: WaitStatus.exitCode(status), output: log)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CommandFailure(command: "runc run", status: -1, output: "not ready after 60 s:\n" + log)
    }

    /// Waits for the container to end by itself and returns its exit code.
    func waitForExit() async throws -> Int32 {
        for _ in 0..<600 {
            if let status = process.exitStatus { return WaitStatus.exitCode(status) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CommandFailure(command: "runc run", status: -1, output: "still running after 60 s:\n" + log)
    }

    func stop() {
        _ = try? runProgram("runc", ["kill", identifier, "KILL"])
        process.stop()
        _ = try? runProgram("runc", ["delete", "--force", identifier])
    }
}
