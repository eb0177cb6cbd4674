import Foundation
import Injector
import TestSupport
import Testing

/// The Kubernetes path without a cluster: the Coordinator image that `cloister image build` writes is pushed to a
/// registry, pulled by skopeo, unpacked by umoci and run by runc (non-root, read-only root filesystem, simulation) as
/// the chart runs it; the CLI verifies it and sets a manifest; a converted redis image runs next to it with exactly
/// the environment and volumes the marble-injector's patch gives its pod, activates and serves TLS.
@Suite(.serialized, .enabled(if: ConvertFixture.toolsPresent, Comment(rawValue: ConvertFixture.toolsMissing)))
struct ClusterImagesEndToEndTests {
    static let nonRoot = (uid: 65532, gid: 65532)

    @Test func theBuiltImagesCarryTheBinaryItsLibrariesAndLabels() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let coordinator = try await fixture.cloisterJSON(
                ["image", "build", "coordinator", "--output", "docker://\(registry.host)/cloister:t", "--plain-http", "--json"])
            let files = try #require(coordinator["files"] as? [String])
            #expect(files.contains("/usr/local/bin/cloister"))
            #expect(files.contains("/lib64/ld-linux-x86-64.so.2"))
            #expect(files.contains("/usr/lib/x86_64-linux-gnu/libswiftCore.so"))
            #expect(files.contains("/etc/ssl/certs/ca-certificates.crt"))
            let labels = try #require(coordinator["labels"] as? [String: String])
            let revision = try await runProgramOffPool("git", ["-C", SharedData.repositoryRoot.path, "rev-parse", "HEAD"])
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(labels["org.opencontainers.image.revision"] == revision)
            #expect(labels["org.opencontainers.image.version"]?.isEmpty == false)
            #expect(labels["org.opencontainers.image.licenses"] == "Apache-2.0")

            let inspect = try fixture.json(
                try await runProgramOffPool("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/cloister:t"]))
            #expect((inspect["Labels"] as? [String: String])?["org.opencontainers.image.revision"] == revision)
            let config = try fixture.json(
                try await runProgramOffPool("skopeo", ["inspect", "--config", "--tls-verify=false", "docker://\(registry.host)/cloister:t"]))
            let settings = try #require(config["config"] as? [String: Any])
            #expect(settings["User"] as? String == "65532:65532")
            #expect(settings["Entrypoint"] as? [String] == ["/usr/local/bin/cloister"])
            #expect(settings["Cmd"] as? [String] == ["coordinator"])

            // For SGX nodes the Coordinator image converts like any other image.
            let sgx = try await fixture.cloisterJSON(
                ["convert", "docker://\(registry.host)/cloister:t", "docker://\(registry.host)/cloister-sgx:t", "--json"] + fixture.conversionFlags)
            #expect(sgx["argv"] as? [String] == ["/usr/local/bin/cloister", "coordinator"])
            #expect((sgx["mrenclave"] as? String)?.count == 64)

            let premain = try await fixture.cloisterJSON(
                ["image", "build", "premain", "--output", "oci:\(fixture.directory.path)/premain:t", "--json", "--revision", "test"])
            let premainFiles = try #require(premain["files"] as? [String])
            #expect(premainFiles.contains("/cloister/bin/cloister-premain"))
            #expect(premainFiles.contains("/cloister/lib/ld-linux-x86-64.so.2"))
            #expect(premainFiles.allSatisfy { $0.hasPrefix("/cloister/") || $0 == "/etc/ssl/certs/ca-certificates.crt" }, "\(premainFiles)")

            let refused = try await fixture.cloister(["image", "build", "coordinator", "--output", "registry.example/no-transport"])
            #expect(refused.exitCode == 2)
            #expect(refused.standardError.contains("--output 'registry.example/no-transport'"), "\(refused.standardError)")
            let badTime = try await fixture.cloister([
                "image", "build", "premain", "--output", "oci:\(fixture.directory.path)/x:t", "--created", "yesterday",
            ])
            #expect(badTime.exitCode == 2)
            #expect(badTime.standardError.contains("--created 'yesterday' is not an RFC 3339 time"), "\(badTime.standardError)")
        }
    }

    @Test(.enabled(if: ConvertFixture.runcPresent, "needs runc and redis-cli as root (scripts/setup)"))
    func theCoordinatorImageRunsInRuncAndAConvertedMarbleWithTheInjectorsPatchActivatesAndServes() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            _ = try await fixture.cloisterJSON([
                "image", "build", "coordinator", "--output", "docker://\(registry.host)/cloister:t", "--plain-http", "--json",
            ])
            let converted = try await fixture.convert("redis-sgx")
            let coordinatorRoot = try await fixture.unpack("cloister")

            // The node: the simulated machine's directory and the Coordinator's volume, owned by its user as the
            // chart's NOTES ask; the pod's emptyDir for the marble's files.
            let machine = fixture.directory.path + "/node/simulated-machine"
            let data = fixture.directory.path + "/node/coordinator-data"
            let marbleData = fixture.directory.path + "/node/redis-data"
            for directory in [machine, data, marbleData] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try runProgram("chown", ["\(Self.nonRoot.uid):\(Self.nonRoot.gid)", directory])
            }
            let clientPort = try freeLoopbackPort()
            let marblePort = try freeLoopbackPort()
            let coordinator = try RuncContainer(
                bundle: (coordinatorRoot as NSString).deletingLastPathComponent, environment: [],
                mounts: [(machine, "/cloister/simulated-machine"), (data, "/coordinator/data")],
                arguments: [
                    "/usr/local/bin/cloister", "coordinator", "--client-address", "127.0.0.1:\(clientPort)",
                    "--marble-address", "127.0.0.1:\(marblePort)", "--data-directory", "/coordinator/data",
                    "--simulation", "--simulation-state-directory", "/cloister/simulated-machine",
                ],
                readOnlyRoot: true)
            defer { coordinator.stop() }
            try await coordinator.waitUntil { canConnect(port: clientPort) && canConnect(port: marblePort) }

            let address = "127.0.0.1:\(clientPort)"
            for probe in ["/healthz", "/readyz"] {
                let answer = try await runProgramOffPool("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "https://\(address)\(probe)"])
                #expect(answer == "200", "the chart's \(probe) probe: \(answer)")
            }
            let verify = ["--accept-simulation", "--simulation-state-directory", machine]
            let status = try await fixture.cloister(["status", address] + verify)
            #expect(status.exitCode == 0, "\(status.standardError)")
            #expect(status.standardOutput.contains("2: Coordinator is ready to accept a manifest"), "\(status.standardOutput)")
            let redisPort = try freeLoopbackPort()
            let manifestPath = fixture.directory.path + "/manifest.json"
            try ConvertFixture.redisManifest(uniqueID: converted.mrEnclave, port: redisPort).write(
                toFile: manifestPath, atomically: true, encoding: .utf8)
            let set = try await fixture.cloister(["manifest", "set", manifestPath, address] + verify)
            #expect(set.exitCode == 0, "\(set.standardError)")
            let rootPath = fixture.directory.path + "/root.pem"
            let chainPath = fixture.directory.path + "/chain.pem"
            for (kind, output) in [("root", rootPath), ("chain", chainPath)] {
                let saved = try await fixture.cloister(["certificate", kind, address, "-o", output] + verify)
                #expect(saved.exitCode == 0, "\(saved.standardError)")
            }

            // What the marble-injector patches into the redis pod, applied to the runc bundle.
            let injector = MarbleInjector(
                coordinatorAddress: "127.0.0.1:\(marblePort)", simulationMachinePath: machine,
                coordinatorRootPEM: try String(contentsOfFile: rootPath, encoding: .utf8))
            let review = #"""
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "6f1c", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                 "namespace": "shop", "operation": "CREATE", "object": {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"generateName": "redis-", "labels": {"marblerun/marbletype": "redis"}},
                 "spec": {"containers": [{"name": "redis", "image": "redis-sgx:t"}]}}}}
                """#
            let decision = try AdmissionReviewExchange(injector: injector).answer(Array(review.utf8)).decision
            guard case .allowed(let patch, let warnings) = decision else {
                Issue.record("denied: \(decision)")
                return
            }
            #expect(warnings.isEmpty)
            let pod = PatchedPod(patch)
            let podUID = UUID().uuidString.lowercased()
            let uuidDirectory = fixture.directory.path + "/node/downward-api"
            try FileManager.default.createDirectory(atPath: uuidDirectory, withIntermediateDirectories: true)
            try podUID.write(toFile: uuidDirectory + "/uuid-file", atomically: true, encoding: .utf8)
            var mounts: [(source: String, destination: String)] = [(marbleData, "/data")]
            for (volume, path) in pod.mounts {
                switch volume {
                case MarbleInjector.uuidVolumeName: mounts.append((uuidDirectory, path))
                case MarbleInjector.simulatedMachineVolumeName: mounts.append((machine, path))
                default: Issue.record("an unexpected volume \(volume)")
                }
            }
            let rootfs = try await fixture.unpack("redis-sgx")
            // Simulated marbles run as the Coordinator's user to share the node's simulated machine (docs/kubernetes.md).
            let marble = try RuncContainer(
                bundle: (rootfs as NSString).deletingLastPathComponent, environment: pod.environment, mounts: mounts, user: Self.nonRoot)
            defer { marble.stop() }
            do {
                try await marble.waitUntil { canConnect(port: redisPort) }
            } catch {
                Issue.record("the Coordinator's log: \(coordinator.log.suffix(3000))")
                throw error
            }
            #expect(
                try await runProgramOffPool("redis-cli", ["--tls", "--cacert", chainPath, "-p", "\(redisPort)", "set", "cluster", "yes"]).contains(
                    "OK"))
            #expect(
                try await runProgramOffPool("redis-cli", ["--tls", "--cacert", chainPath, "-p", "\(redisPort)", "get", "cluster"]).contains("yes"))
            #expect(marble.log.contains("activated marble type 'redis'"), "\(marble.log)")
            #expect(coordinator.log.contains(podUID), "the marble's UUID is the pod's UID: \(coordinator.log.suffix(2000))")
        }
    }
}

/// The environment and volume mounts the injector's patch gives container 0.
struct PatchedPod {
    var environment: [String] = []
    var mounts: [(volume: String, path: String)] = []

    init(_ patch: [JSONPatchOperation]) {
        for operation in patch {
            let path = operation.path.description
            let elements: [PatchValue]
            switch (path, operation.value) {
            case (let target, .array(let values)) where !target.hasSuffix("/-"): elements = values
            case (_, let value): elements = [value]
            }
            for element in elements {
                guard case .object(let members) = element else { continue }
                let fields = Dictionary(
                    members.compactMap { member -> (String, String)? in
                        guard case .string(let text) = member.1 else { return nil }
                        return (member.0, text)
                    }, uniquingKeysWith: { a, _ in a })
                if path.hasPrefix("/spec/containers/0/env"), let name = fields["name"], let value = fields["value"] {
                    environment.append("\(name)=\(value)")
                }
                if path.hasPrefix("/spec/containers/0/volumeMounts"), let name = fields["name"], let mountPath = fields["mountPath"] {
                    mounts.append((name, mountPath))
                }
            }
        }
    }
}
