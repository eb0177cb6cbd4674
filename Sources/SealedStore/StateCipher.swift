import Crypto
import Foundation
import Hexadecimal

/// The cryptography of the store.
///
/// - The **data key** (AES-256) encrypts every record with AES-256-GCM. A record's plaintext is
///   `u32le(len(key)) ‖ key ‖ u64le(generation) ‖ value`, where generation is that of the transaction that wrote
///   it; its identifier is HMAC-SHA256(HKDF(data key, "record-id"), key), so state keys are not visible on disk
///   either. The identifier is authenticated data (``recordContext`` ‖ identifier), so a record moved to another
///   identifier does not open.
/// - The **head** (``StateHead``) is encrypted under the data key with authenticated data ``StateHead/context``;
///   it binds the record set as a whole. It also tells a correct data key from a wrong one, which recovery needs.
/// - The data key is **sealed** with the platform sealing key (AES-256-GCM, authenticated data
///   ``sealedKeyContext``) and stored beside the records.
struct StateCipher: Sendable {
    static let sealedKeyContext = Data("cloister sealed-store data key v1".utf8)
    static let recordContext = Data("cloister sealed-store record v2".utf8)
    static let maximumKeyBytes = 1024

    let dataKey: SymmetricKey
    private let recordIDKey: SymmetricKey
    private let digestKey: SymmetricKey

    init(dataKey: SymmetricKey) throws(SealedStoreError) {
        guard dataKey.bitCount == 256 else {
            throw SealedStoreError.invalidKeySize(what: "data key", found: dataKey.bitCount, expected: 256)
        }
        self.dataKey = dataKey
        recordIDKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: dataKey, info: Data("cloister sealed-store record-id".utf8), outputByteCount: 32
        )
        digestKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: dataKey, info: Data("cloister sealed-store state digest v2".utf8), outputByteCount: 32
        )
    }

    func recordID(for key: String) throws(SealedStoreError) -> Data {
        let bytes = Data(key.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumKeyBytes else {
            throw SealedStoreError.invalidStateKey(key: key, reason: "it has \(bytes.count) UTF-8 bytes")
        }
        return Data(HMAC<SHA256>.authenticationCode(for: bytes, using: recordIDKey))
    }

    /// The record's term in the head's digest: it covers the identifier and every byte of the sealed record.
    func digestTerm(id: Data, sealed: Data) -> [UInt8] {
        var mac = HMAC<SHA256>(key: digestKey)
        mac.update(data: withUnsafeBytes(of: UInt32(id.count).littleEndian) { Data($0) })
        mac.update(data: id)
        mac.update(data: sealed)
        return Array(mac.finalize())
    }

    func seal(key: String, generation: UInt64, value: Data) throws(SealedStoreError) -> (id: Data, sealed: Data) {
        let id = try recordID(for: key)
        let keyBytes = Data(key.utf8)
        var plaintext = Data()
        plaintext.reserveCapacity(12 + keyBytes.count + value.count)
        withUnsafeBytes(of: UInt32(keyBytes.count).littleEndian) { plaintext.append(contentsOf: $0) }
        plaintext.append(keyBytes)
        withUnsafeBytes(of: generation.littleEndian) { plaintext.append(contentsOf: $0) }
        plaintext.append(value)
        return (id, try encrypt(plaintext, context: Self.recordContext + id, what: "record for key '\(key)'"))
    }

    func open(id: Data, sealed: Data) throws(SealedStoreError) -> (key: String, generation: UInt64, value: Data) {
        let label = Self.label(id)
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            plaintext = try AES.GCM.open(box, using: dataKey, authenticating: Self.recordContext + id)
        } catch {
            throw SealedStoreError.corruptRecord(
                recordID: label,
                detail: "\(sealed.count) bytes do not authenticate with AES-256-GCM under the data key and this "
                    + "record identifier (\(error))"
            )
        }
        let bytes = Array(plaintext)
        guard bytes.count >= 12 else {
            throw SealedStoreError.corruptRecord(
                recordID: label, detail: "plaintext has \(bytes.count) bytes, expected at least 12"
            )
        }
        let keyLength = bytes[0..<4].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard bytes.count >= 12 + keyLength,
            let key = String(bytes: bytes[4..<4 + keyLength], encoding: .utf8),
            (try? recordID(for: key)) == id
        else {
            throw SealedStoreError.corruptRecord(
                recordID: label, detail: "the embedded state key does not match the record identifier"
            )
        }
        let generation = bytes[4 + keyLength..<12 + keyLength].enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * $1.offset)
        }
        return (key, generation, Data(bytes[(12 + keyLength)...]))
    }

    func sealHead(_ head: StateHead) throws(SealedStoreError) -> Data {
        try encrypt(head.encoded, context: StateHead.context, what: "the state head")
    }

    /// The head, or nil when `sealed` does not authenticate under this data key.
    func openHead(_ sealed: Data) -> StateHead? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plaintext = try? AES.GCM.open(box, using: dataKey, authenticating: StateHead.context)
        else { return nil }
        return StateHead(encoded: plaintext)
    }

    private func encrypt(_ plaintext: Data, context: Data, what: String) throws(SealedStoreError) -> Data {
        do {
            return try AES.GCM.seal(plaintext, using: dataKey, authenticating: context).combined!
        } catch {
            throw SealedStoreError.storage(
                operation: "encrypting \(what)", underlying: "\(error)", hint: "report this as a bug"
            )
        }
    }

    static func label(_ id: Data) -> String {
        id.prefix(8).hexadecimal
    }

    static func sealDataKey(_ dataKey: SymmetricKey, with sealingKey: SymmetricKey) throws(SealedStoreError) -> Data {
        try checkSealingKey(sealingKey)
        do {
            let raw = dataKey.withUnsafeBytes { Data($0) }
            return try AES.GCM.seal(raw, using: sealingKey, authenticating: sealedKeyContext).combined!
        } catch {
            throw SealedStoreError.storage(operation: "sealing the data key", underlying: "\(error)", hint: "report this as a bug")
        }
    }

    /// The data key, or nil when `sealed` does not open under `sealingKey` (another enclave, lost key, damage).
    static func unsealDataKey(_ sealed: Data, with sealingKey: SymmetricKey) throws(SealedStoreError) -> SymmetricKey? {
        try checkSealingKey(sealingKey)
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let raw = try? AES.GCM.open(box, using: sealingKey, authenticating: sealedKeyContext),
            raw.count == 32
        else { return nil }
        return SymmetricKey(data: raw)
    }

    private static func checkSealingKey(_ sealingKey: SymmetricKey) throws(SealedStoreError) {
        guard sealingKey.bitCount == 256 else {
            throw SealedStoreError.invalidKeySize(what: "sealing key", found: sealingKey.bitCount, expected: 256)
        }
    }
}
