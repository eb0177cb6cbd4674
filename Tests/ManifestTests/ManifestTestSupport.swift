import Crypto
import Foundation
import StrictJSON
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@testable import Manifest

/// Reads `json` and validates it.
func check(_ json: String) throws -> ValidationReport {
    try ManifestDocument.parse(Array(json.utf8)).validate()
}

func check(_ value: JSONValue) throws -> ValidationReport {
    try ManifestDocument.parse(GoJSONEncoding.encode(value)).validate()
}

func parse(_ json: String) throws -> JSONValue {
    try JSONParser.parse(Array(json.utf8))
}

/// A JSON string literal for `text` (PEM blocks need their newlines escaped).
func jsonString(_ text: String) -> String {
    String(
        decoding: {
            var bytes: [UInt8] = []
            GoJSONEncoding.appendString(text, to: &bytes)
            return bytes
        }(), as: UTF8.self)
}

extension ValidationReport {
    var errorPaths: [String] { errors.map(\.path) }
    var warningPaths: [String] { warnings.map(\.path) }

    func error(at path: String) -> Finding? { errors.first { $0.path == path } }
    func warning(at path: String) -> Finding? { warnings.first { $0.path == path } }
}

extension JSONValue {
    /// A copy with the value at `path` replaced, or removed when `value` is nil. Missing objects are created.
    func setting(_ path: [String], to value: JSONValue?) -> JSONValue {
        guard let key = path.first else { return value ?? .null }
        var members: [JSONMember]
        if case .object(let existing) = self { members = existing } else { members = [] }
        if let position = members.firstIndex(where: { $0.key == key }) {
            if path.count == 1, value == nil {
                members.remove(at: position)
            } else {
                members[position].value = members[position].value.setting(Array(path.dropFirst()), to: value)
            }
        } else if value != nil {
            members.append(JSONMember(key: key, value: JSONValue.object([]).setting(Array(path.dropFirst()), to: value)))
        }
        return .object(members)
    }

    subscript(path: String...) -> JSONValue? {
        var current: JSONValue? = self
        for key in path {
            guard case .object(let members) = current else { return nil }
            current = members.first { $0.key == key }?.value
        }
        return current
    }
}

/// A production-like manifest that validates without errors or warnings; rule tests change one thing in it.
let baseManifestJSON = """
    {
        "Packages": {
            "backend": { "UniqueID": "6b2822ac6a1a0e0d3c8e1d8a2a1f6b7c6b2822ac6a1a0e0d3c8e1d8a2a1f6b7c", "Debug": false },
            "frontend": {
                "SignerID": "43361affedeb75affee9baec7e054a5e14883213e5a121b67d74a0e12e9d2b7a",
                "ProductID": 43, "SecurityVersion": 3, "Debug": false,
                "AcceptedTCBStatuses": ["SWHardeningNeeded"], "AcceptedAdvisories": ["INTEL-SA-00334"]
            }
        },
        "Marbles": {
            "backend": {
                "Package": "backend",
                "MaxActivations": 1,
                "Parameters": {
                    "Files": {
                        "/keys/data.key": "{{ raw .Secrets.dataKey }}",
                        "/tls/server.crt": "{{ pem .Secrets.serverCert.Cert }}",
                        "/tls/server.key": "{{ pem .Secrets.serverCert.Private }}",
                        "/tls/ca.crt": "{{ pem .MarbleRun.RootCA.Cert }}"
                    },
                    "Env": {
                        "API_TOKEN": "{{ string .Secrets.apiToken }}",
                        "DATA_KEY_HEX": "{{ hex .Secrets.dataKey }}"
                    },
                    "Argv": ["./backend", "serve"]
                },
                "TLS": ["web"]
            },
            "frontend": {
                "Package": "frontend",
                "Parameters": {
                    "Env": { "SESSION_KEY": "{{ base64 .Secrets.sessionKey }}" }
                }
            }
        },
        "Secrets": {
            "dataKey": { "Type": "symmetric-key", "Size": 256, "Shared": true },
            "sessionKey": { "Type": "symmetric-key", "Size": 128 },
            "serverCert": { "Type": "cert-ecdsa", "Size": 256, "Shared": true, "ValidFor": 30, "Cert": { "Subject": { "CommonName": "backend" }, "DNSNames": ["backend"] } },
            "apiToken": { "Type": "plain", "UserDefined": true }
        },
        "Roles": {
            "tokenWriter": { "ResourceType": "Secrets", "ResourceNames": ["apiToken"], "Actions": ["WriteSecret", "ReadSecret"] },
            "frontendUpdater": { "ResourceType": "Packages", "ResourceNames": ["frontend"], "Actions": ["UpdateSecurityVersion"] }
        },
        "TLS": {
            "web": {
                "Outgoing": [{ "Port": "443", "Addr": "api.example.com" }],
                "Incoming": [{ "Port": "8443", "Cert": "serverCert", "DisableClientAuth": true }]
            }
        },
        "Config": { "SealMode": "ProductKey", "FeatureGates": ["SignQuoteEndpoint"] }
    }
    """

func baseManifest() throws -> JSONValue { try parse(baseManifestJSON) }

/// Real key material generated once per process for user certificates and recovery keys.
enum TestKeys {
    static func userCertificatePEM(commonName: String) throws -> String {
        let key = P256.Signing.PrivateKey()
        let name = try X509.DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(86_400), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions {}, issuerPrivateKey: .init(key))
        return try certificate.serializeAsPEM().pemString
    }

    static func recoveryKeyPEM(bits: _RSA.Signing.KeySize = .bits2048) throws -> String {
        try _RSA.Encryption.PrivateKey(keySize: bits).publicKey.pemRepresentation
    }
}
