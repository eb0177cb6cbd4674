import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Unmodified nginx as a marble serving HTTPS with its Coordinator-issued certificate and requiring client
/// certificates of the deployment (the Marble root), next to a `client` marble that is unmodified curl. One simulated
/// enclave trusts both binaries.
struct NginxDeployment {
    static let body = "hello from the nginx marble\n"

    let directory: TestDirectory
    let coordinator: Coordinator
    let enclave: SimulatedEnclave
    let nginx: String
    let curl: String
    let port: Int

    var url: String { "https://localhost:\(port)/" }
    var errorLogPath: String { directory.file("nginx/error.log") }
    var pidPath: String { directory.file("nginx/nginx.pid") }
    var clientCertificatePath: String { directory.file("client/cert.pem") }
    var clientKeyPath: String { directory.file("client/key.pem") }

    init() throws {
        directory = try TestDirectory("nginx")
        nginx = try #require(HostProgram.path("nginx"))
        curl = try #require(HostProgram.path("curl"))
        port = try freeLoopbackPort()
        coordinator = try Coordinator(directory: directory)
        enclave = try SimulatedEnclave(directory: directory, name: "web", trustedFiles: [nginx, curl])
        try coordinator.setManifest(manifest(package: try enclave.package()))
    }

    /// Everything nginx writes stays in the test directory; `daemon off` keeps the master in the foreground, so the
    /// process the launcher becomes is the one the test stops.
    func configuration() -> String {
        let temporary = directory.file("nginx/temp")
        return """
            daemon off;
            master_process on;
            worker_processes 1;
            pid \(pidPath);
            error_log \(errorLogPath) info;
            events { worker_connections 64; }
            http {
                access_log \(directory.file("nginx/access.log"));
                client_body_temp_path \(temporary)/body;
                proxy_temp_path \(temporary)/proxy;
                fastcgi_temp_path \(temporary)/fastcgi;
                uwsgi_temp_path \(temporary)/uwsgi;
                scgi_temp_path \(temporary)/scgi;
                server {
                    listen 127.0.0.1:\(port) ssl;
                    ssl_certificate \(directory.file("nginx/tls/chain.pem"));
                    ssl_certificate_key \(directory.file("nginx/tls/key.pem"));
                    ssl_client_certificate \(directory.file("nginx/tls/marble-root.pem"));
                    ssl_verify_client on;
                    location / { default_type text/plain; return 200 "\(Self.body.replacingOccurrences(of: "\n", with: "\\n"))"; }
                }
            }

            """
    }

    func manifest(package: [String: Any]) -> [String: Any] {
        let serverFiles = [
            directory.file("nginx/nginx.conf"): configuration(),
            // The leaf is issued by the Marble root, which shares its name and key with the intermediate: sending
            // the intermediate lets clients that trust only the Coordinator root build the chain.
            directory.file("nginx/tls/chain.pem"): "{{ pem .MarbleRun.MarbleCert.Cert }}{{ pem .MarbleRun.CoordinatorIntermediate.Cert }}",
            directory.file("nginx/tls/key.pem"): "{{ pem .MarbleRun.MarbleCert.Private }}",
            directory.file("nginx/tls/marble-root.pem"): "{{ pem .MarbleRun.RootCA.Cert }}",
        ]
        let clientFiles = [
            clientCertificatePath: "{{ pem .MarbleRun.MarbleCert.Cert }}",
            clientKeyPath: "{{ pem .MarbleRun.MarbleCert.Private }}",
            directory.file("client/coordinator-root.pem"): "{{ pem .MarbleRun.CoordinatorRoot.Cert }}",
        ]
        let clientArguments = [
            "curl", "-sS", "--fail", "--max-time", "10", "--resolve", "localhost:\(port):127.0.0.1",
            "--cacert", directory.file("client/coordinator-root.pem"), "--cert", clientCertificatePath, "--key", clientKeyPath, url,
        ]
        return [
            "Packages": ["web": package],
            "Marbles": [
                "server": [
                    "Package": "web",
                    "Parameters": [
                        "Files": serverFiles,
                        "Argv": ["nginx", "-e", errorLogPath, "-c", directory.file("nginx/nginx.conf")],
                    ],
                ],
                "client": ["Package": "web", "Parameters": ["Files": clientFiles, "Argv": clientArguments]],
            ],
        ]
    }

    func launch(_ type: String) -> MarbleLaunch {
        MarbleLaunch(coordinator: coordinator, enclave: enclave, type: type, uuidFile: directory.file("uuid-\(type)"))
    }

    /// nginx needs its temp directory before it starts; the launcher creates only the directories of its files.
    func startServer() throws -> ChildProcess {
        try FileManager.default.createDirectory(atPath: directory.file("nginx/temp"), withIntermediateDirectories: true)
        return try launch("server").start([nginx], logPath: directory.file("server-launcher.log"))
    }

    /// An HTTPS request from the host's curl trusting only the Coordinator root; nginx listens on 127.0.0.1 only,
    /// so `localhost` (the name in the marble certificate) is pinned there.
    func request(_ arguments: [String]) throws -> HTTPSAnswer {
        let outcome = try HostProgram.run(
            "curl",
            [
                "-sS", "--max-time", "10", "--resolve", "localhost:\(port):127.0.0.1", "--cacert", coordinator.rootPath,
                "--write-out", "\n%{http_code}",
            ] + arguments + [url],
            allowFailure: true)
        return HTTPSAnswer(outcome)
    }

    /// The launcher's output and the end of nginx's error log.
    var logs: String {
        "launcher:\n\(tail(directory.file("server-launcher.log")))\nnginx error log:\n\(tail(errorLogPath))"
    }
}

/// What curl got: its exit code, the HTTP status (0 when there was no HTTP answer) and the body.
struct HTTPSAnswer: CustomStringConvertible {
    let curlExitCode: Int32
    let status: Int
    let body: String
    let error: String

    init(_ outcome: Outcome) {
        curlExitCode = outcome.exitCode
        var lines = outcome.standardOutput.components(separatedBy: "\n")
        status = Int(lines.removeLast()) ?? 0
        body = lines.joined(separator: "\n")
        error = outcome.standardError
    }

    var description: String {
        "curl exit \(curlExitCode), HTTP \(status), body \(body.prefix(300).debugDescription), stderr \(error.debugDescription)"
    }
}

@Suite(
    .serialized,
    .enabled(if: HostProgram.installed("nginx", "curl", "openssl", "timeout"), "nginx, curl, openssl or timeout is not installed; run scripts/setup"))
struct NginxTests {
    @Test func servesHTTPSWithItsCoordinatorCertificateOnlyToClientsWithAMarbleCertificate() throws {
        let deployment = try NginxDeployment()
        let server = try deployment.startServer()
        var workers: [pid_t] = []
        // nginx's workers do not die with a killed master: stop it as an operator would, then kill any worker left.
        defer {
            server.stop()
            for worker in workers where isRunning(worker) { kill(worker, SIGKILL) }
        }
        do {
            try server.waitUntil("nginx answering on 127.0.0.1:\(deployment.port)") {
                (try? deployment.request(["-k"]))?.status == 400
            }
        } catch {
            throw HarnessFailure("\(error)\nnginx error log:\n\(tail(deployment.errorLogPath))")
        }
        workers = childProcesses(of: server.processIdentifier)
        #expect(workers.count == 1, "one nginx worker process: \(workers)")

        let client = try deployment.launch("client").run([deployment.curl])
        #expect(client.exitCode == 0, "the curl marble reaches nginx: \(client.standardError)\n\(deployment.logs)")
        #expect(client.standardOutput == NginxDeployment.body)

        let withMarbleCertificate = try deployment.request(["--cert", deployment.clientCertificatePath, "--key", deployment.clientKeyPath])
        #expect(withMarbleCertificate.status == 200, "\(withMarbleCertificate)\n\(deployment.logs)")
        #expect(withMarbleCertificate.body == NginxDeployment.body)

        try expectCoordinatorIssuedServerCertificate(deployment)

        let withoutCertificate = try deployment.request([])
        #expect(withoutCertificate.status == 400, "\(withoutCertificate)")
        #expect(withoutCertificate.body.contains("No required SSL certificate was sent"), "\(withoutCertificate)")

        let selfSigned = try UserFiles(name: "self-signed", directory: deployment.directory.path)
        let withSelfSigned = try deployment.request(["--cert", selfSigned.certificatePath, "--key", selfSigned.keyPath])
        #expect(withSelfSigned.status == 400, "\(withSelfSigned)")
        #expect(withSelfSigned.body.contains("The SSL certificate error"), "\(withSelfSigned)")

        // Another CA under the very name of the Marble root: only the signature can tell them apart.
        let impostor = try certificateFromAnotherCA(namedLike: deployment.clientCertificatePath, in: deployment.directory)
        let withImpostor = try deployment.request(["--cert", impostor.certificatePath, "--key", impostor.keyPath])
        #expect(withImpostor.status == 400, "\(withImpostor)")
        #expect(withImpostor.body.contains("The SSL certificate error"), "\(withImpostor)")
        #expect(!withImpostor.body.contains(NginxDeployment.body) && !withSelfSigned.body.contains(NginxDeployment.body))
        #expect(tail(deployment.errorLogPath, lines: 200).contains("client SSL certificate verify error"), "\(deployment.logs)")

        server.stop()
        #expect(!server.isRunning)
        #expect(server.termination == "exit 0", "nginx exits cleanly on SIGTERM")
        #expect(workers.allSatisfy { !isRunning($0) }, "no nginx worker survives: \(workers.filter(isRunning))")
        #expect(!FileManager.default.fileExists(atPath: deployment.pidPath), "nginx removed its pid file on shutdown")
    }

    /// The certificate nginx presents is the server marble's: CN = its UUID, chained to the Coordinator root.
    func expectCoordinatorIssuedServerCertificate(_ deployment: NginxDeployment) throws {
        let uuid = try String(contentsOfFile: deployment.directory.file("uuid-server"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let handshake = try HostProgram.run(
            "openssl",
            [
                "s_client", "-connect", "127.0.0.1:\(deployment.port)", "-servername", "localhost", "-CAfile",
                deployment.coordinator.rootPath, "-verify_hostname", "localhost",
            ],
            timeLimit: 10, allowFailure: true)
        #expect(handshake.standardOutput.contains("Verify return code: 0 (ok)"), "\(handshake.standardOutput)\n\(handshake.standardError)")
        let presented = deployment.directory.file("presented.txt")
        try handshake.standardOutput.write(toFile: presented, atomically: true, encoding: .utf8)
        let subject = try HostProgram.run("openssl", ["x509", "-in", presented, "-noout", "-subject", "-nameopt", "compat"])
        #expect(subject.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=/CN=\(uuid)")
    }

    /// A CA named exactly like the issuer of `template` (the Marble root), and a leaf it signed.
    func certificateFromAnotherCA(namedLike template: String, in directory: TestDirectory) throws -> (certificatePath: String, keyPath: String) {
        let issuer = try HostProgram.run("openssl", ["x509", "-in", template, "-noout", "-issuer", "-nameopt", "compat"])
            .standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        guard issuer.hasPrefix("issuer=/") else { throw HarnessFailure("openssl printed the issuer as \(issuer.debugDescription)") }
        let name = String(issuer.dropFirst("issuer=".count))
        let (caKey, caCertificate) = (directory.file("impostor-ca-key.pem"), directory.file("impostor-ca-cert.pem"))
        let (key, request, certificate) = (directory.file("impostor-key.pem"), directory.file("impostor.csr"), directory.file("impostor-cert.pem"))
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes"]
        try HostProgram.run("openssl", ["req", "-x509"] + curve + ["-keyout", caKey, "-out", caCertificate, "-subj", name, "-days", "1"])
        try HostProgram.run("openssl", ["req"] + curve + ["-keyout", key, "-out", request, "-subj", "/CN=impostor"])
        try HostProgram.run(
            "openssl", ["x509", "-req", "-in", request, "-CA", caCertificate, "-CAkey", caKey, "-set_serial", "1", "-days", "1", "-out", certificate])
        return (certificate, key)
    }
}
