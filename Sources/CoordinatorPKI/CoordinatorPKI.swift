import Crypto
import Foundation
import SwiftASN1
import X509

/// DER and PEM of a PKI's CA certificates.
public struct EncodedCertificates: Sendable {
    public let rootDER: [UInt8]
    public let rootPEM: String
    public let intermediateDER: [UInt8]
    public let intermediatePEM: String
    public let marbleRootDER: [UInt8]
    public let marbleRootPEM: String

    init(root: Certificate, intermediate: Certificate, marbleRoot: Certificate) throws(PKIError) {
        rootDER = try CoordinatorPKI.der(root)
        intermediateDER = try CoordinatorPKI.der(intermediate)
        marbleRootDER = try CoordinatorPKI.der(marbleRoot)
        rootPEM = PEMText.encode(type: "CERTIFICATE", der: rootDER)
        intermediatePEM = PEMText.encode(type: "CERTIFICATE", der: intermediateDER)
        marbleRootPEM = PEMText.encode(type: "CERTIFICATE", der: marbleRootDER)
    }
}

/// Settings for a new Coordinator PKI.
public struct PKIConfiguration: Sendable, Hashable, Codable {
    public var curve: CoordinatorCurve
    /// Common name of the root certificate; the intermediate's is this plus " - Intermediate CA".
    public var commonName: String
    /// Names for all Coordinator certificates (root, intermediate, TLS); 127.0.0.1 and ::1 are always added.
    public var names: SubjectNames
    /// How long the Coordinator's TLS leaf certificate is valid.
    public var tlsValidity: TimeInterval

    public init(
        curve: CoordinatorCurve = .p256,
        commonName: String = "Cloister Coordinator",
        names: SubjectNames = SubjectNames(dnsNames: ["localhost"]),
        tlsValidity: TimeInterval = 365 * 86_400
    ) {
        self.curve = curve
        self.commonName = commonName
        self.names = names
        self.tlsValidity = tlsValidity
    }
}

/// The Coordinator's certificate authority: a stable root CA, an intermediate CA that is replaced on every manifest
/// update, the Marble root certificate, and the Coordinator's own TLS certificate.
///
/// The layout follows MarbleRun (`coordinator/core/core.go` `setCAData`):
/// - the **root** is self-signed and lives as long as the deployment; clients pin it after attestation;
/// - the **intermediate** is signed by the root;
/// - the **Marble root** has the intermediate's subject and key but is self-signed, so marbles can trust it as an
///   anchor without trusting the Coordinator root; every marble and secret certificate is issued under its name
///   and signed with the intermediate key, and therefore chains to both;
/// - the **TLS leaf** is signed by the intermediate and serves the Coordinator's APIs.
///
/// The value is immutable apart from ``rotateIntermediate(now:)``; persist it with ``serialized()``.
public struct CoordinatorPKI: Sendable {
    public private(set) var configuration: PKIConfiguration
    public let rootKey: CoordinatorSigningKey
    public let rootCertificate: Certificate
    public private(set) var intermediateKey: CoordinatorSigningKey
    public private(set) var intermediateCertificate: Certificate
    public private(set) var marbleRootCertificate: Certificate
    public private(set) var tlsKey: CoordinatorSigningKey
    public private(set) var tlsCertificate: Certificate
    /// The root, intermediate and Marble root certificates encoded once: every activation hands them out.
    public private(set) var encoded: EncodedCertificates

    /// `notAfter` of the CA certificates: 9999-12-31T23:59:59Z, which RFC 5280 §4.1.2.5 reserves for certificates
    /// without a well-defined expiration (MarbleRun uses now + 2^63 ns, about the year 2318, to the same end).
    public static let unlimitedValidity = Date(timeIntervalSince1970: 253_402_300_799)

    /// Creates a fresh root, intermediate, Marble root and TLS certificate.
    public static func generate(
        _ configuration: PKIConfiguration = PKIConfiguration(), now: Date = Date()
    )
        throws(PKIError) -> CoordinatorPKI
    {
        let rootKey = CoordinatorSigningKey(generatingOn: configuration.curve)
        let rootSubject = Self.name(commonName: configuration.commonName)
        let rootCertificate = try Self.caCertificate(
            subject: rootSubject,
            key: rootKey,
            issuer: rootSubject,
            issuerKey: rootKey,
            names: configuration.names.withLoopback,
            now: now
        )
        let intermediate = try Self.makeIntermediate(
            configuration: configuration, rootKey: rootKey, rootCertificate: rootCertificate, now: now
        )
        return try CoordinatorPKI(
            configuration: configuration,
            rootKey: rootKey,
            rootCertificate: rootCertificate,
            intermediateKey: intermediate.key,
            intermediateCertificate: intermediate.certificate,
            marbleRootCertificate: intermediate.marbleRoot,
            tlsKey: intermediate.tlsKey,
            tlsCertificate: intermediate.tlsCertificate
        )
    }

    init(
        configuration: PKIConfiguration,
        rootKey: CoordinatorSigningKey,
        rootCertificate: Certificate,
        intermediateKey: CoordinatorSigningKey,
        intermediateCertificate: Certificate,
        marbleRootCertificate: Certificate,
        tlsKey: CoordinatorSigningKey,
        tlsCertificate: Certificate
    ) throws(PKIError) {
        self.configuration = configuration
        self.rootKey = rootKey
        self.rootCertificate = rootCertificate
        self.intermediateKey = intermediateKey
        self.intermediateCertificate = intermediateCertificate
        self.marbleRootCertificate = marbleRootCertificate
        self.tlsKey = tlsKey
        self.tlsCertificate = tlsCertificate
        encoded = try EncodedCertificates(root: rootCertificate, intermediate: intermediateCertificate, marbleRoot: marbleRootCertificate)
    }

    /// Replaces the intermediate, the Marble root and the TLS certificate with new ones under new keys, as MarbleRun
    /// does on every manifest or package update. The root stays, so clients that pinned it keep working, while
    /// clients that pinned the intermediate notice the update.
    public mutating func rotateIntermediate(now: Date = Date()) throws(PKIError) {
        let intermediate = try Self.makeIntermediate(
            configuration: configuration, rootKey: rootKey, rootCertificate: rootCertificate, now: now
        )
        let encoded = try EncodedCertificates(root: rootCertificate, intermediate: intermediate.certificate, marbleRoot: intermediate.marbleRoot)
        intermediateKey = intermediate.key
        intermediateCertificate = intermediate.certificate
        marbleRootCertificate = intermediate.marbleRoot
        tlsKey = intermediate.tlsKey
        tlsCertificate = intermediate.tlsCertificate
        self.encoded = encoded
    }

    /// PEM of the intermediate followed by the root: the `cert` field of MarbleRun's `GET /api/v2/quote`.
    public func clientChainPEM() -> String {
        encoded.intermediatePEM + encoded.rootPEM
    }

    /// PEM of the TLS leaf followed by the intermediate: the chain the Coordinator serves over TLS.
    public func tlsChainPEM() throws(PKIError) -> String {
        try Self.pem(tlsCertificate) + encoded.intermediatePEM
    }

    /// The 64 bytes of SGX report data that the Coordinator's quote binds; see ``CoordinatorReportData``.
    public func reportData(nonce: [UInt8]? = nil) throws(PKIError) -> [UInt8] {
        CoordinatorReportData.make(rootCertificateDER: try Self.der(rootCertificate), nonce: nonce)
    }

    /// ECDSA signature of the root key over SHA-256(`manifest`): MarbleRun's `manifestSignatureRootECDSA`, checked
    /// with `openssl dgst -sha256 -verify root-public.pem -signature sig.der manifest.json`.
    public func manifestSignature(for manifest: some DataProtocol) throws(PKIError) -> Data {
        try rootKey.signature(for: manifest)
    }

    // MARK: - Building certificates

    private struct Intermediate {
        let key: CoordinatorSigningKey
        let certificate: Certificate
        let marbleRoot: Certificate
        let tlsKey: CoordinatorSigningKey
        let tlsCertificate: Certificate
    }

    private static func makeIntermediate(
        configuration: PKIConfiguration,
        rootKey: CoordinatorSigningKey,
        rootCertificate: Certificate,
        now: Date
    ) throws(PKIError) -> Intermediate {
        let key = CoordinatorSigningKey(generatingOn: configuration.curve)
        let subject = Self.name(commonName: configuration.commonName + " - Intermediate CA")
        let names = configuration.names.withLoopback
        let certificate = try Self.caCertificate(
            subject: subject, key: key, issuer: rootCertificate.subject, issuerKey: rootKey, names: names, now: now
        )
        let marbleRoot = try Self.caCertificate(
            subject: subject, key: key, issuer: subject, issuerKey: key, names: names, now: now
        )
        let tlsKey = CoordinatorSigningKey(generatingOn: configuration.curve)
        let tlsCertificate = try Self.leafCertificate(
            subject: Self.name(commonName: configuration.commonName),
            publicKey: tlsKey.certificateKey.publicKey,
            names: names,
            notBefore: now,
            notAfter: now.addingTimeInterval(configuration.tlsValidity),
            keyUsage: KeyUsage(digitalSignature: true, keyAgreement: true),
            issuer: certificate.subject,
            issuerKey: key,
            additionalExtensions: []
        )
        return Intermediate(
            key: key, certificate: certificate, marbleRoot: marbleRoot, tlsKey: tlsKey, tlsCertificate: tlsCertificate
        )
    }

    static func name(commonName: String, organization: String? = nil) -> DistinguishedName {
        var attributes = [RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: commonName))]
        if let organization {
            attributes.append(
                RelativeDistinguishedName(.init(type: .RDNAttributeType.organizationName, utf8String: organization))
            )
        }
        return DistinguishedName(attributes)
    }

    private static func caCertificate(
        subject: DistinguishedName,
        key: CoordinatorSigningKey,
        issuer: DistinguishedName,
        issuerKey: CoordinatorSigningKey,
        names: SubjectNames,
        now: Date
    ) throws(PKIError) -> Certificate {
        let now = wholeSeconds(now)
        let publicKey = key.certificateKey.publicKey
        let issuerPublicKey = issuerKey.certificateKey.publicKey
        return try build(what: "CA certificate '\(subject)'") {
            var extensions = Certificate.Extensions()
            try extensions.append(
                Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true)
            )
            try extensions.append(
                Certificate.Extension(
                    KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true), critical: true
                )
            )
            try extensions.append(Certificate.Extension(SubjectKeyIdentifier(hash: publicKey), critical: false))
            if issuerPublicKey != publicKey {
                let authority = AuthorityKeyIdentifier(
                    keyIdentifier: SubjectKeyIdentifier(hash: issuerPublicKey).keyIdentifier
                )
                try extensions.append(Certificate.Extension(authority, critical: false))
            }
            try extensions.append(
                Certificate.Extension(SubjectAlternativeNames(try names.generalNames()), critical: false)
            )
            return try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now,
                notValidAfter: unlimitedValidity,
                issuer: issuer,
                subject: subject,
                signatureAlgorithm: issuerKey.certificateSignatureAlgorithm,
                extensions: extensions,
                issuerPrivateKey: issuerKey.certificateKey
            )
        }
    }

    static func leafCertificate(
        subject: DistinguishedName,
        publicKey: Certificate.PublicKey,
        names: SubjectNames,
        notBefore: Date,
        notAfter: Date,
        keyUsage: KeyUsage,
        isCertificateAuthority: Bool = false,
        issuer: DistinguishedName,
        issuerKey: CoordinatorSigningKey,
        additionalExtensions: [Certificate.Extension]
    ) throws(PKIError) -> Certificate {
        let notBefore = wholeSeconds(notBefore)
        let notAfter = wholeSeconds(notAfter)
        guard notAfter > notBefore else {
            throw PKIError.invalidTemplate(
                field: "validity",
                found: "notAfter \(notAfter) not after notBefore \(notBefore)",
                expected: "a positive validity period"
            )
        }
        return try build(what: "certificate '\(subject)'") {
            var extensions = Certificate.Extensions()
            let constraints: BasicConstraints =
                isCertificateAuthority ? .isCertificateAuthority(maxPathLength: nil) : .notCertificateAuthority
            try extensions.append(Certificate.Extension(constraints, critical: true))
            try extensions.append(Certificate.Extension(keyUsage, critical: true))
            try extensions.append(
                Certificate.Extension(try ExtendedKeyUsage([.serverAuth, .clientAuth]), critical: false)
            )
            try extensions.append(Certificate.Extension(SubjectKeyIdentifier(hash: publicKey), critical: false))
            let authority = AuthorityKeyIdentifier(
                keyIdentifier: SubjectKeyIdentifier(hash: issuerKey.certificateKey.publicKey).keyIdentifier
            )
            try extensions.append(Certificate.Extension(authority, critical: false))
            if !names.isEmpty {
                try extensions.append(
                    Certificate.Extension(SubjectAlternativeNames(try names.generalNames()), critical: false)
                )
            }
            for additional in additionalExtensions { try extensions.append(additional) }
            return try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: notBefore,
                notValidAfter: notAfter,
                issuer: issuer,
                subject: subject,
                signatureAlgorithm: issuerKey.certificateSignatureAlgorithm,
                extensions: extensions,
                issuerPrivateKey: issuerKey.certificateKey
            )
        }
    }

    /// X.509 times have whole-second precision; rounding here keeps the certificate's times equal to the ones
    /// the caller sees, instead of the encoder rounding them up past `now`.
    static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    private static func build(what: @autoclosure () -> String, _ body: () throws -> Certificate) throws(PKIError) -> Certificate {
        do {
            return try body()
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.signingFailed(what: what(), underlying: "\(error)")
        }
    }

    // MARK: - Encoding

    /// DER bytes of `certificate`.
    public static func der(_ certificate: Certificate) throws(PKIError) -> [UInt8] {
        do {
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return serializer.serializedBytes
        } catch {
            throw PKIError.malformedCertificate(
                what: "certificate '\(certificate.subject)'",
                detail: "DER encoding failed: \(error)",
                hint: "the certificate object is inconsistent; create it again"
            )
        }
    }

    /// PEM (`-----BEGIN CERTIFICATE-----`) of `certificate`, ending with a newline.
    public static func pem(_ certificate: Certificate) throws(PKIError) -> String {
        PEMText.encode(type: "CERTIFICATE", der: try der(certificate))
    }

    /// Parses one DER certificate.
    public static func certificate(der: [UInt8], what: String) throws(PKIError) -> Certificate {
        do {
            return try Certificate(derEncoded: der)
        } catch {
            throw PKIError.malformedCertificate(
                what: what,
                detail: "\(der.count) bytes are not a DER X.509 certificate (\(error))",
                hint: "supply the certificate exactly as the Coordinator issued it"
            )
        }
    }
}
