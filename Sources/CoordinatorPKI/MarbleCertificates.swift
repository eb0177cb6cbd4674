import Foundation
import SwiftASN1
import X509

/// A certificate signing request known to come from the holder of its key: its self-signature has been checked, or
/// the caller has already proven possession of that key.
public struct VerifiedCSR: Sendable {
    public let request: CertificateSigningRequest
    /// DNS names and IP addresses from the request's subjectAltName extension request.
    public let names: SubjectNames

    /// Parses a CSR in PEM (`-----BEGIN CERTIFICATE REQUEST-----`) or DER form and checks that it is signed by the
    /// key it carries.
    ///
    /// - Parameter provenKey: a key whose holder the caller has authenticated, such as the key of a TLS client
    ///   certificate (a CertificateVerify made with it was checked when the TLS session was established). A request
    ///   for that key that arrived over that session comes from its holder, so its self-signature is not checked a
    ///   second time; a request for any other key is checked.
    public init(pemOrDER bytes: [UInt8], provenKey: Certificate.PublicKey? = nil) throws(PKIError) {
        let request: CertificateSigningRequest
        do {
            // DER starts with a SEQUENCE tag; anything else may be PEM, with or without text before it.
            if bytes.first != 0x30, let text = String(bytes: bytes, encoding: .utf8), text.contains("-----BEGIN") {
                request = try CertificateSigningRequest(pemEncoded: text)
            } else {
                request = try CertificateSigningRequest(derEncoded: bytes)
            }
        } catch {
            throw PKIError.malformedCSR(
                detail: "\(bytes.count) bytes are not a PKCS#10 request in PEM or DER form (\(error))",
                hint: "send the CSR as `openssl req -new` or MarbleRun's premain writes it"
            )
        }
        guard request.publicKey == provenKey || request.publicKey.isValidSignature(request.signature, for: request) else {
            throw PKIError.invalidCSRSignature(
                subject: "\(request.subject)", algorithm: "\(request.signatureAlgorithm)"
            )
        }
        let alternativeNames: SubjectAlternativeNames?
        do {
            alternativeNames = try request.attributes.extensionRequest?.extensions.subjectAlternativeNames
        } catch {
            throw PKIError.malformedCSR(
                detail: "the subjectAltName extension request cannot be read (\(error))",
                hint: "list DNS names and IP addresses as a standard subjectAltName extension"
            )
        }
        self.request = request
        self.names = SubjectNames(alternativeNames)
    }
}

/// What a marble receives at activation: its certificate, the key for it, and the chain to present.
public struct MarbleCredentials: Sendable {
    public let certificate: Certificate
    public let privateKey: CoordinatorSigningKey
    /// PEM leaf followed by PEM intermediate: `MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN`.
    public let certificateChainPEM: String
    /// The key as PKCS#8 DER (`.MarbleRun.MarbleCert.Private`), encoded once.
    public let privateKeyDER: Data
    /// PEM PKCS#8 key: `MARBLE_PREDEFINED_PRIVATE_KEY`.
    public let privateKeyPEM: String
}

/// The identity read back from a marble certificate issued by ``CoordinatorPKI/issueMarbleCredentials(for:marbleUUID:marbleType:validity:now:)``.
public struct MarbleIdentity: Sendable, Hashable {
    public let uuid: UUID
    public let marbleType: String
}

extension CoordinatorPKI {
    /// MarbleRun's marble-type extension (`coordinator/oid/oid.go`). Its value is the marble type's UTF-8 bytes,
    /// not DER-wrapped, exactly as MarbleRun writes it.
    public static let marbleTypeExtensionOID: ASN1ObjectIdentifier = [1, 3, 9903, 2, 1]

    /// Issues a marble's certificate at activation (MarbleRun `generateMarbleAuthSecrets`).
    ///
    /// As in MarbleRun, the Coordinator creates a new key pair for the marble and returns it with the certificate;
    /// the CSR contributes only its (verified) subject alternative names. The certificate has CN = the marble UUID,
    /// O = the root's organization if any, the marble type in extension ``marbleTypeExtensionOID``, server and client
    /// authentication usages, is issued in the name of the Marble root and signed with the intermediate key.
    ///
    /// - Parameter validity: lifetime from `now`; nil means no expiry (``unlimitedValidity``), as in MarbleRun.
    public func issueMarbleCredentials(
        for csr: VerifiedCSR,
        marbleUUID: UUID,
        marbleType: String,
        validity: TimeInterval? = nil,
        now: Date = Date()
    ) throws(PKIError) -> MarbleCredentials {
        guard !marbleType.isEmpty else {
            throw PKIError.invalidMarbleIdentity(field: "marble type", found: "an empty string", expected: "a marble type of the manifest")
        }
        let key = CoordinatorSigningKey(generatingOn: configuration.curve)
        let organization = rootCertificate.subject.organizationName
        let typeExtension = Certificate.Extension(
            oid: Self.marbleTypeExtensionOID, critical: false, value: ArraySlice(Array(marbleType.utf8))
        )
        let certificate = try Self.leafCertificate(
            subject: Self.name(commonName: marbleUUID.uuidString.lowercased(), organization: organization),
            publicKey: key.certificateKey.publicKey,
            names: csr.names,
            notBefore: now,
            notAfter: validity.map { now.addingTimeInterval($0) } ?? Self.unlimitedValidity,
            keyUsage: KeyUsage(digitalSignature: true, keyAgreement: true),
            issuer: marbleRootCertificate.subject,
            issuerKey: intermediateKey,
            additionalExtensions: [typeExtension]
        )
        let keyDER = key.pkcs8DER
        return MarbleCredentials(
            certificate: certificate,
            privateKey: key,
            certificateChainPEM: try Self.pem(certificate) + encoded.intermediatePEM,
            privateKeyDER: keyDER,
            privateKeyPEM: PEMText.encode(type: "PRIVATE KEY", der: keyDER)
        )
    }

    /// Checks that `certificate` is a marble certificate of this PKI's current intermediate (MarbleRun
    /// `VerifyMarble`: signed by the Marble root key, CN a UUID, marble type extension present) and returns its
    /// identity.
    public func marbleIdentity(of certificate: Certificate, now: Date = Date()) throws(PKIError) -> MarbleIdentity {
        guard certificate.issuer == marbleRootCertificate.subject,
            marbleRootCertificate.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw PKIError.invalidMarbleIdentity(
                field: "certificate issuer",
                found: "'\(certificate.issuer)' (signature checked against the current Marble root key)",
                expected: "a certificate signed by the current Marble root '\(marbleRootCertificate.subject)'"
            )
        }
        guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
            throw PKIError.invalidMarbleIdentity(
                field: "validity",
                found: "\(certificate.notValidBefore.ISO8601Format()) to \(certificate.notValidAfter.ISO8601Format())",
                expected: "a period that includes \(now.ISO8601Format())"
            )
        }
        let commonName = certificate.subject.commonName ?? ""
        guard let uuid = UUID(uuidString: commonName) else {
            throw PKIError.invalidMarbleIdentity(field: "common name", found: "'\(commonName)'", expected: "a UUID")
        }
        guard let typeExtension = certificate.extensions[oid: Self.marbleTypeExtensionOID],
            let marbleType = String(bytes: typeExtension.value, encoding: .utf8), !marbleType.isEmpty
        else {
            throw PKIError.invalidMarbleIdentity(
                field: "extension \(Self.marbleTypeExtensionOID)",
                found: "none or not UTF-8",
                expected: "the marble type as UTF-8 bytes"
            )
        }
        return MarbleIdentity(uuid: uuid, marbleType: marbleType)
    }
}

extension DistinguishedName {
    var commonName: String? { firstValue(of: .RDNAttributeType.commonName) }
    var organizationName: String? { firstValue(of: .RDNAttributeType.organizationName) }

    private func firstValue(of type: ASN1ObjectIdentifier) -> String? {
        for relativeName in self {
            for attribute in relativeName where attribute.type == type {
                return String(attribute.value)
            }
        }
        return nil
    }
}
