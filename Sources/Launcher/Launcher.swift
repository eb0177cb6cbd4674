import CoordinatorAPI
import Foundation
import Platform

/// The marble launcher: attests the enclave to the Coordinator, receives the marble's parameters, applies them and
/// becomes the program (MarbleRun's premain, spec sections 5.2 and 5.4). The program is never started without a
/// successful activation.
public enum Launcher {
    /// What the launcher hands to `execve`.
    public struct ProgramLaunch: Sendable, Hashable {
        public var path: String
        /// In simulation, the measured program that is executed through its descriptor.
        public var measured: MeasuredProgram?
        public var arguments: [String]
        public var environment: [String: [UInt8]]
        public var marbleType: String
        public var uuid: UUID
        /// The files written, keys first.
        public var filesWritten: [String]
    }

    /// Everything up to, but not including, replacing the process: settings, the program (in simulation, opened and
    /// measured), the platform (in simulation, the trusted-file check), the marble key, the UUID, the quote, the
    /// activation plan and the check of every file target it names, the activation, and the files. Whatever can fail
    /// before the activation is checked before it, so that a launch that cannot start never uses up an activation.
    ///
    /// - Parameters:
    ///   - environment: the launcher's environment; also the base of the program's environment.
    ///   - arguments: the launcher's own argv.
    ///   - announce: receives notices meant for the operator (the simulation warning).
    public static func prepare(
        environment: [String: String], arguments: [String], workingDirectory: String,
        announce: @escaping @Sendable (String) -> Void
    ) async throws(LauncherError) -> ProgramLaunch {
        let settings = try LauncherSettings.parse(environment: environment, workingDirectory: workingDirectory)
        // The program's base environment: the launcher's own, or, for a Gramine application in simulation, what
        // Gramine would give the enclave (its measured loader.env and the passthrough names).
        var inherited = environment
        var encryptedMounts: [SimulatedEncryptedMount] = []
        let platform: any EnclavePlatform
        let program: ProgramSelection
        switch settings.platform {
        case .gramine(let attestationDirectory):
            do {
                platform = try GraminePlatform(attestationDirectory: URL(fileURLWithPath: attestationDirectory, isDirectory: true))
            } catch {
                throw LauncherError(
                    .platform, attestationDirectory, found: "\(error)",
                    expected: "Gramine's attestation interface with attestation type dcap",
                    hint: "run inside Gramine-SGX with sgx.remote_attestation = \"dcap\", or set "
                        + "\(LauncherSettings.Variable.platform)=simulation for development")
            }
            program = try ProgramSelection.gramine(arguments: arguments)
        case .simulation(let simulation):
            switch simulation.enclave {
            case .description(let path, let signer):
                encryptedMounts = try SimulatedEncryptedMount.parse(environment[SimulatedEncryptedMount.variable] ?? "")
                let description = try SimulationSettings.readDescription(path)
                program = try ProgramSelection.simulation(
                    arguments: arguments, description: description, searchPath: environment["PATH"])
                platform = try simulation.launch(
                    description, signer: signer, alreadyVerified: program.measured?.measuredPaths ?? [], announce: announce)
            case .gramine(let application):
                let image = try SimulationSettings.readGramineImage(application)
                encryptedMounts = try image.encryptedMounts.map { mount throws(LauncherError) in
                    try SimulatedEncryptedMount(path: mount.path, uri: mount.uri, keyName: mount.keyName)
                }
                inherited = image.enclaveEnvironment(host: environment)
                program = try ProgramSelection.simulation(
                    arguments: Array(arguments.prefix(1)), description: image.description, searchPath: inherited["PATH"])
                platform = try simulation.launch(image, alreadyVerified: program.measured?.measuredPaths ?? [], announce: announce)
            }
        }
        let key = try MarbleKey(names: settings.names)
        let uuid = try MarbleUUIDStore.loadOrCreate(at: settings.uuidFile)
        let quote: [UInt8]
        do {
            quote = try platform.quote(reportData: key.reportData)
        } catch {
            throw LauncherError(
                .quote, platform.kind.rawValue, found: "\(error)", expected: "a quote over the marble key",
                hint: "check the enclave's attestation setup")
        }
        let request = ActivationRequest(
            quote: Data(quote), csr: Data(key.csrDER), marbleType: settings.marbleType,
            uuid: uuid.uuidString.lowercased())
        let client = ActivationClient(coordinator: settings.coordinator, roots: settings.coordinatorRoots)
        let application = ParameterApplication(platform: platform, workingDirectory: workingDirectory)
        let parameters = try await client.activate(request, key: key) { plan throws(LauncherError) in
            if platform.kind == .gramine {
                try settings.secretPlacement.review(plan.files.map(application.absolutePath), announce: announce)
            }
            try application.checkTargets(plan.files)
        }
        let written = try application.writeFiles(parameters.files)
        try SimulatedEncryptedMount.start(encryptedMounts, files: parameters.files, announce: announce)
        let programEnvironment = try ParameterApplication.environment(inherited: inherited, activation: parameters.env)
        return ProgramLaunch(
            path: program.path, measured: program.measured, arguments: parameters.argv.isEmpty ? program.enclaveArguments : parameters.argv,
            environment: programEnvironment, marbleType: settings.marbleType, uuid: uuid, filesWritten: written)
    }

    /// The launcher's whole life: prepares, marks inherited descriptors close-on-exec and `execve`s the program with
    /// the signal state the launcher started with. On any failure it prints one line to standard error and exits
    /// non-zero; it never returns.
    ///
    /// - Parameter signals: captured by the caller before anything else runs (the default argument is evaluated on
    ///   the calling thread, before the launcher starts NIO or suspends).
    public static func run(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        arguments: [String] = CommandLine.arguments,
        workingDirectory: String = FileManager.default.currentDirectoryPath,
        signals: SignalState = .capture()
    ) async -> Never {
        let announce: @Sendable (String) -> Void = { message in printError("cloister-premain: \(message)") }
        do throws(LauncherError) {
            let launch = try await prepare(
                environment: environment, arguments: arguments, workingDirectory: workingDirectory, announce: announce)
            announce(
                "activated marble type '\(launch.marbleType)' as \(launch.uuid.uuidString.lowercased()); "
                    + "\(launch.filesWritten.count) files written; executing \(launch.path)")
            try ProcessReplacement.markDescriptorsCloseOnExec()
            if let measured = launch.measured {
                try measured.execute(arguments: launch.arguments, environment: launch.environment, signals: signals)
            }
            try ProcessReplacement.execute(
                path: launch.path, arguments: launch.arguments, environment: launch.environment, signals: signals)
        } catch {
            printError("cloister-premain: error: \(error); the program was not started")
            exit(error.exitCode)
        }
    }

    private static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
