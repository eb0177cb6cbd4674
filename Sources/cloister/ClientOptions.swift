import ArgumentParser
import Attestation
import CollateralSources
import CoordinatorAPI
import CoordinatorClient
import Foundation
import Platform

/// The options every command that talks to a Coordinator shares: where it is, who the user is (`--cert`, `--key`) and
/// how output is printed; where it is and how it is verified are ``CoordinatorConnectionOptions``. Each setting comes
/// from its flag, else its environment variable, else the config file (JSON object keyed by flag name without dashes,
/// default `~/.config/cloister/config.json`).
struct ClientOptions: ParsableArguments {
    @OptionGroup var connection: CoordinatorConnectionOptions

    @Option(help: ArgumentHelp("User certificate (PEM) for authenticated operations (env CLOISTER_CERT).", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("User private key (PEM) for --cert (env CLOISTER_KEY).", valueName: "file"))
    var key: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    /// The settings for `address` (the command's positional address, else `--coordinator`, the environment or the
    /// config).
    func settings(address: String?) throws(CoordinatorClientError) -> ClientSettings {
        try ClientSettings.resolve(
            connection, user: UserFlags(certificate: cert, key: key, certificateFlag: "--cert", keyFlag: "--key"), address: address,
            environment: ProcessInfo.processInfo.environment)
    }

    /// Connects to `address`, verifies, runs `body` with the pinned client and prints its result; every failure is
    /// printed (JSON when asked) and ends the process with the documented exit code.
    func run(
        address: String?, _ body: (CoordinatorClient) async throws(CoordinatorClientError) -> ClientResult
    ) async throws {
        var notices: [CoordinatorRootCache.Notice] = []
        let client: CoordinatorClient
        let result: ClientResult
        do {
            (client, notices) = try await connection.connect(try settings(address: address), quiet: json)
            do {
                result = try await body(client)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        } catch {
            try ClientOutput.fail(error, json: json, notices: notices)
        }
        try ClientOutput.emit(result, json: json, coordinator: client, notices: notices)
    }
}

/// Where the Coordinator is and how it is verified: shared by every command that talks to one, also those (`cloister
/// fs`) whose own `--key` and `--json` mean something else.
struct CoordinatorConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("coordinator"),
        help: ArgumentHelp("The Coordinator's client API (env CLOISTER_COORDINATOR; default localhost:4433).", valueName: "host:port"))
    var coordinator: String?

    @Option(
        name: [.customLong("policy"), .customLong("era-config")],
        help: ArgumentHelp(
            "Coordinator policy file in MarbleRun's coordinator-era.json format (env CLOISTER_POLICY; default ./era-config.json when it exists and no identity flag is given).",
            valueName: "file"))
    var policy: String?

    @Option(name: .customLong("unique-id"), help: ArgumentHelp("Accepted Coordinator MRENCLAVE (hex).", valueName: "hex"))
    var uniqueID: String?

    @Option(
        name: .customLong("signer-id"),
        help: ArgumentHelp("Accepted Coordinator MRSIGNER (hex); needs --product-id and --security-version.", valueName: "hex"))
    var signerID: String?

    @Option(name: .customLong("product-id"), help: ArgumentHelp("Required Coordinator ISVPRODID.", valueName: "n"))
    var productID: UInt16?

    @Option(name: .customLong("security-version"), help: ArgumentHelp("Minimum Coordinator ISVSVN.", valueName: "n"))
    var securityVersion: UInt16?

    @Option(
        name: .customLong("accepted-tcb-statuses"),
        help: ArgumentHelp("Comma-separated accepted TCB statuses (UpToDate always; default SWHardeningNeeded).", valueName: "list"))
    var acceptedTCBStatuses: String?

    @Option(name: .customLong("accepted-advisories"), help: ArgumentHelp("Comma-separated accepted advisory IDs (default: all).", valueName: "list"))
    var acceptedAdvisories: String?

    @Option(help: ArgumentHelp("Collateral bundle file (dcap-qvl QuoteCollateralV3 JSON) (env CLOISTER_COLLATERAL_FILE).", valueName: "file"))
    var collateral: String?

    @Option(help: ArgumentHelp("Intel PCS base URL for collateral (env CLOISTER_PCS_URL; the default source).", valueName: "url"))
    var pcs: String?

    @Option(help: ArgumentHelp("PCCS base URL for collateral (env CLOISTER_PCCS_URL).", valueName: "url"))
    var pccs: String?

    @Flag(
        name: .customLong("accept-simulation"),
        help:
            "Accept a SIMULATED Coordinator (no SGX; proves nothing) verified against the simulated machine's root (env CLOISTER_ACCEPT_SIMULATION=1)."
    )
    var acceptSimulation = false

    @Option(
        name: .customLong("simulation-state-directory"),
        help: ArgumentHelp(
            "The simulated SGX machine's state directory, for --accept-simulation (env CLOISTER_SIMULATION_STATE_DIR).", valueName: "directory"))
    var simulationStateDirectory: String?

    @Flag(name: [.customShort("i"), .customLong("insecure")], help: "Skip verifying the Coordinator. UNSAFE: anyone can impersonate it.")
    var insecure = false

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp("Configuration file (env CLOISTER_CONFIG; default ~/.config/cloister/config.json).", valueName: "file"))
    var configFile: String?

    @Option(
        name: [.customLong("root-cache"), .customLong("coordinator-cert")],
        help: ArgumentHelp(
            "Where the attested root certificate is cached; a later verified Coordinator with another root is reported (default ~/.config/cloister/coordinator-cert.pem).",
            valueName: "file"))
    var rootCache: String?

    @Option(
        name: .customLong("save-sgx-quote"),
        help: ArgumentHelp("Save the Coordinator's quote (raw bytes, bound to a fresh nonce) to this file, for audit.", valueName: "file"))
    var saveQuote: String?

    /// Verifies the Coordinator and caches its root. Warnings (insecure, simulation) go to stderr at once; root cache
    /// notices too unless `quiet` (JSON output, whose `warnings` carry them).
    func connect(
        _ settings: ClientSettings, quiet: Bool
    ) async throws(CoordinatorClientError) -> (CoordinatorClient, [CoordinatorRootCache.Notice]) {
        for note in settings.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        if case .insecure = settings.verification {
            ClientOutput.warn("--insecure: the Coordinator is NOT verified; anyone on the network path can impersonate it.")
        }
        let client = try await CoordinatorClient.connect(address: settings.address, verification: settings.verification, user: settings.user)
        if let saveQuote {
            do {
                try Data(client.identity.quote).write(to: URL(fileURLWithPath: saveQuote))
            } catch {
                await client.close()
                throw CoordinatorClientError(
                    .invalidInput, "cannot save the Coordinator's quote to \(saveQuote)", found: error.localizedDescription,
                    hint: "Give a writable path with --save-sgx-quote.")
            }
        }
        if client.identity.isSimulation {
            ClientOutput.warn("the Coordinator runs in SIMULATION: no enclave protects it; its quote proves nothing.")
        }
        guard client.identity.explanation != nil else { return (client, []) }
        let cache = CoordinatorRootCache(path: settings.rootCachePath, address: settings.rootCacheIsDefault ? client.address : nil)
        let notices = cache.record(verifiedRootPEM: client.identity.rootPEM, rootDER: client.identity.rootDER)
        if !quiet {
            for notice in notices { ClientOutput.warn(notice.message) }
        }
        return (client, notices)
    }
}

/// The user's certificate and key as a command's flags give them, and those flags' names for messages.
struct UserFlags {
    var certificate: String?
    var key: String?
    var certificateFlag: String
    var keyFlag: String
}

/// The Coordinator's address as MarbleRun's CLI takes it: a positional argument after the command's own
/// (`cloister status HOST:PORT`, `cloister manifest set FILE HOST:PORT`); `https://HOST:PORT` is accepted too.
struct CoordinatorAddressArgument: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "The Coordinator's client API, as host:port or https://host:port (or --coordinator, env CLOISTER_COORDINATOR; default localhost:4433).",
            valueName: "address"))
    var address: String?
}

/// What a command prints: a text for people, a JSON value for scripts, and whether the check it made passed.
struct ClientResult {
    var text: String
    var json: [String: ClientJSON]
    var passed = true
}

/// A JSON value for command output.
enum ClientJSON: Encodable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case array([ClientJSON])
    case object([String: ClientJSON])
    case null

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    static func strings(_ values: [String]) -> ClientJSON { .array(values.map { .string($0) }) }
}

enum ClientOutput {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("WARNING: \(message)\n".utf8))
    }

    /// The JSON form of root cache notices: `warnings` in every JSON answer made after verification.
    static func warnings(_ notices: [CoordinatorRootCache.Notice]) -> ClientJSON {
        .array(
            notices.map { notice in
                var object: [String: ClientJSON] = [
                    "kind": .string(notice.kind.rawValue), "message": .string(notice.message),
                    "currentRootSHA256": .string(notice.currentRootSHA256),
                ]
                if let previous = notice.previousRootSHA256 { object["previousRootSHA256"] = .string(previous) }
                return .object(object)
            })
    }

    static func emit(_ result: ClientResult, json: Bool, coordinator client: CoordinatorClient?, notices: [CoordinatorRootCache.Notice] = []) throws {
        if json {
            var object = result.json
            if let client {
                object["coordinator"] = .object([
                    "address": .string(client.address), "verified": .bool(client.identity.explanation != nil),
                    "simulation": .bool(client.identity.isSimulation),
                ])
            }
            if !notices.isEmpty { object["warnings"] = warnings(notices) }
            object["ok"] = .bool(result.passed)
            print(encode(object))
        } else {
            print(result.text)
        }
        if !result.passed { throw ExitCode(1) }
    }

    static func fail(_ error: ClientInputError, json: Bool, exitCode: Int32) throws -> Never {
        try fail(CoordinatorClientError(exitCode == 2 ? .invalidInput : .refused, error.message, hint: error.hint), json: json)
    }

    /// Prints `error` (with `extra` members in JSON) and exits with its exit code.
    static func fail(
        _ error: any Error, json: Bool, notices: [CoordinatorRootCache.Notice] = [], extra: [String: ClientJSON] = [:]
    ) throws -> Never {
        let failure =
            error as? CoordinatorClientError
            ?? CoordinatorClientError(.invalidInput, String(describing: error), hint: "See --help.")
        if json {
            var object: [String: ClientJSON] = [
                "kind": .string(failure.kind.rawValue), "message": .string(failure.message), "hint": .string(failure.hint),
            ]
            if let found = failure.found { object["found"] = .string(found) }
            if let expected = failure.expected { object["expected"] = .string(expected) }
            if let explanation = failure.explanation { object["explanation"] = .strings(explanation.split(separator: "\n").map(String.init)) }
            var answer = extra.merging(["ok": .bool(false), "error": .object(object)]) { _, failure in failure }
            if !notices.isEmpty { answer["warnings"] = warnings(notices) }
            print(encode(answer))
        } else {
            FileHandle.standardError.write(Data("error: \(failure.description)\n".utf8))
        }
        throw ExitCode(failure.exitCode)
    }
}

/// A local problem found before any connection: what is wrong and what to do.
struct ClientInputError: Error {
    let message: String
    let hint: String
}

/// The resolved client settings: flags, then environment, then config file.
struct ClientSettings {
    let address: String
    /// Whether the address came from a flag, the environment or the config file rather than the default.
    let addressConfigured: Bool
    let verification: CoordinatorVerification
    let user: UserIdentity?
    let rootCachePath: String
    /// Whether `rootCachePath` is the default file, whose roots are also kept per Coordinator address (an explicit
    /// `--root-cache` file is compared as it is, as MarbleRun's `--coordinator-cert`).
    let rootCacheIsDefault: Bool
    /// What the user should know about where settings came from.
    var notes: [String] = []

    /// The policy file MarbleRun's CLI reads from the current directory when none is given.
    static let marbleRunPolicyFile = "era-config.json"

    static func resolve(
        _ options: CoordinatorConnectionOptions, user flags: UserFlags, address positionalAddress: String?, environment: [String: String]
    ) throws(CoordinatorClientError) -> ClientSettings {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let configDirectory = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        let configPath = options.configFile ?? environment["CLOISTER_CONFIG"] ?? configDirectory + "/cloister/config.json"
        let config = try readConfig(configPath, explicit: options.configFile != nil || environment["CLOISTER_CONFIG"] != nil)
        func value(_ flag: String?, _ variable: String, _ key: String) -> String? {
            if let flag { return flag }
            if let value = environment[variable], !value.isEmpty { return value }
            return config[key]
        }
        func truthy(_ flag: Bool, _ variable: String, _ key: String) -> Bool {
            flag || ["1", "true", "yes"].contains((environment[variable] ?? config[key] ?? "").lowercased())
        }
        if let positionalAddress, let flag = options.coordinator, positionalAddress != flag {
            throw CoordinatorClientError(
                .invalidInput, "the Coordinator's address is given twice", found: "\(positionalAddress) and --coordinator \(flag)",
                expected: "one address", hint: "Give the address once, as the last argument (as MarbleRun's CLI takes it) or with --coordinator.")
        }
        let configuredAddress = positionalAddress ?? value(options.coordinator, "CLOISTER_COORDINATOR", "coordinator")
        let address = configuredAddress ?? "localhost:\(ClientAPIPath.defaultPort)"
        let certificate = value(flags.certificate, "CLOISTER_CERT", "cert")
        let key = value(flags.key, "CLOISTER_KEY", "key")
        let user: UserIdentity?
        switch (certificate, key) {
        case (nil, nil): user = nil
        case (let certificate?, let key?): user = UserIdentity(certificatePath: certificate, keyPath: key)
        default:
            throw CoordinatorClientError(
                .invalidInput, "a user certificate needs its key and the other way round",
                found: certificate == nil ? "\(flags.keyFlag) without \(flags.certificateFlag)" : "\(flags.certificateFlag) without \(flags.keyFlag)",
                expected: "both \(flags.certificateFlag) and \(flags.keyFlag)",
                hint: "Give both PEM files.")
        }
        let rootCache = options.rootCache ?? configDirectory + "/cloister/coordinator-cert.pem"
        if truthy(options.insecure, "CLOISTER_INSECURE", "insecure") {
            return ClientSettings(
                address: address, addressConfigured: configuredAddress != nil, verification: .insecure, user: user, rootCachePath: rootCache,
                rootCacheIsDefault: options.rootCache == nil)
        }
        let uniqueID = value(options.uniqueID, "CLOISTER_UNIQUE_ID", "unique-id")
        let signerID = value(options.signerID, "CLOISTER_SIGNER_ID", "signer-id")
        var notes: [String] = []
        var policyPath = value(options.policy, "CLOISTER_POLICY", "policy")
        if policyPath == nil, uniqueID == nil, signerID == nil, FileManager.default.fileExists(atPath: Self.marbleRunPolicyFile) {
            policyPath = Self.marbleRunPolicyFile
            notes.append(
                "using the Coordinator policy \(Self.marbleRunPolicyFile) from the current directory "
                    + "(\(FileManager.default.currentDirectoryPath)), as MarbleRun's CLI does; give --policy to choose another.")
        }
        var policy = CoordinatorPolicy()
        if let policyPath { policy = try CoordinatorPolicy.load(path: policyPath) }
        let list: (String?) -> [String]? = { text in
            text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        }
        policy = policy.overridden(
            by: CoordinatorPolicy(
                uniqueID: uniqueID,
                signerID: signerID,
                productID: try number(value(options.productID.map(String.init), "CLOISTER_PRODUCT_ID", "product-id"), "product-id"),
                securityVersion: try number(
                    value(options.securityVersion.map(String.init), "CLOISTER_SECURITY_VERSION", "security-version"), "security-version"),
                acceptedTCBStatuses: list(value(options.acceptedTCBStatuses, "CLOISTER_ACCEPTED_TCB_STATUSES", "accepted-tcb-statuses")),
                acceptedAdvisories: list(value(options.acceptedAdvisories, "CLOISTER_ACCEPTED_ADVISORIES", "accepted-advisories"))))
        let trust: CoordinatorTrust
        if truthy(options.acceptSimulation, "CLOISTER_ACCEPT_SIMULATION", "accept-simulation") {
            guard let directory = value(options.simulationStateDirectory, "CLOISTER_SIMULATION_STATE_DIR", "simulation-state-directory") else {
                throw CoordinatorClientError(
                    .invalidInput, "--accept-simulation needs the simulated machine's root", found: "no --simulation-state-directory",
                    expected: "the directory the Coordinator was given as --simulation-state-directory",
                    hint: "Give --simulation-state-directory DIR (or CLOISTER_SIMULATION_STATE_DIR).")
            }
            do {
                let machine = try SimulatedSGXMachine.open(stateDirectory: URL(fileURLWithPath: directory, isDirectory: true))
                trust = .simulation(root: machine.rootCertificate, collateral: try machine.collateral(at: Date()))
            } catch {
                throw CoordinatorClientError(
                    .invalidInput, "cannot open the simulated SGX machine in \(directory)", found: "\(error)",
                    hint: "Give the Coordinator's --simulation-state-directory with --simulation-state-directory (or CLOISTER_SIMULATION_STATE_DIR).")
            }
            if policy.uniqueID == nil, policy.signerID == nil {
                let identity = CoordinatorLauncher.simulatedEnclave
                policy = policy.overridden(by: CoordinatorPolicy(uniqueID: identity.mrEnclave.hexadecimal))
                notes.append(
                    "verifying the simulated Coordinator's fixed identity (UniqueID \(identity.mrEnclave.hexadecimal)), which "
                        + "every `cloister coordinator --simulation` of this version has; give --unique-id or --policy to pin another.")
            }
        } else {
            trust = .intel(try collateralSource(options, value: value))
        }
        return ClientSettings(
            address: address, addressConfigured: configuredAddress != nil, verification: .attested(policy: policy, trust: trust),
            user: user, rootCachePath: rootCache, rootCacheIsDefault: options.rootCache == nil, notes: notes)
    }

    private static func collateralSource(
        _ options: CoordinatorConnectionOptions, value: (String?, String, String) -> String?
    ) throws(CoordinatorClientError) -> any CollateralSource {
        do {
            if let file = value(options.collateral, "CLOISTER_COLLATERAL_FILE", "collateral") {
                return CollateralBundleFile(path: file)
            }
            if let pccs = value(options.pccs, "CLOISTER_PCCS_URL", "pccs") { return try PCCS(baseURL: pccs) }
            return try IntelPCS(baseURL: value(options.pcs, "CLOISTER_PCS_URL", "pcs") ?? IntelPCS.defaultBaseURL)
        } catch {
            throw CoordinatorClientError(
                .invalidInput, "the collateral source is unusable", found: "\(error)", hint: "Fix --pcs, --pccs or --collateral.")
        }
    }

    private static func number(_ text: String?, _ name: String) throws(CoordinatorClientError) -> UInt16? {
        guard let text else { return nil }
        guard let number = UInt16(text) else {
            throw CoordinatorClientError(.invalidInput, "--\(name) is not a number from 0 to 65535", found: text, hint: "Fix --\(name).")
        }
        return number
    }

    private static func readConfig(_ path: String, explicit: Bool) throws(CoordinatorClientError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if explicit {
                throw CoordinatorClientError(.invalidInput, "cannot read the configuration file \(path)", hint: "Check --config or CLOISTER_CONFIG.")
            }
            return [:]
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CoordinatorClientError(
                .invalidInput, "the configuration file \(path) is not a JSON object",
                expected: #"{"coordinator": "host:port", "policy": "file", ...}"#,
                hint: "Fix the file; keys are the flag names without dashes.")
        }
        return object.compactMapValues { value in
            switch value {
            case let text as String: text
            case let number as NSNumber: number.stringValue
            default: nil
            }
        }
    }
}
