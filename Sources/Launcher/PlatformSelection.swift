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
            let hint =
                "in simulation, set \(LauncherSettings.Variable.simulationDirectory) and either "
                + "\(LauncherSettings.Variable.gramineApplication) (a converted image's signed Gramine application) or "
                + "\(LauncherSettings.Variable.enclaveDescription) with \(LauncherSettings.Variable.enclaveSigner)"
            let state = try reader.required(
                LauncherSettings.Variable.simulationDirectory,
                expected: "the state directory of the simulated SGX machine the Coordinator uses", hint: hint)
            let enclave: SimulatedEnclaveSource
            if let application = try reader.value([LauncherSettings.Variable.gramineApplication]) {
                enclave = .gramine(application: reader.absolutePath(application))
            } else {
                let description = try reader.required(
                    LauncherSettings.Variable.enclaveDescription,
                    expected: "the path of the enclave description (JSON) of this marble", hint: hint)
                let signer = try reader.required(
                    LauncherSettings.Variable.enclaveSigner,
                    expected: "the path of the enclave signing key (PEM, RSA 3072)", hint: hint)
                enclave = .description(path: reader.absolutePath(description), signer: reader.absolutePath(signer))
            }
            self = .simulation(
                SimulationSettings(stateDirectory: reader.absolutePath(state), enclave: enclave, attestationDirectory: attestation))
        case let other:
            throw LauncherError(
                .settings, variable, found: other.quotedForError(), expected: "'gramine' or 'simulation'",
                hint: "unset \(variable) inside a Gramine enclave, or set it to 'simulation' for development")
        }
    }
}

/// What the simulated enclave is.
public enum SimulatedEnclaveSource: Sendable, Hashable {
    /// An enclave description (JSON `EnclaveDescription`) and the key that signs it, for a process marble.
    case description(path: String, signer: String)
    /// A signed Gramine application (`APP.manifest.sgx`, `APP.sig`), as `cloister convert` puts it into an image: it
    /// is measured as SGX hardware would measure it.
    case gramine(application: String)
}

/// Where the simulated enclave's pieces are.
public struct SimulationSettings: Sendable, Hashable {
    /// The simulated SGX machine's state directory; the Coordinator must verify with the same machine.
    public var stateDirectory: String
    public var enclave: SimulatedEnclaveSource
    /// Stands in for `/dev/attestation`; nil means `attestation/` in the state directory.
    public var attestationDirectory: String?

    public init(stateDirectory: String, enclave: SimulatedEnclaveSource, attestationDirectory: String?) {
        self.stateDirectory = stateDirectory
        self.enclave = enclave
        self.attestationDirectory = attestationDirectory
    }

    /// The simulated machine the Coordinator verifies with.
    func openMachine() throws(LauncherError) -> SimulatedSGXMachine {
        do {
            return try SimulatedSGXMachine.open(stateDirectory: URL(fileURLWithPath: stateDirectory, isDirectory: true))
        } catch {
            throw LauncherError(
                .platform, "simulated SGX machine at \(stateDirectory) (\(LauncherSettings.Variable.simulationDirectory))",
                found: "\(error)", expected: "the state directory of the machine the Coordinator verifies with",
                hint: "start the Coordinator in simulation first and point \(LauncherSettings.Variable.simulationDirectory) "
                    + "at its simulated machine")
        }
    }

    var attestationURL: URL? { attestationDirectory.map { URL(fileURLWithPath: $0, isDirectory: true) } }

    /// Reads the signer, opens the machine and starts the simulated enclave `description`, which first checks every
    /// trusted file as Gramine does (except `alreadyVerified`, which the caller measured through their descriptors).
    func launch(
        _ description: EnclaveDescription, signer signerPath: String, alreadyVerified: Set<String>,
        announce: @escaping @Sendable (String) -> Void
    ) throws(LauncherError) -> SimulatedPlatform {
        let signer = try readSigner(signerPath)
        let machine = try openMachine()
        do {
            return try SimulatedPlatform.launch(
                description, signer: signer, on: machine, consent: .insecureSimulation(announce: announce),
                attestationDirectory: attestationURL, alreadyVerified: alreadyVerified)
        } catch {
            throw Self.trustedFileError(error, descriptionPath: description.entrypoint)
        }
    }

    /// Starts the simulated enclave of a signed Gramine application, after the same trusted-file check.
    func launch(
        _ image: GramineEnclaveImage, alreadyVerified: Set<String>, announce: @escaping @Sendable (String) -> Void
    ) throws(LauncherError) -> SimulatedPlatform {
        let machine = try openMachine()
        do {
            return try SimulatedPlatform.launch(
                image, on: machine, consent: .insecureSimulation(announce: announce), attestationDirectory: attestationURL,
                alreadyVerified: alreadyVerified)
        } catch {
            throw Self.trustedFileError(error, descriptionPath: image.manifestPath)
        }
    }

    /// Reads a signed Gramine application and measures it.
    static func readGramineImage(_ application: String) throws(LauncherError) -> GramineEnclaveImage {
        do {
            return try GramineEnclaveImage.load(application: application)
        } catch {
            throw LauncherError(
                .platform, application, found: "\(error)", expected: "a signed Gramine application (.manifest.sgx and .sig)",
                hint: "point \(LauncherSettings.Variable.gramineApplication) at the application cloister convert wrote")
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

    static func readDescription(_ path: String) throws(LauncherError) -> EnclaveDescription {
        let variable = LauncherSettings.Variable.enclaveDescription
        do {
            return try JSONDecoder().decode(EnclaveDescription.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw LauncherError(
                .settings, "\(variable)=\(path)", found: "a file that is not a readable enclave description (\(error))",
                expected: "the JSON of an EnclaveDescription (entrypoint, arguments, trustedFiles)",
                hint: "point \(variable) at the description the enclave was measured from")
        }
    }

    func readSigner(_ path: String) throws(LauncherError) -> EnclaveSigner {
        let variable = LauncherSettings.Variable.enclaveSigner
        let pem: String
        do {
            pem = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LauncherError(
                .settings, "\(variable)=\(path)", found: "an unreadable file (\(error.localizedDescription))",
                expected: "a PEM RSA-3072 key", hint: "point \(variable) at the enclave signing key")
        }
        do {
            return try EnclaveSigner(pem: pem)
        } catch {
            throw LauncherError(
                .settings, "\(variable)=\(path)", found: "\(error)", expected: "a PEM RSA-3072 key",
                hint: "create one with `openssl genrsa -3 -out enclave-key.pem 3072`")
        }
    }
}
