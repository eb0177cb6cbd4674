import Attestation
import Crypto
import Foundation

/// The caller's explicit acknowledgement that it runs without any enclave. `SimulatedPlatform` cannot be made without
/// one, and making one announces the simulation.
public struct SimulationConsent: Sendable {
    /// The warning every simulated platform announces when it starts.
    public static let warning =
        "WARNING: SGX SIMULATION ENABLED. No enclave protects this process; quotes are signed with keys stored on "
        + "disk and prove nothing. Use only for development and tests."

    let announce: @Sendable (String) -> Void

    /// Enables simulation; `announce` receives the warning (default: written to standard error).
    public static func insecureSimulation(
        announce: @escaping @Sendable (String) -> Void = { message in
            FileHandle.standardError.write(Data((message + "\n").utf8))
        }
    ) -> SimulationConsent {
        SimulationConsent(announce: announce)
    }
}

/// An `EnclavePlatform` with no enclave: an enclave with a given measurement, "running" on a `SimulatedSGXMachine`.
///
/// Its quotes verify only against the machine's own root certificate. Gramine encrypted-file keys go to
/// `keys/NAME` below `attestationDirectory`, a directory laid out like `/dev/attestation`.
public struct SimulatedPlatform: EnclavePlatform {
    public let machine: SimulatedSGXMachine
    public let enclave: EnclaveMeasurement
    public let attestationDirectory: URL

    public var kind: PlatformKind { .simulation }

    /// The simulated enclave `enclave` on `machine`. Encrypted-file keys go below `attestationDirectory`, by default
    /// `attestation/` in the machine's state directory.
    public init(
        machine: SimulatedSGXMachine, enclave: EnclaveMeasurement, consent: SimulationConsent,
        attestationDirectory: URL? = nil
    ) {
        self.machine = machine
        self.enclave = enclave
        self.attestationDirectory =
            attestationDirectory ?? machine.stateDirectory.appendingPathComponent("attestation", isDirectory: true)
        consent.announce(
            SimulationConsent.warning + " Simulated enclave MRENCLAVE \(enclave.mrEnclave.hexadecimal), MRSIGNER "
                + "\(enclave.mrSigner.hexadecimal), state \(machine.stateDirectory.path).")
    }

    /// Starts the simulated enclave `description` signed by `signer` the way Gramine would: every trusted file (below
    /// `root` when given) must match its hash first, otherwise nothing starts and the first differing file is named.
    /// `alreadyVerified` names files the caller checked itself.
    public static func launch(
        _ description: EnclaveDescription, signer: EnclaveSigner, on machine: SimulatedSGXMachine,
        consent: SimulationConsent, trustedFilesRoot root: URL? = nil, attestationDirectory: URL? = nil,
        alreadyVerified: Set<String> = []
    ) throws(PlatformError) -> SimulatedPlatform {
        try description.verifyTrustedFiles(under: root, alreadyVerified: alreadyVerified)
        return SimulatedPlatform(
            machine: machine, enclave: try description.measurement(signer: signer), consent: consent,
            attestationDirectory: attestationDirectory)
    }

    /// Starts the simulated enclave of a signed Gramine application: every trusted file of its `.manifest.sgx` must
    /// match its hash first, and the enclave reports the identity Gramine's measurement and the `.sig` give.
    public static func launch(
        _ image: GramineEnclaveImage, on machine: SimulatedSGXMachine, consent: SimulationConsent,
        attestationDirectory: URL? = nil, alreadyVerified: Set<String> = []
    ) throws(PlatformError) -> SimulatedPlatform {
        try image.description.verifyTrustedFiles(alreadyVerified: alreadyVerified)
        return SimulatedPlatform(
            machine: machine, enclave: image.measurement, consent: consent, attestationDirectory: attestationDirectory)
    }

    public func quote(reportData: [UInt8]) throws(PlatformError) -> [UInt8] {
        try machine.quote(for: enclave, reportData: reportData)
    }

    public func sealingKey(_ policy: SealingKeyPolicy) throws(PlatformError) -> SymmetricKey {
        machine.sealingKey(for: enclave, policy: policy)
    }

    public func measurement() throws(PlatformError) -> EnclaveMeasurement? {
        enclave
    }

    public func setEncryptedFileKey(named name: String, key: [UInt8]) throws(PlatformError) {
        try EncryptedFileKey.validate(name: name, key: key)
        let keys = attestationDirectory.appendingPathComponent("keys", isDirectory: true)
        let file = keys.appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(
                at: keys, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(key).write(to: file, options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        } catch {
            throw .attestationFile(path: file.path, operation: "write", reason: "\(error.localizedDescription)")
        }
    }
}

/// The rules Gramine applies to `/dev/attestation/keys/NAME`.
enum EncryptedFileKey {
    static let size = 16

    static func validate(name: String, key: [UInt8]) throws(PlatformError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0"),
            !name.hasPrefix("_sgx_")
        else { throw .invalidKeyName(name) }
        guard key.count == size else { throw .encryptedFileKeySize(name: name, byteCount: key.count) }
    }
}
