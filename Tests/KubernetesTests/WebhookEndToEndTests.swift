import Foundation
import TestSupport
import Testing

/// `cloister injector` as the API server meets it: real HTTPS POSTs of AdmissionReviews shaped as the API server sends
/// them, each patch applied by an independent JSON Patch implementation (PyPI jsonpatch) and the pod validated with
/// kubernetes-validate (`webhook_check.py`), then the exact env, volumes and resources checked here.
@Suite(
    .serialized, .enabled(if: PythonEnvironment.available && Tools.available("openssl", "curl"), Comment(rawValue: PythonEnvironment.missingMessage)))
struct WebhookEndToEndTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let cloister = BuiltProgram(named: "cloister")

    /// A CA, a webhook certificate for 127.0.0.1 signed by it, and a stand-in for the verified Coordinator root.
    struct Certificates {
        let directory: TemporaryDirectory
        var ca: String { directory.path + "/ca.pem" }
        var certificate: String { directory.path + "/tls.crt" }
        var key: String { directory.path + "/tls.key" }
        var coordinatorRoot: String { directory.path + "/root.pem" }

        init() throws {
            directory = try TemporaryDirectory()
            try issue(commonName: "webhook-ca-1")
            try runProgram(
                "openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", directory.path + "/root.key", "-out",
                    coordinatorRoot, "-subj", "/CN=Cloister Coordinator Root", "-days", "1",
                ])
        }

        /// A new CA and a webhook certificate from it, written over the previous files.
        func issue(commonName: String) throws {
            let path = directory.path
            try runProgram(
                "openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path + "/ca.key", "-out", ca,
                    "-subj", "/CN=\(commonName)", "-days", "1",
                ])
            try runProgram(
                "openssl",
                [
                    "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path + "/new.key", "-out", path + "/tls.csr",
                    "-subj", "/CN=marble-injector.cloister.svc",
                ])
            try "subjectAltName=DNS:marble-injector.cloister.svc,IP:127.0.0.1\n".write(toFile: path + "/ext", atomically: true, encoding: .utf8)
            try runProgram(
                "openssl",
                [
                    "x509", "-req", "-in", path + "/tls.csr", "-CA", ca, "-CAkey", path + "/ca.key", "-CAcreateserial", "-out", path + "/new.crt",
                    "-days", "1", "-extfile", path + "/ext",
                ])
            // Renamed into place, as the kubelet swaps a Secret volume's files.
            _ = rename(path + "/new.key", key)
            _ = rename(path + "/new.crt", certificate)
        }
    }

    final class Injector: Sendable {
        let port: Int
        let process: BackgroundProcess
        var url: String { "https://127.0.0.1:\(port)" }

        init(_ certificates: Certificates, extra: [String] = []) async throws {
            port = try freeLoopbackPort()
            process = try BackgroundProcess(
                WebhookEndToEndTests.cloister.url.path,
                [
                    "injector", "--tls-cert", certificates.certificate, "--tls-key", certificates.key, "--address", "127.0.0.1:\(port)",
                    "--coordinator-address", "coordinator-mesh-api.cloister:2001", "--coordinator-root-ca", certificates.coordinatorRoot,
                ] + extra,
                environment: ProcessInfo.processInfo.environment)
            for _ in 0..<300 {
                if canConnect(port: port) { return }
                if let status = process.exitStatus {
                    throw CommandFailure(command: "cloister injector", status: WaitStatus.exitCode(status), output: process.log.text)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw CommandFailure(command: "cloister injector", status: -1, output: "not listening after 15 s: " + process.log.text)
        }

        func stop() { process.stop() }
    }

    static func environment(_ container: [String: Any]) -> [String: String] {
        Dictionary(
            ((container["env"] as? [[String: Any]]) ?? []).map { ($0["name"] as? String ?? "", $0["value"] as? String ?? "") },
            uniquingKeysWith: { a, _ in a })
    }

    static func containers(_ pod: [String: Any], _ key: String = "containers") -> [String: [String: Any]] {
        let spec = pod["spec"] as? [String: Any] ?? [:]
        return Dictionary(((spec[key] as? [[String: Any]]) ?? []).map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func reviewsAsTheAPIServerSendsThemArePatchedExactlyAndOnlyOnce() async throws {
        let certificates = try await offThePool { try Certificates() }
        defer { certificates.directory.remove() }
        let injector = try await Injector(certificates)
        defer { injector.stop() }
        let root = try String(contentsOfFile: certificates.coordinatorRoot, encoding: .utf8)
        let result = try await PythonEnvironment.runJSON(
            Self.directory.appendingPathComponent("webhook_check.py").path,
            [injector.url, certificates.ca, Self.directory.appendingPathComponent("reviews").path])
        let cases = try #require(result["cases"] as? [String: [String: Any]])
        #expect(cases.count == 12)

        for (file, outcome) in cases where (outcome["response"] as? [String: Any])?["allowed"] as? Bool == true {
            for (version, errors) in outcome["validation"] as? [String: [Any]] ?? [:] {
                #expect(errors.isEmpty, "\(file): the patched pod does not validate on Kubernetes \(version): \(errors)")
            }
            let second = outcome["second"] as? [String: Any] ?? [:]
            #expect(second["allowed"] as? Bool == true && second["patch"] is NSNull, "\(file): injecting the injected pod changed it: \(second)")
            #expect((outcome["response"] as? [String: Any])?["warnings"] == nil, "\(file): the verified root is configured")
        }

        let several = try #require(cases["several-containers.json"]?["pod"] as? [String: Any])
        for name in ["app", "metrics"] {
            let container = try #require(Self.containers(several)[name])
            #expect(
                Self.environment(container) == [
                    "EDG_MARBLE_COORDINATOR_ADDR": "coordinator-mesh-api.cloister:2001", "EDG_MARBLE_TYPE": "Backend",
                    "EDG_MARBLE_DNS_NAMES": "backend,backend.shop,backend.shop.svc.cluster.local", "EDG_MARBLE_UUID_FILE": "/Backend-uid/uuid-file",
                    "CLOISTER_COORDINATOR_ROOT_CA": root,
                ])
            #expect(
                (container["volumeMounts"] as? [[String: Any]])?.map { "\($0["name"] ?? ""):\($0["mountPath"] ?? "")" } == [
                    "marble-uuid-file:/Backend-uid"
                ])
            #expect(
                ((container["resources"] as? [String: Any])?["limits"] as? [String: String]) == [
                    "sgx.intel.com/epc": "10Mi", "sgx.intel.com/enclave": "1", "sgx.intel.com/provision": "1",
                ])
        }
        #expect(Self.containers(several, "initContainers")["migrate"]?["env"] == nil, "init containers are not marbles")
        let volumes = (several["spec"] as? [String: Any])?["volumes"] as? [[String: Any]] ?? []
        #expect(volumes.count == 1)
        #expect(
            ((volumes.first?["downwardAPI"] as? [String: Any])?["items"] as? [[String: Any]])?.first?["fieldRef"] as? [String: String] == [
                "fieldPath": "metadata.uid"
            ])
        #expect(
            ((several["spec"] as? [String: Any])?["tolerations"] as? [[String: String]]) == [
                ["key": "sgx.intel.com/epc", "operator": "Exists", "effect": "NoSchedule"]
            ])

        let existing = try #require(cases["existing-settings.json"]?["pod"] as? [String: Any])
        let app = try #require(Self.containers(existing)["app"])
        #expect(Self.environment(app)["EDG_MARBLE_TYPE"] == "backend-v2", "what the pod sets is kept")
        #expect(Self.environment(app)["LOG_LEVEL"] == "debug")
        #expect(
            ((app["resources"] as? [String: Any])?["limits"] as? [String: String]) == [
                "sgx.intel.com/epc": "64Mi", "cpu": "500m", "sgx.intel.com/enclave": "1", "sgx.intel.com/provision": "1",
            ])
        #expect(((existing["spec"] as? [String: Any])?["tolerations"] as? [[String: Any]])?.count == 2)
        #expect(((existing["spec"] as? [String: Any])?["volumes"] as? [[String: Any]])?.count == 2)

        let selected = try #require(cases["marble-container.json"]?["pod"] as? [String: Any])
        #expect(Self.containers(selected)["proxy"]?["env"] == nil, "only the container marblerun/marblecontainer names")
        #expect(Self.environment(try #require(Self.containers(selected)["app"]))["EDG_MARBLE_TYPE"] == "backend")

        let noResources = try #require(cases["resource-injection-disabled.json"]?["pod"] as? [String: Any])
        let plain = try #require(Self.containers(noResources)["app"])
        #expect(((plain["resources"] as? [String: Any])?["limits"]) == nil)
        #expect((noResources["spec"] as? [String: Any])?["tolerations"] == nil)
        #expect(Self.environment(plain)["EDG_MARBLE_TYPE"] == "backend")

        #expect(
            (cases["unknown-marble-type.json"]?["response"] as? [String: Any])?["allowed"] as? Bool == true,
            "a type the Coordinator does not know is admitted: the Coordinator refuses it at activation")

        let denials: [(String, String)] = [
            ("no-labels.json", "has no value for the label marblerun/marbletype"),
            ("empty-marble-type.json", "has no value for the label marblerun/marbletype"),
            ("not-a-pod.json", "mutates Pods only, but this review is for a Deployment (apps/v1)"),
            ("unknown-container.json", "names the container 'api' in marblerun/marblecontainer, but its containers are 'app'"),
        ]
        for (file, message) in denials {
            let response = try #require(cases[file]?["response"] as? [String: Any], "\(file)")
            #expect(response["allowed"] as? Bool == false, "\(file)")
            let status = response["status"] as? [String: Any]
            #expect((status?["message"] as? String)?.contains(message) == true, "\(file): \(status ?? [:])")
            #expect(status?["code"] as? Int == 403)
        }
        let malformed: [(String, String)] = [
            ("malformed-not-a-review.json", "'request.uid' is not String"),
            ("malformed-truncated.json", "not JSON"),
            ("malformed-v1beta1.json", "apiVersion 'admission.k8s.io/v1beta1'"),
        ]
        for (file, message) in malformed {
            #expect(cases[file]?["status"] as? Int == 400, "\(file)")
            #expect((cases[file]?["text"] as? String)?.contains(message) == true, "\(file): \(cases[file] ?? [:])")
        }
    }

    @Test func anOversizedReviewIsRefusedAndHealthAnswers() async throws {
        let certificates = try await offThePool { try Certificates() }
        defer { certificates.directory.remove() }
        let injector = try await Injector(certificates)
        defer { injector.stop() }
        let health = try await runProgramOffPool("curl", ["-sS", "--cacert", certificates.ca, injector.url + "/healthz"])
        #expect(health == "ok\n")
        let big = certificates.directory.path + "/big.json"
        try Data(repeating: 0x20, count: 5 << 20).write(to: URL(fileURLWithPath: big))
        let answer = try await runProgramOffPool(
            "curl",
            [
                "-sS", "--cacert", certificates.ca, "-H", "Content-Type: application/json", "--data-binary", "@" + big, "-w", "\n%{http_code}",
                injector.url + "/mutate",
            ])
        #expect(answer.hasSuffix("\n413"), "\(answer.suffix(300))")
        #expect(answer.contains("larger than 4194304 bytes"))
    }

    @Test func aRotatedCertificateIsServedWithoutARestart() async throws {
        let certificates = try await offThePool { try Certificates() }
        defer { certificates.directory.remove() }
        let injector = try await Injector(certificates)
        defer { injector.stop() }
        func issuer() async throws -> String {
            try await runProgramOffPool(
                "sh", ["-c", "openssl s_client -connect 127.0.0.1:\(injector.port) </dev/null 2>/dev/null | openssl x509 -noout -issuer"])
        }
        #expect(try await issuer().contains("webhook-ca-1"))
        try await offThePool { try certificates.issue(commonName: "webhook-ca-2") }
        #expect(try await issuer().contains("webhook-ca-2"))
        let health = try await runProgramOffPool("curl", ["-sS", "--cacert", certificates.ca, injector.url + "/healthz"])
        #expect(health == "ok\n", "the new CA verifies the new certificate")
        #expect(injector.process.log.text.contains("Loaded the rotated webhook certificate"))

        // A rotation to files that do not load keeps the working identity, and is reported once, not per connection.
        try "not a certificate".write(toFile: certificates.directory.path + "/broken.crt", atomically: true, encoding: .utf8)
        _ = rename(certificates.directory.path + "/broken.crt", certificates.certificate)
        #expect(try await issuer().contains("webhook-ca-2"))
        #expect(try await issuer().contains("webhook-ca-2"))
        #expect(
            injector.process.log.text.components(separatedBy: "Keeping the previous webhook certificate").count == 2, "\(injector.process.log.text)")
    }

    @Test func missingCertificatesAndBadSettingsStopTheInjectorAtStartWithAReason() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = try await offThePool {
            try Self.cloister.run([
                "injector", "--tls-cert", directory.path + "/absent.crt", "--tls-key", directory.path + "/absent.key", "--address", "127.0.0.1:0",
            ])
        }
        #expect(missing.exitCode == 2)
        #expect(missing.standardError.contains("absent.crt"), "\(missing.standardError)")
        #expect(missing.standardError.contains("mount the webhook's certificate Secret"))
        try "not a certificate".write(toFile: directory.path + "/bad.crt", atomically: true, encoding: .utf8)
        let garbage = try await offThePool {
            try Self.cloister.run([
                "injector", "--tls-cert", directory.path + "/bad.crt", "--tls-key", directory.path + "/bad.crt", "--address", "127.0.0.1:0",
            ])
        }
        #expect(garbage.exitCode == 2)
        #expect(garbage.standardError.contains("no PEM certificate"), "\(garbage.standardError)")
        let address = try await offThePool {
            try Self.cloister.run(["injector", "--tls-cert", "x", "--tls-key", "y", "--address", "8443"])
        }
        #expect(address.exitCode == 2)
        #expect(address.standardError.contains("--address '8443' is not a listen address"), "\(address.standardError)")
    }
}
