import Crypto
import Foundation

@testable import Manifest

/// Secret values shaped as the Coordinator would hold them, made from fixed bytes.
enum RenderingFixtures {
    static func value(for definition: SecretDefinition, seed: UInt8) -> SecretValue {
        switch definition.type {
        case .symmetricKey:
            return .key((0..<Int(definition.size / 8)).map { UInt8(truncatingIfNeeded: Int($0) + Int(seed)) }, type: .symmetricKey)
        case .plain:
            return .key(Array("plain-\(seed)".utf8), type: .plain)
        default:
            return SecretValue(
                type: definition.type, certificate: [0x30, 0x03, seed, 1, 2], publicKey: [0x30, 0x02, seed, 3], privateKey: [0x30, 0x02, seed, 4])
        }
    }

    static func input(for manifest: Manifest) -> RenderingInput {
        var secrets: [String: SecretValue] = [:]
        for (position, name) in manifest.content.secrets.keys.sorted().enumerated() {
            secrets[name] = value(for: manifest.content.secrets[name]!, seed: UInt8(position))
        }
        return RenderingInput(
            secrets: secrets, previousSecrets: secrets,
            marbleCertificate: SecretValue(
                type: nil, certificate: [0x30, 0x01, 0xAA], publicKey: [0x30, 0x01, 0xBB], privateKey: [0x30, 0x01, 0xCC]),
            marbleRootCertificate: [0x30, 0x01, 0x01], coordinatorRootCertificate: [0x30, 0x01, 0x02],
            coordinatorIntermediateCertificate: [0x30, 0x01, 0x03])
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
