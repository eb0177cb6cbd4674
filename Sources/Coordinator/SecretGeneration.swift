import CoordinatorPKI
import Crypto
import Foundation
import Manifest
import SwiftASN1
import X509

/// Creating and deriving the values of manifest secrets (MarbleRun `GenerateSecrets`,
/// `generateCertificateForSecret`).
enum SecretFactory {
    /// The value of a shared secret, generated when the manifest is set or updated.
    static func generateShared(
        _ spec: SecretGenerationSpec, definition: SecretDefinition, pki: CoordinatorPKI, now: Date
    ) throws(CoordinatorError) -> SecretRecord {
        switch spec.kind {
        case .symmetricKey(let byteCount):
            let key = SymmetricKey(size: .init(bitCount: byteCount * 8))
            return record(definition, key: key.withUnsafeBytes { Array($0) })
        case .certificate(let certificate):
            return try issueCertificate(certificate, definition: definition, pki: pki, now: now)
        }
    }

    /// The value of a per-marble secret for one activation: symmetric keys are derived with HKDF-SHA256 from the root
    /// secret (salt = UUID text + secret name, info = marble type or empty), so they are the same at every activation
    /// of that marble; certificates are issued anew.
    static func perMarble(
        _ spec: SecretGenerationSpec, definition: SecretDefinition, rootSecret: [UInt8], uuid: UUID, derivationInfo: String,
        pki: CoordinatorPKI, now: Date
    ) throws(CoordinatorError) -> SecretRecord {
        switch spec.kind {
        case .symmetricKey(let byteCount):
            return record(
                definition,
                key: derivedKey(
                    rootSecret: rootSecret, uuid: uuid, secretName: spec.name, info: derivationInfo, byteCount: byteCount))
        case .certificate(let certificate):
            return try issueCertificate(certificate, definition: definition, pki: pki, now: now)
        }
    }

    /// MarbleRun's unique-secret derivation: `HKDF-SHA256(ikm = rootSecret, salt = uuid.String() + name, info)`.
    /// Go's `uuid.String()` is lower-case.
    static func derivedKey(rootSecret: [UInt8], uuid: UUID, secretName: String, info: String, byteCount: Int) -> [UInt8] {
        let salt = Array((uuid.uuidString.lowercased() + secretName).utf8)
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: rootSecret), salt: salt, info: Array(info.utf8), outputByteCount: byteCount)
        return key.withUnsafeBytes { Array($0) }
    }

    private static func record(_ definition: SecretDefinition, key: [UInt8]) -> SecretRecord {
        SecretRecord(
            type: definition.typeName, size: definition.size, shared: definition.shared, userDefined: definition.userDefined,
            validFor: definition.validFor, certificate: [], privateKey: key, publicKey: key)
    }

    private static func issueCertificate(
        _ spec: CertificateSpec, definition: SecretDefinition, pki: CoordinatorPKI, now: Date
    ) throws(CoordinatorError) -> SecretRecord {
        let keyType: SecretKeyType =
            switch spec.keyAlgorithm {
            case .ecdsa(let bits): .ecdsa(bits: bits)
            case .rsa(let bits): .rsa(bits: bits == 0 ? 2048 : bits)
            case .ed25519: .ed25519
            }
        let template = definition.certificate
        var certificateTemplate = SecretCertificateTemplate(
            subject: distinguishedName(of: spec),
            names: SubjectNames(
                dnsNames: template.dnsNames ?? ["localhost"], ipAddresses: template.ipAddresses ?? ["127.0.0.1", "::1"]),
            isCertificateAuthority: spec.isCA,
            keyUsage: template.keyUsage == 0 ? nil : keyUsage(goBits: template.keyUsage))
        switch spec.validity {
        case .days(let days): certificateTemplate.validForDays = days
        case .until(let date): certificateTemplate.notAfter = date
        }
        do {
            let issued = try pki.issueSecretCertificate(keyType: keyType, template: certificateTemplate, now: now)
            return SecretRecord(
                type: definition.typeName, size: definition.size, shared: definition.shared,
                userDefined: definition.userDefined, validFor: definition.validFor,
                certificate: try CoordinatorPKI.der(issued.certificate), privateKey: Array(issued.privateKeyPKCS8),
                publicKey: Array(issued.publicKeyDER))
        } catch {
            throw CoordinatorError(
                .internal, .cryptography, found: "\(error)", expected: "a certificate for the secret's template",
                hint: "fix the secret's Type, Size or Cert template in the manifest")
        }
    }

    /// Go's `x509.KeyUsage` bit set as a swift-certificates `KeyUsage`.
    static func keyUsage(goBits bits: Int) -> KeyUsage {
        KeyUsage(
            digitalSignature: bits & 1 != 0, nonRepudiation: bits & 2 != 0, keyEncipherment: bits & 4 != 0,
            dataEncipherment: bits & 8 != 0, keyAgreement: bits & 16 != 0, keyCertSign: bits & 32 != 0,
            cRLSign: bits & 64 != 0, encipherOnly: bits & 128 != 0, decipherOnly: bits & 256 != 0)
    }

    /// A manifest certificate subject as an X.509 name, in the attribute order Go's `pkix.Name.ToRDNSequence` uses.
    static func distinguishedName(of spec: CertificateSpec) -> X509.DistinguishedName {
        let name = spec.subject
        let postalCode: ASN1ObjectIdentifier = [2, 5, 4, 17]
        let serialNumber: ASN1ObjectIdentifier = [2, 5, 4, 5]
        var attributes: [RelativeDistinguishedName] = []
        func add(_ type: ASN1ObjectIdentifier, _ values: [String]) {
            for value in values where !value.isEmpty {
                attributes.append(RelativeDistinguishedName(RelativeDistinguishedName.Attribute(type: type, utf8String: value)))
            }
        }
        add(.RDNAttributeType.countryName, name.country)
        add(.RDNAttributeType.stateOrProvinceName, name.province)
        add(.RDNAttributeType.localityName, name.locality)
        add(.RDNAttributeType.streetAddress, name.streetAddress)
        add(postalCode, name.postalCode)
        add(.RDNAttributeType.organizationName, name.organization)
        add(.RDNAttributeType.organizationalUnitName, name.organizationalUnit)
        add(.RDNAttributeType.commonName, [name.commonName])
        add(serialNumber, [name.serialNumber])
        return X509.DistinguishedName(attributes)
    }
}
