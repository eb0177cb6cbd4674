import AuditLog
import Crypto
import Foundation
import Manifest
import Recovery
import SealedStore
import _CryptoExtras

extension Coordinator {
    /// `POST /api/v2/recover`: one decrypted recovery secret and its signature (PKCS#1 v1.5, SHA-256) by the matching
    /// recovery key. Each is checked at once against the public keys and share hashes stored beside the locked state;
    /// when enough have arrived, the data key is reassembled, the state unlocked, re-sealed with this platform's key
    /// and loaded with its original root, secrets and certificates.
    ///
    /// A secret of any length other than 16, 32 or 33 bytes is taken to be encrypted to ``recoveryPublicKey()``
    /// (RSA-OAEP-SHA256), as MarbleRun's offline flow sends it; the signature covers the decrypted secret.
    public func recover(secret: [UInt8], signature: [UInt8]) throws(CoordinatorError) -> RecoveryProgress {
        guard case .locked(let locked) = storage else {
            throw CoordinatorError(
                .wrongState, .notInRecovery, found: "state \(core.state)", expected: "recovery",
                hint: "recovery is only needed when the sealed state cannot be unsealed")
        }
        var secret = secret
        if ![16, 32, 33].contains(secret.count) {
            guard let ephemeral = ephemeralRecoveryKey else {
                throw CoordinatorError(
                    .badRequest, .invalidRecoveryShare, found: "a \(secret.count)-byte secret",
                    expected: "the decrypted 32- or 33-byte secret, or one encrypted to the recovery public key",
                    hint: "decrypt the recovery secret first, or fetch GET /api/v2/recover/public-key and encrypt it to that key")
            }
            do {
                secret = Array(try ephemeral.decrypt(secret, padding: .PKCS1_OAEP_SHA256))
            } catch {
                throw CoordinatorError(
                    .badRequest, .invalidRecoveryShare, found: "a \(secret.count)-byte secret that the recovery public key does not decrypt",
                    expected: "RSA-OAEP-SHA256 ciphertext for the key of GET /api/v2/recover/public-key",
                    hint: "encrypt the decrypted secret to this Coordinator's current recovery public key")
            }
        }
        var session: RecoverySession
        do {
            session = try recoverySession ?? RecoverySession(for: locked)
        } catch {
            throw CoordinatorError(
                .badRequest, .invalidRecoveryShare, found: "\(error)", expected: "state whose manifest had RecoveryKeys",
                hint: "this state cannot be recovered; set a new manifest to start afresh (the old state is discarded)")
        }
        let remaining: Int
        do {
            remaining = try session.submit(share: Data(secret), signature: Data(signature))
        } catch {
            throw CoordinatorError(
                .badRequest, .invalidRecoveryShare, found: "\(error)",
                expected: "a decrypted recovery secret of this state, signed by its recovery key",
                hint: "decrypt the newest recovery secret with `openssl pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep "
                    + "-pkeyopt rsa_oaep_md:sha256` and sign it with `openssl dgst -sha256 -sign`")
        }
        recoverySession = session
        guard remaining == 0 else {
            logger.info("Recovery secret accepted", metadata: ["remaining": "\(remaining)"])
            return RecoveryProgress(
                remaining: remaining,
                message: "Secret was processed successfully. Upload the next secret. Remaining secrets: \(remaining)")
        }
        recoverySession = nil
        ephemeralRecoveryKey = nil
        let store: SealedStore
        do {
            store = try session.unlock(locked, resealingWith: sealingKey)
        } catch {
            // The right key opened a state that was altered on disk: the shares are fine, the data directory is not.
            if let storeError = error as? SealedStoreError, case .stateDoesNotMatchHead = storeError {
                throw Self.storageError(storeError, "opening the recovered state")
            }
            throw CoordinatorError(
                .badRequest, .invalidRecoveryShare, found: "shares that reassemble a key the state does not open with (\(error))",
                expected: "the shares of the current state", hint: "upload the newest recovery secrets again")
        }
        try load(from: store)
        try appendOnly(events: [.recovered(sharesUsed: session.acceptedKeyNames.count, time: configuration.clock())], extra: [])
        logger.info("Sealed state recovered and re-sealed with this platform's key", metadata: ["state": "\(core.state)"])
        return RecoveryProgress(remaining: 0, message: "Recovery successful.")
    }

    /// `GET /api/v2/recover/public-key`: the PKIX DER of an ephemeral RSA-4096 key (made on first use, kept in memory
    /// only) to which key holders may encrypt their decrypted secrets for transport.
    ///
    /// Generating an RSA-4096 key takes up to seconds, so it happens off the actor; when two first requests overlap,
    /// the key stored first is kept, so that every holder encrypts to the same key.
    public func recoveryPublicKey() async throws(CoordinatorError) -> [UInt8] {
        try requireRecoveryMode()
        if let key = ephemeralRecoveryKey { return Array(key.publicKey.derRepresentation) }
        let generated = try await Self.generateRecoveryTransportKey()
        try requireRecoveryMode()
        let key = ephemeralRecoveryKey ?? generated
        ephemeralRecoveryKey = key
        return Array(key.publicKey.derRepresentation)
    }

    private func requireRecoveryMode() throws(CoordinatorError) {
        guard case .locked = storage else {
            throw CoordinatorError(
                .wrongState, .notInRecovery, found: "state \(core.state)", expected: "recovery",
                hint: "the recovery public key exists only in recovery mode")
        }
    }

    @concurrent
    private static func generateRecoveryTransportKey() async throws(CoordinatorError) -> _RSA.Encryption.PrivateKey {
        do {
            return try _RSA.Encryption.PrivateKey(keySize: .bits4096)
        } catch {
            throw cryptographyError(error, "creating the ephemeral RSA-4096 recovery key")
        }
    }

    /// Replaces the in-memory state with what `store` holds.
    private func load(from store: SealedStore) throws(CoordinatorError) {
        let stored: (core: Data?, activations: [String: Data])
        do {
            stored = (try store.value(forKey: PersistedCore.key), try store.values(withPrefix: PersistedCore.activationPrefix))
        } catch {
            throw Self.storageError(error, "reading the recovered state")
        }
        guard let data = stored.core else {
            throw CoordinatorError(
                .internal, .storage, found: "recovered state without the Coordinator record", expected: "the stored Coordinator state",
                hint: "set a new manifest instead")
        }
        let recoveredCore = try PersistedCore.decode(data)
        let loaded = try Self.loadedState(core: recoveredCore, activations: stored.activations)
        let quote = try Self.quote(configuration.platform, pki: loaded.pki, nonce: nil)
        storage = .open(store)
        core = recoveredCore
        pki = loaded.pki
        manifest = loaded.manifest
        users = UserDirectory(content: loaded.manifest?.content ?? ManifestContent())
        activations = loaded.activations
        cachedQuote = quote
        generation += 1
        tlsVersion += 1
    }
}
