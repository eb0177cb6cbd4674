import Crypto
import Foundation

/// Sealed state whose data key does not unseal with the current sealing key. Nothing has been changed; the state
/// can be unlocked with the data key (reassembled from recovery shares) or, deliberately, discarded.
public struct LockedSealedState: Sendable {
    public let backend: any SealedStorageBackend
    /// The unencrypted recovery data stored with the state (hashes of recovery shares), if any. It is checked
    /// against the state's head only on ``unlock(dataKey:resealingWith:)``.
    public let recoveryData: Data?
    let sealedDataKey: Data

    /// Why the state is locked, for logs and the status endpoint.
    public var reason: String {
        "the sealed data key (\(sealedDataKey.count) bytes) does not open with this platform's sealing key: the "
            + "state was sealed on another machine or by another enclave, or the sealing key changed; recover it "
            + "with the recovery shares"
    }

    /// Opens the state with `dataKey` after checking that it opens the head and that every record and the recovery
    /// data match the head, then seals `dataKey` with `sealingKey` so that the next start opens normally.
    public func unlock(
        dataKey: SymmetricKey, resealingWith sealingKey: SymmetricKey
    ) throws(SealedStoreError)
        -> SealedStore
    {
        let cipher = try StateCipher(dataKey: dataKey)
        let sealedDataKey = self.sealedDataKey
        let head: (head: StateHead, terms: [Data: [UInt8]]) = try SealedStore.storageCall("re-sealing the recovered data key") {
            try backend.write { storage in
                guard try storage.metadata(SealedStore.sealedDataKeyName) == sealedDataKey else {
                    throw SealedStoreError.dataKeyDoesNotOpenState(
                        detail: "the state changed since it was found locked; open it again"
                    )
                }
                guard let sealedHead = try storage.metadata(SealedStore.headName), cipher.openHead(sealedHead) != nil
                else {
                    throw SealedStoreError.dataKeyDoesNotOpenState(
                        detail: "the state head does not authenticate under the offered \(dataKey.bitCount)-bit key"
                    )
                }
                let verified = try StateVerification.verifiedHead(storage, cipher: cipher)
                try storage.setMetadata(
                    SealedStore.sealedDataKeyName, StateCipher.sealDataKey(dataKey, with: sealingKey)
                )
                return verified
            }
        }
        return SealedStore(backend: backend, cipher: cipher, head: head.head, terms: head.terms)
    }

    /// Deletes the locked state and starts an empty one under a new data key: MarbleRun's "set a new manifest in
    /// recovery mode". Only call this on an explicit operator decision; the old state is gone afterwards.
    public func discardAndStartEmpty(sealingKey: SymmetricKey) throws(SealedStoreError) -> SealedStore {
        let cipher = try StateCipher(dataKey: SymmetricKey(size: .bits256))
        try SealedStore.storageCall("discarding the locked state") {
            try backend.write { storage in
                for record in try storage.allRecords() { try storage.setRecord(record.id, nil) }
                try storage.setMetadata(SealedStore.recoveryDataName, nil)
                try storage.setMetadata(
                    SealedStore.sealedDataKeyName, StateCipher.sealDataKey(cipher.dataKey, with: sealingKey)
                )
                try storage.setMetadata(SealedStore.headName, cipher.sealHead(.empty))
            }
        }
        return SealedStore(backend: backend, cipher: cipher, head: .empty, terms: [:])
    }
}
