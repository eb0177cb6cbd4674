import Foundation
import OCI
import StrictJSON
import TestSupport
import Testing

@Suite("Registry to registry with a new configuration and layer", .enabled(if: Tools.registryTools, "\(Tools.registryToolsMissing)"))
struct ConvertExampleTests {
    /// What `cloister convert` does: copy the layers, add one, replace the configuration, write the manifest and
    /// tag it last.
    @Test func replacesTheConfigurationAndAddsALayer() async throws {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let image = try await TestImage.make(in: work.path)
        let addition = work.path + "/addition"
        try FileManager.default.createDirectory(atPath: addition + "/cloister", withIntermediateDirectories: true)
        try "#!/bin/sh\nexec \"$@\"\n".write(toFile: addition + "/cloister/premain", atomically: true, encoding: .utf8)
        let layerPath = work.path + "/layer.tar"
        try await runProgramOffPool("tar", ["-cf", layerPath, "-C", addition, "cloister"])

        try await withLocalRegistry { registry in
            try await image.push(to: registry, repository: "apps/web")
            let events = EventLog()
            let stored = try await withRegistryClient(options: plainHTTP) { client in
                let source = try registrySource(client, "docker://\(registry.host)/apps/web:t")
                let destination = try registryDestination(client, "docker://\(registry.host)/apps/web-sgx:latest")
                return try await convert(source: source, destination: destination, layerTar: layerPath, progress: events.record)
            }
            #expect(events.all.contains { if case .mounted = $0 { true } else { false } })

            let config = try await skopeoInspect("docker://\(registry.host)/apps/web-sgx:latest", config: true)
            guard case .object(let execution)? = config["config"] else {
                Issue.record("no config in \(config)")
                return
            }
            #expect(execution["Entrypoint"] == .array([.string("/cloister/premain"), .string("/opt/app")]))
            #expect(execution["Volumes"] != nil)
            #expect(try await skopeoInspect("docker://\(registry.host)/apps/web-sgx:latest")["Digest"] == .string(stored.digest.description))

            let layout = work.path + "/pulled"
            try await runProgramOffPool(
                "skopeo",
                [
                    "--insecure-policy", "copy", "--src-tls-verify=false", "docker://\(registry.host)/apps/web-sgx:latest", "oci:\(layout):c",
                ])
            if Tools.available("umoci") {
                let bundle = work.path + "/bundle"
                try await runProgramOffPool("umoci", ["unpack", "--image", "\(layout):c", bundle])
                #expect(FileManager.default.fileExists(atPath: bundle + "/rootfs/cloister/premain"))
                #expect(FileManager.default.fileExists(atPath: bundle + "/rootfs/etc/hello.txt"))
                #expect(FileManager.default.fileExists(atPath: bundle + "/rootfs/opt/payload.bin"))
            }
        }
    }

    /// The usage example of the module's report, kept compiling and passing here.
    func convert(
        source: any ImageSource, destination: any ImageDestination, layerTar: String, progress: @escaping TransferProgress
    ) async throws(ImageTransferError) -> Descriptor {
        let copier = ImageCopier(progress: progress)
        let resolved = try await source.resolveManifest(for: .linuxAMD64)
        for layer in resolved.manifest.layers {
            _ = try await copier.copyBlob(layer, from: source, to: destination)
        }
        // An uncompressed tar layer: its digest is also its diff ID.
        let added = try await destination.putBlob(fileAt: layerTar, expected: nil, progress: progress)

        var (_, configuration) = try await source.configuration(of: resolved.manifest)
        configuration.config.entrypoint = ["/cloister/premain"] + (configuration.config.entrypoint ?? [])
        configuration.appendLayer(diffID: added.digest, history: HistoryEntry(createdBy: "cloister convert", comment: "premain"))
        let storedConfiguration = try await destination.putBlob(bytes: configuration.encoded())

        var manifest = resolved.manifest
        manifest.config = Descriptor(mediaType: manifest.config.mediaType, digest: storedConfiguration.digest, size: storedConfiguration.size)
        manifest.layers.append(Descriptor(mediaType: .ociLayerTar, digest: added.digest, size: added.size))
        return try await copier.putImage(manifestBytes: manifest.encoded(), mediaType: manifest.mediaType, to: destination, tag: "latest")
    }
}
