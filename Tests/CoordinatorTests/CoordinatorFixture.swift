import Coordinator
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Foundation
import Logging
import Platform
import SealedStore
import SwiftASN1
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

/// A marble as a launcher would present itself: a key, the self-signed TLS client certificate, a CSR and a quote
/// whose report data binds SHA-256 of the certificate.
struct TestMarble {
    let key: P384.Signing.PrivateKey
    let certificateDER: [UInt8]
    let csrDER: [UInt8]
    let uuid: UUID

    init(uuid: UUID = UUID(), dnsNames: [String] = ["localhost"]) throws {
        key = P384.Signing.PrivateKey()
        self.uuid = uuid
        let name = try DistinguishedName { CommonName("MarbleRun Marble") }
        let names = dnsNames.map { GeneralName.dnsName($0) } + [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400 * 365), issuer: name,
            subject: name, signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions { SubjectAlternativeNames(names) },
            issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        certificateDER = serializer.serializedBytes
        let extensions = try Certificate.Extensions { SubjectAlternativeNames(names) }
        let request = try CertificateSigningRequest(
            version: .v1, subject: name, privateKey: .init(key),
            attributes: CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA384)
        var csrSerializer = DER.Serializer()
        try csrSerializer.serialize(request)
        csrDER = csrSerializer.serializedBytes
    }

    /// A quote from `platform` over SHA-256(`boundCertificate`, by default this marble's certificate).
    func quote(on platform: SimulatedPlatform, boundCertificate: [UInt8]? = nil) throws -> [UInt8] {
        let hash = SHA256.hash(data: boundCertificate ?? certificateDER)
        return try platform.quote(reportData: try ReportData.padding(hash))
    }

    func request(type: String, quote: [UInt8]) -> ActivationRequest {
        ActivationRequest(quote: Data(quote), csr: Data(csrDER), marbleType: type, uuid: uuid.uuidString)
    }
}

/// A user: a key and a self-signed certificate, and its PEM for the manifest.
struct TestUser {
    let name: String
    let certificateDER: [UInt8]
    let certificatePEM: String

    init(name: String, notValidBefore: Date = Date().addingTimeInterval(-3600), notValidAfter: Date = Date().addingTimeInterval(86_400)) throws {
        self.name = name
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: notValidBefore, notValidAfter: notValidAfter, issuer: subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(), issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        certificateDER = serializer.serializedBytes
        certificatePEM = PEMDocument(type: "CERTIFICATE", derBytes: certificateDER).pemString
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
