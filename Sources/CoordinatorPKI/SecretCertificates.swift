import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// The key of a `cert-ecdsa`, `cert-rsa` or `cert-ed25519` manifest secret.
public enum SecretKeyType: Sendable, Hashable {
    /// `cert-ecdsa` with `Size` 256, 384 or 521.
    case ecdsa(bits: Int)
    /// `cert-rsa` with `Size` = modulus bits (2048, 3072 or 4096; 0 means 2048 as in MarbleRun).
    case rsa(bits: Int)
    /// `cert-ed25519` (`Size` must be 0).
    case ed25519

    /// The key type for a manifest secret's `Type` and `Size`.
    public init(manifestType: String, size: Int) throws(PKIError) {
        switch manifestType {
        case "cert-ecdsa": self = .ecdsa(bits: size)
        case "cert-rsa": self = .rsa(bits: size == 0 ? 2048 : size)
        case "cert-ed25519":
            guard size == 0 else {
                throw PKIError.unsupportedSecretKey(
                    requested: "cert-ed25519 with Size \(size)", supported: "cert-ed25519 with Size 0 or omitted"
                )
            }
            self = .ed25519
        default:
            throw PKIError.unsupportedSecretKey(
                requested: "'\(manifestType)'", supported: "cert-ecdsa, cert-rsa and cert-ed25519"
            )
        }
    }
}

/// A certificate template of a manifest secret (the `Cert` and `ValidFor` fields), with MarbleRun's defaults.
public struct SecretCertificateTemplate: Sendable, Hashable {
    /// Subject; when it has no common name, the CN is the single DNS name or "MarbleRun Generated Certificate".
    public var subject: DistinguishedName
    /// Defaults to `localhost`, 127.0.0.1 and ::1 when both lists are empty.
    public var names: SubjectNames
    public var notBefore: Date?
    /// Mutually exclusive with ``validForDays``.
    public var notAfter: Date?
    /// Days of validity from `notBefore` (default 365).
    public var validForDays: Int?
    public var isCertificateAuthority: Bool
    /// Defaults to digitalSignature, plus keyEncipherment for RSA keys and keyCertSign for CA certificates.
    ///
    /// MarbleRun sets keyCertSign on every secret certificate; OpenSSL (`verify -x509_strict`) refuses that on a
    /// certificate that is not a CA, so Cloister sets it only where it is valid.
    public var keyUsage: KeyUsage?

    public init(
        subject: DistinguishedName = DistinguishedName(),
        names: SubjectNames = SubjectNames(),
        notBefore: Date? = nil,
        notAfter: Date? = nil,
        validForDays: Int? = nil,
        isCertificateAuthority: Bool = false,
        keyUsage: KeyUsage? = nil
    ) {
        self.subject = subject
        self.names = names
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.validForDays = validForDays
        self.isCertificateAuthority = isCertificateAuthority
        self.keyUsage = keyUsage
    }
}

/// A generated certificate secret: MarbleRun's `Cert`, `Private` and `Public` fields.
public struct IssuedSecretCertificate: Sendable {
    public let certificate: Certificate
    /// PKCS#8 DER of the private key (`Private`).
    public let privateKeyPKCS8: Data
    /// PKIX SubjectPublicKeyInfo DER of the public key (`Public`).
    public let publicKeyDER: Data
}

extension CoordinatorPKI {
    /// Creates a key of `keyType` and a certificate for it from `template`, issued in the name of the Marble root
    /// and signed with the intermediate key (MarbleRun `generateCertificateForSecret`).
    public func issueSecretCertificate(
        keyType: SecretKeyType,
        template: SecretCertificateTemplate,
        now: Date = Date()
    ) throws(PKIError) -> IssuedSecretCertificate {
        if template.notAfter != nil, template.validForDays != nil {
            throw PKIError.invalidTemplate(
                field: "ValidFor", found: "both ValidFor and Cert.NotAfter", expected: "at most one of them"
            )
        }
        if let days = template.validForDays, days <= 0 {
            throw PKIError.invalidTemplate(field: "ValidFor", found: "\(days)", expected: "a positive number of days")
        }
        let (publicKey, privateKeyPKCS8) = try Self.secretKey(keyType)
        let names = template.names.isEmpty ? SubjectNames(dnsNames: ["localhost"]).withLoopback : template.names
        var subject = template.subject
        if subject.commonName == nil {
            let commonName = names.dnsNames.count == 1 ? names.dnsNames[0] : "MarbleRun Generated Certificate"
            subject = DistinguishedName(
                Array(subject) + [
                    RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: commonName))
                ]
            )
        }
        let notBefore = template.notBefore ?? now
        let notAfter = template.notAfter ?? notBefore.addingTimeInterval(Double(template.validForDays ?? 365) * 86_400)
        let certificate = try Self.leafCertificate(
            subject: subject,
            publicKey: publicKey,
            names: names,
            notBefore: notBefore,
            notAfter: notAfter,
            keyUsage: template.keyUsage ?? Self.defaultSecretKeyUsage(keyType, template.isCertificateAuthority),
            isCertificateAuthority: template.isCertificateAuthority,
            issuer: marbleRootCertificate.subject,
            issuerKey: intermediateKey,
            additionalExtensions: []
        )
        let publicKeyDER: Data
        do {
            var serializer = DER.Serializer()
            try serializer.serialize(publicKey)
            publicKeyDER = Data(serializer.serializedBytes)
        } catch {
            throw PKIError.signingFailed(what: "public key encoding", underlying: "\(error)")
        }
        return IssuedSecretCertificate(
            certificate: certificate, privateKeyPKCS8: privateKeyPKCS8, publicKeyDER: publicKeyDER
        )
    }

    private static func defaultSecretKeyUsage(_ keyType: SecretKeyType, _ isCertificateAuthority: Bool) -> KeyUsage {
        var usage = KeyUsage(digitalSignature: true, keyCertSign: isCertificateAuthority)
        if case .rsa = keyType { usage.keyEncipherment = true }
        return usage
    }

    private static func secretKey(_ keyType: SecretKeyType) throws(PKIError) -> (Certificate.PublicKey, Data) {
        switch keyType {
        case .ecdsa(256):
            let key = P256.Signing.PrivateKey()
            return (Certificate.PublicKey(key.publicKey), key.derRepresentation)
        case .ecdsa(384):
            let key = P384.Signing.PrivateKey()
            return (Certificate.PublicKey(key.publicKey), key.derRepresentation)
        case .ecdsa(521):
            let key = P521.Signing.PrivateKey()
            return (Certificate.PublicKey(key.publicKey), key.derRepresentation)
        case .ecdsa(let bits):
            throw PKIError.unsupportedSecretKey(
                requested: "cert-ecdsa with Size \(bits)",
                supported: "Size 256, 384 or 521 (P-224 is not available in swift-crypto)"
            )
        case .rsa(let bits):
            guard [2048, 3072, 4096].contains(bits) else {
                throw PKIError.unsupportedSecretKey(
                    requested: "cert-rsa with Size \(bits)", supported: "Size 2048, 3072 or 4096"
                )
            }
            do {
                let key = try _RSA.Signing.PrivateKey(keySize: .init(bitCount: bits))
                return (Certificate.PublicKey(key.publicKey), key.pkcs8DERRepresentation)
            } catch {
                throw PKIError.signingFailed(what: "RSA-\(bits) key generation", underlying: "\(error)")
            }
        case .ed25519:
            let key = Curve25519.Signing.PrivateKey()
            let pkcs8 = Certificate.PrivateKey(key)
            do {
                let pem = try pkcs8.serializeAsPEM()
                return (Certificate.PublicKey(key.publicKey), Data(pem.derBytes))
            } catch {
                throw PKIError.signingFailed(what: "Ed25519 key encoding", underlying: "\(error)")
            }
        }
    }
}
