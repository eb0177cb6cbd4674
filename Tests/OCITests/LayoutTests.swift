import Foundation
import OCI
import TestSupport
import Testing

@Suite("OCI image layout transport", .serialized, .enabled(if: Tools.registryTools, "\(Tools.registryToolsMissing)"))
struct LayoutTests {
    @Test func readsALayoutWrittenByUmoci() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        let source = LayoutSource(LayoutReference(directory: image.layout, tag: "t"))
        let resolved = try await source.resolveManifest(for: .linuxAMD64)
        #expect(resolved.manifest.layers.count == 2)
        #expect(resolved.manifest.layers.allSatisfy { $0.mediaType == .ociLayerTarGzip })
        let (_, configuration) = try await source.configuration(of: resolved.manifest)
        #expect(configuration.config.entrypoint == ["/opt/app"])
        for layer in resolved.manifest.layers {
            for try await _ in try await source.openBlob(layer) {}
        }
    }

    @Test func writesALayoutThatSkopeoReads() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        let source = LayoutSource(LayoutReference(directory: image.layout, tag: "t"))
        let output = work.path + "/written"
        let destination = try LayoutDestination(LayoutReference(directory: output, tag: "copied"))
        let stored = try await ImageCopier().copyImage(from: source, to: destination, tag: "copied")
        try await ImageCopier().copyImage(from: source, to: destination, tag: "second")
        // Writing a tag again replaces its entry instead of adding one.
        try await ImageCopier().copyImage(from: source, to: destination, tag: "copied")
        let index = try ImageIndex.decode(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: output + "/index.json"))))
        #expect(index.manifests.compactMap { $0.annotations?[Descriptor.referenceNameAnnotation] }.sorted() == ["copied", "second"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: output + "/blobs/sha256").filter { $0.hasPrefix(".tmp") }
        #expect(leftovers.isEmpty)

        #expect(try await skopeoInspect("oci:\(output):copied")["Digest"] == .string(stored.digest.description))
        try await runProgramOffPool("skopeo", ["--insecure-policy", "copy", "oci:\(output):copied", "oci:\(work.path)/by-skopeo:x"])
        let back = try await LayoutSource(LayoutReference(directory: output, tag: "copied")).resolveManifest(for: .linuxAMD64)
        #expect(back.descriptor.digest == stored.digest)
    }

    @Test func tamperedLayoutBlobIsRefused() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        let source = LayoutSource(LayoutReference(directory: image.layout, tag: "t"))
        let resolved = try await source.resolveManifest(for: .linuxAMD64)
        let big = try #require(resolved.manifest.layers.max { $0.size < $1.size })
        let path = "\(image.layout)/blobs/sha256/\(big.digest.hex)"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[10] ^= 0x01
        try data.write(to: URL(fileURLWithPath: path))
        do throws(ImageTransferError) {
            for try await _ in try await source.openBlob(big) {}
            Issue.record("a tampered blob was read without error")
        } catch {
            guard case .digestMismatch(let location, let expected, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(location == path)
            #expect(expected == big.digest)
            #expect(error.description.contains(big.digest.description))
        }

        let truncated = try LayoutDestination(LayoutReference(directory: work.path + "/target"))
        await #expect(throws: ImageTransferError.self) {
            try await truncated.putBlob(try await source.openBlob(big), expected: big.digest, progress: nil)
        }
        #expect(try await !truncated.hasBlob(big))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: work.path + "/target/blobs/sha256")
        #expect(leftovers.isEmpty)
    }

    @Test func missingTagListsTheTagsThatExist() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        await #expect(throws: ImageTransferError.layoutReferenceNotFound(directory: image.layout, tag: "nope", available: ["t"])) {
            try await LayoutSource(LayoutReference(directory: image.layout, tag: "nope")).resolveManifest(for: .linuxAMD64)
        }
        await #expect(throws: ImageTransferError.self) {
            try await LayoutSource(LayoutReference(directory: work.path + "/absent", tag: "t")).resolveManifest(for: .linuxAMD64)
        }
    }

    @Test func unknownLayerMediaTypeIsRefusedByName() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let reference = LayoutReference(directory: work.path + "/odd", tag: "odd")
        let destination = try LayoutDestination(reference)
        let layer = try await destination.putBlob(bytes: Array("not really a tar".utf8))
        let config = try await destination.putBlob(bytes: ImageConfiguration(architecture: "amd64", os: "linux").encoded())
        let manifest = ImageManifest(
            config: Descriptor(mediaType: .ociConfig, digest: config.digest, size: config.size),
            layers: [Descriptor(mediaType: "application/vnd.example.wasm.v1", digest: layer.digest, size: layer.size)])
        try await ImageCopier().putImage(manifestBytes: manifest.encoded(), mediaType: .ociManifest, to: destination, tag: "odd")
        do throws(ImageTransferError) {
            _ = try await LayoutSource(reference).resolveManifest(for: .linuxAMD64)
            Issue.record("an unknown layer type was accepted")
        } catch {
            guard case .malformedDocument(_, .unknownMediaType(_, let field, let mediaType, _)) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(field == "layers[0].mediaType")
            #expect(mediaType == "application/vnd.example.wasm.v1")
        }
    }
}
