import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything the launcher needs to know, read from its environment.
///
/// Each setting has a Cloister name and, where MarbleRun has one, MarbleRun's name too, so that manifests and
/// deployments written for MarbleRun's premain work unchanged. When both names are set they must agree.
///
/// | setting | variables | default |
/// |---|---|---|
/// | marble type | `CLOISTER_MARBLE_TYPE`, `EDG_MARBLE_TYPE` | required |
/// | Coordinator address | `CLOISTER_COORDINATOR_ADDR`, `EDG_MARBLE_COORDINATOR_ADDR` | `localhost:2001` |
/// | UUID file | `CLOISTER_MARBLE_UUID_FILE`, `EDG_MARBLE_UUID_FILE` | `$PWD/uuid` |
/// | DNS names | `CLOISTER_MARBLE_DNS_NAMES`, `EDG_MARBLE_DNS_NAMES` | `localhost` |
/// | Coordinator root | `CLOISTER_COORDINATOR_ROOT_CA` (a PEM file path or inline PEM) | required |
/// | platform | `CLOISTER_PLATFORM`: `gramine` or `simulation` | `gramine` |
/// | simulated machine | `CLOISTER_SIMULATION_STATE_DIR` (its state directory) | required in simulation |
/// | enclave description | `CLOISTER_ENCLAVE_DESCRIPTION` (JSON `EnclaveDescription`) | required in simulation |
/// | enclave signer | `CLOISTER_ENCLAVE_SIGNER` (PEM RSA-3072 key, public or private) | required in simulation |
/// | or: signed Gramine application | `CLOISTER_GRAMINE_APPLICATION` (`APP` of `APP.manifest.sgx` and `APP.sig`) | instead of the two above |
/// | `/dev/attestation` stand-in | `CLOISTER_ATTESTATION_DIR` | `/dev/attestation`; in simulation `attestation/` in the state directory |
/// | protected paths (Gramine) | `CLOISTER_PROTECTED_PATHS`: `:`-separated tmpfs and encrypted mount paths | none |
/// | files outside them (Gramine) | `CLOISTER_UNPROTECTED_FILES`: `warn` or `refuse` | `warn` |
/// | encrypted mounts (simulation) | `CLOISTER_ENCRYPTED_MOUNTS`: `PATH:KEYNAME[,...]` (a converted image's `fs.mounts` otherwise) | none |
///
/// The last two belong in the Gramine manifest's `loader.env` as fixed values, where they are measured; a value
/// passed through from the host could be chosen by the host.
public struct LauncherSettings: Sendable, Hashable {
    public var marbleType: String
    public var coordinator: CoordinatorAddress
    /// Absolute path of the file that keeps the marble's UUID across restarts.
    public var uuidFile: String
    public var names: MarbleNames
    /// The certificates the Coordinator's TLS chain must lead to (the Coordinator root, or the Marble root).
    public var coordinatorRoots: [Certificate]
    public var platform: PlatformSelection
    /// Where secrets written by `Files` stay inside the enclave under Gramine (besides `/dev/attestation/keys`).
    public var secretPlacement: SecretFilePlacement

    public init(
        marbleType: String, coordinator: CoordinatorAddress, uuidFile: String, names: MarbleNames,
        coordinatorRoots: [Certificate], platform: PlatformSelection, secretPlacement: SecretFilePlacement = SecretFilePlacement()
    ) {
        self.marbleType = marbleType
        self.coordinator = coordinator
        self.uuidFile = uuidFile
        self.names = names
        self.coordinatorRoots = coordinatorRoots
        self.platform = platform
        self.secretPlacement = secretPlacement
    }

    /// The environment variable names, each Cloister name first.
    public enum Variable {
        public static let marbleType = ["CLOISTER_MARBLE_TYPE", "EDG_MARBLE_TYPE"]
        public static let coordinatorAddress = ["CLOISTER_COORDINATOR_ADDR", "EDG_MARBLE_COORDINATOR_ADDR"]
        public static let uuidFile = ["CLOISTER_MARBLE_UUID_FILE", "EDG_MARBLE_UUID_FILE"]
        public static let dnsNames = ["CLOISTER_MARBLE_DNS_NAMES", "EDG_MARBLE_DNS_NAMES"]
        public static let coordinatorRoot = "CLOISTER_COORDINATOR_ROOT_CA"
        public static let platform = "CLOISTER_PLATFORM"
        public static let simulationDirectory = "CLOISTER_SIMULATION_STATE_DIR"
        public static let enclaveDescription = "CLOISTER_ENCLAVE_DESCRIPTION"
        public static let enclaveSigner = "CLOISTER_ENCLAVE_SIGNER"
        public static let gramineApplication = "CLOISTER_GRAMINE_APPLICATION"
        public static let attestationDirectory = "CLOISTER_ATTESTATION_DIR"
        public static let protectedPaths = "CLOISTER_PROTECTED_PATHS"
        public static let unprotectedFiles = "CLOISTER_UNPROTECTED_FILES"
    }

    public static let defaultCoordinatorAddress = "localhost:2001"
    public static let defaultDNSNames = "localhost"

    /// Reads the settings from `environment`; relative paths are taken from `workingDirectory`. The Coordinator
    /// root is read here (from its file, when it is a path), so that a bad root fails before anything else happens.
    public static func parse(
        environment: [String: String], workingDirectory: String
    ) throws(LauncherError)
        -> LauncherSettings
    {
        let reader = EnvironmentReader(environment: environment, workingDirectory: workingDirectory)
        guard let marbleType = try reader.value(Variable.marbleType) else {
            throw LauncherError(
                .settings, Variable.marbleType[0], found: "neither it nor \(Variable.marbleType[1]) set",
                expected: "the marble type, a key of the manifest's Marbles",
                hint: "set \(Variable.marbleType[0])=<type> (or MarbleRun's \(Variable.marbleType[1]))")
        }
        let addressVariable = reader.name(Variable.coordinatorAddress)
        let coordinator = try CoordinatorAddress(
            parsing: try reader.value(Variable.coordinatorAddress) ?? defaultCoordinatorAddress,
            variable: addressVariable)
        let uuidFile = reader.absolutePath(try reader.value(Variable.uuidFile) ?? "uuid")
        let names = try MarbleNames(
            parsing: try reader.value(Variable.dnsNames) ?? defaultDNSNames, variable: reader.name(Variable.dnsNames))
        let roots = try CoordinatorRootCertificates.read(reader.value([Variable.coordinatorRoot]), reader: reader)
        let platform = try PlatformSelection(reader: reader)
        return LauncherSettings(
            marbleType: marbleType, coordinator: coordinator, uuidFile: uuidFile, names: names,
            coordinatorRoots: roots, platform: platform, secretPlacement: try SecretFilePlacement(reader: reader))
    }
}

/// Reads variables that may have several names, and resolves paths.
struct EnvironmentReader {
    let environment: [String: String]
    let workingDirectory: String

    /// The value of the first set name among `names`, nil when none is set (an empty value counts as unset, as in
    /// MarbleRun). Two names set to different values is an error, since either could be the one meant.
    func value(_ names: [String]) throws(LauncherError) -> String? {
        let set = names.compactMap { name in environment[name].flatMap { $0.isEmpty ? nil : (name, $0) } }
        guard let first = set.first else { return nil }
        if let other = set.dropFirst().first(where: { $0.1 != first.1 }) {
            throw LauncherError(
                .settings, "\(first.0) and \(other.0)", found: "\(first.1.quotedForError()) and \(other.1.quotedForError())",
                expected: "one value", hint: "unset one of the two variables or give both the same value")
        }
        return first.1
    }

    /// The name to show for a setting: the one that is set, or the Cloister name.
    func name(_ names: [String]) -> String {
        names.first { environment[$0].map { !$0.isEmpty } ?? false } ?? names[0]
    }

    func required(_ name: String, expected: String, hint: String) throws(LauncherError) -> String {
        guard let value = try value([name]) else {
            throw LauncherError(.settings, name, found: "not set", expected: expected, hint: hint)
        }
        return value
    }

    func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: workingDirectory, isDirectory: true).appendingPathComponent(path).standardized.path
    }
}

/// Where the Coordinator's marble API listens.
public struct CoordinatorAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[IPv6]:port`, or a bare host (port 2001, MarbleRun's default).
    public init(parsing text: String, variable: String) throws(LauncherError) {
        func invalid(_ why: String) -> LauncherError {
            LauncherError(
                .settings, variable, found: "\(text.quotedForError()) (\(why))",
                expected: "host:port, e.g. localhost:2001 or [::1]:2001",
                hint: "set \(variable) to the address of the Coordinator's marble API")
        }
        let host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid("an IPv6 address without ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw invalid("text after ']' that is not ':port'") }
                portText = rest.dropFirst()
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else if text.contains(":") {
            throw invalid("an IPv6 address must be written in brackets")
        } else {
            host = Substring(text)
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw invalid("no valid host")
        }
        var port = CoordinatorAddress.defaultPort
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else {
                throw invalid("port \(String(portText).quotedForError()) is not in 1...65535")
            }
            port = value
        }
        self.init(host: String(host), port: port)
    }

    public static let defaultPort = 2001

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The names that go into the marble's certificate: DNS names, and IP literals as IP addresses.
public struct MarbleNames: Sendable, Hashable {
    public var dnsNames: [String]
    /// IP addresses in network byte order (4 or 16 bytes).
    public var ipAddresses: [[UInt8]]

    public init(dnsNames: [String], ipAddresses: [[UInt8]]) {
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
    }

    /// Parses a comma-separated list as MarbleRun's `EDG_MARBLE_DNS_NAMES`: IP literals become IP addresses,
    /// everything else a DNS name. Blanks around names and empty entries are ignored.
    public init(parsing text: String, variable: String) throws(LauncherError) {
        var dnsNames: [String] = []
        var ipAddresses: [[UInt8]] = []
        for entry in text.split(separator: ",") {
            let name = entry.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            if let address = Self.ipAddressBytes(name) {
                if !ipAddresses.contains(address) { ipAddresses.append(address) }
                continue
            }
            guard Self.isDNSName(name) else {
                throw LauncherError(
                    .settings, variable, found: "the name \(name.quotedForError())",
                    expected: "DNS names (letters, digits, '-', '.', a leading '*.') or IP literals, separated by commas",
                    hint: "fix \(variable), e.g. redis.example.internal,10.0.0.5")
            }
            if !dnsNames.contains(name) { dnsNames.append(name) }
        }
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else {
            throw LauncherError(
                .settings, variable, found: text.quotedForError(), expected: "at least one DNS name or IP address",
                hint: "unset \(variable) to use 'localhost', or list the marble's names")
        }
        self.init(dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    /// These names plus 127.0.0.1 and ::1, which MarbleRun's premain always puts into the marble's certificate.
    public var withLoopback: MarbleNames {
        var names = self
        for loopback in [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]] where !names.ipAddresses.contains(loopback) {
            names.ipAddresses.append(loopback)
        }
        return names
    }

    /// The bytes of an IPv4 or IPv6 literal, nil when `text` is not one.
    public static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func isDNSName(_ name: String) -> Bool {
        let body = name.hasPrefix("*.") ? name.dropFirst(2) : Substring(name)
        guard !body.isEmpty, body.utf8.count <= 253 else { return false }
        return body.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
        }
    }
}

/// Reads the Coordinator root setting: inline PEM, or the path of a PEM file. One or more certificates.
enum CoordinatorRootCertificates {
    static func read(_ value: String?, reader: EnvironmentReader) throws(LauncherError) -> [Certificate] {
        let variable = LauncherSettings.Variable.coordinatorRoot
        guard let value else {
            throw LauncherError(
                .settings, variable, found: "not set",
                expected: "the Coordinator's root certificate (a PEM file path or the PEM text)",
                hint: "take the root (the last certificate of GET /api/v2/quote's cert) from the Coordinator after "
                    + "verifying its quote, and set \(variable); the launcher never talks to an unverified Coordinator")
        }
        let pem: String
        let source: String
        if value.contains("-----BEGIN") {
            pem = value
            source = "the inline PEM of \(variable)"
        } else {
            let path = reader.absolutePath(value)
            source = path
            do {
                pem = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw LauncherError(
                    .settings, variable, found: "\(path), which cannot be read (\(error.localizedDescription))",
                    expected: "a readable PEM file or inline PEM", hint: "check the path in \(variable)")
            }
        }
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: pem)
                .filter { $0.discriminator == "CERTIFICATE" }
                .map { try Certificate(derEncoded: $0.derBytes) }
        } catch {
            throw LauncherError(
                .settings, variable, found: "\(source) does not parse as PEM certificates (\(error))",
                expected: "one or more '-----BEGIN CERTIFICATE-----' blocks",
                hint: "give the Coordinator root certificate in PEM form")
        }
        guard !certificates.isEmpty else {
            throw LauncherError(
                .settings, variable, found: "\(source) holds no CERTIFICATE block",
                expected: "one or more '-----BEGIN CERTIFICATE-----' blocks",
                hint: "give the Coordinator root certificate in PEM form")
        }
        return certificates
    }
}
