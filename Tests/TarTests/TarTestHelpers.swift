import Foundation
import Tar
import TestSupport

struct CommandFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs a tool from PATH, feeding `input` on standard input, and returns its standard output; a nonzero exit fails.
@discardableResult
func run(_ tool: String, _ arguments: [String], in directory: URL? = nil, input: [UInt8] = []) throws -> [UInt8] {
    let outcome = try ProgramRunner.run(tool, arguments, workingDirectory: directory?.path, standardInput: Data(input))
    guard outcome.exitCode == 0 else {
        throw CommandFailure(description: "\(tool) \(arguments) exited \(outcome.exitCode): \(outcome.standardError)")
    }
    return [UInt8](outcome.standardOutputBytes)
}

func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tar-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// An entry as read back, with its whole content (tests only use small archives this way).
struct ReadEntry: Equatable {
    var entry: TarEntry
    var offset: UInt64
    var content: [UInt8]
}

/// Reads a whole archive, fed in chunks whose sizes cycle through `chunkSizes`.
func readArchive(_ bytes: [UInt8], chunkSizes: [Int] = [65_536]) throws(TarError) -> [ReadEntry] {
    var reader = TarReader()
    var entries: [ReadEntry] = []
    var ended = false
    func handle(_ event: TarEvent) {
        switch event {
        case .entry(let entry, let offset): entries.append(ReadEntry(entry: entry, offset: offset, content: []))
        case .content(let piece): entries[entries.count - 1].content.append(contentsOf: piece)
        case .entryEnd: break
        case .archiveEnd: ended = true
        }
    }
    var position = 0
    var turn = 0
    while position < bytes.count {
        let size = min(max(chunkSizes[turn % chunkSizes.count], 1), bytes.count - position)
        try reader.consume(bytes[position..<(position + size)]) { event throws(TarError) in handle(event) }
        position += size
        turn += 1
    }
    try reader.finish { event throws(TarError) in handle(event) }
    precondition(ended)
    return entries
}

/// Writes an archive of header-only entries and files with the given content.
func writeArchive(_ entries: [(TarEntry, [UInt8])]) throws(TarError) -> [UInt8] {
    var writer = TarWriter()
    var output: [UInt8] = []
    func collect(_ bytes: UnsafeRawBufferPointer) throws(TarError) { output.append(contentsOf: bytes) }
    for (entry, content) in entries {
        try writer.beginEntry(entry, to: collect)
        try writer.writeContent(content, to: collect)
        try writer.endEntry(to: collect)
    }
    try writer.finish(to: collect)
    return output
}

func gzip(_ bytes: [UInt8], level: Int = 1, chunkSize: Int = 10_000) throws(TarError) -> [UInt8] {
    var compressor = try GzipCompressor(level: level)
    var output: [UInt8] = []
    var position = 0
    while position < bytes.count {
        let end = min(position + chunkSize, bytes.count)
        try compressor.compress(bytes[position..<end]) { piece throws(TarError) in output.append(contentsOf: piece) }
        position = end
    }
    try compressor.finish { piece throws(TarError) in output.append(contentsOf: piece) }
    return output
}

func decompress(_ bytes: [UInt8], chunkSize: Int = 4096) throws(TarError) -> [UInt8] {
    var decompressor = LayerDecompressor()
    var output: [UInt8] = []
    var position = 0
    while position < bytes.count {
        let end = min(position + chunkSize, bytes.count)
        try decompressor.consume(bytes[position..<end]) { piece throws(TarError) in output.append(contentsOf: piece) }
        position = end
    }
    try decompressor.finish { piece throws(TarError) in output.append(contentsOf: piece) }
    return output
}

/// Catches the typed error of `body`, for `#expect` on its kind.
func tarError(_ body: () throws(TarError) -> Void) -> TarError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
