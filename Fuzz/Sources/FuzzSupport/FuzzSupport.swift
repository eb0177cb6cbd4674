import CFuzzerDriver
import Foundation

/// libFuzzer's per-input callback: returns 0, or -1 to keep the input out of the corpus.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

/// Runs libFuzzer with this process's arguments, after writing `seeds` into the first corpus directory named on the
/// command line, so that every run starts from valid inputs however fresh the corpus is.
public func runFuzzer(seeds: [[UInt8]], _ callback: FuzzCallback) -> Never {
    // libFuzzer takes as corpus directories the arguments that are not `-flag=value` options; a file argument
    // instead means "run this one input" (reproducing a crash), and gets no seeds.
    var isDirectory: ObjCBool = true
    if let corpus = CommandLine.arguments.dropFirst().first(where: { !$0.hasPrefix("-") }),
        !FileManager.default.fileExists(atPath: corpus, isDirectory: &isDirectory) || isDirectory.boolValue
    {
        do {
            try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
            for (index, seed) in seeds.enumerated() {
                try Data(seed).write(to: URL(fileURLWithPath: corpus).appendingPathComponent("seed-\(index)"))
            }
        } catch {
            FileHandle.standardError.write(Data("cannot write seeds into \(corpus): \(error)\n".utf8))
            exit(2)
        }
    }
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// The input as a buffer; libFuzzer passes a null pointer for the empty input.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}
