import FuzzSupport
import Tar

// Feeds the input as a layer blob (gzip or plain tar, as LayerReader detects) into a flattened root filesystem,
// in several chunkings. Errors are fine; traps are not. A reader fed a network body in arbitrary pieces must
// decide the same way whatever the piece sizes, so every chunking must succeed or fail as the one-piece read does,
// with the same tree. Which error comes first may differ: streamed gzip output reaches the tar reader before the
// member's CRC-32 is checked, so corrupt gzip can show as a bad tar header in small chunks.

/// What applying a layer led to: the error, or the tree and what resolving a few paths gave.
struct Outcome: Equatable {
    var error: TarError?
    var entries: [String] = []
    var metadata: [FileMetadata] = []
    var resolved: [String] = []
    var captured: [[UInt8]?] = []
}

func applyLayers(_ blob: UnsafeRawBufferPointer, chunkSize: Int, outputChunkSize: Int) -> Outcome {
    var root = RootFilesystem(capturingContentsOf: ["/etc/passwd", "/a"], captureLimit: 64)
    do throws(TarError) {
        // The same blob twice, so that its whiteouts and hard links also meet the files an earlier layer left.
        for _ in 0..<2 {
            root.beginLayer()
            var reader = LayerReader(outputChunkSize: outputChunkSize)
            var start = 0
            while start < blob.count {
                let end = min(start + chunkSize, blob.count)
                try reader.consume(UnsafeRawBufferPointer(rebasing: blob[start..<end])) { event throws(TarError) in
                    try root.apply(event)
                }
                start = end
            }
            try reader.finish { event throws(TarError) in try root.apply(event) }
            try root.endLayer()
        }
    } catch {
        return Outcome(error: error)
    }
    // `/etc/passwd` and `/bin/sh` are what the converter actually looks up.
    let probePaths = ["/", "/etc/passwd", "/bin/sh", "usr/bin/../lib/./x", "/a/b/c", "//a//"]
    var outcome = Outcome()
    let entries = root.allEntries()
    outcome.entries = entries.map(\.path)
    outcome.metadata = entries.map(\.metadata)
    // The first few entries too, so that resolution meets the links and directories the input made.
    for path in probePaths + entries.prefix(8).map(\.path) {
        outcome.resolved.append((try? root.resolve(path).path) ?? "(unresolved)")
        outcome.captured.append(root.capturedContent(at: path))
    }
    _ = root.regularFiles()
    return outcome
}

runFuzzer(seeds: []) { data, size in
    let blob = fuzzInput(data, size)
    let whole = applyLayers(blob, chunkSize: max(blob.count, 1), outputChunkSize: LayerDecompressor.defaultOutputChunkSize)
    // Odd sizes split headers, PAX records and gzip members at every kind of boundary; a byte at a time only for
    // small inputs, to keep the run fast.
    var chunkSizes = [7, 513]
    if blob.count <= 2048 { chunkSizes.append(1) }
    for chunkSize in chunkSizes {
        let chunked = applyLayers(blob, chunkSize: chunkSize, outputChunkSize: 1000)
        let agree = (chunked.error != nil && whole.error != nil) || chunked == whole
        if !agree { fatalError("chunks of \(chunkSize) bytes gave \(chunked), one chunk gave \(whole)") }
    }
    return 0
}
