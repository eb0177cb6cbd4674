import Foundation
import TestSupport

/// JSON manifests for the server tests: two packages (frontend by signer, backend by MRENCLAVE), three marble types,
/// shared, per-marble and user-defined secrets, and users with roles.
enum TestManifests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func quoted(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    /// Roles per user name: admin may do everything, alice and bob update the manifest, reader only reads.
    static func roles(of user: String) -> [String] {
        switch user {
        case "admin": ["updateManifest", "updatePackages", "readWrite", "readOnly"]
        case "alice", "bob": ["updateManifest"]
        case "reader": ["readOnly"]
        default: []
        }
    }

    static func standard(
        users: [TestUser] = [], maxFrontend: Int = 0, frontendSecurityVersion: Int = 3, updateThreshold: Int = 0,
        recoveryKeys: [String: String] = [:], backendEnv: String = "production"
    ) -> [UInt8] {
        let userEntries = users.map { user in
            "\(quoted(user.name)): {\"Certificate\": \(quoted(user.identity.certificatePEM)), \"Roles\": [\(roles(of: user.name).map(quoted).joined(separator: ","))]}"
        }
        let recovery = recoveryKeys.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }
        let text = """
            {
              "Packages": {
                "frontend": {"SignerID": "\(hex(ServerFixture.marbleSigner))", "ProductID": 43, "SecurityVersion": \(frontendSecurityVersion), "Debug": false},
                "backend": {"UniqueID": "\(hex(ServerFixture.backendEnclave))"}
              },
              "Marbles": {
                "frontend": {
                  "Package": "frontend",
                  "MaxActivations": \(maxFrontend),
                  "Parameters": {
                    "Files": {"/secrets/shared.key": "{{ hex .Secrets.sharedKey }}", "/secrets/unique.key": "{{ hex .Secrets.uniqueKey }}"},
                    "Env": {"MODE": "production"},
                    "Argv": ["frontend", "--serve"]
                  }
                },
                "backend": {"Package": "backend", "Parameters": {"Env": {"MODE": "\(backendEnv)", "KEY": "{{ base64 .Secrets.uniqueKey }}"}}},
                "reporter": {"Package": "backend", "Parameters": {"Env": {"API_TOKEN": "{{ string .Secrets.apiToken }}"}}}
              },
              "Secrets": {
                "sharedKey": {"Type": "symmetric-key", "Size": 256, "Shared": true},
                "uniqueKey": {"Type": "symmetric-key", "Size": 128},
                "apiToken": {"Type": "plain", "UserDefined": true},
                "userKey": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}
              },
              "Users": {\(userEntries.joined(separator: ","))},
              "Roles": {
                "updateManifest": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
                "updatePackages": {"ResourceType": "Packages", "ResourceNames": ["frontend"], "Actions": ["UpdateSecurityVersion"]},
                "readWrite": {"ResourceType": "Secrets", "ResourceNames": ["apiToken", "userKey"], "Actions": ["ReadSecret", "WriteSecret"]},
                "readOnly": {"ResourceType": "Secrets", "ResourceNames": ["apiToken", "sharedKey"], "Actions": ["ReadSecret"]}
              },
              "RecoveryKeys": {\(recovery.joined(separator: ","))},
              "Config": {"UpdateThreshold": \(updateThreshold)}
            }
            """
        return Array(text.utf8)
    }

    /// A package update raising frontend's SecurityVersion.
    static func packageUpdate(frontendSecurityVersion: Int) -> [UInt8] {
        Array(#"{"Packages": {"frontend": {"SecurityVersion": \#(frontendSecurityVersion)}}}"#.utf8)
    }
}
