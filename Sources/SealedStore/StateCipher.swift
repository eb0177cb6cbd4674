import Crypto
import Foundation

/// The cryptography of the store.
///
/// - The **data key** (AES-256) encrypts every record with AES-256-GCM. A record's plaintext is
///   `u32le(len(key)) ‖ key ‖ value`; its identifier is HMAC-SHA256(HKDF(data key, "record-id"), key), so state
///   keys are not visible on disk either; the identifier is authenticated data, so records cannot be swapped.
/// - The data key is **sealed** with the platform sealing key (AES-256-GCM, authenticated data
///   ``sealedKeyContext``) and stored beside the records.
/// - A **key check** (a fixed text encrypted under the data key) tells a correct data key from a wrong one even
///   when the store has no records, which recovery needs.
struct StateCipher: Sendable {
    static let sealedKeyContext = Data("cloister sealed-store data key v1".utf8)
    static let keyCheckPlaintext = Data("cloister sealed-store key check v1".utf8)
    static let recordContext = Data("cloister sealed-store record v1".utf8)
    static let maximumKeyBytes = 1024

    let dataKey: SymmetricKey
    private let recordIDKey: SymmetricKey

    init(dataKey: SymmetricKey) throws(SealedStoreError) {
        guard dataKey.bitCount == 256 else {
            throw SealedStoreError.invalidKeySize(what: "data key", found: dataKey.bitCount, expected: 256)
        }
        self.dataKey = dataKey
        recordIDKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: dataKey, info: Data("cloister sealed-store record-id".utf8), outputByteCount: 32
        )
    }

    func recordID(for key: String) throws(SealedStoreError) -> Data {
        let bytes = Data(key.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumKeyBytes else {
            throw SealedStoreError.invalidStateKey(key: key, reason: "it has \(bytes.count) UTF-8 bytes")
        }
        return Data(HMAC<SHA256>.authenticationCode(for: bytes, using: recordIDKey))
    }

    func seal(key: String, value: Data) throws(SealedStoreError) -> (id: Data, sealed: Data) {
        let id = try recordID(for: key)
        let keyBytes = Data(key.utf8)
        var plaintext = Data()
        plaintext.reserveCapacity(4 + keyBytes.count + value.count)
        withUnsafeBytes(of: UInt32(keyBytes.count).littleEndian) { plaintext.append(contentsOf: $0) }
        plaintext.append(keyBytes)
        plaintext.append(value)
        do {
            let box = try AES.GCM.seal(plaintext, using: dataKey, authenticating: Self.recordContext + id)
            return (id, box.combined!)
        } catch {
            throw SealedStoreError.storage(
                operation: "encrypting record for key '\(key)'", underlying: "\(error)", hint: "report this as a bug"
            )
        }
    }

    func open(id: Data, sealed: Data) throws(SealedStoreError) -> (key: String, value: Data) {
        let label = id.prefix(8).map { String(format: "%02x", $0) }.joined()
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            plaintext = try AES.GCM.open(box, using: dataKey, authenticating: Self.recordContext + id)
        } catch {
            throw SealedStoreError.corruptRecord(
                recordID: label,
                detail: "\(sealed.count) bytes do not authenticate with AES-256-GCM under the data key (\(error))"
            )
        }
        guard plaintext.count >= 4 else {
            throw SealedStoreError.corruptRecord(
                recordID: label, detail: "plaintext has \(plaintext.count) bytes, expected at least 4"
            )
        }
        let keyLength = plaintext.prefix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard plaintext.count >= 4 + keyLength,
            let key = String(bytes: plaintext.dropFirst(4).prefix(keyLength), encoding: .utf8),
            (try? recordID(for: key)) == id
        else {
            throw SealedStoreError.corruptRecord(
                recordID: label, detail: "the embedded state key does not match the record identifier"
            )
        }
        return (key, Data(plaintext.dropFirst(4 + keyLength)))
    }

    func keyCheck() throws(SealedStoreError) -> Data {
        do {
            return try AES.GCM.seal(Self.keyCheckPlaintext, using: dataKey).combined!
        } catch {
            throw SealedStoreError.storage(operation: "creating key check", underlying: "\(error)", hint: "report this as a bug")
        }
    }

    func verifies(keyCheck: Data) -> Bool {
        guard let box = try? AES.GCM.SealedBox(combined: keyCheck),
            let plaintext = try? AES.GCM.open(box, using: dataKey)
        else { return false }
        return plaintext == Self.keyCheckPlaintext
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
