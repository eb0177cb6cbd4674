import Foundation
import TestSupport
import Testing

@testable import Tar

@Suite struct TarReaderTests {
    static let longName = String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 90)  // > 100, fits ustar prefix
    static let veryLongName = (0..<6).map { _ in String(repeating: "n", count: 50) }.joined(separator: "/") + "/file"  // > 255

    /// A tree with every kind GNU tar stores in a layer: long names, a symlink with a long target, a hard link, a FIFO.
    static func makeTree(includingVeryLongNames: Bool) throws -> URL {
        let root = try makeTemporaryDirectory()
        let tree = root.appendingPathComponent("tree")
        let manager = FileManager.default
        var files = ["plain.txt": "hello\n", longName: String(repeating: "x", count: 1000)]
        if includingVeryLongNames { files[veryLongName] = "deep" }
        for (path, content) in files {
            let url = tree.appendingPathComponent(path)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        try manager.createSymbolicLink(atPath: tree.appendingPathComponent("link").path, withDestinationPath: "plain.txt")
        // ustar holds at most 100 bytes of link target: exactly 100 fill the field without a NUL.
        let longTarget = includingVeryLongNames ? veryLongName : String(repeating: "t", count: 100)
        try manager.createSymbolicLink(atPath: tree.appendingPathComponent("longlink").path, withDestinationPath: longTarget)
        try manager.linkItem(atPath: tree.appendingPathComponent("plain.txt").path, toPath: tree.appendingPathComponent("hard").path)
        #expect(mkfifo(tree.appendingPathComponent("pipe").path, 0o644) == 0)
        return root
    }

    @Test(arguments: ["gnu", "pax", "ustar"])
    func readsWhatGNUTarWrites(format: String) throws {
        let root = try Self.makeTree(includingVeryLongNames: format != "ustar")
        defer { try? FileManager.default.removeItem(at: root) }
        let archive = try run("tar", ["--format=\(format)", "--sort=name", "-cf", "-", "tree"], in: root)
        let entries = try readArchive(archive)
        let byPath = Dictionary(entries.map { ($0.entry.path, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byPath["tree/"]?.entry.kind == .directory)
        // GNU tar stores the first name it meets as the file and the other as a link to it.
        let linked = [byPath["tree/hard"], byPath["tree/plain.txt"]].compactMap { $0 }
        #expect(linked.filter { $0.entry.kind == .regularFile }.map(\.content) == [bytes("hello\n")])
        #expect(byPath["tree/\(Self.longName)"]?.content == [UInt8](repeating: UInt8(ascii: "x"), count: 1000))
        #expect(byPath["tree/link"]?.entry.kind == .symbolicLink)
        #expect(byPath["tree/link"]?.entry.linkTarget == "plain.txt")
        #expect(byPath["tree/longlink"]?.entry.linkTarget == (format == "ustar" ? String(repeating: "t", count: 100) : Self.veryLongName))
        let hardLinks = entries.filter { $0.entry.kind == .hardLink }
        #expect(hardLinks.count == 1)
        #expect(["tree/hard", "tree/plain.txt"].contains(hardLinks.first?.entry.linkTarget ?? ""))
        #expect(byPath["tree/pipe"]?.entry.kind == .fifo)
        if format != "ustar" { #expect(byPath["tree/\(Self.veryLongName)"]?.content == bytes("deep")) }
    }

    @Test func chunkBoundariesDoNotChangeWhatIsRead() throws {
        let root = try Self.makeTree(includingVeryLongNames: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let archive = try run("tar", ["--format=pax", "--sort=name", "-cf", "-", "tree"], in: root)
        let expected = try readArchive(archive)
        #expect(expected.count >= 8)
        for sizes in [[1], [7], [512], [511, 513], [100_000]] {
            #expect(try readArchive(archive, chunkSizes: sizes) == expected)
        }
        var generator = SeededGenerator(seed: 0x5EED)
        for _ in 0..<20 {
            let sizes = (0..<50).map { _ in Int.random(in: 1...2000, using: &generator) }
            #expect(try readArchive(archive, chunkSizes: sizes) == expected)
        }
    }

    @Test func readsHeadersOfFilesOver8GiBFromGNUTar() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let size: UInt64 = 9 << 30
        let descriptor = open(root.appendingPathComponent("huge").path, O_CREAT | O_WRONLY, 0o644)
        #expect(ftruncate(descriptor, off_t(size)) == 0)
        close(descriptor)
        for format in ["gnu", "pax"] {
            // Only the start is kept: tar is stopped by the closed pipe after the headers and a little content.
            let script = "tar --format=\(format) -cf - huge 2>/dev/null | head -c 8192"
            let prefix = try run("sh", ["-c", script], in: root)
            var reader = TarReader()
            var found: TarEntry?
            var contentBytes = 0
            try reader.consume(prefix) { event throws(TarError) in
                if case .entry(let entry, _) = event { found = entry }
                if case .content(let piece) = event { contentBytes += piece.count }
            }
            #expect(found?.size == size, "format \(format)")
            let error = tarError { () throws(TarError) in try reader.finish { _ throws(TarError) in } }
            #expect(error?.kind == .truncatedArchive)
            #expect(error?.entry == "huge")
            #expect(error?.found == "\(contentBytes) bytes of content")
        }
    }

    @Test func readsBase256Numbers() throws {
        var header = try TarWriter.headers(for: .regularFile("big", size: 1, modificationTime: 5), size: 1)
        // Size 2^40 and time -1 in GNU's base-256 form.
        let sizeField = TarHeaderBlock.contentSize
        header.replaceSubrange(sizeField.range, with: [0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
        header.replaceSubrange(TarHeaderBlock.modificationTime.range, with: [UInt8](repeating: 0xFF, count: 12))
        TarHeaderBlock.writeChecksum(into: &header)
        var reader = TarReader()
        var entry: TarEntry?
        try reader.consume(header) { event throws(TarError) in if case .entry(let read, _) = event { entry = read } }
        #expect(entry?.size == 1 << 40)
        #expect(entry?.modificationTime == -1)
    }

    @Test func refusesOverflowingBase256() {
        var header = try! TarWriter.headers(for: .regularFile("big", size: 1), size: 1)
        header.replaceSubrange(TarHeaderBlock.contentSize.range, with: [0x80] + [UInt8](repeating: 0xFF, count: 11))
        TarHeaderBlock.writeChecksum(into: &header)
        let error = tarError { () throws(TarError) in _ = try readArchive(header + [UInt8](repeating: 0, count: 1024)) }
        #expect(error?.kind == .badNumericField)
        #expect(error?.entry == "big")
        #expect(error?.offset == 124)
    }

    @Test func acceptsSignedChecksumsAndRefusesWrongOnes() throws {
        var archive = try writeArchive([(.regularFile("caf\u{E9}", size: 0), [])])
        // The PAX header carries the UTF-8 name; the ustar name's high bytes make the two sums differ.
        let ustarHeader = 512 * 2
        archive.replaceSubrange(ustarHeader..<(ustarHeader + 5), with: [0x63, 0x61, 0x66, 0xC3, 0xA9])
        let sums = archive[ustarHeader..<(ustarHeader + 512)].withUnsafeBytes { TarHeaderBlock.checksums(of: $0) }
        #expect(sums.signed != sums.unsigned)
        let signed = String(sums.signed, radix: 8)
        let field = Array((String(repeating: "0", count: 6 - signed.count) + signed).utf8) + [0, 0x20]
        archive.replaceSubrange((ustarHeader + 148)..<(ustarHeader + 156), with: field)
        #expect(try readArchive(archive).first?.entry.path == "caf\u{E9}")

        archive[ustarHeader + 148] = UInt8(ascii: "7")
        let error = tarError { () throws(TarError) in _ = try readArchive(archive) }
        #expect(error?.kind == .badChecksum)
        #expect(error?.offset == UInt64(ustarHeader))
        #expect(error?.description.contains("Hint:") == true)
    }

    @Test func truncationNamesTheEntryAndOffset() throws {
        let archive = try writeArchive([
            (.directory("etc"), []), (.regularFile("etc/passwd", size: 1000), [UInt8](repeating: 1, count: 1000)),
        ])
        let error = tarError { () throws(TarError) in _ = try readArchive(Array(archive[..<1500])) }
        #expect(error?.kind == .truncatedArchive)
        #expect(error?.entry == "etc/passwd")
        #expect(error?.offset == 1500)
        #expect(error?.found == "476 bytes of content")
        for cut in [100, 512 + 100, 1024 + 700 - 512] {
            let error = tarError { () throws(TarError) in _ = try readArchive(Array(archive[..<cut])) }
            #expect(error?.kind == .truncatedArchive, "cut at \(cut)")
        }
        // Input that ends between entries, or in the padding after complete content, ends the archive, with one,
        // two or no zero blocks (umoci writes none, and no padding after its last entry).
        for missing in [0, 512, 1024, 1024 + 24] {
            #expect(try readArchive(Array(archive[..<(archive.count - missing)])).count == 2, "\(missing) bytes of zero blocks missing")
        }
    }

    @Test func refusesNamesThatAreNotUTF8() throws {
        var archive = try writeArchive([(.regularFile("name", size: 0), [])])
        archive[1] = 0xFF
        var header = Array(archive[..<512])
        TarHeaderBlock.writeChecksum(into: &header)
        archive.replaceSubrange(0..<512, with: header)
        let error = tarError { () throws(TarError) in _ = try readArchive(archive) }
        #expect(error?.kind == .invalidName)
        #expect(error?.found == "the bytes 6e ff 6d 65")
    }

    @Test func refusesAHeaderAfterALoneZeroBlock() throws {
        let first = try writeArchive([(.regularFile("a", size: 0), [])])
        let second = try writeArchive([(.regularFile("b", size: 0), [])])
        let archive = Array(first[..<1024]) + Array(second)
        let error = tarError { () throws(TarError) in _ = try readArchive(archive) }
        #expect(error?.kind == .malformedHeader)
        #expect(error?.entry == "b")
    }

    @Test func refusesOversizedMetadata() throws {
        var archive = try writeArchive([(.regularFile(String(repeating: "p/", count: 200) + "f", size: 0), [])])
        #expect(archive[156] == UInt8(ascii: "x"))
        TarHeaderBlock.writeOctal(Int64(TarReader.defaultMetadataLimit + 1), TarHeaderBlock.contentSize, into: &archive)
        var header = Array(archive[..<512])
        TarHeaderBlock.writeChecksum(into: &header)
        archive.replaceSubrange(0..<512, with: header)
        let error = tarError { () throws(TarError) in _ = try readArchive(archive) }
        #expect(error?.kind == .metadataTooLarge)
    }

    @Test func readsV7AndGlobalPAXHeaders() throws {
        var v7 = try TarWriter.headers(for: .regularFile("olddir/", size: 0), size: 0)
        v7.replaceSubrange(TarHeaderBlock.magic.offset..<(TarHeaderBlock.magic.offset + 8), with: [UInt8](repeating: 0, count: 8))
        TarHeaderBlock.writeChecksum(into: &v7)
        var global = try TarWriter.headers(for: .regularFile("g", size: 0), size: 0)
        let records = PAXRecords.encode(["uname": "globaluser", "comment": "kept"])
        global[TarHeaderBlock.typeFlagOffset] = UInt8(ascii: "g")
        TarHeaderBlock.writeOctal(Int64(records.count), TarHeaderBlock.contentSize, into: &global)
        TarHeaderBlock.writeChecksum(into: &global)
        global += records + [UInt8](repeating: 0, count: 512 - records.count)
        let rest = try writeArchive([(.regularFile("after", size: 0), [])])
        let entries = try readArchive(v7 + global + rest)
        #expect(entries.map(\.entry.kind) == [.directory, .regularFile])
        #expect(entries[1].entry.userName == "globaluser")
        #expect(entries[1].entry.paxRecords["comment"] == "kept")
        #expect(entries[1].offset == 1536)
    }

    /// Random corruption must give an error or a result, never a crash (the same property the fuzzer will check).
    @Test func survivesRandomCorruption() throws {
        let archive = try writeArchive([
            (.directory("d"), []), (.regularFile("d/" + String(repeating: "x", count: 300), size: 700), [UInt8](repeating: 7, count: 700)),
            (.symbolicLink("s", target: String(repeating: "t", count: 150)), []),
        ])
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<3000 {
            var mutated = archive
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) {
                // Fix the checksums so that the mutation reaches the field parsers.
                for start in stride(from: 0, to: mutated.count, by: 512) {
                    var block = Array(mutated[start..<(start + 512)])
                    guard block.contains(where: { $0 != 0 }) else { continue }
                    TarHeaderBlock.writeChecksum(into: &block)
                    mutated.replaceSubrange(start..<(start + 512), with: block)
                }
            }
            _ = tarError { () throws(TarError) in _ = try readArchive(mutated, chunkSizes: [333]) }
        }
    }
}
