import Attestation
import AuditLog
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Dispatch
import Foundation
import Logging
import Manifest
import Platform
import Recovery
import SealedStore
import Synchronization
import _CryptoExtras

/// The attested control plane: holds the manifest, the PKI and the secrets, attests and activates marbles, and serves
/// the client operations of MarbleRun's API v2. Transport-free: servers call it with the bytes and the client
/// certificate of each request.
///
/// Start one with ``start(_:startupManifest:)``. Every change of state is one sealed-store transaction together with
/// its update-log entry, so a crash leaves either the old or the new state, and a restart resumes with the same root,
/// secrets and certificates. When the sealed state cannot be unsealed (another machine, a changed enclave, a lost
/// sealing key), the Coordinator starts in ``CoordinatorState/recovery`` with a temporary PKI.
///
/// The sealed state is authenticated as a whole (see `SealedStore`): a record deleted, added or put back from an
/// older copy (an activation counter, the core record with the manifest and users, an update-log entry) stops the
/// start with a ``CoordinatorError`` naming it. The whole data directory put back to an older complete copy cannot be
/// detected without a monotonic counter, as in MarbleRun; the start logs the state's generation (transactions so
/// far), so an operator can see it go back.
public actor Coordinator {
    /// The platform the Coordinator runs on; `.simulation` means nothing is protected.
    public nonisolated let platformKind: PlatformKind

    let configuration: CoordinatorConfiguration
    let verifier: MarbleQuoteVerifier
    /// The key that seals the state's data key, and the platform identity it is bound to.
    var sealingKey: SymmetricKey
    var sealingPolicy: SealingKeyPolicy
    var logger: Logger { configuration.logger }

    enum Storage {
        case open(SealedStore)
        /// Sealed state exists but does not unseal; the temporary core is not persisted.
        case locked(LockedSealedState)
    }

    var storage: Storage { didSet { publishStatus() } }
    var core: PersistedCore { didSet { publishStatus() } }
    /// The status as of the last change of `core` or `storage`, readable without waiting for the actor: monitoring,
    /// load balancers and clients poll it, and it must not queue behind activations.
    private nonisolated let publishedStatus: Mutex<CoordinatorStatus>
    var pki: CoordinatorPKI
    var manifest: Manifest?
    var users: UserDirectory
    var activations: [String: UInt64]
    /// Increases with every change that activations depend on (manifest, packages, PKI, secrets).
    var generation = 0
    var tlsVersion = 0
    var cachedQuote: [UInt8]
    /// Activations whose records wait for the next batch commit.
    var activationBatch: [PendingActivationRecord] = []
    var isFlushingActivations = false
    /// The recovery secrets accepted so far in recovery mode.
    var recoverySession: RecoverySession?
    /// The key of `GET /api/v2/recover/public-key`, made on first request in recovery mode.
    var ephemeralRecoveryKey: _RSA.Encryption.PrivateKey?

    init(
        configuration: CoordinatorConfiguration, sealing: (key: SymmetricKey, policy: SealingKeyPolicy), storage: Storage,
        core: PersistedCore, pki: CoordinatorPKI, manifest: Manifest?, activations: [String: UInt64], cachedQuote: [UInt8]
    ) {
        self.configuration = configuration
        platformKind = configuration.platform.kind
        verifier = MarbleQuoteVerifier(configuration: configuration.quoteVerification)
        sealingKey = sealing.key
        sealingPolicy = sealing.policy
        self.storage = storage
        self.core = core
        self.pki = pki
        self.manifest = manifest
        users = UserDirectory(content: manifest?.content ?? ManifestContent())
        self.activations = activations
        self.cachedQuote = cachedQuote
        publishedStatus = Mutex(Self.status(core: core, storage: storage, platform: configuration.platform.kind))
    }

    // MARK: - Starting

    /// Opens (or creates) the sealed state and starts the Coordinator.
    ///
    /// - No state: a new PKI and root secret are created and sealed; the state is ``CoordinatorState/acceptingManifest``.
    /// - State that unseals: it is loaded as it was.
    /// - State that does not unseal: ``CoordinatorState/recovery`` with a temporary PKI, until ``recover(secret:signature:)``
    ///   restores it or ``setManifest(_:)`` replaces it.
    ///
    /// - Parameter startupManifest: set when the Coordinator accepts a manifest after starting (MarbleRun's startup
    ///   manifest); ignored when a manifest is already set.
    public static func start(
        _ configuration: CoordinatorConfiguration, startupManifest: [UInt8]? = nil
    )
        async throws(CoordinatorError) -> Coordinator
    {
        let logger = configuration.logger
        if configuration.platform.kind.isSecure && configuration.quoteVerification.trustAnchor.isSimulation {
            // The status would report a secure Coordinator while any simulated marble could activate.
            throw CoordinatorError(
                .internal, .simulationTrustOnSecurePlatform,
                found:
                    "platform \(configuration.platform.kind) with quote verification rooted in the simulation root \(configuration.quoteVerification.trustAnchor.fingerprint)",
                expected: "the Intel SGX Root CA on a \(configuration.platform.kind) platform, or a simulated platform with the simulation root",
                hint: "Run the whole deployment in simulation (--simulation), or verify marble quotes against Intel's collateral.")
        }
        if !configuration.platform.kind.isSecure {
            logger.warning("\(CoordinatorStatus.simulationNotice) Platform: \(configuration.platform.kind)")
        }
        if configuration.quoteVerification.trustAnchor.isSimulation {
            logger.warning(
                "Marble quotes are verified against the SIMULATION root \(configuration.quoteVerification.trustAnchor.fingerprint): activations prove nothing about real SGX hardware"
            )
        }
        var sealingKey = (key: try configuration.stateSealingKey(configuration.sealingKeyPolicy), policy: configuration.sealingKeyPolicy)
        var outcome: SealedStore.OpenOutcome
        do {
            outcome = try SealedStore.open(backend: configuration.storage, sealingKey: sealingKey.key)
            if case .sealedWithAnotherKey = outcome {
                // A manifest's SealMode may have sealed the state with the other identity's key.
                let other: SealingKeyPolicy = sealingKey.policy == .signer ? .enclave : .signer
                let otherKey = try configuration.stateSealingKey(other)
                let retried = try SealedStore.open(backend: configuration.storage, sealingKey: otherKey)
                if case .opened = retried {
                    outcome = retried
                    sealingKey = (otherKey, other)
                }
            }
        } catch {
            throw storageError(error, "opening the sealed state")
        }
        let coordinator: Coordinator
        switch outcome {
        case .created(let store):
            coordinator = try fresh(configuration, sealingKey: sealingKey, store: store)
            logger.info("No sealed state found: created a new PKI and root secret; accepting a manifest")
        case .opened(let store):
            let stored: (core: Data?, activations: [String: Data])
            do {
                stored = (
                    try store.value(forKey: PersistedCore.key), try store.values(withPrefix: PersistedCore.activationPrefix)
                )
            } catch {
                throw storageError(error, "reading the sealed state")
            }
            guard let data = stored.core else {
                coordinator = try fresh(configuration, sealingKey: sealingKey, store: store)
                logger.info("Sealed state holds no Coordinator state yet: created a new PKI and root secret")
                break
            }
            coordinator = try restore(
                configuration, sealingKey: sealingKey, store: store, core: try PersistedCore.decode(data), activations: stored.activations)
            let state = await coordinator.state
            // The generation only grows: a lower one than logged before reveals a whole-directory rollback.
            logger.info("Sealed state loaded", metadata: ["state": "\(state)", "generation": "\(store.generation)"])
        case .sealedWithAnotherKey(let locked):
            coordinator = try inRecovery(configuration, sealingKey: sealingKey, locked: locked)
            logger.warning("Sealed state cannot be unsealed: entering recovery mode. \(locked.reason)")
        }
        if let startupManifest, await coordinator.core.state == .acceptingManifest {
            _ = try await coordinator.setManifest(startupManifest)
            logger.info("Startup manifest set")
        }
        return coordinator
    }

    private static func fresh(
        _ configuration: CoordinatorConfiguration, sealingKey: (key: SymmetricKey, policy: SealingKeyPolicy), store: SealedStore
    )
        throws(CoordinatorError) -> Coordinator
    {
        let (pki, core) = try newCore(configuration)
        do {
            var change = StateChange()
            change.put(PersistedCore.key, try core.encoded())
            try store.commit(change)
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw storageError(error, "writing the new state")
        }
        return Coordinator(
            configuration: configuration, sealing: sealingKey, storage: .open(store), core: core, pki: pki, manifest: nil,
            activations: [:], cachedQuote: try quote(configuration.platform, pki: pki, nonce: nil))
    }

    private static func newCore(_ configuration: CoordinatorConfiguration) throws(CoordinatorError) -> (CoordinatorPKI, PersistedCore) {
        let pki: CoordinatorPKI
        let serialized: Data
        do {
            pki = try CoordinatorPKI.generate(configuration.pki, now: configuration.clock())
            serialized = try pki.serialized()
        } catch {
            throw cryptographyError(error, "creating the Coordinator PKI")
        }
        let rootSecret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return (pki, PersistedCore(state: .acceptingManifest, pki: serialized, rootSecret: rootSecret))
    }

    private static func restore(
        _ configuration: CoordinatorConfiguration, sealingKey: (key: SymmetricKey, policy: SealingKeyPolicy), store: SealedStore,
        core: PersistedCore, activations stored: [String: Data]
    ) throws(CoordinatorError) -> Coordinator {
        let loaded = try loadedState(core: core, activations: stored)
        return Coordinator(
            configuration: configuration, sealing: sealingKey, storage: .open(store), core: core, pki: loaded.pki,
            manifest: loaded.manifest, activations: loaded.activations,
            cachedQuote: try quote(configuration.platform, pki: loaded.pki, nonce: nil))
    }

    /// The PKI, manifest and activation counters of stored state.
    static func loadedState(
        core: PersistedCore, activations stored: [String: Data]
    ) throws(CoordinatorError)
        -> (pki: CoordinatorPKI, manifest: Manifest?, activations: [String: UInt64])
    {
        let pki: CoordinatorPKI
        do {
            pki = try CoordinatorPKI(serialized: core.pki)
        } catch {
            throw cryptographyError(error, "restoring the Coordinator PKI from sealed state")
        }
        var manifest: Manifest?
        if let bytes = core.manifest {
            do {
                manifest = try ManifestDocument.parse(Array(bytes), formats: .json)
            } catch {
                throw CoordinatorError(
                    .internal, .storage, found: "a stored manifest that does not parse (\(error))", expected: "the manifest as it was set",
                    hint: "restore the data directory from a backup")
            }
        }
        var activations: [String: UInt64] = [:]
        for (key, value) in stored {
            // A counter that does not read must stop the start: reading it as 0 would reset MaxActivations.
            guard let count = UInt64(String(decoding: value, as: UTF8.self)) else {
                throw CoordinatorError(
                    .internal, .storage,
                    found: "activation counter '\(key)' holding \(value.count) bytes that are not a decimal count "
                        + "('\(String(decoding: value.prefix(32), as: UTF8.self))')",
                    expected: "the decimal number of activations written by this Coordinator",
                    hint: "the sealed state is damaged: restore the whole data directory from a backup, or recover "
                        + "by setting a new manifest on an empty data directory")
            }
            activations[String(key.dropFirst(PersistedCore.activationPrefix.count))] = count
        }
        return (pki, manifest, activations)
    }

    private static func inRecovery(
        _ configuration: CoordinatorConfiguration, sealingKey: (key: SymmetricKey, policy: SealingKeyPolicy), locked: LockedSealedState
    )
        throws(CoordinatorError) -> Coordinator
    {
        var (pki, core) = try newCore(configuration)
        core.state = .recovery
        return Coordinator(
            configuration: configuration, sealing: sealingKey, storage: .locked(locked), core: core, pki: pki, manifest: nil,
            activations: [:], cachedQuote: try quote(configuration.platform, pki: pki, nonce: nil))
    }

    // MARK: - Status, quote, TLS identity

    /// `GET /api/v2/status`: the status as of the last change.
    public nonisolated func status() -> CoordinatorStatus {
        publishedStatus.withLock { $0 }
    }

    private func publishStatus() {
        let status = Self.status(core: core, storage: storage, platform: platformKind)
        publishedStatus.withLock { $0 = status }
    }

    private static func status(core: PersistedCore, storage: Storage, platform: PlatformKind) -> CoordinatorStatus {
        switch storage {
        case .locked(let locked):
            CoordinatorStatus(state: core.state, platform: platform, recoveryReason: locked.reason, statePersisted: true)
        case .open(let store):
            CoordinatorStatus(state: core.state, platform: platform, recoveryReason: nil, statePersisted: !(store.backend is MemoryStorage))
        }
    }

    public var state: CoordinatorState { core.state }

    /// `GET /api/v2/quote[?nonce=]`: the chain (intermediate, root) and a quote whose report data is
    /// SHA-256(root DER [‖ nonce]). Without a nonce the quote made at startup is returned; with one, a fresh quote.
    /// In recovery mode the chain is the temporary one until the state is recovered.
    ///
    /// A fresh quote is made off the actor (from the chain and PKI taken at the call), so clients asking for quotes
    /// do not hold up activations and updates.
    public func quote(nonce: [UInt8]? = nil) async throws(CoordinatorError) -> CoordinatorQuote {
        let chain = pki.clientChainPEM()
        guard let nonce, !nonce.isEmpty else {
            return CoordinatorQuote(certificateChainPEM: chain, quote: cachedQuote, nonce: nil, platform: platformKind)
        }
        let quote = try await Self.freshQuote(configuration.platform, pki: pki, nonce: nonce)
        return CoordinatorQuote(certificateChainPEM: chain, quote: quote, nonce: nonce, platform: platformKind)
    }

    /// Quoting blocks (Gramine exchanges files with `/dev/attestation`, a simulated machine signs), so fresh quotes are
    /// made one at a time on this queue: neither the actor nor a thread of the cooperative pool (one per core) waits
    /// for them, and a flood of quote requests queues here instead of starving activations.
    private static let quotingQueue = DispatchQueue(label: "cloister.coordinator.quoting")

    private static func freshQuote(
        _ platform: any EnclavePlatform, pki: CoordinatorPKI, nonce: [UInt8]
    )
        async throws(CoordinatorError) -> [UInt8]
    {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8], CoordinatorError>, Never>) in
            quotingQueue.async {
                continuation.resume(returning: Result { () throws(CoordinatorError) in try quote(platform, pki: pki, nonce: nonce) })
            }
        }
        return try result.get()
    }

    /// The TLS identity the client and marble API servers present; reload it when ``CoordinatorTLSIdentity/version``
    /// changes.
    public func tlsIdentity() throws(CoordinatorError) -> CoordinatorTLSIdentity {
        do {
            return CoordinatorTLSIdentity(
                certificateChainPEM: try pki.tlsChainPEM(), privateKeyPEM: pki.tlsKey.pkcs8PEM,
                rootCertificatePEM: pki.encoded.rootPEM, marbleRootCertificatePEM: pki.encoded.marbleRootPEM, version: tlsVersion)
        } catch {
            throw Self.cryptographyError(error, "encoding the TLS identity")
        }
    }

    static func quote(_ platform: any EnclavePlatform, pki: CoordinatorPKI, nonce: [UInt8]?) throws(CoordinatorError) -> [UInt8] {
        do {
            return try platform.quote(reportData: try pki.reportData(nonce: nonce))
        } catch let error as PlatformError {
            throw CoordinatorError(
                .internal, .platform, found: "\(error)", expected: "a quote over the root certificate",
                hint: "check the platform's attestation device (Gramine /dev/attestation, or the simulated machine's state)")
        } catch {
            throw cryptographyError(error, "computing the quote's report data")
        }
    }

    // MARK: - Manifest

    /// `POST /api/v2/manifest`: sets the manifest (the exact bytes, JSON) in ``CoordinatorState/acceptingManifest``,
    /// or in ``CoordinatorState/recovery``, where it discards the unrecoverable state. Generates the shared secrets,
    /// signs the manifest with the root key and returns the recovery secrets.
    public func setManifest(_ bytes: [UInt8]) throws(CoordinatorError) -> ManifestSetResult {
        guard core.state == .acceptingManifest || core.state == .recovery else {
            throw CoordinatorError(
                .wrongState, .notAcceptingManifest, found: "state \(core.state)", expected: "accepting manifest or recovery",
                hint: core.state == .acceptingMarbles
                    ? "a manifest is already set: change it with a manifest update" : "wait until the Coordinator has started")
        }
        let manifest = try Self.parseValidManifest(bytes)
        _ = try sealingPolicy(for: manifest)
        let now = configuration.clock()
        var core = core
        if case .locked = storage {
            core.state = .acceptingManifest
        }
        let sharedSecrets = try Self.generateSharedSecrets(manifest, keeping: [:], pki: pki, now: now)
        let signature: Data
        do {
            signature = try pki.manifestSignature(for: bytes)
        } catch {
            throw Self.cryptographyError(error, "signing the manifest")
        }
        core.state = .acceptingMarbles
        core.manifest = Data(bytes)
        core.manifestSignature = signature
        core.sharedSecrets = sharedSecrets
        core.previousSecrets = [:]
        core.userSecrets = [:]
        core.packageSecurityVersions = [:]
        core.pendingUpdate = nil
        let persistedStore = try openStoreDiscardingLockedState()
        let persists = !Self.disablesPersistence(manifest)
        let store = persists ? persistedStore : try memoryStore()
        let recoverySecrets: [String: [UInt8]]
        if persists, try sealingPolicy(for: manifest) != sealingPolicy {
            recoverySecrets = try commit(
                core, events: [.manifestSet(fingerprint: manifest.fingerprint, time: now)], store: store,
                rotatingDataKeyFor: manifest)
        } else {
            let recovery = try Self.recoverySetup(dataKey: store.dataKey, manifest: manifest)
            recoverySecrets = recovery?.recoverySecrets.mapValues { Array($0) } ?? [:]
            try commit(
                core, events: [.manifestSet(fingerprint: manifest.fingerprint, time: now)], store: store,
                recoveryData: .some(recovery?.recoveryData.encoded()))
        }
        if !persists {
            storage = .open(store)
            logger.warning(
                "SealMode Disabled: the state is kept in memory only and is lost when the Coordinator stops; the sealed state already in the data directory is left as it was, and a restart returns to it"
            )
        }
        self.core = core
        self.manifest = manifest
        users = UserDirectory(content: manifest.content)
        activations = [:]
        generation += 1
        let warnings = manifest.validate().warnings.map(\.description)
        logger.info("Manifest set", metadata: ["fingerprint": "\(manifest.fingerprint)", "warnings": "\(warnings.count)"])
        return ManifestSetResult(recoverySecrets: recoverySecrets, warnings: warnings)
    }

    /// `GET /api/v2/manifest`: the manifest as uploaded, its root-key signature and fingerprint.
    public func signedManifest() throws(CoordinatorError) -> SignedManifest {
        guard let manifest, let signature = core.manifestSignature else {
            throw CoordinatorError(
                .wrongState, .noManifest, found: "state \(core.state) without a manifest", expected: "a manifest that was set",
                hint: "set a manifest first (POST /api/v2/manifest)")
        }
        return SignedManifest(manifest: manifest.bytes, signature: Array(signature), fingerprint: manifest.fingerprint)
    }

    /// The packages activations are checked against: the manifest's, with SecurityVersions raised by package updates
    /// (the stored manifest bytes stay as uploaded, as in MarbleRun).
    public func effectivePackages() -> [String: Package] {
        var packages = manifest?.content.packages ?? [:]
        for (name, version) in core.packageSecurityVersions { packages[name]?.securityVersion = version }
        return packages
    }

    /// `GET /api/v2/update`: the update log, one JSON line per state change, oldest first.
    public func updateLog() throws(CoordinatorError) -> [String] {
        guard case .open(let store) = storage else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "state \(core.state)", expected: "accepting marbles",
                hint: "recover the Coordinator or set a manifest first")
        }
        do {
            return try AuditLog.lines(in: store)
        } catch {
            throw Self.storageError(error, "reading the update log")
        }
    }

    /// Verifies the update log: hash chain, sequence, every signature under the root key, and the stored head (so
    /// that entries removed from the end are noticed too). Returns the number of entries.
    public func verifyUpdateLog() throws(CoordinatorError) -> Int {
        guard let store = openStore else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "state \(core.state)", expected: "unsealed state",
                hint: "recover the Coordinator first")
        }
        do {
            return try AuditLog.verify(in: store, rootKey: pki.rootKey.publicKey).count
        } catch {
            throw CoordinatorError(
                .internal, .storage, found: "\(error)", expected: "an intact, signed update log",
                hint: "the sealed state was altered or damaged; restore the data directory from a backup")
        }
    }

    // MARK: - Helpers

    /// The recovery secrets for `manifest`'s RecoveryKeys, nil when it has none.
    static func recoverySetup(dataKey: SymmetricKey, manifest: Manifest) throws(CoordinatorError) -> RecoverySetup? {
        guard !manifest.content.recoveryKeys.isEmpty else { return nil }
        do {
            let keys = try RecoveryKeys(pemByName: manifest.content.recoveryKeys)
            return try RecoverySetup.split(
                dataKey: dataKey, keys: keys, threshold: Int(clamping: manifest.content.config.recoveryThreshold))
        } catch {
            throw CoordinatorError(
                .badRequest, .invalidManifest, found: "\(error)", expected: "RecoveryKeys that recovery secrets can be made for",
                hint: "give RSA public keys (2048 bits or more) and a RecoveryThreshold between 2 and the number of keys")
        }
    }

    static func parseValidManifest(_ bytes: [UInt8]) throws(CoordinatorError) -> Manifest {
        let manifest: Manifest
        do {
            manifest = try ManifestDocument.parse(bytes, formats: .json)
        } catch {
            throw CoordinatorError(
                .badRequest, .malformedManifest, found: error.message, expected: "a JSON manifest", hint: error.hint)
        }
        let report = manifest.validate()
        guard report.isValid else {
            throw CoordinatorError(
                .badRequest, .invalidManifest,
                found: "\(report.errors.count) error(s): " + report.errors.map(\.description).joined(separator: "; "),
                expected: "a manifest without errors", hint: "fix the errors listed; `cloister manifest check` shows them all")
        }
        return manifest
    }

    /// Generates every shared secret of `manifest`, reusing the values in `keeping`.
    static func generateSharedSecrets(
        _ manifest: Manifest, keeping: [String: SecretRecord], pki: CoordinatorPKI, now: Date
    ) throws(CoordinatorError) -> [String: SecretRecord] {
        var secrets: [String: SecretRecord] = [:]
        for spec in manifest.secretsToGenerate where spec.scope == .shared {
            if let kept = keeping[spec.name] {
                secrets[spec.name] = kept
                continue
            }
            guard let definition = manifest.content.secrets[spec.name] else { continue }
            secrets[spec.name] = try SecretFactory.generateShared(spec, definition: definition, pki: pki, now: now)
        }
        return secrets
    }

    /// The platform key `manifest`'s `Config.SealMode` asks for. `Disabled` keeps the current one: the in-memory
    /// state's data key is sealed with it, though nothing is written.
    func sealingPolicy(for manifest: Manifest) throws(CoordinatorError) -> SealingKeyPolicy {
        switch manifest.content.config.sealMode {
        case "ProductKey": return .signer
        case "UniqueKey": return .enclave
        case "": return configuration.sealingKeyPolicy
        case Self.sealModeDisabled: return sealingPolicy
        default:
            throw CoordinatorError(
                .badRequest, .invalidManifest, found: "Config.SealMode \(manifest.content.config.sealMode)",
                expected: "ProductKey, UniqueKey, Disabled or empty", hint: "use one of the seal modes (case-sensitive)")
        }
    }

    static let sealModeDisabled = "Disabled"

    /// MarbleRun's `SealMode: Disabled` (spec §6.3): a standalone Coordinator does not persist its state.
    static func disablesPersistence(_ manifest: Manifest) -> Bool {
        manifest.content.config.sealMode == sealModeDisabled
    }

    /// False when the state lives in memory only (SealMode Disabled): a restart starts afresh.
    var statePersisted: Bool { !(openStore?.backend is MemoryStorage) }

    /// A new, empty state in memory, for SealMode Disabled.
    func memoryStore() throws(CoordinatorError) -> SealedStore {
        do {
            guard case .created(let store) = try SealedStore.open(backend: MemoryStorage(), sealingKey: sealingKey) else {
                throw CoordinatorError(
                    .internal, .storage, found: "state in a new in-memory store", expected: "an empty store",
                    hint: "report this as a bug")
            }
            return store
        } catch {
            throw Self.storageError(error, "creating the in-memory state for SealMode Disabled")
        }
    }

    /// Refuses a full update that would switch persistence on or off: the state would have to move between memory
    /// and the data directory, which MarbleRun does not do either.
    func requireSamePersistence(_ candidate: Manifest) throws(CoordinatorError) {
        let persisted = statePersisted
        guard Self.disablesPersistence(candidate) == !persisted else {
            throw CoordinatorError(
                .badRequest, .invalidUpdate,
                found: "Config.SealMode '\(candidate.content.config.sealMode)' in an update of a Coordinator whose state is "
                    + (persisted ? "persisted" : "not persisted (SealMode Disabled)"),
                expected: persisted ? "ProductKey, UniqueKey or empty" : "SealMode Disabled",
                hint: "an update cannot switch persistence on or off (spec 6.3: with SealMode Disabled nothing is "
                    + "written): set the manifest on a fresh Coordinator instead")
        }
    }

    /// The open store; in recovery mode, the locked state is discarded for an empty one (setting a new manifest).
    func openStoreDiscardingLockedState() throws(CoordinatorError) -> SealedStore {
        switch storage {
        case .open(let store):
            return store
        case .locked(let locked):
            do {
                let store = try locked.discardAndStartEmpty(sealingKey: sealingKey)
                storage = .open(store)
                logger.warning("Recovery mode: the unrecoverable sealed state was discarded for a new manifest")
                return store
            } catch {
                throw Self.storageError(error, "discarding the locked state")
            }
        }
    }

    /// Commits `core` and the log entries of `events` in one transaction, with `extra` puts.
    ///
    /// With `rotatingDataKeyFor`, the same transaction replaces the data key with a new one sealed under the platform
    /// key that manifest's `Config.SealMode` asks for, and the recovery data with that of the new key's shares for its
    /// recovery keys, so that a crash leaves either the old manifest with the old key and shares or the new manifest
    /// with the new ones. Returns the new recovery secrets then (empty otherwise).
    @discardableResult
    func commit(
        _ core: PersistedCore, events: [AuditEvent], store: SealedStore? = nil, extra: [(String, Data)] = [],
        recoveryData: Data?? = nil, rotatingDataKeyFor rotationManifest: Manifest? = nil
    ) throws(CoordinatorError) -> [String: [UInt8]] {
        guard let store = store ?? openStore else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "state \(core.state) with locked sealed state",
                expected: "unsealed state", hint: "recover the Coordinator first")
        }
        let encoded = try core.encoded()
        let signer = pki.rootKey
        let write = { (transaction: StateTransaction) throws in
            try transaction.put(PersistedCore.key, encoded)
            for (key, value) in extra { try transaction.put(key, value) }
            try AuditLog.append(events, signer: signer, in: transaction)
            if let recoveryData {
                var change = StateChange()
                change.setRecoveryData(recoveryData)
                try transaction.apply(change)
            }
        }
        guard let rotationManifest else {
            do {
                try store.update(write)
            } catch {
                throw Self.storageError(error, "committing the change")
            }
            return [:]
        }
        let policy = try sealingPolicy(for: rotationManifest)
        let key = policy == sealingPolicy ? sealingKey : try configuration.stateSealingKey(policy)
        var setup: RecoverySetup?
        do {
            try store.update(
                rotatingDataKeySealedWith: key,
                recoveryData: { dataKey in
                    setup = try Self.recoverySetup(dataKey: dataKey, manifest: rotationManifest)
                    return setup?.recoveryData.encoded()
                }, write)
        } catch {
            throw Self.storageError(error, "replacing the data key and committing the change")
        }
        if policy != sealingPolicy {
            logger.info("State re-sealed", metadata: ["sealingKey": "\(policy.rawValue)"])
        }
        sealingKey = key
        sealingPolicy = policy
        return setup?.recoverySecrets.mapValues { Array($0) } ?? [:]
    }

    var openStore: SealedStore? {
        if case .open(let store) = storage { store } else { nil }
    }

    static func storageError(_ error: any Error, _ operation: String) -> CoordinatorError {
        if let error = error as? CoordinatorError { return error }
        let hint: String
        switch error as? SealedStoreError {
        case .stateDoesNotMatchHead, .corruptRecord, .corruptMetadata, .unsupportedFormat:
            hint =
                "the sealed state was altered or is of another format: restore the whole data directory from one "
                + "backup, or move it away and start with an empty one (then set the manifest again)"
        default:
            hint = "check that the data directory is readable, writable and not full"
        }
        return CoordinatorError(.internal, .storage, found: "\(error)", expected: "\(operation) to succeed", hint: hint)
    }

    static func cryptographyError(_ error: any Error, _ operation: String) -> CoordinatorError {
        CoordinatorError(
            .internal, .cryptography, found: "\(error)", expected: "\(operation) to succeed", hint: "report this as a bug")
    }
}
