import Foundation
import Testing

@testable import Tar

@Suite struct TarWriterTests {
    static let longPath = (0..<7).map { "segment\($0)-" + String(repeating: "a", count: 40) }.joined(separator: "/")
    static let entries: [(TarEntry, [UInt8])] = [
        (.directory("usr", mode: 0o755, uid: 0, gid: 0, modificationTime: 1_700_000_000), []),
        (.directory("usr/lib"), []),
        (
            .regularFile("usr/lib/os-release", size: 12, mode: 0o644, uid: 1000, gid: 1000, modificationTime: 1_700_000_000),
            bytes("ID=cloister\n")
        ),
        (.regularFile("usr/" + String(repeating: "m", count: 150), size: 3), bytes("mid")),
        (.regularFile("usr/" + longPath, size: 4, mode: 0o600), bytes("long")),
        (.regularFile("usr/gr\u{FC}\u{DF}e-\u{65E5}\u{672C}", size: 2), bytes("hi")),
        (.symbolicLink("usr/short-link", target: "lib/os-release"), []),
        (.symbolicLink("usr/long-link", target: "/usr/" + longPath), []),
        (.hardLink("usr/hard", target: "usr/lib/os-release"), []),
        (
            TarEntry(
                path: "usr/owned", kind: .regularFile, size: 0, mode: 0o4755, uid: 3_000_000, gid: 7,
                userName: String(repeating: "u", count: 40), groupName: "wheel"), []
        ),
    ]

    @Test func gnuTarListsAndExtractsWhatIsWritten() throws {
        let archive = try writeArchive(Self.entries)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let listing = String(decoding: try run("tar", ["-tf", "-"], input: archive), as: UTF8.self)
        let names = listing.split(separator: "\n").map(String.init)
        #expect(names == Self.entries.map { $0.0.kind == .directory ? $0.0.path + "/" : $0.0.path })

        try run("tar", ["-xf", "-", "-C", directory.path], input: archive)
        for (entry, content) in Self.entries where entry.kind == .regularFile {
            let data = try Data(contentsOf: directory.appendingPathComponent(entry.path))
            #expect([UInt8](data) == content, "\(entry.path)")
        }
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: directory.appendingPathComponent("usr/long-link").path)
        #expect(link == "/usr/" + Self.longPath)
        let hard = try Data(contentsOf: directory.appendingPathComponent("usr/hard"))
        #expect([UInt8](hard) == bytes("ID=cloister\n"))

        let verbose = String(decoding: try run("tar", ["--numeric-owner", "-tvf", "-"], input: archive), as: UTF8.self)
        #expect(verbose.contains("3000000/7"))
        #expect(verbose.contains("-rwsr-xr-x"))
    }

    @Test func readsBackWhatItWrites() throws {
        let archive = try writeArchive(Self.entries)
        let read = try readArchive(archive, chunkSizes: [97])
        #expect(read.count == Self.entries.count)
        for (readEntry, (written, content)) in zip(read, Self.entries) {
            let expectedPath = written.kind == .directory ? written.path + "/" : written.path
            #expect(readEntry.entry.path == expectedPath)
            #expect(readEntry.entry.kind == written.kind)
            #expect(readEntry.entry.uid == written.uid)
            #expect(readEntry.entry.userName == written.userName)
            #expect(readEntry.entry.linkTarget == written.linkTarget)
            #expect(readEntry.entry.mode == written.mode)
            #expect(readEntry.content == content)
        }
    }

    @Test func outputIsDeterministic() throws {
        #expect(try writeArchive(Self.entries) == writeArchive(Self.entries))
    }

    @Test func sizesOf8GiBAndMoreGoToPAX() throws {
        let size: UInt64 = (8 << 30) + 1
        var writer = TarWriter()
        var output: [UInt8] = []
        try writer.beginEntry(.regularFile("huge", size: size)) { bytes throws(TarError) in output.append(contentsOf: bytes) }
        var reader = TarReader()
        var entry: TarEntry?
        try reader.consume(output) { event throws(TarError) in if case .entry(let read, _) = event { entry = read } }
        #expect(entry?.size == size)
        #expect(entry?.paxRecords["size"] == String(size))
        // GNU tar agrees: it lists the header before failing on the missing content.
        let listing = try run("sh", ["-c", "tar -tvf - 2>/dev/null; true"], input: output)
        #expect(String(decoding: listing, as: UTF8.self).contains(String(size)))
    }

    @Test func writesFilesFromDescriptors() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("data")
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(content).write(to: url)
        let descriptor = open(url.path, O_RDONLY)
        defer { close(descriptor) }
        var writer = TarWriter()
        var output: [UInt8] = []
        func collect(_ bytes: UnsafeRawBufferPointer) throws(TarError) { output.append(contentsOf: bytes) }
        try writer.writeFile(.regularFile("data", size: UInt64(content.count)), from: descriptor, chunkSize: 4096, to: collect)
        try writer.finish(to: collect)
        #expect(try readArchive(output).first?.content == content)

        lseek(descriptor, 0, SEEK_SET)
        var tooLong = TarWriter()
        let error = tarError { () throws(TarError) in
            try tooLong.writeFile(.regularFile("data", size: UInt64(content.count) + 1), from: descriptor, to: collect)
        }
        #expect(error?.kind == .contentSizeMismatch)
        #expect(error?.found == "\(content.count) bytes")
    }

    @Test func refusesContentThatDoesNotMatchTheSize() throws {
        var writer = TarWriter()
        func discard(_: UnsafeRawBufferPointer) throws(TarError) {}
        try writer.beginEntry(.regularFile("f", size: 3), to: discard)
        let tooMuch = tarError { () throws(TarError) in try writer.writeContent(bytes("abcd"), to: discard) }
        #expect(tooMuch?.kind == .contentSizeMismatch)
        try writer.writeContent(bytes("ab"), to: discard)
        let early = tarError { () throws(TarError) in try writer.endEntry(to: discard) }
        #expect(early?.kind == .contentSizeMismatch)
        #expect(early?.expected == "3 bytes")
        let nested = tarError { () throws(TarError) in try writer.beginEntry(.directory("d"), to: discard) }
        #expect(nested?.kind == .writerMisuse)
    }
}
