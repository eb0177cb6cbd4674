import Foundation
import Testing

@testable import Tar

@Suite struct CompressionTests {
    static let sample: [UInt8] = (0..<200_000).map { UInt8(truncatingIfNeeded: ($0 / 7) &* 13) }

    @Test func gzipRoundTripsWithTheGzipTool() throws {
        for level in [1, 6, 9] {
            let compressed = try gzip(Self.sample, level: level)
            #expect(try run("gzip", ["-dc"], input: compressed) == Self.sample)
        }
        let fromTool = try run("gzip", ["-c", "-9"], input: Self.sample)
        for chunkSize in [1, 7, 512, 100_000] {
            #expect(try decompress(fromTool, chunkSize: chunkSize) == Self.sample)
        }
    }

    @Test func detectsCompressionFromMagicBytes() {
        #expect(LayerCompression.detect([0x1F, 0x8B, 8]) == .gzip)
        #expect(LayerCompression.detect([0x1F]) == nil)
        #expect(LayerCompression.detect([0x28, 0xB5, 0x2F, 0xFD, 0]) == .zstd)
        #expect(LayerCompression.detect(bytes("BZh9")) == .bzip2)
        #expect(LayerCompression.detect(bytes("etc/passwd")) == .uncompressed)
        #expect(LayerCompression.detect(bytes("e")) == .uncompressed)
    }

    @Test func uncompressedTarPassesThrough() throws {
        let archive = try writeArchive([(.regularFile("a", size: 1), bytes("x"))])
        for chunkSize in [1, 3, 1000] {
            #expect(try decompress(archive, chunkSize: chunkSize) == archive)
        }
    }

    @Test func refusesZstdByName() throws {
        let zstdFrame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x24, 0x04, 0x21, 0x00, 0x00]
        let error = tarError { () throws(TarError) in _ = try decompress(zstdFrame, chunkSize: 1) }
        #expect(error?.kind == .unsupportedCompression)
        #expect(error?.problem.contains("zstd") == true)
        #expect(error?.hint.contains("skopeo copy --dest-compress-format gzip") == true)
    }

    @Test func truncatedGzipIsAnError() throws {
        let compressed = try gzip(Self.sample)
        for cut in [1, 5, 10, compressed.count / 2, compressed.count - 4, compressed.count - 1] {
            let error = tarError { () throws(TarError) in _ = try decompress(Array(compressed[..<cut]), chunkSize: 999) }
            if cut < 2 {
                // Too short to be recognised as gzip: passed on as tar, which the tar reader finds truncated.
                #expect(error == nil)
            } else {
                #expect(error?.kind == .truncatedCompressedData, "cut at \(cut)")
                #expect(error?.offset == UInt64(cut), "cut at \(cut)")
            }
        }
    }

    @Test func corruptGzipIsAnError() throws {
        var compressed = try gzip(Self.sample)
        compressed[compressed.count - 6] ^= 0xFF  // inside the CRC-32
        let error = tarError { () throws(TarError) in _ = try decompress(compressed) }
        #expect(error?.kind == .corruptCompressedData)
    }

    @Test func readsConcatenatedMembersAndRefusesTrailingGarbage() throws {
        let first = try gzip(Array(Self.sample[..<1000]))
        let second = try gzip(Array(Self.sample[1000...]))
        for chunkSize in [1, 50, 1 << 20] {
            #expect(try decompress(first + second, chunkSize: chunkSize) == Self.sample)
        }
        let error = tarError { () throws(TarError) in _ = try decompress(first + bytes("garbage!")) }
        #expect(error?.kind == .corruptCompressedData)
        #expect(error?.problem.contains("after the end of a gzip member") == true)
    }

    @Test func refusesLevelsOutOfRange() {
        let error = tarError { () throws(TarError) in _ = try GzipCompressor(level: 12) }
        #expect(error?.kind == .valueOutOfRange)
        #expect(error?.found == "12")
    }

    @Test func layerReaderReadsGzippedTarFromGNUTar() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try Data("root:x:0:0::/root:/bin/sh\n".utf8).write(to: directory.appendingPathComponent("etc/passwd"))
        let layer = try run("tar", ["-czf", "-", "etc"], in: directory)
        var reader = LayerReader()
        var paths: [String] = []
        func handle(_ event: TarEvent) throws(TarError) { if case .entry(let entry, _) = event { paths.append(entry.path) } }
        for start in stride(from: 0, to: layer.count, by: 37) {
            try reader.consume(layer[start..<min(start + 37, layer.count)], handle)
        }
        try reader.finish(handle)
        #expect(paths == ["etc/", "etc/passwd"])
        #expect(reader.compression == .gzip)
    }
}
