import Foundation
import Gramine
import OCI
import Tar
import Testing

@testable import Convert

/// A root filesystem built in memory from tar entries, as layers would build it.
func rootFilesystem(_ entries: [(TarEntry, [UInt8])]) throws -> RootFilesystem {
    var writer = TarWriter()
    var archive: [UInt8] = []
    func collect(_ bytes: UnsafeRawBufferPointer) throws(TarError) { archive.append(contentsOf: bytes) }
    for (entry, content) in entries {
        try writer.beginEntry(entry, to: collect)
        if !content.isEmpty { try writer.writeContent(content, to: collect) }
        try writer.endEntry(to: collect)
    }
    try writer.finish(to: collect)
    var root = RootFilesystem(capturingContentsOf: LayerScan.capturedFiles)
    root.beginLayer()
    var reader = LayerReader()
    try reader.consume(archive) { event throws(TarError) in try root.apply(event) }
    try reader.finish { event throws(TarError) in try root.apply(event) }
    try root.endLayer()
    return root
}

/// A merged-/usr image with python3 and a user database.
func pythonImage() throws -> RootFilesystem {
    let passwd = Array("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n".utf8)
    let group = Array("root:x:0:\napp:x:1000:\nstaff:x:50:\n".utf8)
    let python = Array("not really python".utf8)
    return try rootFilesystem([
        (.directory("usr"), []), (.directory("usr/bin"), []), (.directory("usr/lib"), []), (.directory("etc"), []),
        (.regularFile("usr/bin/python3.11", size: UInt64(python.count), mode: 0o755), python),
        (.symbolicLink("usr/bin/python3", target: "python3.11"), []),
        (.regularFile("usr/lib/libpython3.11.so.1.0", size: 3), [1, 2, 3]),
        (.symbolicLink("bin", target: "usr/bin"), []), (.symbolicLink("lib", target: "usr/lib"), []),
        (.regularFile("etc/passwd", size: UInt64(passwd.count)), passwd), (.regularFile("etc/group", size: UInt64(group.count)), group),
        (.regularFile("etc/shadow", size: 1), [0]), (.directory("var"), []), (.directory("var/cache"), []),
        (.regularFile("var/cache/state", size: 1), [0]),
    ])
}

@Suite struct ProgramInvocationTests {
    @Test func entrypointAndCmdMakeTheArgvWhateverTheirLengths() throws {
        let root = try pythonImage()
        var configuration = ContainerConfiguration()
        configuration.entrypoint = ["python3", "-m", "http.server"]
        configuration.cmd = ["8080"]
        configuration.env = ["PATH=/usr/local/bin:/bin", "LANG=C.UTF-8"]
        configuration.workingDir = "/srv"
        configuration.user = "app:staff"
        let invocation = try ProgramInvocation(configuration: configuration, root: root)
        #expect(
            invocation.arguments == ["/bin/python3", "-m", "http.server", "8080"], "CMD is kept after a multi-element ENTRYPOINT (gsc#140's bug)")
        #expect(invocation.environment.map(\.name) == ["PATH", "LANG"])
        #expect(invocation.workingDirectory == "/srv")
        #expect(invocation.userID == 1000 && invocation.groupID == 50)

        configuration.entrypoint = nil
        configuration.cmd = ["/usr/bin/python3", "app.py"]
        configuration.user = "1000"
        let commandOnly = try ProgramInvocation(configuration: configuration, root: root)
        #expect(commandOnly.arguments == ["/usr/bin/python3", "app.py"])
        #expect(commandOnly.userID == 1000 && commandOnly.groupID == 1000)
    }

    @Test func whatCannotBeResolvedIsNamed() throws {
        let root = try pythonImage()
        var configuration = ContainerConfiguration()
        #expect(throws: ConversionError.self) { try ProgramInvocation(configuration: configuration, root: root) }
        configuration.cmd = ["node"]
        let missing = try #require(throws: ConversionError.self) { try ProgramInvocation(configuration: configuration, root: root) }
        #expect(missing.found.contains("no executable node in PATH"))
        configuration.cmd = ["python3"]
        configuration.user = "nobody"
        let user = try #require(throws: ConversionError.self) { try ProgramInvocation(configuration: configuration, root: root) }
        #expect(user.found == "no user nobody in the image's /etc/passwd" && user.kind == .refusedImage)
        configuration.user = "app:wheel"
        #expect(
            try #require(throws: ConversionError.self) { try ProgramInvocation(configuration: configuration, root: root) }.found.contains(
                "no group wheel"))
    }
}

@Suite struct TrustedFileSelectionTests {
    @Test func filesAreListedUnderEveryPathThatReachesThemAsGSCListsThem() throws {
        let files = TrustedFileSelection().files(in: try pythonImage())
        let paths = files.map(\.path)
        #expect(paths.contains("/usr/lib/libpython3.11.so.1.0") && paths.contains("/lib/libpython3.11.so.1.0"), "merged /usr: both paths")
        #expect(paths.contains("/usr/bin/python3") && paths.contains("/bin/python3") && paths.contains("/bin/python3.11"))
        let link = try #require(files.first { $0.path == "/usr/bin/python3" })
        let target = try #require(files.first { $0.path == "/usr/bin/python3.11" })
        #expect(link.sha256 == target.sha256, "a link to a file is listed with its target's hash")
        #expect(!paths.contains("/etc/shadow") && !paths.contains("/var/cache/state"), "GSC's exclusions apply")
        #expect(paths == paths.sorted())
    }

    @Test func includeAndExcludePatternsChooseFiles() throws {
        let root = try pythonImage()
        let paths = TrustedFileSelection(exclude: ["/usr/lib/*", "/lib/*"], include: ["/var/cache/*"]).files(in: root).map(\.path)
        #expect(!paths.contains { $0.hasSuffix("libpython3.11.so.1.0") })
        #expect(paths.contains("/var/cache/state"))
    }

    @Test func linkLoopsEndTheWalk() throws {
        let root = try rootFilesystem([
            (.directory("a"), []), (.symbolicLink("a/loop", target: "/a"), []), (.regularFile("a/file", size: 1), [7]),
        ])
        let paths = TrustedFileSelection().files(in: root).map(\.path)
        #expect(paths.first == "/a/file")
        #expect(paths.count < 50, "the loop is followed a bounded number of times")
    }
}

@Suite struct EnclaveManifestTests {
    @Test func theManifestMeasuresTheProgramItsEnvironmentAndFilesAndPassesTheLaunchersSettings() throws {
        var configuration = ContainerConfiguration()
        configuration.entrypoint = ["python3", "-m", "http.server"]
        configuration.cmd = ["8080"]
        configuration.env = ["LANG=C.UTF-8"]
        let invocation = try ProgramInvocation(configuration: configuration, root: try pythonImage())
        var settings = EnclaveSettings()
        settings.productID = 7
        let manifest = EnclaveManifestBuilder(
            invocation: invocation, trustedFiles: [("/bin/python3", [UInt8](repeating: 1, count: 32))],
            libosSHA256: [UInt8](repeating: 2, count: 32), settings: settings
        ).manifest().table
        #expect(manifest[path: ["libos", "entrypoint"]]?.string == ConvertedImageLayout.launcher)
        #expect(manifest[path: ["loader", "argv"]]?.array?.compactMap(\.string) == invocation.arguments)
        #expect(invocation.arguments.suffix(3) == ["-m", "http.server", "8080"])
        #expect(manifest[path: ["loader", "env", "LANG"]]?.string == "C.UTF-8")
        #expect(manifest[path: ["loader", "env", "EDG_MARBLE_TYPE", "passthrough"]]?.boolean == true)
        #expect(manifest[path: ["sgx", "remote_attestation"]]?.string == "dcap")
        #expect(manifest[path: ["sgx", "isvprodid"]]?.integer == 7)
        #expect(manifest[path: ["sgx", "trusted_files"]]?.array?.count == 1)
    }

    @Test func runtimesThatNeedMoreThanTheSettingsGetAHint() {
        var settings = EnclaveSettings()
        settings.size = "256M"
        settings.maxThreads = 4
        let hints = EnclaveSizing.hints(for: ["/usr/lib/jvm/lib/server/libjvm.so"], settings: settings)
        #expect(hints.count == 1 && hints[0].contains("a Java VM") && hints[0].contains("--enclave-size 4G"))
        #expect(EnclaveSizing.hints(for: ["/usr/bin/redis-server"], settings: settings).isEmpty)
    }
}

@Suite struct EncryptedMountTests {
    @Test func aMountBecomesGraminesEncryptedMountAndAProtectedPath() throws {
        var configuration = ContainerConfiguration()
        configuration.entrypoint = ["python3"]
        let invocation = try ProgramInvocation(configuration: configuration, root: try pythonImage())
        var settings = EnclaveSettings()
        settings.encryptedMounts = [try EncryptedMount(parsing: "/data:datakey"), try EncryptedMount(parsing: "/var/lib/models:models_v2")]
        let manifest = EnclaveManifestBuilder(
            invocation: invocation, trustedFiles: [], libosSHA256: [UInt8](repeating: 2, count: 32), settings: settings
        ).manifest()
        let mounts = manifest.table[path: ["fs", "mounts"]]?.array?.compactMap(\.table) ?? []
        try #require(mounts.count == 2)
        #expect(mounts[0]["type"]?.string == "encrypted")
        #expect(mounts[0]["path"]?.string == "/data" && mounts[0]["uri"]?.string == "file:/data")
        #expect(mounts[1]["key_name"]?.string == "models_v2")
        #expect(manifest.table[path: ["loader", "env", "CLOISTER_PROTECTED_PATHS"]]?.string == "/data:/var/lib/models")
        // The TOML as written reads back the same (Gramine's parser takes what ours writes, spec §2).
        let reread = try GramineManifest(parsing: manifest.tomlBytes)
        #expect(reread.table[path: ["fs", "mounts"]]?.array?.count == 2)
        #expect(String(decoding: manifest.tomlBytes, as: UTF8.self).contains("key_name"))

        let plain = EnclaveManifestBuilder(
            invocation: invocation, trustedFiles: [], libosSHA256: [UInt8](repeating: 2, count: 32), settings: EnclaveSettings()
        ).manifest()
        #expect(plain.table[path: ["fs", "mounts"]] == nil)
        #expect(plain.table[path: ["loader", "env", "CLOISTER_PROTECTED_PATHS"]] == nil)
    }

    @Test(arguments: [
        ("/data", "no ':'"), ("data:key", "an absolute path"), ("/data/:key", "a normalised path"), ("/a/../b:key", "a normalised path"),
        ("/:key", "the root directory"), ("/cloister/run:key", "a path under /cloister"), ("/proc/x:key", "a path under /proc"),
        ("/data:", "the key name ''"), ("/data:a/b", "the key name 'a/b'"), ("/data:\(String(repeating: "k", count: 65))", "1 to 64"),
    ])
    func badMountsAreRefusedByName(text: String, named: String) {
        let error = #expect(throws: ConversionError.self) { try EncryptedMount(parsing: text) }
        #expect(error?.kind == .unusableInput)
        #expect(error?.description.contains(named) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("--encrypted-mount /data:datakey") == true)
    }

    @Test func overlappingMountsAreRefusedAndCoveredFilesAreTheMounts() throws {
        let data = try EncryptedMount(parsing: "/data:a")
        let nested = try EncryptedMount(parsing: "/data/inner:b")
        let error = #expect(throws: ConversionError.self) { try EncryptedMount.checkDistinct([data, nested]) }
        #expect(error?.found.contains("overlaps --encrypted-mount /data") == true)
        #expect(throws: ConversionError.self) { try EncryptedMount.checkDistinct([data, try EncryptedMount(parsing: "/data:c")]) }
        try EncryptedMount.checkDistinct([data, try EncryptedMount(parsing: "/database:c")])
        #expect(data.covers("/data/model.bin") && !data.covers("/database/x") && !data.covers("/data"))
    }
}
