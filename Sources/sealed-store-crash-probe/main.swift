// Writes SealedStore transactions in a loop so that a test can kill it with SIGKILL at random moments and check
// that the state it finds afterwards is exactly some prefix of the committed transactions.
//
// Usage: sealed-store-crash-probe <data-directory> <sealing-key-hex> [transaction-count]
//
// Transaction i sets "counter" = i, sets "slot/0" ... "slot/7" = i, adds "item/i" (a value of 1 to 64 KiB whose
// bytes are all i mod 256) and deletes "item/(i-4)". Every tenth transaction also replaces the data key and sets the
// recovery data to "rotated at i", in the same transaction. After each commit it prints "committed i" and flushes.
import Crypto
import Foundation
import SealedStore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sealed-store-crash-probe: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 4 else {
    fail("usage: sealed-store-crash-probe <data-directory> <sealing-key-hex> [transaction-count]")
}
let keyHex = arguments[2]
guard keyHex.count == 64,
    let keyBytes = Optional(
        stride(from: 0, to: 64, by: 2).compactMap({ offset -> UInt8? in
            let start = keyHex.index(keyHex.startIndex, offsetBy: offset)
            return UInt8(keyHex[start..<keyHex.index(start, offsetBy: 2)], radix: 16)
        })), keyBytes.count == 32
else {
    fail("sealing key must be 64 hex digits (256 bits), got '\(keyHex)'")
}
let limit = arguments.count == 4 ? Int(arguments[3]) : nil
if arguments.count == 4, limit == nil { fail("transaction count must be a number, got '\(arguments[3])'") }

do {
    let backend = try SQLiteStorage(directory: URL(fileURLWithPath: arguments[1]))
    let store: SealedStore
    let sealingKey = SymmetricKey(data: keyBytes)
    switch try SealedStore.open(backend: backend, sealingKey: sealingKey) {
    case .created(let created): store = created
    case .opened(let opened): store = opened
    case .sealedWithAnotherKey(let locked): fail(locked.reason)
    }
    let start = try store.value(forKey: "counter").flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
    var index = start + 1
    while limit.map({ index <= start + $0 }) ?? true {
        var change = StateChange()
        change.put("counter", "\(index)")
        for slot in 0..<8 { change.put("slot/\(slot)", "\(index)") }
        change.put("item/\(index)", Data(repeating: UInt8(index % 256), count: 1024 * Int.random(in: 1...64)))
        change.delete("item/\(index - 4)")
        if index % 10 == 0 {
            let marker = Data("rotated at \(index)".utf8)
            try store.update(rotatingDataKeySealedWith: sealingKey, recoveryData: { _ in marker }) { transaction in
                try transaction.apply(change)
            }
        } else {
            try store.commit(change)
        }
        print("committed \(index)")
        fflush(nil)
        index += 1
    }
} catch {
    fail("\(error)")
}
