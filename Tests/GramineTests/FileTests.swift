import Foundation
import Gramine
import Testing

@Suite struct FileTests {
    /// A scratch directory tree, removed at the end of the test.
    struct Tree: ~Copyable {
        let root: String

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("gramine-tests-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }

        func file(_ path: String, _ content: String) throws {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }

        func link(_ path: String, to target: String) throws {
            try FileManager.default.createSymbolicLink(atPath: root + path, withDestinationPath: target)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func directoriesExpandSortedAndSymlinksResolveInsideTheChroot() throws {
        let tree = try Tree()
        try tree.file("/usr/lib/b.so", "b")
        try tree.file("/usr/lib/a.so", "a")
        try tree.file("/usr/lib/sub/c", "c")
        try tree.file("/usr/lib/.hidden", "h")
        try tree.link("/lib", to: "usr/lib")
        try tree.link("/usr/lib/linked-dir", to: "/usr/lib/sub")
        try tree.link("/usr/lib/z-link", to: "/usr/lib/a.so")
        try tree.file("/gramine/libsysdb.so", "libos")
        let manifest = try GramineManifest(
            parsing: Array(#"sgx.trusted_files = ["file:/lib/", "file:/usr/lib/a.so", { uri = "file:/x", sha256 = "00" }]"#.utf8)
        )
        .addingSignerDefaults(entrypointFiles: .chroot(tree.root), defaultLibOSURI: "file:/gramine/libsysdb.so")
        .expandingTrustedFiles(in: .chroot(tree.root))
        let files = try #require(manifest.table[path: ["sgx", "trusted_files"]]?.array).map { $0.table!["uri"]!.string! }
        #expect(
            files == ["file:/usr/lib/.hidden", "file:/usr/lib/a.so", "file:/usr/lib/b.so", "file:/usr/lib/sub/c", "file:/usr/lib/z-link", "file:/x"])
        let sha = manifest.table[path: ["sgx", "trusted_files"]]!.array![4].table!["sha256"]!.string!
        #expect(sha == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")
        #expect(manifest.table[path: ["loader", "entrypoint"]]?.table?.keys == ["uri", "sha256"])
    }

    @Test func missingFilesAndLoopsAreNamed() throws {
        let tree = try Tree()
        try tree.link("/loop", to: "/loop")
        try tree.file("/gramine/libsysdb.so", "libos")
        let defaults = try GramineManifest(parsing: Array(#"sgx.trusted_files = ["file:/missing"]"#.utf8))
            .addingSignerDefaults(entrypointFiles: .chroot(tree.root), defaultLibOSURI: "file:/gramine/libsysdb.so")
        let missing = #expect(throws: GramineManifestError.self) { try defaults.expandingTrustedFiles(in: .chroot(tree.root)) }
        #expect(missing?.found.contains("no readable file") == true)
        let looping = try GramineManifest(parsing: Array(#"sgx.trusted_files = ["file:/loop"]"#.utf8))
            .addingSignerDefaults(entrypointFiles: .chroot(tree.root), defaultLibOSURI: "file:/gramine/libsysdb.so")
        let loop = #expect(throws: GramineManifestError.self) { try looping.expandingTrustedFiles(in: .chroot(tree.root)) }
        #expect(loop?.found.contains("symlink loop") == true)
    }

    @Test func defaultsAreAddedOnlyWhereMissingInGraminesOrder() throws {
        let tree = try Tree()
        try tree.file("/libos", "x")
        let manifest = try GramineManifest(
            parsing: Array("[sgx]\ndebug = true\nedmm_enable = true\n[loader.entrypoint]\nuri = \"file:/libos\"\n".utf8)
        )
        .addingSignerDefaults(entrypointFiles: .chroot(tree.root))
        let sgx = try #require(manifest.table["sgx"]?.table)
        #expect(
            sgx.keys == [
                "debug", "edmm_enable", "trusted_files", "max_threads", "isvprodid", "isvsvn", "remote_attestation", "enable_stats", "enclave_size",
                "use_exinfo", "cpu_features",
            ])
        #expect(sgx["enclave_size"] == .string("1024G"))
        let parameters = try EnclaveParameters(manifest: manifest.table)
        #expect(parameters.size == 1 << 40 && parameters.edmmEnabled && parameters.maxThreads == 4)
    }

    @Test func enclaveSizesParseLikeGramine() throws {
        for (text, size) in [("256M", UInt64(256) << 20), ("0x1000", 0x1000), ("4G", 4 << 30), ("1_024K", 1024 << 10), ("0", 0)] {
            let manifest = try TOMLReader().parse("sgx.enclave_size = \"\(text)\"")
            #expect(try EnclaveParameters(manifest: manifest).size == size)
        }
        for text in ["256m", "012M", "M", "-1G", "99999999999G"] {
            #expect(throws: GramineManifestError.self) { try EnclaveParameters(manifest: TOMLReader().parse("sgx.enclave_size = \"\(text)\"")) }
        }
    }

    @Test func elfDependenciesAreRead() throws {
        let path = "/bin/ls"
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let elf = try ELFFile(bytes: bytes)
        #expect(elf.interpreter?.hasSuffix("ld-linux-x86-64.so.2") == true)
        #expect(elf.dynamic?.needed.contains("libc.so.6") == true)
        let truncated = #expect(throws: ELFError.self) { try ELFFile(bytes: Array(bytes.prefix(200))) }
        #expect(truncated?.field == "program header table")
        #expect(throws: ELFError.self) {
            try ELFFile(bytes: Array("not an elf file at all, not even close to one; really not an ELF header here".utf8))
        }
    }
}
