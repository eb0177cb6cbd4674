import Foundation
import Testing
import X509

@testable import Launcher

@Suite struct SettingsTests {
    let authority: TestAuthority
    let rootPEM: String

    init() throws {
        authority = try TestAuthority(name: "Settings Test Root")
        rootPEM = try authority.pem
    }

    func parse(_ environment: [String: String]) throws(LauncherError) -> LauncherSettings {
        try LauncherSettings.parse(environment: environment, workingDirectory: "/srv/marble")
    }

    func error(_ environment: [String: String]) -> LauncherError? {
        do {
            _ = try parse(environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func marbleRunNamesGetMarbleRunDefaults() throws {
        let settings = try parse(["EDG_MARBLE_TYPE": "backend", "CLOISTER_COORDINATOR_ROOT_CA": rootPEM])
        #expect(settings.marbleType == "backend")
        #expect(settings.coordinator == CoordinatorAddress(host: "localhost", port: 2001))
        #expect(settings.uuidFile == "/srv/marble/uuid")
        #expect(settings.names == MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        #expect(settings.platform == .gramine(attestationDirectory: "/dev/attestation"))
        #expect(settings.coordinatorRoots == [authority.certificate])
    }

    @Test func cloisterNamesAreAcceptedAndAgreeingDuplicatesAreFine() throws {
        let settings = try parse([
            "CLOISTER_MARBLE_TYPE": "frontend", "EDG_MARBLE_TYPE": "frontend",
            "CLOISTER_COORDINATOR_ADDR": "coordinator.internal:4433",
            "EDG_MARBLE_UUID_FILE": "state/uuid", "CLOISTER_MARBLE_DNS_NAMES": "web.example, 10.1.2.3,,::1",
            "CLOISTER_COORDINATOR_ROOT_CA": rootPEM,
        ])
        #expect(settings.marbleType == "frontend")
        #expect(settings.coordinator == CoordinatorAddress(host: "coordinator.internal", port: 4433))
        #expect(settings.uuidFile == "/srv/marble/state/uuid")
        #expect(settings.names.dnsNames == ["web.example"])
        #expect(settings.names.ipAddresses == [[10, 1, 2, 3], [UInt8](repeating: 0, count: 15) + [1]])
    }

    @Test func conflictingNamesAreRefusedNamingBoth() throws {
        let failure = try #require(
            error(["CLOISTER_MARBLE_TYPE": "a", "EDG_MARBLE_TYPE": "b", "CLOISTER_COORDINATOR_ROOT_CA": rootPEM]))
        #expect(failure.stage == .settings)
        #expect(failure.subject == "CLOISTER_MARBLE_TYPE and EDG_MARBLE_TYPE")
        #expect(failure.exitCode == 2)
    }

    @Test func missingMarbleTypeNamesTheVariable() throws {
        let failure = try #require(error(["CLOISTER_COORDINATOR_ROOT_CA": rootPEM]))
        #expect(failure.subject == "CLOISTER_MARBLE_TYPE")
        #expect(failure.description.contains("EDG_MARBLE_TYPE"))
        #expect(!failure.description.contains("\n"))
    }

    @Test func missingRootIsRefusedBecauseTheCoordinatorIsAlwaysVerified() throws {
        let failure = try #require(error(["EDG_MARBLE_TYPE": "backend"]))
        #expect(failure.subject == "CLOISTER_COORDINATOR_ROOT_CA")
        #expect(failure.found == "not set")
    }

    @Test func rootIsReadFromAFileWithSeveralCertificates() throws {
        let directory = try TemporaryDirectory()
        let other = try TestAuthority(name: "Second Root")
        try (rootPEM + "\n" + other.pem).write(toFile: directory.file("roots.pem"), atomically: true, encoding: .utf8)
        let settings = try LauncherSettings.parse(
            environment: ["EDG_MARBLE_TYPE": "x", "CLOISTER_COORDINATOR_ROOT_CA": "roots.pem"],
            workingDirectory: directory.path)
        #expect(settings.coordinatorRoots == [authority.certificate, other.certificate])
    }

    @Test(arguments: [
        ("/nonexistent/root.pem", "cannot be read"),
        ("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----", "does not parse"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "no CERTIFICATE block"),
    ])
    func unusableRootsAreRefused(value: String, reason: String) throws {
        let failure = try #require(error(["EDG_MARBLE_TYPE": "x", "CLOISTER_COORDINATOR_ROOT_CA": value]))
        #expect(failure.subject == "CLOISTER_COORDINATOR_ROOT_CA")
        #expect(failure.found.contains(reason), "\(failure)")
    }

    @Test(arguments: [
        ("[::1]:3000", "::1", 3000), ("10.0.0.7", "10.0.0.7", 2001), ("[fe80::1]", "fe80::1", 2001),
        ("coordinator:65535", "coordinator", 65535),
    ])
    func addressesParse(text: String, host: String, port: Int) throws {
        #expect(try CoordinatorAddress(parsing: text, variable: "V") == CoordinatorAddress(host: host, port: port))
    }

    @Test(arguments: ["host:0", "host:70000", "host:http", "::1", "[::1", "[::1]x", ":2001", "a b:1"])
    func invalidAddressesNameTheVariable(text: String) throws {
        let failure = try #require(
            error([
                "EDG_MARBLE_TYPE": "x", "CLOISTER_COORDINATOR_ROOT_CA": rootPEM, "EDG_MARBLE_COORDINATOR_ADDR": text,
            ]))
        #expect(failure.subject == "EDG_MARBLE_COORDINATOR_ADDR")
        #expect(failure.exitCode == 2)
    }

    @Test(arguments: ["bad name", "-leading.example", "a..b", "ünicode.example", " , "])
    func invalidDNSNamesAreRefused(text: String) throws {
        let failure = try #require(
            error([
                "EDG_MARBLE_TYPE": "x", "CLOISTER_COORDINATOR_ROOT_CA": rootPEM, "EDG_MARBLE_DNS_NAMES": text,
            ]))
        #expect(failure.subject == "EDG_MARBLE_DNS_NAMES")
    }

    @Test func wildcardAndUnderscoreNamesAreAccepted() throws {
        let names = try MarbleNames(parsing: "*.svc.example,_srv.example", variable: "V")
        #expect(names.dnsNames == ["*.svc.example", "_srv.example"])
    }

    @Test func simulationNeedsItsThreeSettings() throws {
        let base = ["EDG_MARBLE_TYPE": "x", "CLOISTER_COORDINATOR_ROOT_CA": rootPEM, "CLOISTER_PLATFORM": "simulation"]
        #expect(error(base)?.subject == "CLOISTER_SIMULATION_STATE_DIR")
        #expect(error(base.merging(["CLOISTER_SIMULATION_STATE_DIR": "sim"]) { $1 })?.subject == "CLOISTER_ENCLAVE_DESCRIPTION")
        #expect(
            error(base.merging(["CLOISTER_SIMULATION_STATE_DIR": "sim", "CLOISTER_ENCLAVE_DESCRIPTION": "d.json"]) { $1 })?
                .subject == "CLOISTER_ENCLAVE_SIGNER")
        let settings = try parse(
            base.merging([
                "CLOISTER_SIMULATION_STATE_DIR": "sim", "CLOISTER_ENCLAVE_DESCRIPTION": "d.json",
                "CLOISTER_ENCLAVE_SIGNER": "/keys/enclave.pem",
            ]) { $1 })
        #expect(
            settings.platform
                == .simulation(
                    SimulationSettings(
                        stateDirectory: "/srv/marble/sim", enclave: .description(path: "/srv/marble/d.json", signer: "/keys/enclave.pem"),
                        attestationDirectory: nil)))
        let gramine = try parse(
            base.merging(["CLOISTER_SIMULATION_STATE_DIR": "sim", "CLOISTER_GRAMINE_APPLICATION": "/cloister/entrypoint"]) { $1 })
        #expect(
            gramine.platform
                == .simulation(
                    SimulationSettings(
                        stateDirectory: "/srv/marble/sim", enclave: .gramine(application: "/cloister/entrypoint"), attestationDirectory: nil)))
    }

    @Test func unknownPlatformIsRefused() throws {
        let failure = try #require(
            error(["EDG_MARBLE_TYPE": "x", "CLOISTER_COORDINATOR_ROOT_CA": rootPEM, "CLOISTER_PLATFORM": "sgx"]))
        #expect(failure.subject == "CLOISTER_PLATFORM")
        #expect(failure.expected.contains("simulation"))
    }
}

/// Under Gramine, `Files` targets outside the protected mounts land on the host's disk: warned about, or refused.
@Suite struct SecretFilePlacementTests {
    @Test func targetsOutsideKeysAndProtectedMountsAreNamed() {
        let placement = SecretFilePlacement(protectedPaths: ["/secrets", "/data/"], policy: .warn)
        let paths = ["/dev/attestation/keys/default", "/secrets/a.key", "/secrets", "/data/db", "/secretsx/a", "/etc/app.conf"]
        #expect(placement.unprotected(paths) == ["/secretsx/a", "/etc/app.conf"])
    }

    @Test func theWarningNamesTheFilesAndThePolicyRefusesBeforeActivation() throws {
        var warnings: [String] = []
        try SecretFilePlacement(protectedPaths: [], policy: .warn).review(["/etc/app.conf"]) { warnings.append($0) }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("WARNING") == true && warnings.first?.contains("/etc/app.conf") == true)
        #expect(warnings.first?.contains("/dev/attestation/keys") == true)
        let error = try #require(throws: LauncherError.self) {
            try SecretFilePlacement(protectedPaths: ["/tmpfs"], policy: .refuse).review(["/etc/app.conf"]) { _ in }
        }
        #expect(error.subject == "/etc/app.conf" && error.expected.contains("/tmpfs"))
    }

    @Test func settingsAreReadAndCheckedFromTheEnvironment() throws {
        let reader = EnvironmentReader(
            environment: ["CLOISTER_PROTECTED_PATHS": "/run/secrets:/data", "CLOISTER_UNPROTECTED_FILES": "refuse"], workingDirectory: "/")
        #expect(try SecretFilePlacement(reader: reader) == SecretFilePlacement(protectedPaths: ["/run/secrets", "/data"], policy: .refuse))
        for (name, value) in [("CLOISTER_PROTECTED_PATHS", "relative/path"), ("CLOISTER_UNPROTECTED_FILES", "ignore")] {
            let error = try #require(throws: LauncherError.self) {
                try SecretFilePlacement(reader: EnvironmentReader(environment: [name: value], workingDirectory: "/"))
            }
            #expect(error.stage == .settings && error.subject == name)
        }
    }
}

/// The entrypoint of a converted image: Gramine's loader on SGX nodes, the launcher itself in simulation.
@Suite struct ConvertedImageEntryTests {
    /// Kept for the test's life: the directory goes with it.
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    func application() throws -> String {
        try """
        [loader.entrypoint]
        uri = "file:/gramine/lib/x86_64-linux-gnu/gramine/libsysdb.so"
        """.write(toFile: directory.file("entrypoint.manifest.sgx"), atomically: true, encoding: .utf8)
        return directory.file("entrypoint")
    }

    @Test func onSGXNodesGramineStartsTheEnclaveAsGramineSGXWould() throws {
        let application = try application()
        let plan = try ConvertedImageEntry.plan(arguments: ["premain", "--converted-image", application], environment: [:])
        let loader = "/gramine/lib/x86_64-linux-gnu/gramine/sgx/loader"
        #expect(
            plan == .startEnclave(loader: loader, arguments: [loader, "/gramine/lib/x86_64-linux-gnu/gramine/sgx/libpal.so", "init", application]))
    }

    @Test func simulationRunsTheLauncherWithTheApplication() throws {
        let application = try application()
        let plan = try ConvertedImageEntry.plan(
            arguments: ["premain", "--converted-image", application], environment: ["CLOISTER_PLATFORM": "simulation", "PATH": "/bin"])
        #expect(
            plan
                == .simulate(
                    environment: ["CLOISTER_PLATFORM": "simulation", "PATH": "/bin", "CLOISTER_GRAMINE_APPLICATION": application],
                    arguments: ["premain"]))
    }

    @Test func hostArgumentsAndUnknownPlatformsAreRefused() throws {
        let application = try application()
        let extra = try #require(throws: LauncherError.self) {
            try ConvertedImageEntry.plan(arguments: ["premain", "--converted-image", application, "--evil"], environment: [:])
        }
        #expect(extra.hint.contains("loader.argv"))
        let platform = try #require(throws: LauncherError.self) {
            try ConvertedImageEntry.plan(arguments: ["premain", "--converted-image", application], environment: ["CLOISTER_PLATFORM": "sgx"])
        }
        #expect(platform.subject == "CLOISTER_PLATFORM")
    }
}
