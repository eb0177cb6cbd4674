import Foundation
import OCI
import StrictJSON
import Synchronization
import TestSupport
import Testing

/// Collects transfer events from any thread.
final class EventLog: Sendable {
    private let events = Mutex<[TransferEvent]>([])
    var all: [TransferEvent] { events.withLock { $0 } }
    var record: TransferProgress { { event in self.events.withLock { $0.append(event) } } }
}

let plainHTTP = RegistryClient.Options(plainHTTP: true, credentials: .anonymous)

func registrySource(_ client: RegistryClient, _ text: String) throws -> RegistrySource {
    guard case .registry(let reference) = try ImageReference(parsing: text) else {
        throw CommandFailure(command: text, status: 0, output: "not docker://")
    }
    return client.source(reference)
}

func registryDestination(_ client: RegistryClient, _ text: String) throws -> RegistryDestination {
    guard case .registry(let reference) = try ImageReference(parsing: text) else {
        throw CommandFailure(command: text, status: 0, output: "not docker://")
    }
    return client.destination(reference)
}

/// The JSON object skopeo prints for `inspect`.
func skopeoInspect(_ reference: String, raw: Bool = false, config: Bool = false) async throws -> [JSONMember] {
    var arguments = ["--insecure-policy", "inspect"]
    if reference.hasPrefix("docker://") { arguments.append("--tls-verify=false") }
    if raw { arguments.append("--raw") }
    if config { arguments.append("--config") }
    let output = try await runProgramOffPool("skopeo", arguments + [reference])
    guard case .object(let members) = try JSONParser.parse(Array(output.utf8)) else { return [] }
    return members
}

extension [JSONMember] {
    subscript(key: String) -> JSONValue? { last { $0.key == key }?.value }
}

@Suite("Registry transport against docker-registry", .serialized, .enabled(if: Tools.registryTools, "\(Tools.registryToolsMissing)"))
struct RegistryTests {
    @Test func readsBackAnImagePushedBySkopeo() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        try await withLocalRegistry { registry in
            try await image.push(to: registry, repository: "test")
            try await withRegistryClient(options: plainHTTP) { client in
                let source = try registrySource(client, "docker://\(registry.host)/test:t")
                let resolved = try await source.resolveManifest(for: .linuxAMD64)
                #expect(resolved.manifest.layers.count == 2)
                #expect(resolved.descriptor.digest == ContentDigest.of(resolved.bytes))
                let skopeoDigest = try await skopeoInspect("docker://\(registry.host)/test:t")["Digest"]
                #expect(skopeoDigest == .string(resolved.descriptor.digest.description))

                let (_, configuration) = try await source.configuration(of: resolved.manifest)
                #expect(configuration.config.entrypoint == ["/opt/app"])
                #expect(configuration.config.cmd == ["serve"])
                #expect(configuration.config.env?.contains("GREETING=hello") == true)
                #expect(configuration.config.workingDir == "/opt")
                #expect(configuration.config.user == "1000:1000")
                #expect(configuration.config.labels?["org.example.test"] == "yes")
                #expect(configuration.config.exposedPorts == ["8080/tcp"])
                #expect(configuration.config.stopSignal == "SIGINT")
                #expect(configuration.config.otherFields.contains { $0.key == "Volumes" })
                #expect(configuration.rootfs.diffIDs.count == 2)
                #expect(configuration.os == "linux")

                for layer in resolved.manifest.layers {
                    var count: Int64 = 0
                    for try await chunk in try await source.openBlob(layer) { count += Int64(chunk.readableBytes) }
                    #expect(count == layer.size)
                }
            }
        }
    }

    @Test func copiesToAnotherRegistryThenSkipsWhatIsThere() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        try await withLocalRegistry { first in
            try await withLocalRegistry { second in
                try await image.push(to: first, repository: "test")
                try await withRegistryClient(options: plainHTTP) { client in
                    let source = try registrySource(client, "docker://\(first.host)/test:t")
                    let destination = try registryDestination(client, "docker://\(second.host)/copy:c")
                    let events = EventLog()
                    let stored = try await ImageCopier(progress: events.record).copyImage(from: source, to: destination, tag: "c")
                    #expect(events.all.filter { if case .completed = $0 { true } else { false } }.count == 3)
                    #expect(events.all.contains { if case .read(_, let bytes) = $0 { bytes > 300_000 } else { false } })
                    #expect(events.all.contains { if case .uploaded(_, let bytes) = $0 { bytes > 300_000 } else { false } })

                    let inspected = try await skopeoInspect("docker://\(second.host)/copy:c")
                    #expect(inspected["Digest"] == .string(stored.digest.description))
                    let layers = try await skopeoInspect("docker://\(second.host)/copy:c")["Layers"]
                    let resolved = try await source.resolveManifest(for: .linuxAMD64)
                    #expect(layers == .array(resolved.manifest.layers.map { .string($0.digest.description) }))

                    // skopeo pulls the copy into an OCI layout: the same manifest and blobs arrive.
                    let layout = work.path + "/pulled"
                    try await runProgramOffPool(
                        "skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", "docker://\(second.host)/copy:c", "oci:\(layout):p"])
                    let pulled = try await LayoutSource(LayoutReference(directory: layout, tag: "p")).resolveManifest(for: .linuxAMD64)
                    #expect(pulled.descriptor.digest == stored.digest)
                    for blob in resolved.manifest.layers + [resolved.manifest.config] {
                        #expect(FileManager.default.fileExists(atPath: "\(layout)/blobs/sha256/\(blob.digest.hex)"))
                    }

                    let again = EventLog()
                    try await ImageCopier(progress: again.record).copyImage(from: source, to: destination, tag: "c2")
                    #expect(again.all.filter { if case .alreadyPresent = $0 { true } else { false } }.count == 3)
                    #expect(!again.all.contains { if case .read = $0 { true } else { false } })
                }
            }
        }
    }

    @Test func mountsBlobsFromAnotherRepositoryOfTheSameRegistry() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        try await withLocalRegistry { registry in
            try await image.push(to: registry, repository: "test")
            try await withRegistryClient(options: plainHTTP) { client in
                let source = try registrySource(client, "docker://\(registry.host)/test:t")
                let destination = try registryDestination(client, "docker://\(registry.host)/mounted:m")
                let events = EventLog()
                let stored = try await ImageCopier(progress: events.record).copyImage(from: source, to: destination, tag: "m")
                let mounts = events.all.filter { if case .mounted(_, let from) = $0 { from.repository == "test" } else { false } }
                #expect(mounts.count == 3)
                #expect(!events.all.contains { if case .read = $0 { true } else { false } })
                #expect(try await skopeoInspect("docker://\(registry.host)/mounted:m")["Digest"] == .string(stored.digest.description))
            }
        }
    }

    @Test func chunkedUploadSendsSeveralPatches() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        try await withLocalRegistry { first in
            try await withLocalRegistry { second in
                try await image.push(to: first, repository: "test")
                var options = plainHTTP
                options.uploadMode = .chunked(chunkSize: 64 << 10)
                try await withRegistryClient(options: options) { client in
                    let source = try registrySource(client, "docker://\(first.host)/test:t")
                    let destination = try registryDestination(client, "docker://\(second.host)/chunked:c")
                    let events = EventLog()
                    let stored = try await ImageCopier(progress: events.record).copyImage(from: source, to: destination, tag: "c")
                    let resolved = try await source.resolveManifest(for: .linuxAMD64)
                    let big = try #require(resolved.manifest.layers.max { $0.size < $1.size })
                    let patches = events.all.filter { if case .uploaded(big.digest, _) = $0 { true } else { false } }
                    #expect(patches.count == Int((big.size + (64 << 10) - 1) / (64 << 10)))
                    #expect(try await skopeoInspect("docker://\(second.host)/chunked:c")["Digest"] == .string(stored.digest.description))
                    // The chunks were reassembled in order: reading the blob back verifies its digest.
                    let copy = try registrySource(client, "docker://\(second.host)/chunked:c")
                    var total = 0
                    for try await chunk in try await copy.openBlob(big) { total += chunk.readableBytes }
                    #expect(Int64(total) == big.size)
                }
            }
        }
    }

    @Test func blobsWithUnknownDigestUploadInChunks() async throws {
        try await withLocalRegistry { registry in
            try await withRegistryClient(options: plainHTTP) { client in
                let destination = try registryDestination(client, "docker://\(registry.host)/loose:l")
                let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
                let stored = try await destination.putBlob(BlobStream(bytes: bytes, origin: "memory"), expected: nil, progress: nil)
                #expect(stored == StoredBlob(digest: .of(bytes), size: Int64(bytes.count)))
                #expect(try await destination.hasBlob(Descriptor(of: bytes, mediaType: .ociLayerTar)))
            }
        }
    }

    @Test func tamperedBlobInRegistryStorageIsRefused() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        try await withLocalRegistry { registry in
            try await image.push(to: registry, repository: "test")
            try await withRegistryClient(options: plainHTTP) { client in
                let source = try registrySource(client, "docker://\(registry.host)/test:t")
                let resolved = try await source.resolveManifest(for: .linuxAMD64)
                let big = try #require(resolved.manifest.layers.max { $0.size < $1.size })
                let path = registry.blobDataPath(hex: big.digest.hex)
                var data = try Data(contentsOf: URL(fileURLWithPath: path))
                data[data.count / 2] ^= 0xFF
                try data.write(to: URL(fileURLWithPath: path))

                await #expect {
                    for try await _ in try await source.openBlob(big) {}
                } throws: { error in
                    guard case .digestMismatch(let location, let expected, let found) = error as? ImageTransferError else { return false }
                    return expected == big.digest && found != big.digest && location.contains(registry.host) && location.contains("test")
                }
                let destination = try registryDestination(client, "docker://\(registry.host)/elsewhere:e")
                // The registry itself would accept the mount, so go through an upload to see the check refuse it.
                await #expect(throws: ImageTransferError.self) {
                    try await destination.putBlob(try await source.openBlob(big), expected: big.digest, progress: nil)
                }
                #expect(try await !destination.hasBlob(big))
            }
        }
    }

    @Test func missingTagIsAClearNotFound() async throws {
        try await withLocalRegistry { registry in
            try await withRegistryClient(options: plainHTTP) { client in
                let source = try registrySource(client, "docker://\(registry.host)/nothing/here:nope")
                do throws(ImageTransferError) {
                    _ = try await source.resolveManifest(for: .linuxAMD64)
                    Issue.record("a missing tag resolved")
                } catch {
                    guard case .notFound(let operation, _) = error else {
                        Issue.record("unexpected \(error)")
                        return
                    }
                    #expect(operation.host == registry.host)
                    #expect(operation.repository == "nothing/here")
                    #expect(error.description.contains("nope"))
                    #expect(error.description.contains("404"))
                }
            }
        }
    }

    @Test func plainHTTPIsOnlyForLoopback() async throws {
        try await withRegistryClient(options: plainHTTP) { client in
            let source = try registrySource(client, "docker://registry.example.com/a:b")
            await #expect(throws: ImageTransferError.plainHTTPRefused(host: "registry.example.com")) {
                try await source.resolveManifest(for: .linuxAMD64)
            }
        }
    }
}

@Suite(
    "Registry authentication", .serialized,
    .enabled(if: Tools.registryTools && Tools.available("htpasswd"), "\(Tools.registryToolsMissing) and htpasswd (apt-get install apache2-utils)"))
struct RegistryAuthenticationTests {
    @Test func basicAuthRefusesWithoutCredentialsAndWorksWithAnAuthFile() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        try await withLocalRegistry(authentication: .htpasswd(user: "alice", password: "s3cret")) { registry in
            try await runProgramOffPool(
                "skopeo",
                [
                    "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
                    "oci:\(image.layout):t", "docker://\(registry.host)/private:t",
                ])
            try await withRegistryClient(options: plainHTTP) { client in
                let source = try registrySource(client, "docker://\(registry.host)/private:t")
                do throws(ImageTransferError) {
                    _ = try await source.resolveManifest(for: .linuxAMD64)
                    Issue.record("an anonymous read was allowed")
                } catch {
                    guard case .unauthorized(let operation, 401, nil, let errors) = error else {
                        Issue.record("unexpected \(error)")
                        return
                    }
                    #expect(operation.host == registry.host && operation.repository == "private")
                    #expect(errors.contains { $0.code == "UNAUTHORIZED" })
                    #expect(error.description.contains("REGISTRY_AUTH_FILE"))
                }
            }

            let authFile = work.path + "/auth.json"
            let write = { (password: String) in
                let auth = Data("alice:\(password)".utf8).base64EncodedString()
                try #"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}}}"#.write(toFile: authFile, atomically: true, encoding: .utf8)
            }
            let environment = ["REGISTRY_AUTH_FILE": authFile, "HOME": work.path]
            try write("wrong")
            let wrong = RegistryClient.Options(plainHTTP: true, credentials: CredentialStore(environment: environment))
            await withRegistryClient(options: wrong) { client in
                await #expect {
                    try await registrySource(client, "docker://\(registry.host)/private:t").resolveManifest(for: .linuxAMD64)
                } throws: { error in
                    guard case .unauthorized(_, 401, let used?, _) = error as? ImageTransferError else { return false }
                    return used.contains("alice") && used.contains(authFile) && !used.contains("wrong")
                }
            }
            try write("s3cret")
            let right = RegistryClient.Options(plainHTTP: true, credentials: CredentialStore(environment: environment))
            try await withRegistryClient(options: right) { client in
                let source = try registrySource(client, "docker://\(registry.host)/private:t")
                let destination = try registryDestination(client, "docker://\(registry.host)/private-copy:c")
                let stored = try await ImageCopier().copyImage(from: source, to: destination, tag: "c")
                let output = try await runProgramOffPool(
                    "skopeo",
                    [
                        "--insecure-policy", "inspect", "--tls-verify=false", "--creds", "alice:s3cret", "docker://\(registry.host)/private-copy:c",
                    ])
                #expect(output.contains(stored.digest.description))
            }
        }
    }
}
