import Attestation
import Foundation

// Single-thread DCAP verification throughput on recorded corpus cases, cold (a fresh verifier per quote, nothing
// reused) and warm (one caching verifier, collateral and platform already seen). Printed as `RESULT` lines that
// scripts/benchmark-attestation sets beside dcap-qvl 0.7.0 and `openssl speed`.

struct BenchmarkCase {
    let label: String
    let id: String
    let quote: [UInt8]
    let collateral: Collateral
    let instant: Date
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
}

func loadCase(label: String, id: String, corpus: URL) throws -> BenchmarkCase {
    struct Manifest: Decodable {
        struct Entry: Decodable {
            struct Files: Decodable {
                let quote: String
                let collateral: String
            }
            let id: String
            let files: Files
            let verification_time: Int64
        }
        let cases: [Entry]
    }
    let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: corpus.appendingPathComponent("corpus.json")))
    guard let entry = manifest.cases.first(where: { $0.id == id }) else {
        throw BenchmarkFailure(description: "corpus case \(id) is not in \(corpus.path)/corpus.json")
    }
    return BenchmarkCase(
        label: label, id: id,
        quote: Array(try Data(contentsOf: corpus.appendingPathComponent(entry.files.quote))),
        collateral: try JSONDecoder().decode(Collateral.self, from: Data(contentsOf: corpus.appendingPathComponent(entry.files.collateral))),
        instant: Date(timeIntervalSince1970: TimeInterval(entry.verification_time)))
}

/// Calls `body` repeatedly for about `seconds` and returns calls per second.
func throughput(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let limit = Duration.milliseconds(Int64(seconds * 1000))
    let start = clock.now
    var count = 0
    var elapsed = Duration.zero
    repeat {
        for _ in 0..<16 { try body() }
        count += 16
        elapsed = clock.now - start
    } while elapsed < limit
    let (whole, fraction) = elapsed.components
    return Double(count) / (Double(whole) + Double(fraction) / 1e18)
}

func run() throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    var seconds = 3.0
    if let index = arguments.firstIndex(of: "--seconds"), index + 1 < arguments.count, let value = Double(arguments[index + 1]) {
        seconds = value
        arguments.removeSubrange(index...index + 1)
    }
    // `--only tdx-cold` (or sgx-warm, ...) runs one measurement, to profile it alone.
    var only: String?
    if let index = arguments.firstIndex(of: "--only"), index + 1 < arguments.count {
        only = arguments[index + 1]
        arguments.removeSubrange(index...index + 1)
    }
    guard let corpusPath = arguments.first else {
        throw BenchmarkFailure(
            description: "usage: attestation-benchmark CORPUS_DCAP_DIRECTORY [--seconds S] [--only sgx-cold|sgx-warm|tdx-cold|tdx-warm]")
    }
    let corpus = URL(fileURLWithPath: corpusPath)
    let cases = [
        try loadCase(label: "sgx", id: "sgx-v3-dcapqvl-sgx_quote-f8b81014", corpus: corpus),
        try loadCase(label: "tdx", id: "tdx-v4-dcapqvl-tdx_quote-c42f9164", corpus: corpus),
    ]
    for benchmark in cases {
        let reference = try QuoteVerifier().verify(quoteBytes: benchmark.quote, collateral: benchmark.collateral, at: benchmark.instant)
        print("CASE \(benchmark.label) \(benchmark.id) \(reference.status.rawValue)")
        if only == nil || only == "\(benchmark.label)-cold" {
            let cold = try throughput(seconds: seconds) {
                _ = try QuoteVerifier().verify(quoteBytes: benchmark.quote, collateral: benchmark.collateral, at: benchmark.instant)
            }
            print("RESULT \(benchmark.label) cold \(String(format: "%.1f", cold))")
        }
        guard only == nil || only == "\(benchmark.label)-warm" else { continue }
        let warmVerifier = CachingQuoteVerifier()
        let warmReference = try warmVerifier.verify(quoteBytes: benchmark.quote, collateral: benchmark.collateral, at: benchmark.instant)
        guard warmReference == reference else {
            throw BenchmarkFailure(description: "the caching verifier disagrees with a cold verification on \(benchmark.id)")
        }
        let warm = try throughput(seconds: seconds) {
            _ = try warmVerifier.verify(quoteBytes: benchmark.quote, collateral: benchmark.collateral, at: benchmark.instant)
        }
        print("RESULT \(benchmark.label) warm \(String(format: "%.1f", warm))")
        fflush(nil)
    }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("attestation-benchmark: \(error)\n".utf8))
    exit(1)
}
