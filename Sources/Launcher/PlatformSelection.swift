import Foundation
import Platform

/// Which enclave platform the launcher runs on. Simulation is never chosen implicitly.
public enum PlatformSelection: Sendable, Hashable {
    /// Inside a Gramine-SGX enclave, attested through `/dev/attestation` (or a directory laid out like it).
    case gramine(attestationDirectory: String)
    /// No enclave: a simulated SGX machine makes the quotes. Insecure; announced on standard error.
    case simulation(SimulationSettings)

    init(reader: EnvironmentReader) throws(LauncherError) {
        let variable = LauncherSettings.Variable.platform
        let attestation = try reader.value([LauncherSettings.Variable.attestationDirectory]).map(reader.absolutePath)
        switch try reader.value([variable]) ?? "gramine" {
        case "gramine":
            self = .gramine(attestationDirectory: attestation ?? GraminePlatform.defaultDirectory.path)
        case "simulation":
            let hint = "in simulation, set \(LauncherSettings.Variable.simulationDirectory), "
                + "\(LauncherSettings.Variable.enclaveDescription) and \(LauncherSettings.Variable.enclaveSigner)"
            let state = try reader.required(
                LauncherSettings.Variable.simulationDirectory,
                expected: "the state directory of the simulated SGX machine the Coordinator uses", hint: hint)
            let description = try reader.required(
                LauncherSettings.Variable.enclaveDescription,
                expected: "the path of the enclave description (JSON) of this marble", hint: hint)
            let signer = try reader.required(
                LauncherSettings.Variable.enclaveSigner,
                expected: "the path of the enclave signing key (PEM, RSA 3072)", hint: hint)
            self = .simulation(
                SimulationSettings(
                    stateDirectory: reader.absolutePath(state), enclaveDescription: reader.absolutePath(description),
                    enclaveSigner: reader.absolutePath(signer), attestationDirectory: attestation))
        case let other:
            throw LauncherError(
                .settings, variable, found: other.quotedForError(), expected: "'gramine' or 'simulation'",
                hint: "unset \(variable) inside a Gramine enclave, or set it to 'simulation' for development")
        }
    }
}

/// Where the simulated enclave's pieces are.
public struct SimulationSettings: Sendable, Hashable {
    /// The simulated SGX machine's state directory; the Coordinator must verify with the same machine.
    public var stateDirectory: String
    /// JSON `EnclaveDescription`: entrypoint, argv and trusted files of this marble's enclave.
    public var enclaveDescription: String
    /// PEM RSA key that signs the enclave (gives MRSIGNER).
    public var enclaveSigner: String
    /// Stands in for `/dev/attestation`; nil means `attestation/` in the state directory.
    public var attestationDirectory: String?

    public init(stateDirectory: String, enclaveDescription: String, enclaveSigner: String, attestationDirectory: String?) {
        self.stateDirectory = stateDirectory
        self.enclaveDescription = enclaveDescription
        self.enclaveSigner = enclaveSigner
        self.attestationDirectory = attestationDirectory
    }

    /// Reads the signer, opens the machine and starts the simulated enclave `description`, which first checks every
    /// trusted file as Gramine does (except `alreadyVerified`, which the caller measured through their descriptors).
    func launch(
        _ description: EnclaveDescription, alreadyVerified: Set<String>, announce: @escaping @Sendable (String) -> Void
    ) throws(LauncherError) -> SimulatedPlatform {
        let signer = try readSigner()
        let machine: SimulatedSGXMachine
        do {
            machine = try SimulatedSGXMachine.open(stateDirectory: URL(fileURLWithPath: stateDirectory, isDirectory: true))
        } catch {
            throw LauncherError(
                .platform, "simulated SGX machine at \(stateDirectory) (\(LauncherSettings.Variable.simulationDirectory))",
                found: "\(error)", expected: "the state directory of the machine the Coordinator verifies with",
                hint: "start the Coordinator in simulation first and point \(LauncherSettings.Variable.simulationDirectory) "
                    + "at its simulated machine")
        }
        do {
            return try SimulatedPlatform.launch(
                description, signer: signer, on: machine, consent: .insecureSimulation(announce: announce),
                attestationDirectory: attestationDirectory.map { URL(fileURLWithPath: $0, isDirectory: true) },
                alreadyVerified: alreadyVerified)
        } catch {
            throw Self.trustedFileError(error, descriptionPath: enclaveDescription)
        }
    }

    static func trustedFileError(_ error: PlatformError, descriptionPath: String) -> LauncherError {
        switch error {
        case .trustedFileMismatch(let path, let expected, let found):
            LauncherError(
                .trustedFiles, path, found: "SHA-256 \(found)", expected: "SHA-256 \(expected) as listed in \(descriptionPath)",
                hint: "the file was modified, so the enclave refuses to start: restore it, or re-measure the enclave "
                    + "and update the manifest's package (its MRENCLAVE changes)")
        case .trustedFileUnreadable(let path, let reason):
            LauncherError(
                .trustedFiles, path, found: "an unreadable file (\(reason))", expected: "a readable trusted file",
                hint: "every trusted file listed in \(descriptionPath) must exist")
        default:
            LauncherError(
                .trustedFiles, descriptionPath, found: "\(error)", expected: "a consistent enclave description",
                hint: "fix the enclave description")
        }
    }

    func readDescription() throws(LauncherError) -> EnclaveDescription {
        let variable = LauncherSettings.Variable.enclaveDescription
        do {
            return try JSONDecoder().decode(
                EnclaveDescription.self, from: Data(contentsOf: URL(fileURLWithPath: enclaveDescription)))
        } catch {
            throw LauncherError(
                .settings, "\(variable)=\(enclaveDescription)", found: "a file that is not a readable enclave description (\(error))",
                expected: "the JSON of an EnclaveDescription (entrypoint, arguments, trustedFiles)",
                hint: "point \(variable) at the description the enclave was measured from")
        }
    }

    func readSigner() throws(LauncherError) -> EnclaveSigner {
        let variable = LauncherSettings.Variable.enclaveSigner
        let pem: String
        do {
            pem = try String(contentsOfFile: enclaveSigner, encoding: .utf8)
        } catch {
            throw LauncherError(
                .settings, "\(variable)=\(enclaveSigner)", found: "an unreadable file (\(error.localizedDescription))",
                expected: "a PEM RSA-3072 key", hint: "point \(variable) at the enclave signing key")
        }
        do {
            return try EnclaveSigner(pem: pem)
        } catch {
            throw LauncherError(
                .settings, "\(variable)=\(enclaveSigner)", found: "\(error)", expected: "a PEM RSA-3072 key",
                hint: "create one with `openssl genrsa -3 -out enclave-key.pem 3072`")
        }
    }
}
