import Foundation
import Gramine
import TestSupport
import Testing

/// `cloister convert` against real tools: a real image built from this machine's redis-server and packed with umoci,
/// pushed with skopeo to a local docker-registry, converted registry to registry, checked with skopeo, umoci and
/// sha256sum, and run with runc next to a simulated Coordinator, which the unmodified redis-server attests to before it
/// serves TLS with the certificate the Coordinator gave it.
@Suite(.serialized, .enabled(if: ConvertFixture.toolsPresent, "\(ConvertFixture.toolsMissing)"))
struct ConvertEndToEndTests {
    @Test func aRegistryImageIsConvertedAndIndependentToolsAgreeWithWhatWasMeasured() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let converted = try await fixture.convert("redis-sgx")
            #expect(converted.argv == ["/usr/bin/redis-server", "--port", "0", "--appendonly", "no"])

            // skopeo sees the new configuration and the input's layers unchanged, plus one.
            let config = try fixture.json(
                try await runProgramOffPool("skopeo", ["inspect", "--tls-verify=false", "--config", "docker://\(registry.host)/redis-sgx:t"]))
            let inner = try #require(config["config"] as? [String: Any])
            #expect((inner["Entrypoint"] as? [String])?.suffix(2) == ["--converted-image", "/cloister/entrypoint"])
            let labels = try #require(inner["Labels"] as? [String: String])
            #expect(labels["org.cloister.mrenclave"] == converted.mrEnclave)
            #expect(labels["org.cloister.source"] == "docker://\(registry.host)/redis:t")
            let source = try fixture.json(
                try await runProgramOffPool("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/redis:t"]))
            let output = try fixture.json(
                try await runProgramOffPool("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/redis-sgx:t"]))
            let sourceLayers = try #require(source["Layers"] as? [String])
            let outputLayers = try #require(output["Layers"] as? [String])
            #expect(Array(outputLayers.dropLast()) == sourceLayers && outputLayers.count == sourceLayers.count + 1)

            // umoci shows the files; every trusted file's hash is sha256sum of the unpacked file.
            let rootfs = try await fixture.unpack("redis-sgx")
            let manifest = try String(contentsOfFile: rootfs + "/cloister/entrypoint.manifest.sgx", encoding: .utf8)
            let trusted = ConvertFixture.trustedFiles(in: manifest)
            #expect(trusted.count == converted.trustedFiles, "\(trusted.count) in the manifest, \(converted.trustedFiles) reported")
            #expect(trusted.count > 20)
            #expect(
                trusted.keys.contains("/usr/bin/redis-server") && trusted.keys.contains("/lib/x86_64-linux-gnu/libc.so.6"), "merged /usr: both paths")
            let paths = trusted.keys.sorted()
            let sums = try await runProgramOffPool("sha256sum", paths.map { rootfs + $0 })
            for line in sums.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                let path = String(parts[1].drop { $0 == " " || $0 == "*" }.dropFirst(rootfs.count))
                #expect(trusted[path] == String(parts[0]), "\(path)")
            }
            // The .sig's ENCLAVEHASH is what `cloister gramine measure` computes from the unpacked files.
            let measured = try await fixture.cloisterJSON([
                "gramine", "measure", rootfs + "/cloister/entrypoint.manifest.sgx", "--libpal",
                rootfs + "/gramine/lib/x86_64-linux-gnu/gramine/sgx/libpal.so", "--json",
            ])
            let signature = try await fixture.cloisterJSON(["package-info", rootfs + "/cloister/entrypoint.sig", "--json"])
            #expect(measured["mrenclave"] as? String == converted.mrEnclave)
            #expect(signature["mrenclave"] as? String == converted.mrEnclave)

            // Converting again finds every layer in place, and converting the converted image is refused by name.
            #expect(try await fixture.convert("redis-sgx-again").mrEnclave == converted.mrEnclave)
            let twice = try await fixture.cloister(
                ["convert", "docker://\(registry.host)/redis-sgx:t", "docker://\(registry.host)/twice:t"] + fixture.conversionFlags)
            #expect(twice.exitCode == 1)
            #expect(twice.standardError.contains("already made from docker://\(registry.host)/redis:t"), "\(twice.standardError)")
            #expect(try await fixture.tagExists("twice") == false)

            let info = try await fixture.cloisterJSON(["convert", "--info", "docker://\(registry.host)/redis-sgx:t", "--plain-http", "--json"])
            #expect((info["package"] as? [String: Any])?["UniqueID"] as? String == converted.mrEnclave)
        }
    }

    @Test(.enabled(if: ConvertFixture.runcPresent, "needs runc and redis-cli (scripts/setup)"))
    func theConvertedImageRunsAsAContainerAttestsAndServesAndATamperedOneNeverRuns() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let converted = try await fixture.convert("redis-sgx")
            let coordinator = try await SimulatedCoordinatorProcess(
                dataDirectory: URL(fileURLWithPath: fixture.directory.path + "/coordinator"),
                machineDirectory: URL(fileURLWithPath: fixture.directory.path + "/machine"))
            defer { coordinator.stop() }
            let port = try freeLoopbackPort()
            try await fixture.setManifest(ConvertFixture.redisManifest(uniqueID: converted.mrEnclave, port: port), on: coordinator)
            let chain = fixture.directory.path + "/chain.pem"
            let rootCertificate = try await fixture.rootCertificate(of: coordinator, chainPath: chain)

            let rootfs = try await fixture.unpack("redis-sgx")
            let container = try RuncContainer.marble(
                bundle: (rootfs as NSString).deletingLastPathComponent, coordinator: coordinator, rootCertificate: rootCertificate,
                marbleType: "redis")
            defer { container.stop() }
            try await container.waitUntil { canConnect(port: port) }
            #expect(
                try await runProgramOffPool("redis-cli", ["--tls", "--cacert", chain, "-p", "\(port)", "set", "converted", "yes"]).contains("OK"))
            #expect(try await runProgramOffPool("redis-cli", ["--tls", "--cacert", chain, "-p", "\(port)", "get", "converted"]).contains("yes"))
            #expect(container.log.contains("activated marble type 'redis'"), "\(container.log)")
            container.stop()

            // The host changes a measured file of the unpacked image: the launcher refuses before anything runs.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: rootfs + "/usr/bin/redis-check-rdb"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data([0x90]))
            try handle.close()
            let tampered = try RuncContainer.marble(
                bundle: (rootfs as NSString).deletingLastPathComponent, coordinator: coordinator, rootCertificate: rootCertificate,
                marbleType: "redis")
            defer { tampered.stop() }
            let exit = try await tampered.waitForExit()
            #expect(exit != 0)
            #expect(tampered.log.contains("trusted files: /usr/bin/redis-server"), "\(tampered.log)")
            #expect(!canConnect(port: port), "redis-server never ran")
        }
    }

    @Test func aDockerArchiveAndAnOCILayoutConvertToTheSameEnclave() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let fromRegistry = try await fixture.convert("redis-sgx")
            let archive = fixture.directory.path + "/redis-archive.tar"
            try await runProgramOffPool(
                "skopeo", ["--insecure-policy", "copy", "oci:\(fixture.directory.path)/image:t", "docker-archive:\(archive):redis:t"])
            for source in ["docker-archive:\(archive)", "oci:\(fixture.directory.path)/image:t"] {
                let converted = try await fixture.cloisterJSON(
                    ["convert", source, "oci:\(fixture.directory.path)/out:t", "--json"] + fixture.conversionFlags)
                #expect(converted["mrenclave"] as? String == fromRegistry.mrEnclave, "\(source) measures as the registry image does")
            }
            // On a terminal the conversion shows each layer's progress; without one (as above) it prints none.
            let quiet = try await fixture.cloister(
                ["convert", "docker-archive:\(archive)", "oci:\(fixture.directory.path)/quiet:t"] + fixture.conversionFlags)
            #expect(quiet.exitCode == 0 && !quiet.standardError.contains("Copying blob"), "\(quiet.standardError)")
            let command =
                ([ConvertFixture.cloister.url.path, "convert", "docker-archive:\(archive)", "oci:\(fixture.directory.path)/tty:t"]
                + fixture.conversionFlags).map { "'\($0)'" }.joined(separator: " ")
            let onTerminal = try await runProgramOffPool("script", ["-qec", command + " 2>&1", "/dev/null"])
            #expect(onTerminal.contains("Copying blob") && onTerminal.contains("done"), "\(onTerminal.suffix(400))")

            let damaged = fixture.directory.path + "/damaged.tar"
            try Data("not an archive".utf8).write(to: URL(fileURLWithPath: damaged))
            let refused = try await fixture.cloister(
                ["convert", "docker-archive:\(damaged)", "oci:\(fixture.directory.path)/other:t"] + fixture.conversionFlags)
            #expect(refused.exitCode == 2 || refused.exitCode == 1)
            #expect(refused.standardError.contains(damaged), "\(refused.standardError)")
        }
    }

    @Test func theGramineRuntimeMayComeFromAnImage() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let fromDirectory = try await fixture.convert("redis-sgx")
            // The same installation, installed at /usr of an image, as a distribution package installs it.
            let layout = fixture.directory.path + "/gramine-image"
            try await runProgramOffPool("umoci", ["init", "--layout", layout])
            try await runProgramOffPool("umoci", ["new", "--image", "\(layout):t"])
            try await runProgramOffPool("umoci", ["insert", "--image", "\(layout):t", fixture.gramine + "/lib", "/usr/lib"])
            try await runProgramOffPool(
                "skopeo", ["--insecure-policy", "copy", "--dest-tls-verify=false", "oci:\(layout):t", "docker://\(registry.host)/gramine:t"])
            let converted = try await fixture.cloisterJSON([
                "convert", "docker://\(registry.host)/redis:t", "docker://\(registry.host)/from-image:t", "--gramine",
                "docker://\(registry.host)/gramine:t", "--key", fixture.key, "--plain-http", "--json",
            ])
            #expect(converted["mrenclave"] as? String == fromDirectory.mrEnclave, "the same runtime measures the same")
            let missing = try await fixture.cloister([
                "convert", "docker://\(registry.host)/redis:t", "docker://\(registry.host)/none:t", "--gramine",
                "docker://\(registry.host)/redis:t", "--key", fixture.key, "--plain-http",
            ])
            #expect(missing.exitCode == 2)
            #expect(missing.standardError.contains("no lib/x86_64-linux-gnu/gramine/sgx/libpal.so in the image"), "\(missing.standardError)")
        }
    }

    @Test func encryptedMountsAreWrittenIntoTheMeasuredManifest() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let host = registry.host
            let plain = try await fixture.convert("redis-sgx")
            let outcome = try await fixture.cloister(
                [
                    "convert", "docker://\(host)/redis:t", "docker://\(host)/redis-data:t", "--json", "--encrypted-mount", "/etc:etckey",
                    "--encrypted-mount", "/data:datakey",
                ] + fixture.conversionFlags)
            #expect(outcome.exitCode == 0, "\(outcome.standardError)")
            let converted = try fixture.json(outcome.standardOutput)
            #expect(converted["mrenclave"] as? String != plain.mrEnclave, "the mounts are measured")
            #expect((converted["trustedFiles"] as? Int ?? 0) < plain.trustedFiles, "the image's /etc is the mount's, not measured")
            #expect(outcome.standardError.contains("under /etc are not measured"), "\(outcome.standardError)")

            let manifest = try String(contentsOfFile: try await fixture.unpack("redis-data") + "/cloister/entrypoint.manifest.sgx", encoding: .utf8)
            let mounts = try GramineManifest(parsing: Array(manifest.utf8)).table[path: ["fs", "mounts"]]?.array?.compactMap(\.table) ?? []
            #expect(mounts.map { $0["path"]?.string } == ["/etc", "/data"])
            #expect(mounts.allSatisfy { $0["type"]?.string == "encrypted" })
            #expect(mounts.map { $0["key_name"]?.string } == ["etckey", "datakey"])
            #expect(!ConvertFixture.trustedFiles(in: manifest).keys.contains { $0.hasPrefix("/etc/") })
            #expect(manifest.contains(#"CLOISTER_PROTECTED_PATHS = "/etc:/data""#))

            let overlapping = try await fixture.cloister(
                [
                    "convert", "docker://\(host)/redis:t", "docker://\(host)/overlap:t", "--encrypted-mount", "/data:a", "--encrypted-mount",
                    "/data/models:b",
                ] + fixture.conversionFlags)
            #expect(overlapping.exitCode == 2)
            #expect(overlapping.standardError.contains("overlaps --encrypted-mount /data"), "\(overlapping.standardError)")
            #expect(try await fixture.tagExists("overlap") == false)
        }
    }

    @Test func badInputIsRefusedByNameAndLeavesNoTag() async throws {
        try await withLocalRegistry { registry in
            let fixture = try await ConvertFixture.make(registry: registry)
            let host = registry.host
            func refusal(
                _ arguments: [String], exitCode: Int32, mentions text: String, sourceLocation: SourceLocation = #_sourceLocation
            ) async throws {
                let outcome = try await fixture.cloister(["convert"] + arguments)
                #expect(outcome.exitCode == exitCode, "\(outcome.standardError)", sourceLocation: sourceLocation)
                #expect(outcome.standardError.contains(text), "\(outcome.standardError)", sourceLocation: sourceLocation)
            }
            try await refusal(
                ["docker://\(host)/redis:missing", "docker://\(host)/out:t"] + fixture.conversionFlags, exitCode: 2, mentions: "missing")
            let weakKey = fixture.directory.path + "/weak.pem"
            _ = try await runProgramOffPool("openssl", ["genrsa", "-out", weakKey, "2048"])
            try await refusal(
                ["docker://\(host)/redis:t", "docker://\(host)/out:t", "--gramine", fixture.gramine, "--key", weakKey, "--plain-http"],
                exitCode: 2, mentions: "cloister gramine keygen")
            try await refusal(
                ["docker://\(host)/redis:t", "docker://\(host)/out:t", "--gramine", fixture.directory.path, "--key", fixture.key, "--plain-http"],
                exitCode: 2, mentions: "lib/x86_64-linux-gnu/gramine/sgx/libpal.so")
            #expect(try await fixture.tagExists("out") == false, "nothing was tagged")

            // A tar entry that climbs out of the root, in an OCI layout made by hand.
            let layout = try await fixture.layoutWithEscapingEntry()
            try await refusal(["oci:\(layout):t", "docker://\(host)/escape:t"] + fixture.conversionFlags, exitCode: 1, mentions: "../../etc/evil")
            #expect(try await fixture.tagExists("escape") == false)

            // A registry blob changed after the push: its digest no longer matches.
            let manifest = try fixture.json(
                try await runProgramOffPool("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(host)/redis:t"]))
            let layer = try #require(((manifest["layers"] as? [[String: Any]])?.first?["digest"] as? String)?.dropFirst("sha256:".count))
            let blob = registry.blobDataPath(hex: String(layer))
            var bytes = try Data(contentsOf: URL(fileURLWithPath: blob))
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: blob))
            try await refusal(
                ["docker://\(host)/redis:t", "docker://\(host)/tampered:t"] + fixture.conversionFlags, exitCode: 1, mentions: String(layer))
            #expect(try await fixture.tagExists("tampered") == false)
        }
    }

    @Test func aRegistryThatWantsCredentialsIsNamed() async throws {
        try await withLocalRegistry(authentication: .htpasswd(user: "ci", password: "secret-pass")) { secured in
            try await withLocalRegistry { registry in
                let fixture = try await ConvertFixture.make(registry: registry)
                let outcome = try await fixture.cloister(
                    ["convert", "docker://\(registry.host)/redis:t", "docker://\(secured.host)/out:t"] + fixture.conversionFlags,
                    environment: ["REGISTRY_AUTH_FILE": fixture.directory.path + "/no-auth.json"])
                #expect(outcome.exitCode == 2)
                #expect(outcome.standardError.contains("401") || outcome.standardError.contains("UNAUTHORIZED"), "\(outcome.standardError)")
            }
        }
    }
}
