import CoordinatorPKI
import Crypto
import Foundation
import Logging
import Platform
import SealedStore

/// Everything a Coordinator needs to start: the platform it runs on, how it verifies marble quotes, where its sealed
/// state lives, and the settings of a new PKI.
public struct CoordinatorConfiguration: Sendable {
    /// Gives the Coordinator its quotes and sealing key. A simulated platform is announced in logs, in the status and
    /// in every result that depends on attestation.
    public var platform: any EnclavePlatform
    public var quoteVerification: QuoteVerificationConfiguration
    /// Where the sealed state lives: `SQLiteStorage(directory:)` for a data directory.
    public var storage: any SealedStorageBackend
    /// Settings of the PKI created on first start (and in recovery mode, for the temporary one). The default curve is
    /// P-256, several times cheaper than MarbleRun's P-384 per activation; clients accept either, and
    /// `PKIConfiguration(curve: .p384)` reproduces MarbleRun exactly.
    public var pki: PKIConfiguration
    /// Which platform sealing key protects the state's data key when the manifest does not say: MRSIGNER (MarbleRun's
    /// default `ProductKey`) or MRENCLAVE (`UniqueKey`). A manifest's `Config.SealMode` overrides it once set.
    public var sealingKeyPolicy: SealingKeyPolicy
    public var logger: Logger
    /// The time source for certificate validity, collateral checks and log entries.
    public var clock: @Sendable () -> Date

    public init(
        platform: any EnclavePlatform,
        quoteVerification: QuoteVerificationConfiguration,
        storage: any SealedStorageBackend,
        pki: PKIConfiguration = PKIConfiguration(),
        sealingKeyPolicy: SealingKeyPolicy = .signer,
        logger: Logger = Logger(label: "cloister.coordinator"),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.platform = platform
        self.quoteVerification = quoteVerification
        self.storage = storage
        self.pki = pki
        self.sealingKeyPolicy = sealingKeyPolicy
        self.logger = logger
        self.clock = clock
    }

    /// The 256-bit key that seals the state's data key, derived from the platform's 128-bit SGX sealing key.
    func stateSealingKey(_ policy: SealingKeyPolicy) throws(CoordinatorError) -> SymmetricKey {
        let platformKey: SymmetricKey
        do {
            platformKey = try platform.sealingKey(policy)
        } catch {
            throw CoordinatorError(
                .internal, .platform, found: "\(error)", expected: "the platform's \(policy.rawValue) sealing key",
                hint: "check that the Coordinator runs in an enclave that can derive sealing keys")
        }
        return HKDF<SHA256>.deriveKey(
            inputKeyMaterial: platformKey, info: Array("cloister-coordinator-state-sealing-v1".utf8), outputByteCount: 32)
    }
}

/// The certificates and key the Coordinator's servers present, and the root clients pin.
public struct CoordinatorTLSIdentity: Sendable, Hashable {
    /// PEM of the TLS leaf followed by the intermediate.
    public let certificateChainPEM: String
    /// PEM PKCS#8 key of the TLS leaf.
    public let privateKeyPEM: String
    /// PEM of the root certificate (stable for the deployment's lifetime).
    public let rootCertificatePEM: String
    /// PEM of the Marble root certificate (the self-signed sibling of the intermediate).
    public let marbleRootCertificatePEM: String
    /// Increases whenever the intermediate is replaced (manifest and package updates, recovery): servers reload then.
    public let version: Int
}
