import Coordinator
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Foundation
import Logging
import Platform
import SealedStore
import SwiftASN1
import TestSupport
import X509

/// A Coordinator on a simulated SGX machine with its state in a temporary directory, and marbles on the same machine.
struct CoordinatorFixture {
    let directory: URL
    let machine: SimulatedSGXMachine
    let coordinatorEnclave: EnclaveMeasurement

    static let marbleSigner = [UInt8](repeating: 0x5A, count: 32)
    static let frontendEnclave = [UInt8](repeating: 0xF1, count: 32)
    static let backendEnclave = [UInt8](repeating: 0xB2, count: 32)

    init(tcbState: SimulatedTCBState = .upToDate) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        machine = try SimulatedSGXMachine.openOrCreate(
            stateDirectory: directory.appendingPathComponent("machine"), tcbState: tcbState)
        coordinatorEnclave = EnclaveMeasurement(
            mrEnclave: [UInt8](repeating: 0xC0, count: 32), mrSigner: [UInt8](repeating: 0xC5, count: 32), productID: 1,
            securityVersion: 1, debug: false)
    }

    /// The same data directory and machine, but another sealing identity: the sealed state no longer unseals.
    func withOtherSealingIdentity() -> CoordinatorFixture {
        var copy = self
        copy.coordinatorEnclaveOverride = EnclaveMeasurement(
            mrEnclave: coordinatorEnclave.mrEnclave, mrSigner: [UInt8](repeating: 0xD6, count: 32),
            productID: coordinatorEnclave.productID, securityVersion: coordinatorEnclave.securityVersion, debug: false)
        return copy
    }

    private var coordinatorEnclaveOverride: EnclaveMeasurement?

    var dataDirectory: URL { directory.appendingPathComponent("data") }

    func platform(_ enclave: EnclaveMeasurement) -> SimulatedPlatform {
        SimulatedPlatform(machine: machine, enclave: enclave, consent: .insecureSimulation(announce: { _ in }))
    }

    func configuration(
        quoteVerification: QuoteVerificationConfiguration? = nil, clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> CoordinatorConfiguration {
        CoordinatorConfiguration(
            platform: platform(coordinatorEnclaveOverride ?? coordinatorEnclave),
            quoteVerification: quoteVerification ?? .simulated(machine),
            storage: try SQLiteStorage(directory: dataDirectory),
            logger: Self.quietLogger,
            clock: clock)
    }

    func start(
        startupManifest: [UInt8]? = nil, quoteVerification: QuoteVerificationConfiguration? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> Coordinator {
        try await Coordinator.start(
            try configuration(quoteVerification: quoteVerification, clock: clock), startupManifest: startupManifest)
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "coordinator-tests")
        logger.logLevel = .error
        return logger
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    static func frontend(securityVersion: UInt16 = 3, debug: Bool = false) -> EnclaveMeasurement {
        EnclaveMeasurement(mrEnclave: frontendEnclave, mrSigner: marbleSigner, productID: 43, securityVersion: securityVersion, debug: debug)
    }

    static func backend(debug: Bool = false) -> EnclaveMeasurement {
        EnclaveMeasurement(mrEnclave: backendEnclave, mrSigner: marbleSigner, productID: 7, securityVersion: 1, debug: debug)
    }
}

/// JSON manifests for the tests.
enum TestManifests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func jsonString(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    /// Two packages (frontend by signer, backend by MRENCLAVE), three marble types, secrets of every kind, users.
    static func standard(
        users: [TestUser] = [], maxFrontend: Int = 0, frontendTCB: [String]? = nil, frontendDebug: Bool = false,
        updateThreshold: Int = 0, recoveryKeys: [String: String] = [:], extraSecrets: String = ""
    ) -> [UInt8] {
        let tcb = frontendTCB.map { ", \"AcceptedTCBStatuses\": [" + $0.map { "\"\($0)\"" }.joined(separator: ",") + "]" } ?? ""
        var userEntries: [String] = []
        for user in users {
            let roles: [String] =
                switch user.name {
                case "admin": ["\"updateManifest\"", "\"updatePackages\"", "\"readWrite\"", "\"readOnly\""]
                case "alice", "bob": ["\"updateManifest\""]
                case "reader": ["\"readOnly\""]
                default: []
                }
            userEntries.append(
                "\"\(user.name)\": {\"Certificate\": \(jsonString(user.certificatePEM)), \"Roles\": [\(roles.joined(separator: ","))]}")
        }
        let recovery = recoveryKeys.map { "\"\($0.key)\": \(jsonString($0.value))" }.joined(separator: ",")
        let text = """
            {
              "Packages": {
                "frontend": {"SignerID": "\(hex(CoordinatorFixture.marbleSigner))", "ProductID": 43, "SecurityVersion": 3, "Debug": \(frontendDebug)\(tcb)},
                "backend": {"UniqueID": "\(hex(CoordinatorFixture.backendEnclave))"}
              },
              "Marbles": {
                "frontend": {
                  "Package": "frontend",
                  "MaxActivations": \(maxFrontend),
                  "Parameters": {
                    "Files": {
                      "/secrets/shared.key": "{{ hex .Secrets.sharedKey }}",
                      "/secrets/unique.key": "{{ hex .Secrets.uniqueKey }}",
                      "/secrets/cert.pem": "{{ pem .Secrets.sharedCert.Cert }}",
                      "/secrets/unique-cert.pem": "{{ pem .Secrets.uniqueCert.Cert }}",
                      "/secrets/root.pem": "{{ pem .MarbleRun.RootCA.Cert }}"
                    },
                    "Env": {"MODE": "production"},
                    "Argv": ["frontend", "--serve"]
                  }
                },
                "backend": {
                  "Package": "backend",
                  "Parameters": {"Env": {"KEY": "{{ base64 .Secrets.uniqueKey }}", "MARBLE_CERT": "{{ pem .MarbleRun.MarbleCert.Cert }}"}}
                },
                "worker": {"Package": "backend", "DisableSecretBinding": true,
                  "Parameters": {"Files": {"/key": "{{ raw .Secrets.uniqueKey }}"}}},
                "reporter": {"Package": "backend",
                  "Parameters": {"Env": {"API_TOKEN": "{{ string .Secrets.apiToken }}", "USER_KEY": "{{ hex .Secrets.userKey }}"}}}
              },
              "Secrets": {
                "sharedKey": {"Type": "symmetric-key", "Size": 256, "Shared": true},
                "uniqueKey": {"Type": "symmetric-key", "Size": 128},
                "sharedCert": {"Type": "cert-ecdsa", "Size": 256, "Shared": true, "Cert": {"DNSNames": ["shared.example"]}},
                "uniqueCert": {"Type": "cert-ed25519"},
                "apiToken": {"Type": "plain", "UserDefined": true},
                "userKey": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}\(extraSecrets)
              },
              "Users": {\(userEntries.joined(separator: ","))},
              "Roles": {
                "updateManifest": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
                "updatePackages": {"ResourceType": "Packages", "ResourceNames": ["frontend"], "Actions": ["UpdateSecurityVersion"]},
                "readWrite": {"ResourceType": "Secrets", "ResourceNames": ["apiToken", "userKey"], "Actions": ["ReadSecret", "WriteSecret"]},
                "readOnly": {"ResourceType": "Secrets", "ResourceNames": ["apiToken", "sharedKey"], "Actions": ["ReadSecret"]}
              },
              "RecoveryKeys": {\(recovery)},
              "Config": {"UpdateThreshold": \(updateThreshold)}
            }
            """
        return Array(text.utf8)
    }
}
