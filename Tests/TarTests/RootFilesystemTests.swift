import Crypto
import Foundation
import TestSupport
import Testing

@testable import Tar

@Suite struct RootFilesystemTests {
    /// Applies layers given as entries with content, each written as a tar and read back through the streaming path.
    static func flatten(
        _ layers: [[(TarEntry, [UInt8])]], capturing: Set<String> = [], gzipped: Bool = false
    ) throws(TarError) -> RootFilesystem {
        var root = RootFilesystem(capturingContentsOf: capturing, captureLimit: 64)
        for layer in layers {
            let tar = try writeArchive(layer)
            let blob = gzipped ? try gzip(tar) : tar
            root.beginLayer()
            var reader = LayerReader()
            for start in stride(from: 0, to: blob.count, by: 300) {
                try reader.consume(blob[start..<min(start + 300, blob.count)]) { event throws(TarError) in try root.apply(event) }
            }
            try reader.finish { event throws(TarError) in try root.apply(event) }
            try root.endLayer()
        }
        return root
    }

    static func file(_ path: String, _ content: String, mode: UInt32 = 0o644) -> (TarEntry, [UInt8]) {
        (.regularFile(path, size: UInt64(content.utf8.count), mode: mode), bytes(content))
    }

    static func directory(_ path: String) -> (TarEntry, [UInt8]) { (.directory(path), []) }
    static func symlink(_ path: String, _ target: String) -> (TarEntry, [UInt8]) { (.symbolicLink(path, target: target), []) }

    @Test func normalizesPaths() throws {
        #expect(try RootFilesystem.normalize("./a/b") == "/a/b")
        #expect(try RootFilesystem.normalize("a/b/") == "/a/b")
        #expect(try RootFilesystem.normalize("/a//./b") == "/a/b")
        #expect(try RootFilesystem.normalize("./") == "/")
        for escaping in ["../x", "a/../../x", "a/.."] {
            let error = tarError { () throws(TarError) in _ = try RootFilesystem.normalize(escaping) }
            #expect(error?.kind == .escapesRoot, "\(escaping)")
        }
    }

    @Test func laterLayersReplaceAndWhiteoutsHide() throws {
        let root = try Self.flatten([
            [
                Self.directory("etc"), Self.file("etc/a", "one"), Self.file("etc/b", "bee"), Self.directory("etc/sub"),
                Self.file("etc/sub/deep", "deep"), Self.directory("var"), Self.file("var/keep", "k"),
            ],
            [Self.file("./etc/a", "two"), (.regularFile("etc/.wh.b", size: 0), []), (.regularFile("etc/.wh.sub", size: 0), [])],
        ])
        #expect(root.entry(at: "/etc/a")?.contentDigest == SHA256.hash(data: bytes("two")))
        #expect(root.entry(at: "/etc/a")?.size == 3)
        #expect(root.entry(at: "/etc/b") == nil)
        #expect(root.entry(at: "/etc/sub") == nil)
        #expect(root.entry(at: "/etc/sub/deep") == nil)
        #expect(root.entry(at: "/etc/.wh.b") == nil)
        #expect(root.regularFiles().map(\.path) == ["/etc/a", "/var/keep"])
    }

    @Test func opaqueDirectoriesClearOnlyLowerLayers() throws {
        let root = try Self.flatten([
            [Self.directory("app"), Self.file("app/old", "o"), Self.directory("app/dir"), Self.file("app/dir/x", "x")],
            // The marker after a same-layer file: order inside the layer must not matter.
            [
                Self.directory("app"), Self.file("app/new", "n"), (.regularFile("app/.wh..wh..opq", size: 0), []),
                Self.directory("app/dir"), Self.file("app/dir/y", "y"),
            ],
        ])
        #expect(root.regularFiles().map(\.path) == ["/app/dir/y", "/app/new"])
    }

    @Test func whiteoutsDoNotHideTheirOwnLayer() throws {
        let root = try Self.flatten([
            [Self.file("f", "lower")],
            [Self.file("f", "same layer"), (.regularFile(".wh.f", size: 0), [])],
        ])
        #expect(root.entry(at: "/f")?.size == 10)
    }

    @Test func replacingADirectoryWithAFileDropsItsChildren() throws {
        let root = try Self.flatten([
            [Self.directory("x"), Self.file("x/child", "c")],
            [Self.file("x", "now a file")],
            [Self.directory("x")],
        ])
        #expect(root.entry(at: "/x")?.kind == .directory)
        #expect(root.entry(at: "/x/child") == nil)
    }

    @Test func hardLinksTakeTheirTargetsContent() throws {
        let root = try Self.flatten(
            [
                [Self.directory("etc"), Self.file("etc/passwd", "root:x:0:0\n", mode: 0o600)],
                [(.hardLink("etc/passwd-", target: "etc/passwd"), []), Self.file("etc/passwd", "replaced\n")],
            ], capturing: ["/etc/passwd", "etc/passwd-"])
        #expect(root.entry(at: "/etc/passwd-")?.contentDigest == SHA256.hash(data: bytes("root:x:0:0\n")))
        #expect(root.entry(at: "/etc/passwd-")?.mode == 0o600)
        #expect(root.capturedContent(at: "/etc/passwd-") == bytes("root:x:0:0\n"))
        #expect(root.capturedContent(at: "/etc/passwd") == bytes("replaced\n"))

        let missing = tarError { () throws(TarError) in
            _ = try Self.flatten([[(.hardLink("a", target: "nowhere"), [])]])
        }
        #expect(missing?.kind == .missingHardLinkTarget)
        #expect(missing?.entry == "a")
        let escaping = tarError { () throws(TarError) in
            _ = try Self.flatten([[Self.file("x", "x"), (.hardLink("a", target: "../x"), [])]])
        }
        #expect(escaping?.kind == .escapesRoot)
        #expect(escaping?.entry == "a")
    }

    @Test func refusesNamesThatEscape() throws {
        for name in ["../x", "a/../../x", "./a/../b"] {
            let error = tarError { () throws(TarError) in _ = try Self.flatten([[Self.file(name, "evil")]]) }
            #expect(error?.kind == .escapesRoot, "\(name)")
            #expect(error?.entry == name)
            #expect(error?.offset == 0)
        }
    }

    @Test func resolvesSymbolicLinksInsideTheRoot() throws {
        let root = try Self.flatten([
            [
                Self.directory("usr"), Self.directory("usr/bin"), Self.file("usr/bin/python3.12", "#!elf", mode: 0o755),
                Self.symlink("usr/bin/python3", "python3.12"), Self.symlink("bin", "usr/bin"),
                Self.directory("etc"), Self.symlink("etc/alternatives", "/usr/bin"), Self.symlink("etc/python", "alternatives/python3"),
                Self.symlink("etc/x", "../../../../outside"), Self.symlink("loop1", "loop2"), Self.symlink("loop2", "loop1"),
                Self.symlink("etc/dangling", "missing"),
            ],
            // Entries under a linked directory land where it points, as Docker and containerd extract them.
            [Self.file("bin/tool", "t")],
        ])
        let python = try root.resolve("/bin/python3")
        #expect(python.path == "/usr/bin/python3.12")
        #expect(python.metadata.mode == 0o755)
        #expect(try root.resolve("etc/python").path == "/usr/bin/python3.12")
        #expect(try root.resolve("/usr/bin/../bin/python3").path == "/usr/bin/python3.12")
        #expect(try root.resolve("/bin/tool").path == "/usr/bin/tool")
        #expect(root.entry(at: "/usr/bin/tool")?.kind == .regularFile)
        #expect(root.entry(at: "/bin")?.kind == .symbolicLink)

        let escape = tarError { () throws(TarError) in _ = try root.resolve("/etc/x") }
        #expect(escape?.kind == .escapesRoot)
        #expect(escape?.entry == "/etc/x")
        #expect(escape?.found == "symbolic link /etc/x -> ../../../../outside")
        let loop = tarError { () throws(TarError) in _ = try root.resolve("/loop1") }
        #expect(loop?.kind == .tooManySymbolicLinks)
        let dangling = tarError { () throws(TarError) in _ = try root.resolve("/etc/dangling") }
        #expect(dangling?.kind == .notFound)
        let throughFile = tarError { () throws(TarError) in _ = try root.resolve("/usr/bin/python3/x") }
        #expect(throughFile?.kind == .notADirectory)
    }

    @Test func refusesEntriesUnderALinkThatEscapes() throws {
        let error = tarError { () throws(TarError) in
            _ = try Self.flatten([[Self.directory("etc"), Self.symlink("etc/x", "../../../../outside")], [Self.file("etc/x/evil", "e")]])
        }
        #expect(error?.kind == .escapesRoot)
        #expect(error?.found == "symbolic link /etc/x -> ../../../../outside")
    }

    @Test func refusesEntryTypesLayersDoNotUse() {
        let error = tarError { () throws(TarError) in
            _ = try Self.flatten([[(TarEntry(path: "sparse", kind: .other(typeFlag: UInt8(ascii: "S")), size: 1, mode: 0o644), bytes("s"))]])
        }
        #expect(error?.kind == .unsupportedEntryType)
        #expect(error?.found == "type flag \"S\"")
    }

    @Test func capturesOnlySmallRequestedFiles() throws {
        let big = String(repeating: "g", count: 65)
        let root = try Self.flatten(
            [[Self.directory("etc"), Self.file("etc/passwd", "root:x:0:0\n"), Self.file("etc/group", big), Self.file("etc/other", "o")]],
            capturing: ["/etc/passwd", "/etc/group"], gzipped: true)
        #expect(root.capturedContent(at: "/etc/passwd") == bytes("root:x:0:0\n"))
        #expect(root.capturedContent(at: "/etc/group") == nil)
        #expect(root.capturedContent(at: "/etc/other") == nil)
        #expect(root.entry(at: "/etc/group")?.size == 65)
    }

    @Test func flattensLayersWrittenByGNUTar() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manager = FileManager.default
        let lower = directory.appendingPathComponent("lower")
        let upper = directory.appendingPathComponent("upper")
        try manager.createDirectory(at: lower.appendingPathComponent("usr/bin"), withIntermediateDirectories: true)
        try Data("binary".utf8).write(to: lower.appendingPathComponent("usr/bin/sh"))
        try manager.createSymbolicLink(atPath: lower.appendingPathComponent("bin").path, withDestinationPath: "usr/bin")
        try Data("gone".utf8).write(to: lower.appendingPathComponent("usr/bin/old"))
        try manager.createDirectory(at: upper.appendingPathComponent("usr/bin"), withIntermediateDirectories: true)
        try Data().write(to: upper.appendingPathComponent("usr/bin/.wh.old"))
        var root = RootFilesystem()
        for layer in [lower, upper] {
            let blob = try run("tar", ["--format=gnu", "-czf", "-", "-C", layer.path, "."])
            root.beginLayer()
            var reader = LayerReader()
            try reader.consume(blob) { event throws(TarError) in try root.apply(event) }
            try reader.finish { event throws(TarError) in try root.apply(event) }
            try root.endLayer()
        }
        #expect(try root.resolve("/bin/sh").metadata.contentDigest == SHA256.hash(data: bytes("binary")))
        #expect(root.regularFiles().map(\.path) == ["/usr/bin/sh"])
    }

    /// 200 MB streamed through gzip, the tar reader and hashing must not be held in memory.
    @Test func streamsLargeFilesWithBoundedMemory() throws {
        let size = 200 << 20
        let startRSS = maximumResidentBytes()
        var writer = TarWriter()
        var compressor = try GzipCompressor(level: 1)
        var reader = LayerReader()
        var root = RootFilesystem()
        var expectedHash = SHA256()
        root.beginLayer()

        func feed(_ compressed: UnsafeRawBufferPointer) throws(TarError) {
            try reader.consume(compressed) { event throws(TarError) in try root.apply(event) }
        }
        func emit(_ tar: UnsafeRawBufferPointer) throws(TarError) { try compressor.compress(tar, feed) }

        try writer.beginEntry(.regularFile("big.bin", size: UInt64(size)), to: emit)
        var generator = SeededGenerator(seed: 7)
        var block = [UInt64](repeating: 0, count: 1 << 17)  // 1 MiB
        for _ in 0..<(size >> 20) {
            for index in block.indices { block[index] = index % 8 == 0 ? generator.next() : UInt64(index) }
            try block.withUnsafeBytes { buffer in
                expectedHash.update(bufferPointer: buffer)
                return Result { () throws(TarError) in try writer.writeContent(buffer, to: emit) }
            }.get()
        }
        try writer.endEntry(to: emit)
        try writer.finish(to: emit)
        try compressor.finish(feed)
        try reader.finish { event throws(TarError) in try root.apply(event) }
        try root.endLayer()

        #expect(root.entry(at: "/big.bin")?.size == UInt64(size))
        #expect(root.entry(at: "/big.bin")?.contentDigest == expectedHash.finalize())
        let growth = maximumResidentBytes() - startRSS
        // Loose: other tests run alongside; holding the file would add at least 200 MB.
        #expect(growth < 100 << 20, "peak resident memory grew by \(growth >> 20) MiB")
    }

    private func maximumResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
