import Crypto
import Foundation

/// The authenticated summary of the whole state, rewritten (encrypted under the data key) in every transaction.
///
/// - ``generation`` counts transactions; every record carries the generation that wrote it, so a record newer than
///   the head (copied in from a later copy of the state) is named as such.
/// - ``recordCount`` and ``digest`` cover the set of records: the digest is the XOR of
///   HMAC-SHA256(digest key, record identifier ‖ sealed record) over all records, with a key derived from the data
///   key. XOR lets a transaction update it in O(1) per record it writes (remove the old record's term, add the new
///   one), and because the terms are keyed MACs the host, who never sees the key, cannot find another set of
///   records with the same digest: deleting, adding, duplicating or putting back an older copy of any record, or
///   mixing records of two copies of the state, changes it.
/// - ``recoveryDataDigest`` covers the unencrypted recovery data stored beside the records.
/// - ``termSum`` and ``locatedTermSum`` only help to *name* a single altered record: the sums, modulo the prime
///   2^61 - 1, of each record's term t and of t × its locator (61 bits of its identifier). When exactly one record
///   was deleted or put back from an older copy, the differences between the head's sums and the stored records'
///   sums divide to that record's locator (see ``RecordLocator``). Detection does not depend on them.
///
/// What the head cannot detect: the whole data directory put back to an older complete copy (head, records and
/// sealed key together) is a consistent older state. Telling it apart needs a monotonic counter outside the host's
/// reach; MarbleRun has the same limit without its `MonotonicCounter` feature.
struct StateHead: Sendable, Equatable {
    static let context = Data("cloister sealed-store head v2".utf8)
    static let digestSize = 32

    var generation: UInt64
    var recordCount: UInt64
    var digest: [UInt8]
    var termSum: UInt64
    var locatedTermSum: UInt64
    var recoveryDataDigest: [UInt8]?

    static let empty = StateHead(
        generation: 0, recordCount: 0, digest: [UInt8](repeating: 0, count: digestSize), termSum: 0, locatedTermSum: 0,
        recoveryDataDigest: nil)

    static func recoveryDigest(_ data: Data?) -> [UInt8]? {
        data.map { Array(SHA256.hash(data: $0)) }
    }

    /// `u64le(generation) ‖ u64le(recordCount) ‖ digest ‖ u64le(termSum) ‖ u64le(locatedTermSum) ‖
    /// u8(has recovery data) ‖ [recovery data digest]`.
    var encoded: Data {
        var bytes = Data()
        for number in [generation, recordCount] {
            withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.append(contentsOf: digest)
        for number in [termSum, locatedTermSum] {
            withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
        }
        if let recoveryDataDigest {
            bytes.append(1)
            bytes.append(contentsOf: recoveryDataDigest)
        } else {
            bytes.append(0)
        }
        return bytes
    }

    init(
        generation: UInt64, recordCount: UInt64, digest: [UInt8], termSum: UInt64, locatedTermSum: UInt64,
        recoveryDataDigest: [UInt8]?
    ) {
        self.generation = generation
        self.recordCount = recordCount
        self.digest = digest
        self.termSum = termSum
        self.locatedTermSum = locatedTermSum
        self.recoveryDataDigest = recoveryDataDigest
    }

    init?(encoded bytes: Data) {
        let bytes = Array(bytes)
        let fixed = 16 + Self.digestSize + 16 + 1
        guard bytes.count == fixed || bytes.count == fixed + Self.digestSize else { return nil }
        func u64(_ offset: Int) -> UInt64 {
            bytes[offset..<offset + 8].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
        }
        generation = u64(0)
        recordCount = u64(8)
        digest = Array(bytes[16..<16 + Self.digestSize])
        termSum = u64(16 + Self.digestSize)
        locatedTermSum = u64(24 + Self.digestSize)
        switch (bytes[fixed - 1], bytes.count) {
        case (0, fixed): recoveryDataDigest = nil
        case (1, fixed + Self.digestSize): recoveryDataDigest = Array(bytes[fixed...])
        default: return nil
        }
    }
}

/// The running count, digest and locator sums of a transaction's record set, started from the head it read.
final class RecordSetAccumulator {
    private(set) var recordCount: UInt64
    private(set) var digest: [UInt8]
    private(set) var termSum: UInt64
    private(set) var locatedTermSum: UInt64
    var recoveryDataDigest: [UInt8]?
    /// The digest terms as of the last commit (nil: none, when the set is rebuilt from nothing).
    private let committedTerms: RecordTerms?
    /// This transaction's changes to them: a new term, or nil for a removed record.
    private(set) var changedTerms: [Data: [UInt8]?] = [:]

    init(_ head: StateHead, committedTerms: RecordTerms? = nil) {
        self.committedTerms = committedTerms
        recordCount = head.recordCount
        digest = head.digest
        termSum = head.termSum
        locatedTermSum = head.locatedTermSum
        recoveryDataDigest = head.recoveryDataDigest
    }

    /// The digest term of the record `id` as this transaction sees it, or nil when there is none.
    func term(of id: Data) -> [UInt8]? {
        if let changed = changedTerms[id] { return changed }
        return committedTerms?.table[id]
    }

    /// Every term, for a set built from nothing (opening, rotation).
    var builtTerms: [Data: [UInt8]] { changedTerms.compactMapValues { $0 } }

    func add(id: Data, term: [UInt8]) {
        changedTerms[id] = .some(term)
        fold(term)
        recordCount &+= 1
        let value = RecordLocator.value(of: term)
        termSum = RecordLocator.add(termSum, value)
        locatedTermSum = RecordLocator.add(
            locatedTermSum, RecordLocator.multiply(value, RecordLocator.locator(of: id)))
    }

    func remove(id: Data, term: [UInt8]) {
        changedTerms.updateValue(nil, forKey: id)
        fold(term)
        recordCount &-= 1
        let value = RecordLocator.value(of: term)
        termSum = RecordLocator.subtract(termSum, value)
        locatedTermSum = RecordLocator.subtract(
            locatedTermSum, RecordLocator.multiply(value, RecordLocator.locator(of: id)))
    }

    private func fold(_ term: [UInt8]) {
        for index in digest.indices { digest[index] ^= term[index] }
    }

    func head(generation: UInt64) -> StateHead {
        StateHead(
            generation: generation, recordCount: recordCount, digest: digest, termSum: termSum,
            locatedTermSum: locatedTermSum, recoveryDataDigest: recoveryDataDigest)
    }
}

/// Arithmetic modulo the Mersenne prime 2^61 - 1 for the head's locator sums.
enum RecordLocator {
    static let prime: UInt64 = (1 << 61) - 1

    /// 61 bits of the record identifier.
    static func locator(of id: Data) -> UInt64 { reduce(firstWord(Array(id.prefix(8))) >> 3) }

    /// 61 bits of the record's digest term.
    static func value(of term: [UInt8]) -> UInt64 { reduce(firstWord(Array(term.prefix(8))) >> 3) }

    /// The locator of the one record whose term differs between `head` and `stored`, if the sums allow it.
    static func locate(head: StateHead, stored: RecordSetAccumulator) -> UInt64? {
        let termDifference = subtract(head.termSum, stored.termSum)
        guard termDifference != 0 else { return nil }
        return multiply(subtract(head.locatedTermSum, stored.locatedTermSum), inverse(termDifference))
    }

    static func add(_ a: UInt64, _ b: UInt64) -> UInt64 { reduce(a + b) }

    static func subtract(_ a: UInt64, _ b: UInt64) -> UInt64 { a >= b ? a - b : a + prime - b }

    static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        return reduce(reduce((high << 3) | (low >> 61)) + (low & prime))
    }

    private static func inverse(_ a: UInt64) -> UInt64 {
        var result: UInt64 = 1
        var base = a
        var exponent = prime - 2
        while exponent > 0 {
            if exponent & 1 == 1 { result = multiply(result, base) }
            base = multiply(base, base)
            exponent >>= 1
        }
        return result
    }

    private static func reduce(_ value: UInt64) -> UInt64 {
        let folded = (value >> 61) + (value & prime)
        return folded >= prime ? folded - prime : folded
    }

    private static func firstWord(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// Each record's digest term by identifier, as this process last wrote or verified it: reads and replacements check
/// the record on disk against it, so that a record changed while the store is open is noticed at once rather than at
/// the next start. A reference, changed in place at each commit, so that a transaction does not copy the whole table.
final class RecordTerms: @unchecked Sendable {
    /// Read and changed only while holding the store's writer lock.
    var table: [Data: [UInt8]]

    init(_ table: [Data: [UInt8]]) { self.table = table }
}
