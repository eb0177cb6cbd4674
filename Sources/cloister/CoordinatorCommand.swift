import ArgumentParser
import Attestation
import CollateralSources
import Coordinator
import CoordinatorPKI
import CoordinatorServer
import Crypto
import Foundation
import Logging
import Platform
import SealedStore
import ServiceLifecycle

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the Coordinator: the client API (HTTPS, default :4433) and the marble API (mutual TLS, default :2001).",
        discussion: """
            Every setting is a flag, a CLOISTER_* variable, or MarbleRun's EDG_* variable (in that order of precedence):
              --client-address    CLOISTER_CLIENT_ADDR      EDG_COORDINATOR_CLIENT_ADDR       (:4433)
              --marble-address    CLOISTER_MARBLE_ADDR      EDG_COORDINATOR_MESH_ADDR         (:2001)
              --metrics-address   CLOISTER_METRICS_ADDR     EDG_COORDINATOR_PROMETHEUS_ADDR   (off; /metrics is also on the client API)
              --marble-idle-timeout CLOISTER_MARBLE_IDLE_TIMEOUT                              (60 seconds)
              --dns-names         CLOISTER_DNS_NAMES        EDG_COORDINATOR_DNS_NAMES         (localhost)
              --data-directory    CLOISTER_DATA_DIR         EDG_COORDINATOR_SEAL_DIR          ($HOME/.cloister/coordinator)
              --manifest          CLOISTER_STARTUP_MANIFEST EDG_STARTUP_MANIFEST
              --pki-curve         CLOISTER_PKI_CURVE                                          (p256)
              --simulation        CLOISTER_SIMULATION=1     OE_SIMULATION=1
              --log-level         CLOISTER_LOG_LEVEL        EDG_DEBUG_LOGGING=1 (debug)       (info)
              --log-format        CLOISTER_LOG_FORMAT       EDG_LOG_FORMAT                    (text)
            Collateral for marble quotes (real mode): --pcs URL (default Intel PCS), --pccs URL, --thim URL, or
            --collateral FILE (CLOISTER_PCS_URL, CLOISTER_PCCS_URL, CLOISTER_THIM_URL, CLOISTER_COLLATERAL_FILE).

            --pki-curve p256|p384 is the curve of the root, intermediate, TLS and marble keys of a NEW PKI. p256 is
            several times cheaper per activation; p384 makes the keys MarbleRun makes. MarbleRun clients and marbles
            accept either. A data directory that already holds a sealed state keeps its PKI and its curve.

            --simulation runs WITHOUT any enclave: quotes are signed with keys on disk and protect nothing. It is for
            development and tests only, and is announced in the logs, in /api/v2/status and in every quote.

            SIGTERM and SIGINT stop the servers gracefully. Exit codes: 0 stopped; 1 failed while running; 2 unusable settings.
            """
    )

    @Option(help: ArgumentHelp("Client API listen address.", valueName: "host:port"))
    var clientAddress: String?
    @Option(help: ArgumentHelp("Marble API listen address.", valueName: "host:port"))
    var marbleAddress: String?
    @Option(help: ArgumentHelp("Plain-HTTP listener for /metrics, /healthz and /readyz.", valueName: "host:port"))
    var metricsAddress: String?
    @Option(
        help: ArgumentHelp("Seconds a marble API connection may send nothing while no answer is pending before it is closed.", valueName: "seconds"))
    var marbleIdleTimeout: String?
    @Option(help: ArgumentHelp("Comma-separated DNS names and IP addresses of the Coordinator's certificates.", valueName: "names"))
    var dnsNames: String?
    @Option(help: ArgumentHelp("Where the sealed state (SQLite) is kept.", valueName: "directory"))
    var dataDirectory: String?
    @Flag(help: "Run without an enclave on a simulated SGX machine. INSECURE: for development and tests only.")
    var simulation = false
    @Option(help: ArgumentHelp("The simulated SGX machine's state (shared with simulated marbles).", valueName: "directory"))
    var simulationStateDirectory: String?
    @Option(help: ArgumentHelp("Gramine's attestation directory (real mode).", valueName: "directory"))
    var attestationDirectory: String?
    @Option(help: ArgumentHelp("Intel PCS base URL for collateral.", valueName: "url"))
    var pcs: String?
    @Option(help: ArgumentHelp("PCCS base URL for collateral.", valueName: "url"))
    var pccs: String?
    @Option(help: ArgumentHelp("Azure THIM base URL for collateral.", valueName: "url"))
    var thim: String?
    @Option(help: ArgumentHelp("A collateral bundle file (dcap-qvl QuoteCollateralV3 JSON).", valueName: "file"))
    var collateral: String?
    @Option(help: ArgumentHelp("A manifest (JSON) to set at startup when none is set.", valueName: "file"))
    var manifest: String?
    @Option(
        help: ArgumentHelp(
            "Curve of a newly created PKI: p256 (default) or p384 (as MarbleRun). An existing state keeps its keys.", valueName: "curve"))
    var pkiCurve: String?
    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?
    @Option(help: ArgumentHelp("text or json.", valueName: "format"))
    var logFormat: String?

    func run() async throws {
        let settings: CoordinatorSettings
        do {
            settings = try CoordinatorSettingsInput(
                clientAddress: clientAddress, marbleAddress: marbleAddress, metricsAddress: metricsAddress,
                marbleIdleTimeout: marbleIdleTimeout, dnsNames: dnsNames,
                dataDirectory: dataDirectory, simulation: simulation, simulationStateDirectory: simulationStateDirectory,
                attestationDirectory: attestationDirectory, pcs: pcs, pccs: pccs, thim: thim, collateralFile: collateral,
                manifest: manifest, pkiCurve: pkiCurve, logLevel: logLevel, logFormat: logFormat, environment: ProcessInfo.processInfo.environment
            ).resolve()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let logger = CoordinatorLogHandler.logger(label: "cloister.coordinator", level: settings.logLevel, format: settings.logFormat)
        do {
            try await CoordinatorLauncher(settings: settings, logger: logger).run()
        } catch let error as CoordinatorLaunchError {
            logger.critical("\(error)")
            throw ExitCode(error.exitCode)
        } catch {
            logger.critical("The Coordinator stopped: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Why the Coordinator could not start.
struct CoordinatorLaunchError: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32
}

/// Builds the platform, verification, storage, Coordinator and servers from resolved settings, and runs them until
/// SIGTERM or SIGINT.
struct CoordinatorLauncher {
    let settings: CoordinatorSettings
    let logger: Logger

    /// The simulated Coordinator enclave: fixed, so its sealing key (and so its state) survives restarts on the same
    /// simulated machine. ProductID and SecurityVersion are MarbleRun's Coordinator values.
    static let simulatedEnclave = EnclaveMeasurement(
        mrEnclave: Array(SHA256.hash(data: Data("cloister simulated coordinator MRENCLAVE".utf8))),
        mrSigner: Array(SHA256.hash(data: Data("cloister simulated coordinator MRSIGNER".utf8))),
        productID: 3, securityVersion: 3, debug: false)

    func run() async throws {
        let (platform, verification) = try makePlatform()
        let storage: SQLiteStorage
        do {
            storage = try SQLiteStorage(directory: settings.dataDirectory)
        } catch {
            throw CoordinatorLaunchError(description: "The data directory cannot be used: \(error)", exitCode: 2)
        }
        let startupManifest = try readStartupManifest()
        let configuration = CoordinatorConfiguration(
            platform: platform, quoteVerification: verification, storage: storage,
            pki: PKIConfiguration(curve: settings.pkiCurve, commonName: "Cloister Coordinator", names: SubjectNames(mixed: settings.dnsNames)),
            logger: logger)
        let coordinator: Coordinator
        do {
            coordinator = try await Coordinator.start(configuration, startupManifest: startupManifest)
        } catch {
            throw CoordinatorLaunchError(description: "The Coordinator could not start: \(error)", exitCode: 1)
        }
        let server = try await CoordinatorServer.make(
            coordinator: coordinator,
            configuration: CoordinatorServerConfiguration(
                clientAPI: settings.clientAPI, marbleAPI: settings.marbleAPI, metrics: settings.metrics,
                marbleIdleTimeout: settings.marbleIdleTimeout, logger: logger),
            metrics: CoordinatorMetrics(version: CloisterVersion.current))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("Coordinator stopped")
    }

    private func makePlatform() throws -> (any EnclavePlatform, QuoteVerificationConfiguration) {
        switch settings.platform {
        case .simulation(let stateDirectory):
            let machine: SimulatedSGXMachine
            do {
                try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: stateDirectory)
            } catch {
                throw CoordinatorLaunchError(description: "The simulated SGX machine cannot be opened: \(error)", exitCode: 2)
            }
            let logger = logger
            let platform = SimulatedPlatform(
                machine: machine, enclave: Self.simulatedEnclave,
                consent: .insecureSimulation(announce: { message in logger.critical("\(message)") }))
            return (platform, .simulated(machine))
        case .gramine(let attestationDirectory):
            let platform: GraminePlatform
            do {
                platform = try GraminePlatform(attestationDirectory: attestationDirectory)
            } catch {
                throw CoordinatorLaunchError(
                    description: "No Gramine SGX enclave is available (\(error)). Run the Coordinator inside Gramine-SGX, "
                        + "or pass --simulation for an INSECURE development setup.",
                    exitCode: 2)
            }
            return (platform, .intel(source: try collateralSource()))
        }
    }

    private func collateralSource() throws -> any CollateralSource {
        do {
            switch settings.collateral ?? .intelPCS(url: IntelPCS.defaultBaseURL) {
            case .intelPCS(let url): return try IntelPCS(baseURL: url)
            case .pccs(let url): return try PCCS(baseURL: url)
            case .azureTHIM(let url): return try AzureTHIM(baseURL: url)
            case .bundleFile(let path): return CollateralBundleFile(path: path)
            }
        } catch {
            throw CoordinatorLaunchError(description: "The collateral source is not usable: \(error)", exitCode: 2)
        }
    }

    private func readStartupManifest() throws -> [UInt8]? {
        guard let url = settings.startupManifest else { return nil }
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            throw CoordinatorLaunchError(
                description: "The startup manifest \(url.path) cannot be read (\(error.localizedDescription)); give a readable JSON manifest file",
                exitCode: 2)
        }
    }
}
