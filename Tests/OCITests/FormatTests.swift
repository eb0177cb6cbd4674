import Foundation
import OCI
import StrictJSON
import TestSupport
import Testing

private let zeroDigest = "sha256:" + String(repeating: "0", count: 64)
private let oneDigest = "sha256:" + String(repeating: "1", count: 64)

@Suite("Digests, references and platforms")
struct ReferenceTests {
    @Test func digestParsing() throws {
        let digest = try ContentDigest(parsing: zeroDigest)
        #expect(digest.description == zeroDigest)
        #expect(ContentDigest.of(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: ImageFormatError.unsupportedDigestAlgorithm("sha512", digest: "sha512:abcd")) {
            try ContentDigest(parsing: "sha512:abcd")
        }
        #expect(throws: ImageFormatError.self) { try ContentDigest(parsing: "sha256:" + String(repeating: "A", count: 64)) }
        #expect(throws: ImageFormatError.self) { try ContentDigest(parsing: "sha256:abc") }
        #expect(throws: ImageFormatError.self) { try ContentDigest(parsing: "nocolon") }
    }

    @Test func dockerHubDefaults() throws {
        guard case .registry(let alpine) = try ImageReference(parsing: "docker://alpine") else {
            Issue.record("not a registry reference")
            return
        }
        #expect(alpine == RegistryReference(host: "docker.io", repository: "library/alpine", tag: "latest"))
        #expect(alpine.endpointHost == "registry-1.docker.io")
        guard case .registry(let user) = try ImageReference(parsing: "docker://user/app:1.2") else { return }
        #expect(user == RegistryReference(host: "docker.io", repository: "user/app", tag: "1.2"))
        guard case .registry(let local) = try ImageReference(parsing: "docker://127.0.0.1:5000/a/b@\(zeroDigest)") else { return }
        #expect(local.host == "127.0.0.1:5000")
        #expect(local.repository == "a/b")
        #expect(local.tag == nil)
        #expect(local.manifestReference == zeroDigest)
        guard case .registry(let ipv6) = try ImageReference(parsing: "docker://[::1]:5000/x:y") else { return }
        #expect(ipv6.host == "[::1]:5000")
    }

    @Test func layoutAndArchiveReferences() throws {
        #expect(try ImageReference(parsing: "oci:/tmp/layout:v1") == .layout(LayoutReference(directory: "/tmp/layout", tag: "v1")))
        #expect(try ImageReference(parsing: "oci:/tmp/layout") == .layout(LayoutReference(directory: "/tmp/layout")))
        #expect(try ImageReference(parsing: "docker-archive:/tmp/image.tar") == .dockerArchive(path: "/tmp/image.tar"))
    }

    @Test(arguments: [
        "alpine", "docker://", "docker://UPPER/case", "docker://host:99999/x", "docker://a/b:tag@" + zeroDigest,
        "docker://a/b:bad!tag", "docker://a//b", "oci:", "oci:/dir:", "ftp:something", "docker://a/b@sha256:zz",
    ])
    func malformedReferencesAreRefused(_ text: String) {
        #expect(throws: ImageReferenceError.self) { try ImageReference(parsing: text) }
    }

    @Test func referenceErrorsExplain() {
        do throws(ImageReferenceError) {
            _ = try ImageReference(parsing: "docker://a/b:tag@\(zeroDigest)")
        } catch {
            #expect(error.description.contains("both a tag and a digest"))
        }
    }

    @Test func platformParsingAndMatching() throws {
        let arm = try ImagePlatform(parsing: "linux/arm64")
        #expect(ImagePlatform(os: "linux", architecture: "arm64", variant: "v8").serves(arm))
        #expect(ImagePlatform(os: "linux", architecture: "arm64").serves(try ImagePlatform(parsing: "linux/arm64/v8")))
        #expect(!ImagePlatform.linuxAMD64.serves(arm))
        #expect(throws: ImageFormatError.self) { try ImagePlatform(parsing: "linux") }
        #expect(throws: ImageFormatError.self) { try ImagePlatform(parsing: "linux//v7") }
    }
}

@Suite("Manifest, index and configuration decoding")
struct DecodingTests {
    static let manifestJSON = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
         "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(zeroDigest)","size":7},
         "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(oneDigest)","size":32},
                   {"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"\(oneDigest)","size":32}],
         "annotations":{"a":"b"}}
        """

    @Test func manifestRoundTrip() throws {
        let manifest = try ImageManifest.decode(bytes: Array(Self.manifestJSON.utf8))
        #expect(manifest.layers.count == 2)
        #expect(manifest.layers[0].mediaType.kind == .layer(.gzip))
        #expect(manifest.config.size == 7)
        #expect(try ImageManifest.decode(bytes: manifest.encoded()) == manifest)
    }

    @Test func zstdLayersAreRefusedByName() {
        let json = Self.manifestJSON.replacingOccurrences(of: "v1.tar+gzip", with: "v1.tar+zstd")
        do throws(ImageFormatError) {
            _ = try ImageManifest.decode(bytes: Array(json.utf8))
            Issue.record("a zstd layer was accepted")
        } catch {
            guard case .zstdLayer = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(error.description.contains("zstd"))
            #expect(error.description.contains("gzip"))
        }
    }

    @Test func unknownLayerTypeIsRefused() {
        let json = Self.manifestJSON.replacingOccurrences(of: "application/vnd.oci.image.layer.v1.tar+gzip", with: "application/x-unknown")
        #expect {
            try ImageManifest.decode(bytes: Array(json.utf8))
        } throws: { error in
            guard case .unknownMediaType(_, let field, let mediaType, _) = error as? ImageFormatError else { return false }
            return field == "layers[0].mediaType" && mediaType == "application/x-unknown"
        }
    }

    @Test(arguments: [
        ("{\"schemaVersion\":2,\"schemaVersion\":2}", "duplicate"),
        ("{\"SchemaVersion\":2}", "case"),
        ("{\"schemaVersion\":1,\"fsLayers\":[]}", "schema 1"),
        ("{\"schemaVersion\":\"2\"}", "wrong type"),
        ("[]", "not an object"),
        ("{\"schemaVersion\":2,\"config\":{}}", "empty config"),
        ("{\"schemaVersion\":2,\"manifests\":[],\"layers\":[],\"config\":{}}", "ambiguous"),
        ("{", "truncated"),
        ("", "empty"),
        (String(repeating: "[", count: 2_000), "deep"),
    ])
    func hostileManifestsAreRefused(_ json: String, _ label: String) {
        #expect(throws: ImageFormatError.self, "\(label)") { try ImageManifest.decode(bytes: Array(json.utf8)) }
    }

    @Test func sizesMustBeNonNegativeIntegers() {
        for size in ["-1", "1.5", "1e3", "99999999999999999999", "\"7\""] {
            let json = Self.manifestJSON.replacingOccurrences(of: "\"size\":7", with: "\"size\":\(size)")
            #expect(throws: ImageFormatError.self, "size \(size)") { try ImageManifest.decode(bytes: Array(json.utf8)) }
        }
    }

    @Test func indexPlatformSelection() throws {
        let json = """
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
             {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"\(zeroDigest)","size":1,
              "platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
             {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"\(oneDigest)","size":2,
              "platform":{"architecture":"amd64","os":"linux"}}]}
            """
        let index = try ImageIndex.decode(bytes: Array(json.utf8))
        #expect(try index.manifest(for: .linuxAMD64).digest.description == oneDigest)
        #expect(try index.manifest(for: ImagePlatform(parsing: "linux/arm64")).digest.description == zeroDigest)
        #expect(throws: ImageFormatError.platformNotInIndex(requested: "linux/s390x", available: ["linux/arm64/v8", "linux/amd64"])) {
            try index.manifest(for: ImagePlatform(parsing: "linux/s390x"))
        }
        #expect(throws: ImageFormatError.self) { try ImageManifest.decode(bytes: Array(json.utf8)) }
        guard case .index = try ManifestDocument.decode(bytes: Array(json.utf8), mediaType: MediaType("application/json")) else {
            Issue.record("the list was not recognised by its own media type")
            return
        }
    }

    static let configurationJSON = """
        {"created":"2024-01-01T00:00:00Z","architecture":"amd64","os":"linux",
         "config":{"User":"1000","ExposedPorts":{"8080/tcp":{}},"Env":["PATH=/usr/bin","A=1"],"Entrypoint":["/app"],
                   "Cmd":["serve"],"WorkingDir":"/srv","Labels":{"b":"2","a":"1"},"StopSignal":"SIGTERM",
                   "Healthcheck":{"Test":["CMD","true"],"Interval":30000000000},"Volumes":{"/data":{}}},
         "rootfs":{"type":"layers","diff_ids":["\(zeroDigest)"]},
         "history":[{"created_by":"ADD file","comment":"base","x-extra":1},{"created_by":"ENV A=1","empty_layer":true}],
         "moby.buildkit.buildinfo.v1":"e30=","ordering":[3,1.50,"x"]}
        """

    @Test func configurationKeepsUnknownFieldsWhenChanged() throws {
        var configuration = try ImageConfiguration.decode(bytes: Array(Self.configurationJSON.utf8))
        #expect(configuration.config.entrypoint == ["/app"])
        #expect(configuration.config.exposedPorts == ["8080/tcp"])
        #expect(configuration.config.labels == ["a": "1", "b": "2"])
        #expect(configuration.rootfs.diffIDs.count == 1)
        #expect(configuration.history?.count == 2)
        configuration.config.entrypoint = ["/cloister/premain", "/app"]
        configuration.appendLayer(diffID: try ContentDigest(parsing: oneDigest), history: HistoryEntry(createdBy: "cloister convert"))
        let reencoded = try ImageConfiguration.decode(bytes: configuration.encoded())
        #expect(reencoded == configuration)
        #expect(reencoded.otherFields.map(\.key) == ["moby.buildkit.buildinfo.v1", "ordering"])
        #expect(reencoded.otherFields[1].value == .array([.number("3"), .number("1.50"), .string("x")]))
        #expect(reencoded.config.otherFields.map(\.key) == ["Healthcheck", "Volumes"])
        #expect(reencoded.history?[0].otherFields == [JSONMember(key: "x-extra", value: .number("1"))])
        #expect(reencoded.rootfs.diffIDs.map(\.description) == [zeroDigest, oneDigest])
    }

    @Test func configurationNeedsItsCoreFields() {
        #expect(throws: ImageFormatError.missingField(document: "image configuration", field: "rootfs")) {
            try ImageConfiguration.decode(bytes: Array(#"{"architecture":"amd64","os":"linux"}"#.utf8))
        }
        let wrongEnv = Self.configurationJSON.replacingOccurrences(of: #""A=1"]"#, with: "1]")
        #expect(throws: ImageFormatError.self) { try ImageConfiguration.decode(bytes: Array(wrongEnv.utf8)) }
    }

    /// A cheap stand-in for the libFuzzer run: mutated documents must throw or decode, never trap.
    @Test func mutatedDocumentsNeverTrap() {
        var generator = SplitMix(seed: 42)
        let seeds = [Self.manifestJSON, Self.configurationJSON].map { Array($0.utf8) }
        for round in 0..<3000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes.remove(at: position)
                default: bytes.insert(contentsOf: bytes[position..<min(bytes.count, position + 8)], at: position)
                }
            }
            _ = try? ImageManifest.decode(bytes: bytes)
            _ = try? ImageIndex.decode(bytes: bytes)
            _ = try? ImageConfiguration.decode(bytes: bytes)
        }
    }
}

@Suite("Authentication parsing")
struct AuthenticationParsingTests {
    @Test func bearerChallenge() throws {
        let challenge = try #require(
            AuthenticationChallenge(
                header: #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#))
        #expect(challenge.scheme == "bearer")
        #expect(challenge.parameters["realm"] == "https://auth.example/token")
        #expect(challenge.parameters["scope"] == "repository:a/b:pull,push")
        #expect(AuthenticationChallenge(header: #"Basic realm="x""#)?.scheme == "basic")
        #expect(AuthenticationChallenge(header: "") == nil)
    }

    @Test func authFileLookup() throws {
        let file = """
            {"auths":{"https://index.docker.io/v1/":{"auth":"\(Data("hub:pw".utf8).base64EncodedString())"},
                      "127.0.0.1:5000":{"auth":"\(Data("local:secret:with:colons".utf8).base64EncodedString())"},
                      "127.0.0.1:5000/team/app":{"auth":"\(Data("team:pw2".utf8).base64EncodedString())"}}}
            """
        let bytes = Array(file.utf8)
        let hub = try CredentialStore.lookUp(fileBytes: bytes, path: "auth.json", host: "docker.io", repository: "library/alpine")
        #expect(hub?.username == "hub")
        let local = try CredentialStore.lookUp(fileBytes: bytes, path: "auth.json", host: "127.0.0.1:5000", repository: "other")
        #expect(local?.password == "secret:with:colons")
        let team = try CredentialStore.lookUp(fileBytes: bytes, path: "auth.json", host: "127.0.0.1:5000", repository: "team/app")
        #expect(team?.username == "team")
        #expect(try CredentialStore.lookUp(fileBytes: bytes, path: "auth.json", host: "ghcr.io", repository: "x") == nil)
        #expect(throws: ImageTransferError.self) {
            try CredentialStore.lookUp(fileBytes: Array(#"{"auths":{"h":{"auth":"%%%"}}}"#.utf8), path: "bad.json", host: "h", repository: "x")
        }
    }
}

/// A small deterministic generator, so that a failing mutation can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
