import Foundation
import Testing

/// A real registry (Debian's docker-registry, distribution 2.8) on a free loopback port, with its storage in a
/// temporary directory.
public final class LocalRegistry: Sendable {
    public enum Authentication: Sendable {
        case none
        /// HTTP Basic against an htpasswd file with this one user.
        case htpasswd(user: String, password: String)
        /// Bearer tokens from `realm`, signed by the key of the certificate at `certificatePath`.
        case token(realm: String, service: String, issuer: String, certificatePath: String)
    }

    public let port: Int
    public let directory: TemporaryDirectory
    private let process: BackgroundProcess

    public var host: String { "127.0.0.1:\(port)" }
    public var storage: String { directory.path + "/storage" }

    /// The file that holds `digest`'s bytes in the registry's storage (distribution's filesystem layout).
    public func blobDataPath(hex: String) -> String {
        "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    public init(authentication: Authentication = .none) throws {
        directory = try TemporaryDirectory()
        port = try freeLoopbackPort()
        var configuration = """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(directory.path)/storage
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)

            """
        switch authentication {
        case .none:
            break
        case .htpasswd(let user, let password):
            let entry = try runProgram("htpasswd", ["-Bbn", user, password]).trimmingCharacters(in: .whitespacesAndNewlines)
            try (entry + "\n").write(toFile: directory.path + "/htpasswd", atomically: true, encoding: .utf8)
            configuration += """
                auth:
                  htpasswd:
                    realm: test-realm
                    path: \(directory.path)/htpasswd

                """
        case .token(let realm, let service, let issuer, let certificatePath):
            configuration += """
                auth:
                  token:
                    realm: \(realm)
                    service: \(service)
                    issuer: \(issuer)
                    rootcertbundle: \(certificatePath)

                """
        }
        let configurationPath = directory.path + "/config.yml"
        try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        process = try BackgroundProcess(Tools.path("docker-registry")!, ["serve", configurationPath], environment: [:])
        let deadline = Date().addingTimeInterval(15)
        while !canConnect(port: port) {
            guard process.exitStatus == nil, Date() < deadline else {
                let status = process.exitStatus.map(WaitStatus.exitCode) ?? 0
                stop()
                throw CommandFailure(command: "docker-registry serve", status: status, output: process.log.text)
            }
            usleep(50_000)
        }
    }

    public func stop() {
        process.stop()
        directory.remove()
    }
}

/// Runs `body` with a fresh registry and stops the registry afterwards, also when `body` throws.
public func withLocalRegistry<Result>(
    authentication: LocalRegistry.Authentication = .none, _ body: (LocalRegistry) async throws -> Result
) async throws -> Result {
    let registry = try await offThePool { try LocalRegistry(authentication: authentication) }
    do {
        let result = try await body(registry)
        registry.stop()
        return result
    } catch {
        registry.stop()
        throw error
    }
}

/// A small OCI image built with umoci: two layers (a 300 KiB random file, so that chunked uploads take several
/// chunks, and a text file) and a configuration with every field `cloister convert` reads.
public struct TestImage: Sendable {
    public let layout: String
    public let tag = "t"

    /// Builds the image off the cooperative pool.
    public static func make(in directory: String) async throws -> TestImage {
        try await offThePool { try TestImage(in: directory) }
    }

    public init(in directory: String) throws {
        layout = directory + "/image"
        try runProgram("umoci", ["init", "--layout", layout])
        try runProgram("umoci", ["new", "--image", "\(layout):\(tag)"])
        let payload = directory + "/payload.bin"
        var generator = SystemRandomNumberGenerator()
        try Data((0..<(300 << 10)).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: payload))
        try runProgram("umoci", ["insert", "--image", "\(layout):\(tag)", payload, "/opt/payload.bin"])
        let hello = directory + "/hello.txt"
        try "hello from the test image\n".write(toFile: hello, atomically: true, encoding: .utf8)
        try runProgram("umoci", ["insert", "--image", "\(layout):\(tag)", hello, "/etc/hello.txt"])
        try runProgram(
            "umoci",
            [
                "config", "--image", "\(layout):\(tag)", "--config.entrypoint", "/opt/app", "--config.cmd", "serve",
                "--config.env", "GREETING=hello", "--config.workingdir", "/opt", "--config.user", "1000:1000",
                "--config.label", "org.example.test=yes", "--config.exposedports", "8080/tcp", "--config.stopsignal", "SIGINT",
                "--config.volume", "/data",
            ])
    }

    /// Pushes the image to `registry` as `repository:t`.
    public func push(to registry: LocalRegistry, repository: String) async throws {
        try await runProgramOffPool(
            "skopeo",
            [
                "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:\(layout):\(tag)", "docker://\(registry.host)/\(repository):\(tag)",
            ])
    }
}
