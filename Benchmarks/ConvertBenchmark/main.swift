import Foundation
import Tar

// Trusted-file hashing, as `cloister convert` does it, against `sha256sum` over the same files: the layer's tar is read
// through the flattened root filesystem (every regular file's SHA-256 computed as it streams) and, in the same run,
// sha256sum hashes the same files unpacked in a directory. Prints both rates and their ratio.
//
// Usage: convert-benchmark UNPACKED-DIRECTORY ROUNDS LAYER.tar...

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func scan(_ layers: [String]) throws -> (files: Int, bytes: UInt64) {
    var root = RootFilesystem()
    for path in layers {
        root.beginLayer()
        var reader = LayerReader()
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? file.close() }
        while let chunk = try file.read(upToCount: 1 << 20), !chunk.isEmpty {
            try reader.consume(chunk) { event throws(TarError) in try root.apply(event) }
        }
        try reader.finish { event throws(TarError) in try root.apply(event) }
        try root.endLayer()
    }
    let files = root.regularFiles()
    return (files.count, files.reduce(0) { $0 + $1.metadata.size })
}

func sha256sum(_ directory: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "cd \"$1\" && find . -type f -print0 | xargs -0 sha256sum > /dev/null", "sh", directory]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let rounds = Int(arguments[2]), rounds > 0 else {
    FileHandle.standardError.write(Data("usage: convert-benchmark UNPACKED-DIRECTORY ROUNDS LAYER.tar...\n".utf8))
    exit(2)
}
var ours: [Double] = []
var theirs: [Double] = []
var content: UInt64 = 0
var fileCount = 0
for _ in 0..<rounds {
    // Alternating, so that both see the same page cache and machine load.
    var result = (files: 0, bytes: UInt64(0))
    ours.append(try seconds { result = try scan(Array(arguments.dropFirst(3))) })
    theirs.append(try seconds { try sha256sum(arguments[1]) })
    (fileCount, content) = result
}
let median = { (values: [Double]) in values.sorted()[values.count / 2] }
let megabytes = Double(content) / 1e6
print(
    String(
        format: "RESULT cloister-hashing files=%d content_mb=%.0f median_s=%.3f rate_mb_s=%.0f", fileCount, megabytes, median(ours),
        megabytes / median(ours)))
print(
    String(
        format: "RESULT sha256sum files=%d content_mb=%.0f median_s=%.3f rate_mb_s=%.0f", fileCount, megabytes, median(theirs),
        megabytes / median(theirs)))
print(String(format: "RATIO hashing cloister/sha256sum rate=%.2f (goal >= 0.95)", median(theirs) / median(ours)))
