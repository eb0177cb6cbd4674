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
    var recoveryDataDigest: [UInt8]?

    static let empty = StateHead(
        generation: 0, recordCount: 0, digest: [UInt8](repeating: 0, count: digestSize), recoveryDataDigest: nil)

    static func recoveryDigest(_ data: Data?) -> [UInt8]? {
        data.map { Array(SHA256.hash(data: $0)) }
    }

    /// `u64le(generation) ‖ u64le(recordCount) ‖ digest ‖ u8(has recovery data) ‖ [recovery data digest]`.
    var encoded: Data {
        var bytes = Data()
        withUnsafeBytes(of: generation.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: recordCount.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: digest)
        if let recoveryDataDigest {
            bytes.append(1)
            bytes.append(contentsOf: recoveryDataDigest)
        } else {
            bytes.append(0)
        }
        return bytes
    }

    init(generation: UInt64, recordCount: UInt64, digest: [UInt8], recoveryDataDigest: [UInt8]?) {
        self.generation = generation
        self.recordCount = recordCount
        self.digest = digest
        self.recoveryDataDigest = recoveryDataDigest
    }

    init?(encoded bytes: Data) {
        let bytes = Array(bytes)
        let fixed = 16 + Self.digestSize + 1
        guard bytes.count == fixed || bytes.count == fixed + Self.digestSize else { return nil }
        func u64(_ offset: Int) -> UInt64 {
            bytes[offset..<offset + 8].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
        }
        generation = u64(0)
        recordCount = u64(8)
        digest = Array(bytes[16..<16 + Self.digestSize])
        switch (bytes[fixed - 1], bytes.count) {
        case (0, fixed): recoveryDataDigest = nil
        case (1, fixed + Self.digestSize): recoveryDataDigest = Array(bytes[fixed...])
        default: return nil
        }
    }
}

/// The running count and digest of a transaction's record set, started from the head it read.
final class RecordSetAccumulator {
    private(set) var recordCount: UInt64
    private(set) var digest: [UInt8]
    var recoveryDataDigest: [UInt8]?

    init(_ head: StateHead) {
        recordCount = head.recordCount
        digest = head.digest
        recoveryDataDigest = head.recoveryDataDigest
    }

    func add(_ term: [UInt8]) {
        fold(term)
        recordCount += 1
    }

    func remove(_ term: [UInt8]) {
        fold(term)
        recordCount &-= 1
    }

    private func fold(_ term: [UInt8]) {
        for index in digest.indices { digest[index] ^= term[index] }
    }

    func head(generation: UInt64) -> StateHead {
        StateHead(
            generation: generation, recordCount: recordCount, digest: digest, recoveryDataDigest: recoveryDataDigest)
    }
}
