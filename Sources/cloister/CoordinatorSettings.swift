import CollateralSources
import CoordinatorPKI
import CoordinatorServer
import Foundation
import Logging

/// The Coordinator's settings, resolved from flags, then `CLOISTER_*` variables, then MarbleRun's `EDG_*` names, then
/// defaults. Pure: the environment is passed in, so resolution is testable and nothing global is read.
struct CoordinatorSettings: Sendable {
    enum LogFormat: String, Sendable, CaseIterable {
        case text, json
    }

    enum PlatformChoice: Sendable, Equatable {
        /// No enclave: quotes and sealing keys come from a simulated SGX machine kept in `stateDirectory`.
        case simulation(stateDirectory: URL)
        /// A Gramine SGX enclave: `/dev/attestation` (or another directory laid out like it).
        case gramine(attestationDirectory: URL)
    }

    enum CollateralChoice: Sendable, Equatable {
        case intelPCS(url: String)
        case pccs(url: String)
        case azureTHIM(url: String)
        case bundleFile(path: String)
    }

    var clientAPI: ListenAddress
    var marbleAPI: ListenAddress
    var metrics: ListenAddress?
    var marbleIdleTimeout: Duration
    var dnsNames: [String]
    var dataDirectory: URL
    var platform: PlatformChoice
    /// Where marble quote collateral comes from; nil in simulation, where the simulated machine signs it.
    var collateral: CollateralChoice?
    var startupManifest: URL?
    /// The curve of a PKI created by this start; a Coordinator whose sealed state already holds a PKI keeps its keys.
    var pkiCurve: CoordinatorCurve
    var logLevel: Logger.Level
    var logFormat: LogFormat

    var isSimulation: Bool {
        if case .simulation = platform { true } else { false }
    }
}

/// A setting with an unusable value: which setting, what it was, and what is expected.
struct CoordinatorSettingsError: Error, CustomStringConvertible {
    let setting: String
    let value: String
    let expected: String
    let hint: String

    var description: String { "\(setting) '\(value)' is not usable: expected \(expected). \(hint)" }
}

/// The raw inputs: flag values (nil when not given) and the process environment.
struct CoordinatorSettingsInput {
    var clientAddress: String?
    var marbleAddress: String?
    var metricsAddress: String?
    var marbleIdleTimeout: String?
    var dnsNames: String?
    var dataDirectory: String?
    var simulation: Bool
    var simulationStateDirectory: String?
    var attestationDirectory: String?
    var pcs: String?
    var pccs: String?
    var thim: String?
    var collateralFile: String?
    var manifest: String?
    var pkiCurve: String?
    var logLevel: String?
    var logFormat: String?
    var environment: [String: String]

    /// The first non-empty of the flag and the named variables, with the name it came from.
    private func value(_ flag: String?, flagName: String, _ variables: [String]) -> (value: String, source: String)? {
        if let flag { return (flag, flagName) }
        for name in variables {
            if let value = environment[name], !value.isEmpty { return (value, name) }
        }
        return nil
    }

    private func truthy(_ name: String) -> Bool {
        guard let value = environment[name]?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }

    func resolve() throws(CoordinatorSettingsError) -> CoordinatorSettings {
        let client = value(clientAddress, flagName: "--client-address", ["CLOISTER_CLIENT_ADDR", "EDG_COORDINATOR_CLIENT_ADDR"])
        let marble = value(marbleAddress, flagName: "--marble-address", ["CLOISTER_MARBLE_ADDR", "EDG_COORDINATOR_MESH_ADDR"])
        let metrics = value(metricsAddress, flagName: "--metrics-address", ["CLOISTER_METRICS_ADDR", "EDG_COORDINATOR_PROMETHEUS_ADDR"])
        let names = value(dnsNames, flagName: "--dns-names", ["CLOISTER_DNS_NAMES", "EDG_COORDINATOR_DNS_NAMES"])
        let data = value(dataDirectory, flagName: "--data-directory", ["CLOISTER_DATA_DIR", "EDG_COORDINATOR_SEAL_DIR"])
        let manifest = value(manifest, flagName: "--manifest", ["CLOISTER_STARTUP_MANIFEST", "EDG_STARTUP_MANIFEST"])

        let dataDirectory = URL(fileURLWithPath: data?.value ?? Self.defaultDataDirectory(environment), isDirectory: true)
        let simulation = simulation || truthy("CLOISTER_SIMULATION") || truthy("OE_SIMULATION")
        let platform: CoordinatorSettings.PlatformChoice
        if simulation {
            let state = value(simulationStateDirectory, flagName: "--simulation-state-directory", ["CLOISTER_SIMULATION_STATE_DIR"])
            platform = .simulation(
                stateDirectory: state.map { URL(fileURLWithPath: $0.value, isDirectory: true) }
                    ?? dataDirectory.appendingPathComponent("simulated-sgx-machine", isDirectory: true))
        } else {
            let attestation = value(attestationDirectory, flagName: "--attestation-directory", ["CLOISTER_ATTESTATION_DIR"])
            platform = .gramine(attestationDirectory: URL(fileURLWithPath: attestation?.value ?? "/dev/attestation", isDirectory: true))
        }

        var metricsAddress: ListenAddress?
        if let metrics { metricsAddress = try Self.address(metrics, default: "") }
        return CoordinatorSettings(
            clientAPI: try Self.address(client, default: ":4433"),
            marbleAPI: try Self.address(marble, default: ":2001"),
            metrics: metricsAddress,
            marbleIdleTimeout: try marbleIdleTimeoutValue(),
            dnsNames: try Self.dnsNames(names),
            dataDirectory: dataDirectory,
            platform: platform,
            collateral: try collateralChoice(simulation: simulation),
            startupManifest: manifest.map { URL(fileURLWithPath: $0.value) },
            pkiCurve: try pkiCurveValue(),
            logLevel: try logLevelValue(),
            logFormat: try logFormatValue())
    }

    private func collateralChoice(simulation: Bool) throws(CoordinatorSettingsError) -> CoordinatorSettings.CollateralChoice? {
        let given: [(String, CoordinatorSettings.CollateralChoice)] = [
            value(pcs, flagName: "--pcs", ["CLOISTER_PCS_URL"]).map { ($0.source, .intelPCS(url: $0.value)) },
            value(pccs, flagName: "--pccs", ["CLOISTER_PCCS_URL"]).map { ($0.source, .pccs(url: $0.value)) },
            value(thim, flagName: "--thim", ["CLOISTER_THIM_URL"]).map { ($0.source, .azureTHIM(url: $0.value)) },
            value(collateralFile, flagName: "--collateral", ["CLOISTER_COLLATERAL_FILE"]).map { ($0.source, .bundleFile(path: $0.value)) },
        ].compactMap { $0 }
        if simulation {
            guard given.isEmpty else {
                throw CoordinatorSettingsError(
                    setting: given[0].0, value: "\(given[0].1)", expected: "no collateral source in simulation mode",
                    hint: "simulated marble quotes are checked with collateral the simulated machine signs; drop the setting or --simulation")
            }
            return nil
        }
        guard given.count <= 1 else {
            throw CoordinatorSettingsError(
                setting: given.map(\.0).joined(separator: " and "), value: "several sources", expected: "one collateral source",
                hint: "give exactly one of --pcs, --pccs, --thim or --collateral")
        }
        return given.first?.1 ?? .intelPCS(url: IntelPCS.defaultBaseURL)
    }

    private func marbleIdleTimeoutValue() throws(CoordinatorSettingsError) -> Duration {
        guard let setting = value(marbleIdleTimeout, flagName: "--marble-idle-timeout", ["CLOISTER_MARBLE_IDLE_TIMEOUT"]) else {
            return .seconds(60)
        }
        guard let seconds = Int(setting.value), (1...86_400).contains(seconds) else {
            throw CoordinatorSettingsError(
                setting: setting.source, value: setting.value, expected: "a whole number of seconds from 1 to 86400",
                hint: "a marble sends its activation right after connecting; 60 is the default")
        }
        return .seconds(seconds)
    }

    private func pkiCurveValue() throws(CoordinatorSettingsError) -> CoordinatorCurve {
        guard let setting = value(pkiCurve, flagName: "--pki-curve", ["CLOISTER_PKI_CURVE"]) else { return .p256 }
        switch setting.value.lowercased().replacingOccurrences(of: "-", with: "") {
        case "p256": return .p256
        case "p384": return .p384
        default:
            throw CoordinatorSettingsError(
                setting: setting.source, value: setting.value, expected: "p256 or p384",
                hint: "p256 (the default) is several times cheaper per activation; p384 makes the same keys as MarbleRun")
        }
    }

    private func logLevelValue() throws(CoordinatorSettingsError) -> Logger.Level {
        if let level = value(logLevel, flagName: "--log-level", ["CLOISTER_LOG_LEVEL"]) {
            guard let parsed = Logger.Level(rawValue: level.value.lowercased()) else {
                throw CoordinatorSettingsError(
                    setting: level.source, value: level.value,
                    expected: "one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))", hint: "the default is info")
            }
            return parsed
        }
        return truthy("EDG_DEBUG_LOGGING") ? .debug : .info
    }

    private func logFormatValue() throws(CoordinatorSettingsError) -> CoordinatorSettings.LogFormat {
        guard let format = value(logFormat, flagName: "--log-format", ["CLOISTER_LOG_FORMAT", "EDG_LOG_FORMAT"]) else { return .text }
        guard let parsed = CoordinatorSettings.LogFormat(rawValue: format.value.lowercased()) else {
            throw CoordinatorSettingsError(
                setting: format.source, value: format.value, expected: "text or json", hint: "json writes one JSON object per line")
        }
        return parsed
    }

    private static func address(
        _ setting: (value: String, source: String)?, default fallback: String
    ) throws(CoordinatorSettingsError)
        -> ListenAddress
    {
        let (text, source) = setting ?? (fallback, "default")
        do {
            return try ListenAddress.parse(text, setting: source)
        } catch {
            throw CoordinatorSettingsError(
                setting: source, value: text, expected: "HOST:PORT (':4433', '127.0.0.1:4433', '[::1]:4433')", hint: error.problem)
        }
    }

    private static func dnsNames(_ setting: (value: String, source: String)?) throws(CoordinatorSettingsError) -> [String] {
        guard let setting else { return ["localhost"] }
        let names = setting.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else {
            throw CoordinatorSettingsError(
                setting: setting.source, value: setting.value, expected: "comma-separated DNS names or IP addresses",
                hint: "e.g. coordinator.example,localhost")
        }
        return names
    }

    private static func defaultDataDirectory(_ environment: [String: String]) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? FileManager.default.currentDirectoryPath
        return URL(fileURLWithPath: home).appendingPathComponent(".cloister/coordinator").path
    }
}
