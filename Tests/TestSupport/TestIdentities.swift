import CoordinatorAPI
import Crypto
import Foundation
import Platform
import SwiftASN1
import X509

/// A user as a manifest's `Users` name one: a P-256 key and a self-signed certificate.
public struct TestUser: Sendable {
    public let name: String
    public let certificateDER: [UInt8]
    public let privateKeyPEM: String

    public init(
        name: String, notValidBefore: Date = Date().addingTimeInterval(-3600), notValidAfter: Date = Date().addingTimeInterval(86_400)
    )
        throws
    {
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
        privateKeyPEM = key.pemRepresentation
    }

    public var certificatePEM: String { PEMDocument(type: "CERTIFICATE", derBytes: certificateDER).pemString }
}

/// A marble as the launcher presents itself: a P-384 key, its self-signed TLS client certificate and a CSR (both
/// with the DNS names and 127.0.0.1), and a UUID.
public struct TestMarble: Sendable {
    public let certificateDER: [UInt8]
    public let privateKeyPEM: String
    public let csrDER: [UInt8]
    public let uuid: UUID

    public init(uuid: UUID = UUID(), dnsNames: [String] = ["localhost"]) throws {
        let key = P384.Signing.PrivateKey()
        self.uuid = uuid
        let name = try DistinguishedName { CommonName("MarbleRun Marble") }
        let names = dnsNames.map { GeneralName.dnsName($0) } + [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400 * 365), issuer: name,
            subject: name, signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions { SubjectAlternativeNames(names) }, issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        certificateDER = serializer.serializedBytes
        privateKeyPEM = key.pemRepresentation
        let request = try CertificateSigningRequest(
            version: .v1, subject: name, privateKey: .init(key),
            attributes: CertificateSigningRequest.Attributes([
                .init(ExtensionRequest(extensions: try Certificate.Extensions { SubjectAlternativeNames(names) }))
            ]),
            signatureAlgorithm: .ecdsaWithSHA384)
        var csrSerializer = DER.Serializer()
        try csrSerializer.serialize(request)
        csrDER = csrSerializer.serializedBytes
    }

    /// A quote from `platform` whose report data binds SHA-256 of `boundCertificate` (by default this marble's).
    public func quote(on platform: SimulatedPlatform, boundCertificate: [UInt8]? = nil) throws -> [UInt8] {
        let hash = SHA256.hash(data: boundCertificate ?? certificateDER)
        return try platform.quote(reportData: try ReportData.padding(hash))
    }

    public func request(type: String, quote: [UInt8]) -> ActivationRequest {
        ActivationRequest(quote: Data(quote), csr: Data(csrDER), marbleType: type, uuid: uuid.uuidString)
    }

    /// The activation request with a quote from `platform` (see ``quote(on:boundCertificate:)``).
    public func request(type: String, on platform: SimulatedPlatform, boundCertificate: [UInt8]? = nil) throws -> ActivationRequest {
        request(type: type, quote: try quote(on: platform, boundCertificate: boundCertificate))
    }
}

/// A ``TestUser``'s certificate and key as PEM files in `directory`, as a CLI user or curl holds them.
public struct UserFiles: Sendable {
    public let name: String
    public let certificatePath: String
    public let keyPath: String
    public let certificatePEM: String

    public init(name: String, directory: String) throws {
        let user = try TestUser(name: name)
        self.name = name
        certificatePath = directory + "/\(name)-cert.pem"
        keyPath = directory + "/\(name)-key.pem"
        certificatePEM = user.certificatePEM
        try certificatePEM.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try user.privateKeyPEM.write(toFile: keyPath, atomically: true, encoding: .utf8)
    }

    /// The CLI's flags that make it act as this user.
    public var arguments: [String] { ["--cert", certificatePath, "--key", keyPath] }
}
