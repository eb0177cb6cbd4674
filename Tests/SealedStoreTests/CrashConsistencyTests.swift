import Crypto
import Foundation
import TestSupport
import Testing

@testable import SealedStore

@Suite("Sealed store crash consistency")
struct CrashConsistencyTests {
    static let probe = BuiltProgram(named: "sealed-store-crash-probe")
    static let trials = 60

    /// The outcome of one probe run: the last transaction it reported as committed (0 if none).
    func runProbeAndKill(directory: URL, keyHex: String, after delay: TimeInterval) throws -> Int {
        let probe = try BackgroundProcess(Self.probe.url.path, [directory.path, keyHex], environment: [:], capturingStandardOutput: true)
        Thread.sleep(forTimeInterval: delay)
        probe.signal(SIGKILL)
        probe.stop()
        let text = probe.log.complete()
        #expect(probe.exitStatus.map(WaitStatus.describe) == "signal 9", "the probe stopped by itself: \(text)")
        let reported = text.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("committed ") else { return nil }
            return Int(line.dropFirst("committed ".count))
        }
        return reported.last ?? 0
    }

    @Test("SIGKILL at random moments, also during data key rotations, leaves exactly a prefix of the transactions")
    func killedWriterLeavesAPrefix() throws {
        try #require(
            Self.probe.exists,
            "sealed-store-crash-probe not found at \(Self.probe.url.path); it is built with the tests (swift build --build-tests)"
        )
        let directory = try ScratchDirectory()
        let sealingKey = SymmetricKey(size: .bits256)
        let keyHex = sealingKey.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        var lastReported = 0
        var trialsThatCommitted = 0
        for trial in 0..<Self.trials {
            let reported = try runProbeAndKill(
                directory: directory.url, keyHex: keyHex, after: Double.random(in: 0.01...0.35)
            )
            let backend = try SQLiteStorage(directory: directory.url)
            #expect(try backend.integrityCheck() == ["ok"], "trial \(trial): SQLite integrity check failed")
            let counter: Int
            switch try SealedStore.open(backend: backend, sealingKey: sealingKey) {
            case .created:
                counter = 0
            case .opened(let store):
                let values = try store.values()
                counter = values["counter"].flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
                // Killed after the store was created but before its first transaction: the empty prefix.
                if !values.isEmpty || counter != 0 { try checkState(values, counter: counter, trial: trial) }
                let rotation = counter / 10 * 10
                #expect(
                    try store.recoveryData() == (rotation == 0 ? nil : Data("rotated at \(rotation)".utf8)),
                    "trial \(trial): the recovery data is not that of the last data key rotation, at \(rotation)"
                )
            case .sealedWithAnotherKey(let locked):
                Issue.record("trial \(trial): the state became locked: \(locked.reason)")
                return
            }
            // Every transaction the probe reported must be there; at most one more may have committed after its
            // last report (killed between commit and print). Earlier trials' transactions must all survive.
            let floor = max(reported, lastReported)
            #expect(
                counter == floor || counter == floor + 1,
                "trial \(trial): found counter \(counter), expected \(floor) or \(floor + 1)"
            )
            if counter > lastReported { trialsThatCommitted += 1 }
            lastReported = counter
        }
        // Most trials commit something before the kill; a loaded machine starts the probe slower, hence the margin.
        #expect(trialsThatCommitted >= Self.trials / 4, "too few trials were killed mid-run to mean anything")
    }

    /// The invariants of a state after `counter` whole transactions of the probe.
    func checkState(_ values: [String: Data], counter: Int, trial: Int) throws {
        for slot in 0..<8 {
            #expect(
                values["slot/\(slot)"] == Data("\(counter)".utf8),
                "trial \(trial): slot/\(slot) is from another transaction than counter \(counter)"
            )
        }
        let items = values.keys.filter { $0.hasPrefix("item/") }.compactMap { Int($0.dropFirst(5)) }.sorted()
        let expectedItems = Array(max(1, counter - 3)...max(1, counter)).filter { $0 <= counter }
        #expect(items == expectedItems, "trial \(trial): items \(items), expected \(expectedItems)")
        for item in items {
            let value = try #require(values["item/\(item)"])
            #expect(
                value.count % 1024 == 0 && value.allSatisfy { $0 == UInt8(item % 256) },
                "trial \(trial): item/\(item) is partial or mixed"
            )
        }
        #expect(values.count == 9 + items.count, "trial \(trial): unexpected keys \(values.keys.sorted())")
    }
}
