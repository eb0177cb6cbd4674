import ArgumentParser
import CoordinatorServer
import Foundation
import Injector
import InjectorServer
import Logging
import ServiceLifecycle

struct InjectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "injector",
        abstract: "Run the marble-injector: the Kubernetes mutating admission webhook that makes labelled pods marbles.",
        discussion: """
            Serves HTTPS: POST /mutate answers admission.k8s.io/v1 AdmissionReviews with a JSON Patch, GET /healthz.
            A pod labelled marblerun/marbletype=TYPE gets, in every container (or the one named by
            marblerun/marblecontainer), only where it does not set them already: EDG_MARBLE_COORDINATOR_ADDR,
            EDG_MARBLE_TYPE, EDG_MARBLE_DNS_NAMES (TYPE, TYPE.NAMESPACE, TYPE.NAMESPACE.svc.CLUSTER_DOMAIN),
            EDG_MARBLE_UUID_FILE (/TYPE-uid/uuid-file: the Pod UID through a downward-API volume), SGX resource limits
            and a toleration for --sgx-resource (not with marblerun/resource-injection=disabled), and
            CLOISTER_COORDINATOR_ROOT_CA from --coordinator-root-ca (until that file exists, pods are admitted with a
            warning that the marble will refuse to start). A pod without the
            marbletype label is denied. sgx.intel.com/epc adds epc 10Mi, enclave 1 and provision 1; another resource
            name (kubernetes.azure.com/sgx_epc_mem_in_MiB, alibabacloud.com/sgx_epc_MiB) is set to 10.

            --simulation-machine-path PATH (INSECURE, development clusters only): marbles get the node directory PATH,
            the simulated SGX machine the simulated Coordinator uses, mounted with CLOISTER_SIMULATION_STATE_DIR, and
            no SGX resources.

            The certificate and key files are read again when they change (Secret rotation). Exit codes: 0 stopped;
            1 failed while running; 2 unusable settings (for example a missing certificate).
            """)

    @Option(help: ArgumentHelp("The webhook's certificate chain (PEM).", valueName: "file"))
    var tlsCert: String
    @Option(help: ArgumentHelp("The webhook certificate's private key (PEM).", valueName: "file"))
    var tlsKey: String
    @Option(help: ArgumentHelp("Listen address.", valueName: "host:port"))
    var address = "0.0.0.0:8443"
    @Option(help: ArgumentHelp("The Coordinator's marble API, as marbles reach it.", valueName: "host:port"))
    var coordinatorAddress = "coordinator-mesh-api.cloister:2001"
    @Option(help: ArgumentHelp("The SGX EPC resource name of the cluster's device plugin.", valueName: "name"))
    var sgxResource = MarbleInjector.intelEPCResource
    @Option(help: ArgumentHelp("The cluster's DNS domain.", valueName: "domain"))
    var clusterDomain = "cluster.local"
    @Option(
        help: ArgumentHelp(
            "The Coordinator's root certificate as verified with cloister certificate root (PEM; read again when it changes). Marbles get it as CLOISTER_COORDINATOR_ROOT_CA; without it they refuse to start.",
            valueName: "file"))
    var coordinatorRootCa: String?
    @Option(
        help: ArgumentHelp("Simulation only (INSECURE): the node directory of the simulated SGX machine to mount into marbles.", valueName: "path"))
    var simulationMachinePath: String?
    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"
    @Option(help: ArgumentHelp("text or json.", valueName: "format"))
    var logFormat = "text"

    func run() async throws {
        let listen: ListenAddress
        let level: Logger.Level
        let format: CoordinatorSettings.LogFormat
        do {
            listen = try ListenAddress.parse(address, setting: "--address")
            guard let parsedLevel = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level '\(logLevel)' is not a level; use trace, debug, info, notice, warning, error or critical")
            }
            guard let parsedFormat = CoordinatorSettings.LogFormat(rawValue: logFormat) else {
                throw ValidationError("--log-format '\(logFormat)' is not a format; use text or json")
            }
            guard coordinatorAddress.contains(":"), !coordinatorAddress.hasPrefix("https://") else {
                throw ValidationError(
                    "--coordinator-address '\(coordinatorAddress)' is not HOST:PORT; give the marble API as marbles reach it, e.g. coordinator-mesh-api.cloister:2001"
                )
            }
            level = parsedLevel
            format = parsedFormat
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let logger = CoordinatorLogHandler.logger(label: "cloister.injector", level: level, format: format)
        let certificate: WebhookCertificate
        do {
            certificate = try WebhookCertificate(certificatePath: tlsCert, keyPath: tlsKey, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let simulationMachinePath {
            logger.critical(
                "SIMULATION: marbles get the simulated SGX machine at \(simulationMachinePath) and no SGX resources; nothing they run is protected")
        }
        let injector = MarbleInjector(
            coordinatorAddress: coordinatorAddress, sgxResource: sgxResource, clusterDomain: clusterDomain,
            simulationMachinePath: simulationMachinePath)
        let server = InjectorServer(
            injector: injector, coordinatorRoot: coordinatorRootCa.map { CoordinatorRootFile(path: $0, logger: logger) },
            certificate: certificate, host: listen.host, port: listen.port, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("The marble-injector stopped: \(error)")
            throw ExitCode(1)
        }
    }
}
