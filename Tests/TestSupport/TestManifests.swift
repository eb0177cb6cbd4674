import Foundation
import Hexadecimal
import Platform

/// The enclaves of the test deployment: the Coordinator, and two marble packages under one signer.
public enum TestMeasurements {
    public static let coordinator = EnclaveMeasurement(
        mrEnclave: [UInt8](repeating: 0xC0, count: 32), mrSigner: [UInt8](repeating: 0xC5, count: 32), productID: 1,
        securityVersion: 1, debug: false)
    public static let marbleSigner = [UInt8](repeating: 0x5A, count: 32)
    public static let frontendEnclave = [UInt8](repeating: 0xF1, count: 32)
    public static let backendEnclave = [UInt8](repeating: 0xB2, count: 32)

    /// The frontend package accepts any enclave of `marbleSigner` with product 43 and SecurityVersion 3 or higher.
    public static func frontend(securityVersion: UInt16 = 3, debug: Bool = false) -> EnclaveMeasurement {
        EnclaveMeasurement(mrEnclave: frontendEnclave, mrSigner: marbleSigner, productID: 43, securityVersion: securityVersion, debug: debug)
    }

    /// The backend package accepts exactly `backendEnclave`.
    public static func backend(debug: Bool = false) -> EnclaveMeasurement {
        EnclaveMeasurement(mrEnclave: backendEnclave, mrSigner: marbleSigner, productID: 7, securityVersion: 1, debug: debug)
    }
}

/// The manifests every Coordinator test starts from: two packages (frontend by signer, backend by MRENCLAVE), four
/// marble types, secrets of every kind (shared, per-marble, certificates, user-defined), users with roles.
public enum TestManifests {
    /// Roles per user name: admin may do everything, alice and bob update the manifest, reader only reads.
    public static func roles(of user: String) -> [String] {
        switch user {
        case "admin": ["updateManifest", "updatePackages", "readWrite", "readOnly"]
        case "alice", "bob": ["updateManifest"]
        case "reader": ["readOnly"]
        default: []
        }
    }

    /// `extraSecrets` are added to `Secrets` (name to definition); `featureGates` become `Config.FeatureGates`, and
    /// `config` adds other `Config` members (`SealMode`, `RecoveryThreshold`).
    public static func standard(
        users: [TestUser] = [], maxFrontend: Int = 0, frontendSecurityVersion: Int = 3, frontendTCB: [String]? = nil,
        frontendAdvisories: [String]? = nil, frontendDebug: Bool = false, updateThreshold: Int = 0,
        recoveryKeys: [String: String] = [:], backendEnv: String = "production", extraSecrets: [String: [String: Any]] = [:],
        featureGates: [String] = [], config extraConfig: [String: Any] = [:]
    ) -> [UInt8] {
        var frontendPackage: [String: Any] = [
            "SignerID": TestMeasurements.marbleSigner.hexadecimal, "ProductID": 43, "SecurityVersion": frontendSecurityVersion,
            "Debug": frontendDebug,
        ]
        frontendPackage["AcceptedTCBStatuses"] = frontendTCB
        frontendPackage["AcceptedAdvisories"] = frontendAdvisories
        var secrets: [String: Any] = [
            "sharedKey": ["Type": "symmetric-key", "Size": 256, "Shared": true],
            "uniqueKey": ["Type": "symmetric-key", "Size": 128],
            "sharedCert": ["Type": "cert-ecdsa", "Size": 256, "Shared": true, "Cert": ["DNSNames": ["shared.example"]]],
            "uniqueCert": ["Type": "cert-ed25519"],
            "apiToken": ["Type": "plain", "UserDefined": true],
            "userKey": ["Type": "symmetric-key", "Size": 128, "UserDefined": true],
        ]
        secrets.merge(extraSecrets) { _, extra in extra }
        var config: [String: Any] = ["UpdateThreshold": updateThreshold]
        if !featureGates.isEmpty { config["FeatureGates"] = featureGates }
        config.merge(extraConfig) { _, extra in extra }
        let manifest: [String: Any] = [
            "Packages": [
                "frontend": frontendPackage,
                "backend": ["UniqueID": TestMeasurements.backendEnclave.hexadecimal],
            ],
            "Marbles": [
                "frontend": [
                    "Package": "frontend",
                    "MaxActivations": maxFrontend,
                    "Parameters": [
                        "Files": [
                            "/secrets/shared.key": "{{ hex .Secrets.sharedKey }}",
                            "/secrets/unique.key": "{{ hex .Secrets.uniqueKey }}",
                            "/secrets/cert.pem": "{{ pem .Secrets.sharedCert.Cert }}",
                            "/secrets/unique-cert.pem": "{{ pem .Secrets.uniqueCert.Cert }}",
                            "/secrets/root.pem": "{{ pem .MarbleRun.RootCA.Cert }}",
                        ],
                        "Env": ["MODE": "production"],
                        "Argv": ["frontend", "--serve"],
                    ],
                ],
                "backend": [
                    "Package": "backend",
                    "Parameters": [
                        "Env": ["MODE": backendEnv, "KEY": "{{ base64 .Secrets.uniqueKey }}", "MARBLE_CERT": "{{ pem .MarbleRun.MarbleCert.Cert }}"]
                    ],
                ],
                "worker": [
                    "Package": "backend", "DisableSecretBinding": true, "Parameters": ["Files": ["/key": "{{ raw .Secrets.uniqueKey }}"]],
                ],
                "reporter": [
                    "Package": "backend",
                    "Parameters": ["Env": ["API_TOKEN": "{{ string .Secrets.apiToken }}", "USER_KEY": "{{ hex .Secrets.userKey }}"]],
                ],
            ],
            "Secrets": secrets,
            "Users": Dictionary(
                uniqueKeysWithValues: users.map { user in
                    (user.name, ["Certificate": user.certificatePEM, "Roles": roles(of: user.name)] as [String: Any])
                }),
            "Roles": [
                "updateManifest": ["ResourceType": "Manifest", "Actions": ["UpdateManifest"]],
                "updatePackages": ["ResourceType": "Packages", "ResourceNames": ["frontend"], "Actions": ["UpdateSecurityVersion"]],
                "readWrite": ["ResourceType": "Secrets", "ResourceNames": ["apiToken", "userKey"], "Actions": ["ReadSecret", "WriteSecret"]],
                "readOnly": ["ResourceType": "Secrets", "ResourceNames": ["apiToken", "sharedKey"], "Actions": ["ReadSecret"]],
            ],
            "RecoveryKeys": recoveryKeys,
            "Config": config,
        ]
        return json(manifest)
    }

    /// A package update raising frontend's SecurityVersion.
    public static func packageUpdate(frontendSecurityVersion: Int) -> [UInt8] {
        json(["Packages": ["frontend": ["SecurityVersion": frontendSecurityVersion]]])
    }

    private static func json(_ object: [String: Any]) -> [UInt8] {
        // The fixture is a literal of strings, numbers and booleans: serialization cannot fail.
        Array(try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
    }
}
