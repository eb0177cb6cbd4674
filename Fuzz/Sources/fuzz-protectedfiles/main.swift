import FuzzSupport
import ProtectedFiles

// Encrypted files come from the host, which may hand the launcher or `cloister fs` any bytes. The reader must refuse
// or decrypt, never trap, hang or hand out plaintext that was not written. Three modes, chosen by the first byte:
// 0: the rest is an encrypted file, read whole; 1: the rest is plaintext, written and read back, which must give it
// exactly; 2: as 1, but one byte of the written file (at an offset the input picks) is flipped, after which the reader
// must refuse or give exactly the plaintext (a flip in bytes Gramine does not authenticate).

let key = try! ProtectedFileKey(bytes: [UInt8](repeating: 0x42, count: ProtectedFileKey.byteCount))
let path = try! BoundPath("/fuzz/file")

func written(_ plaintext: [UInt8]) -> [UInt8] {
    var writer = ProtectedFileWriter(sink: ProtectedFileBytes(), key: key, path: path)
    do {
        try writer.write(plaintext)
        _ = try writer.finish()
    } catch {
        fatalError("writing \(plaintext.count) bytes failed: \(error)")
    }
    return writer.sink.bytes
}

/// The whole plaintext, or nil when the reader refuses the file.
func readBack(_ file: [UInt8]) -> [UInt8]? {
    do {
        var reader = try ProtectedFileReader(storage: ProtectedFileBytes(file), key: key, expectedPath: path)
        return try reader.read(at: 0, count: Int(reader.plainSize))
    } catch {
        return nil
    }
}

let seeds: [[UInt8]] = [
    [0] + written([]), [0] + written(Array("hello".utf8)), [0] + written([UInt8](repeating: 7, count: 3 * 4096 + 5)),
    [1] + Array("plaintext".utf8), [2, 0x10, 0x00] + Array("damaged".utf8),
]

runFuzzer(seeds: seeds) { data, size in
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    switch input[0] % 3 {
    case 0:
        _ = readBack(Array(input.dropFirst()))
    case 1:
        let plaintext = Array(input.dropFirst())
        guard readBack(written(plaintext)) == plaintext else { fatalError("a file read back differs from what was written") }
    default:
        guard input.count >= 3 else { return -1 }
        let plaintext = Array(input.dropFirst(3))
        var file = written(plaintext)
        let offset = (Int(input[1]) << 8 | Int(input[2])) % file.count
        file[offset] ^= 0x01
        if let read = readBack(file), read != plaintext {
            fatalError("a file damaged at byte \(offset) gave plaintext that was not written")
        }
    }
    return 0
}
