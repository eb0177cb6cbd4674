import Foundation

/// What the Coordinator must generate for one secret of the manifest (MarbleRun's `GenerateSecrets`).
public struct SecretGenerationSpec: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case symmetricKey(byteCount: Int)
        case certificate(CertificateSpec)
    }

    public enum Scope: Sendable, Hashable {
        /// One value for all marbles, generated when the manifest is set.
        case shared
        /// A value per marble instance: symmetric keys are derived with HKDF-SHA256 (ikm = root secret,
        /// salt = marble UUID + secret name, info = `derivationInfo`); certificates are issued at every activation.
        case perMarble
    }

    public let name: String
    public let kind: Kind
    public let scope: Scope

    /// The HKDF `info` for a per-marble symmetric key: the marble type, or empty when the marble type set
    /// `DisableSecretBinding`.
    public static func derivationInfo(marbleType: String, marble: Marble) -> String {
        marble.disableSecretBinding ? "" : marbleType
    }
}

public enum KeyAlgorithm: Sendable, Hashable {
    case ecdsa(bits: Int)
    case rsa(bits: Int)
    case ed25519
}

/// A certificate to issue (signed by the Marble root certificate with the intermediate key), with MarbleRun's defaults
/// already applied.
public struct CertificateSpec: Sendable, Hashable {
    public enum Validity: Sendable, Hashable {
        /// From the moment of issuing.
        case days(Int)
        case until(Date)
    }

    public let keyAlgorithm: KeyAlgorithm
    public let subject: SubjectTemplate
    public let dnsNames: [String]
    /// 4- or 16-byte addresses.
    public let ipAddresses: [[UInt8]]
    public let emailAddresses: [String]
    /// Go `x509.KeyUsage` bits.
    public let keyUsage: Int
    /// Go `x509.ExtKeyUsage` values.
    public let extendedKeyUsage: [Int]
    public let isCA: Bool
    public let maxPathLength: Int?
    public let validity: Validity

    /// MarbleRun's `generateCertificateForSecret` defaults.
    init(definition: SecretDefinition, keyAlgorithm: KeyAlgorithm) {
        let template = definition.certificate
        self.keyAlgorithm = keyAlgorithm
        let dnsNames = template.dnsNames ?? ["localhost"]
        self.dnsNames = dnsNames
        ipAddresses = (template.ipAddresses ?? ["127.0.0.1", "::1"]).compactMap(IPAddressText.bytes)
        emailAddresses = template.emailAddresses ?? []
        keyUsage = template.keyUsage != 0 ? template.keyUsage : CertificateSpec.digitalSignature | CertificateSpec.certificateSigning
        extendedKeyUsage = template.extendedKeyUsage ?? [CertificateSpec.serverAuthentication, CertificateSpec.clientAuthentication]
        var subject = template.subject
        if subject.commonName.isEmpty {
            subject.commonName = dnsNames.count == 1 ? dnsNames[0] : "MarbleRun Generated Certificate"
        }
        self.subject = subject
        isCA = template.isCA
        maxPathLength = template.maxPathLength
        if let notAfter = template.notAfter, definition.validFor == 0 {
            validity = .until(notAfter)
        } else {
            validity = .days(definition.validFor == 0 ? 365 : Int(clamping: definition.validFor))
        }
    }

    public static let digitalSignature = 1
    public static let certificateSigning = 32
    public static let serverAuthentication = 1
    public static let clientAuthentication = 2
}

extension Manifest {
    /// The secrets the Coordinator generates, sorted by name; user-defined and `plain` secrets are uploaded instead.
    /// Only meaningful for a manifest whose `validate()` reported no errors.
    public var secretsToGenerate: [SecretGenerationSpec] {
        content.secrets.keys.sorted().compactMap { name in
            let definition = content.secrets[name]!
            guard !definition.userDefined, let type = definition.type else { return nil }
            let scope: SecretGenerationSpec.Scope = definition.shared ? .shared : .perMarble
            let kind: SecretGenerationSpec.Kind
            switch type {
            case .plain: return nil
            case .symmetricKey: kind = .symmetricKey(byteCount: Int(clamping: definition.size / 8))
            case .certECDSA: kind = .certificate(CertificateSpec(definition: definition, keyAlgorithm: .ecdsa(bits: Int(clamping: definition.size))))
            case .certRSA: kind = .certificate(CertificateSpec(definition: definition, keyAlgorithm: .rsa(bits: Int(clamping: definition.size))))
            case .certED25519: kind = .certificate(CertificateSpec(definition: definition, keyAlgorithm: .ed25519))
            }
            return SecretGenerationSpec(name: name, kind: kind, scope: scope)
        }
    }

    /// Secrets users upload (`UserDefined`), with what an upload must contain.
    public var secretsToUpload: [(name: String, definition: SecretDefinition, usage: SecretUsage)] {
        content.secrets.keys.sorted().compactMap { name in
            let definition = content.secrets[name]!
            return definition.userDefined ? (name, definition, usage(ofSecret: name)) : nil
        }
    }
}
