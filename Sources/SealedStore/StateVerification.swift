import Foundation

/// Checks a stored state as a whole against its head.
enum StateVerification {
    /// Opens the head with `cipher` and checks every record and the recovery data against it. The check hashes each
    /// record once without decrypting it; only when it fails are the records decrypted, to name the culprit.
    static func verifiedHead(_ storage: any StorageReading, cipher: StateCipher) throws -> (head: StateHead, terms: [Data: [UInt8]]) {
        guard let sealedHead = try storage.metadata(SealedStore.headName) else {
            throw SealedStoreError.stateDoesNotMatchHead(
                part: "the head", found: "no head", expected: "the head written with every transaction")
        }
        guard let head = cipher.openHead(sealedHead) else {
            throw SealedStoreError.stateDoesNotMatchHead(
                part: "the head", found: "\(sealedHead.count) bytes that do not authenticate under the unsealed data key",
                expected: "the head written with that data key (the sealed data key and the head come from different copies)")
        }
        return (head, try verify(storage, cipher: cipher, head: head))
    }

    /// Returns each record's digest term by identifier when the records match `head`.
    @discardableResult
    static func verify(_ storage: any StorageReading, cipher: StateCipher, head: StateHead) throws -> [Data: [UInt8]] {
        let recoveryData = try storage.metadata(SealedStore.recoveryDataName)
        guard StateHead.recoveryDigest(recoveryData) == head.recoveryDataDigest else {
            throw SealedStoreError.stateDoesNotMatchHead(
                part: "the recovery data",
                found: recoveryData.map { "\($0.count) bytes with another SHA-256" } ?? "none",
                expected: head.recoveryDataDigest == nil ? "none" : "the recovery data written with the head")
        }
        let records = try storage.allRecords()
        let accumulator = RecordSetAccumulator(.empty)
        for record in records {
            accumulator.add(id: record.id, term: cipher.digestTerm(id: record.id, sealed: record.sealed))
        }
        if accumulator.recordCount == head.recordCount, accumulator.digest == head.digest { return accumulator.builtTerms }

        for record in records {
            let opened = try cipher.open(id: record.id, sealed: record.sealed)
            guard opened.generation <= head.generation else {
                throw SealedStoreError.stateDoesNotMatchHead(
                    part: "record '\(opened.key)'", found: "a value written by transaction \(opened.generation)",
                    expected: "at most transaction \(head.generation), the last one the head records (this record "
                        + "comes from a later copy of the state)")
            }
        }
        let found = UInt64(records.count)
        if let locator = RecordLocator.locate(head: head, stored: accumulator) {
            let located = records.first { RecordLocator.locator(of: $0.id) == locator }
            if let located, found == head.recordCount || found == head.recordCount + 1 {
                let opened = try cipher.open(id: located.id, sealed: located.sealed)
                throw SealedStoreError.stateDoesNotMatchHead(
                    part: "record '\(opened.key)'",
                    found: found == head.recordCount
                        ? "the value written by transaction \(opened.generation)"
                        : "a record, written by transaction \(opened.generation), that the head does not count",
                    expected: found == head.recordCount
                        ? "the value the head of transaction \(head.generation) records (this one was put back from "
                            + "an older copy of the state)"
                        : "\(head.recordCount) records as of transaction \(head.generation) (this one was added or "
                            + "brought back after its deletion)")
            }
            if located == nil, found + 1 == head.recordCount {
                let identifier = String(String(format: "%016llx", locator << 3).prefix(15))
                throw SealedStoreError.stateDoesNotMatchHead(
                    part: "the record whose identifier starts with \(identifier)",
                    found: "\(found) records, without it",
                    expected: "\(head.recordCount) records as of transaction \(head.generation) (this one was deleted)")
            }
        }
        if found != head.recordCount {
            let difference = found < head.recordCount ? head.recordCount - found : found - head.recordCount
            throw SealedStoreError.stateDoesNotMatchHead(
                part: "the record set", found: "\(found) records",
                expected: "\(head.recordCount) records as of transaction \(head.generation) (\(difference) record(s) "
                    + (found < head.recordCount ? "deleted)" : "added)"))
        }
        throw SealedStoreError.stateDoesNotMatchHead(
            part: "the record set", found: "\(found) records whose digest differs from the head's",
            expected: "the records as of transaction \(head.generation) (a record was put back from an older copy "
                + "of the state, or records of two copies were mixed)")
    }
}
