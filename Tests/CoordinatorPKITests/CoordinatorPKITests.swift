import Crypto
import Foundation
import SwiftASN1
import TestSupport
import Testing
import X509
import _CryptoExtras

@testable import CoordinatorPKI

@Suite("Coordinator PKI")
struct CoordinatorPKITests {
    let configuration = PKIConfiguration(names: SubjectNames(mixed: ["coordinator.example", "10.0.0.7"]))

    func marbleCSR(dnsNames: [String] = ["backend.local"], ipAddresses: [String] = ["192.0.2.10"]) throws -> [UInt8] {
        let key = P384.Signing.PrivateKey()
        let names = try SubjectNames(dnsNames: dnsNames, ipAddresses: ipAddresses).generalNames()
        let extensions = try Certificate.Extensions { SubjectAlternativeNames(names) }
        let request = try CertificateSigningRequest(
            version: .v1,
            subject: DistinguishedName { CommonName("MarbleRun Marble") },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA384
        )
        var serializer = DER.Serializer()
        try serializer.serialize(request)
        return serializer.serializedBytes
    }

    @Test("OpenSSL accepts the root, intermediate, TLS, marble and secret certificates", arguments: CoordinatorCurve.allCases)
    func opensslAcceptsChain(curve: CoordinatorCurve) throws {
        var configuration = configuration
        configuration.curve = curve
        let pki = try CoordinatorPKI.generate(configuration)
        let marble = try pki.issueMarbleCredentials(
            for: VerifiedCSR(pemOrDER: marbleCSR()),
            marbleUUID: UUID(uuidString: "8D0D5B5B-7D56-4C7B-9F3E-3F1E2B6C9A01")!,
            marbleType: "backend"
        )
        let secrets = try [SecretKeyType.ecdsa(bits: 256), .ecdsa(bits: 384), .rsa(bits: 2048), .ed25519].map {
            try pki.issueSecretCertificate(keyType: $0, template: SecretCertificateTemplate(validForDays: 30))
        }

        let openssl = try OpenSSLTool()
        defer { openssl.remove() }
        try openssl.write("root.pem", CoordinatorPKI.pem(pki.rootCertificate))
        try openssl.write("intermediate.pem", CoordinatorPKI.pem(pki.intermediateCertificate))
        try openssl.write("marble-root.pem", CoordinatorPKI.pem(pki.marbleRootCertificate))
        try openssl.write("tls.pem", CoordinatorPKI.pem(pki.tlsCertificate))
        try openssl.write("marble.pem", CoordinatorPKI.pem(marble.certificate))
        try openssl.write("marble-key.pem", marble.privateKeyPEM)
        let viaRoot = ["verify", "-x509_strict", "-CAfile", "root.pem", "-untrusted", "intermediate.pem"]
        #expect(try openssl.run(viaRoot + ["intermediate.pem", "tls.pem", "marble.pem"]).contains("marble.pem: OK"))
        #expect(try openssl.run(["verify", "-x509_strict", "-CAfile", "marble-root.pem", "marble.pem"]).contains("OK"))
        for (index, secret) in secrets.enumerated() {
            try openssl.write("secret\(index).pem", CoordinatorPKI.pem(secret.certificate))
            try openssl.write("secret\(index).key", secret.privateKeyPKCS8)
            #expect(try openssl.run(viaRoot + ["secret\(index).pem"]).contains("OK"))
            let certificateKey = try openssl.run(["x509", "-in", "secret\(index).pem", "-noout", "-pubkey"])
            let privateKey = try openssl.run(["pkey", "-inform", "DER", "-in", "secret\(index).key", "-pubout"])
            #expect(certificateKey == privateKey, "secret \(index): Private does not belong to the certificate")
        }

        let text = try openssl.run(["x509", "-in", "marble.pem", "-noout", "-text"])
        #expect(text.contains("Subject: CN = 8d0d5b5b-7d56-4c7b-9f3e-3f1e2b6c9a01"))
        #expect(text.contains("DNS:backend.local, IP Address:192.0.2.10"))
        #expect(text.contains("1.3.9903.2.1:"))
        #expect(text.contains("backend"))
        #expect(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        let marbleKey = try openssl.run(["pkey", "-in", "marble-key.pem", "-pubout"])
        #expect(try openssl.run(["x509", "-in", "marble.pem", "-noout", "-pubkey"]) == marbleKey)
        let rootText = try openssl.run(["x509", "-in", "root.pem", "-noout", "-text"])
        #expect(rootText.contains("CA:TRUE"))
        #expect(rootText.contains("DNS:coordinator.example, IP Address:10.0.0.7, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"))
        #expect(rootText.contains(curve == .p256 ? "NIST CURVE: P-256" : "NIST CURVE: P-384"))
    }

    @Test("the manifest signature verifies with openssl dgst -sha256 and the root public key")
    func manifestSignatureWithOpenSSL() throws {
        let pki = try CoordinatorPKI.generate(configuration)
        let manifest = Data(#"{"Packages":{"backend":{"SignerID":"00"}}}"#.utf8)
        let openssl = try OpenSSLTool()
        defer { openssl.remove() }
        try openssl.write("manifest.json", manifest)
        try openssl.write("signature.der", pki.manifestSignature(for: manifest))
        try openssl.write("root.pem", CoordinatorPKI.pem(pki.rootCertificate))
        try openssl.run(["x509", "-in", "root.pem", "-noout", "-pubkey", "-out", "root-public.pem"])
        let output = try openssl.run([
            "dgst", "-sha256", "-verify", "root-public.pem", "-signature", "signature.der", "manifest.json",
        ])
        #expect(output.contains("Verified OK"))
        #expect(pki.rootKey.publicKey.isValidSignature(try pki.manifestSignature(for: manifest), for: manifest))
    }

    @Test("a CSR made by openssl req is accepted and its SANs are used")
    func opensslCSR() throws {
        let openssl = try OpenSSLTool()
        defer { openssl.remove() }
        try openssl.run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", "k.pem",
            "-subj", "/CN=MarbleRun Marble", "-addext", "subjectAltName=DNS:web,DNS:web.svc,IP:::1", "-out", "csr.pem",
        ])
        let csr = try VerifiedCSR(pemOrDER: Array(openssl.read("csr.pem")))
        #expect(csr.names == SubjectNames(dnsNames: ["web", "web.svc"], ipAddresses: ["::1"]))
        let pki = try CoordinatorPKI.generate(configuration)
        let uuid = UUID()
        let credentials = try pki.issueMarbleCredentials(
            for: csr, marbleUUID: uuid, marbleType: "web", validity: 3600
        )
        #expect(try pki.marbleIdentity(of: credentials.certificate) == MarbleIdentity(uuid: uuid, marbleType: "web"))
        #expect(credentials.certificate.notValidAfter.timeIntervalSince(credentials.certificate.notValidBefore) == 3600)
    }

    @Test("a CSR whose signature does not match its key is refused, naming the subject")
    func tamperedCSR() throws {
        var der = try marbleCSR()
        der[der.count - 3] ^= 0x01
        #expect {
            try VerifiedCSR(pemOrDER: der)
        } throws: { error in
            let text = "\(error)"
            return text.contains("certificate signing request for 'CN=MarbleRun Marble' has a signature")
                && text.contains("does not verify with its own public key")
        }
    }

    @Test("a CSR for a key the caller has proven is not checked again; a CSR for another key is")
    func provenKeyCSR() throws {
        var der = try marbleCSR()
        der[der.count - 3] ^= 0x01
        let requestKey = try CertificateSigningRequest(derEncoded: der).publicKey
        #expect(try VerifiedCSR(pemOrDER: der, provenKey: requestKey).names.dnsNames == ["backend.local"])
        let otherKey = Certificate.PublicKey(P256.Signing.PrivateKey().publicKey)
        #expect(throws: PKIError.self) { try VerifiedCSR(pemOrDER: der, provenKey: otherKey) }
    }

    @Test("a PEM CSR with text before it is read")
    func pemCSRWithPreamble() throws {
        let pem = try CertificateSigningRequest(derEncoded: marbleCSR()).serializeAsPEM().pemString
        #expect(try VerifiedCSR(pemOrDER: Array("Certificate Request:\n    (text)\n\(pem)\n".utf8)).names.dnsNames == ["backend.local"])
    }

    @Test("bytes that are no CSR are refused with a hint")
    func garbageCSR() throws {
        #expect {
            try VerifiedCSR(pemOrDER: Array("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n".utf8))
        } throws: { error in
            "\(error)".hasPrefix("cannot parse certificate signing request:") && "\(error)".contains("openssl req -new")
        }
        #expect(throws: PKIError.self) { try VerifiedCSR(pemOrDER: [0x30, 0x03, 0x02, 0x01]) }
    }

    @Test("report data is SHA-256(root DER ‖ nonce) followed by 32 zero bytes")
    func reportData() throws {
        let pki = try CoordinatorPKI.generate(configuration)
        let rootDER = try CoordinatorPKI.der(pki.rootCertificate)
        let plain = try pki.reportData()
        #expect(plain.count == 64)
        #expect(Array(plain.prefix(32)) == Array(SHA256.hash(data: rootDER)))
        #expect(plain.suffix(32).allSatisfy { $0 == 0 })
        let nonce: [UInt8] = Array("client-nonce-42".utf8)
        let withNonce = try pki.reportData(nonce: nonce)
        #expect(Array(withNonce.prefix(32)) == Array(SHA256.hash(data: rootDER + nonce)))
        #expect(CoordinatorReportData.binds(withNonce, rootCertificateDER: rootDER, nonce: nonce))
        #expect(!CoordinatorReportData.binds(withNonce, rootCertificateDER: rootDER, nonce: nil))
        #expect(!CoordinatorReportData.binds(plain, rootCertificateDER: rootDER, nonce: [1]))
    }

    @Test("serialize and restore keeps every key and certificate; rotation keeps only the root")
    func snapshotAndRotation() throws {
        var pki = try CoordinatorPKI.generate(configuration)
        let restored = try CoordinatorPKI(serialized: pki.serialized())
        #expect(restored.rootCertificate == pki.rootCertificate)
        #expect(restored.intermediateCertificate == pki.intermediateCertificate)
        #expect(restored.marbleRootCertificate == pki.marbleRootCertificate)
        #expect(restored.tlsCertificate == pki.tlsCertificate)
        #expect(restored.rootKey == pki.rootKey && restored.intermediateKey == pki.intermediateKey)
        #expect(restored.configuration == pki.configuration)

        let marble = try pki.issueMarbleCredentials(
            for: VerifiedCSR(pemOrDER: marbleCSR()), marbleUUID: UUID(), marbleType: "backend"
        )
        let oldIntermediate = pki.intermediateCertificate
        try pki.rotateIntermediate()
        #expect(pki.rootCertificate == restored.rootCertificate)
        #expect(pki.intermediateCertificate != oldIntermediate)
        #expect(throws: PKIError.self) { try pki.marbleIdentity(of: marble.certificate) }
        #expect(try restored.marbleIdentity(of: marble.certificate).marbleType == "backend")
    }

    @Test("a tampered snapshot is refused")
    func tamperedSnapshot() throws {
        let pki = try CoordinatorPKI.generate(configuration)
        let other = try CoordinatorPKI.generate(configuration)
        var snapshot = try JSONDecoder().decode(CoordinatorPKI.Snapshot.self, from: pki.serialized())
        snapshot.rootKey = other.rootKey.pkcs8DER
        #expect {
            try CoordinatorPKI(serialized: JSONEncoder().encode(snapshot))
        } throws: { error in
            "\(error)".contains("the root certificate's public key does not match the stored root private key")
        }
        #expect {
            try CoordinatorPKI(serialized: Data("{\"version\":1}".utf8))
        } throws: { error in
            "\(error)".hasPrefix("cannot restore Coordinator PKI from its snapshot:")
        }
    }

    @Test("secret templates follow MarbleRun defaults and reject bad sizes")
    func secretTemplates() throws {
        let pki = try CoordinatorPKI.generate(configuration)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let issued = try pki.issueSecretCertificate(
            keyType: SecretKeyType(manifestType: "cert-ecdsa", size: 256),
            template: SecretCertificateTemplate(names: SubjectNames(dnsNames: ["db.internal"]), isCertificateAuthority: true),
            now: now
        )
        #expect(issued.certificate.subject.commonName == "db.internal")
        #expect(issued.certificate.issuer == pki.marbleRootCertificate.subject)
        #expect(issued.certificate.notValidAfter.timeIntervalSince(now) == 365 * 86_400)
        #expect(try issued.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))

        #expect {
            try SecretKeyType(manifestType: "cert-ed25519", size: 256)
        } throws: { "\($0)".contains("cert-ed25519 with Size 256") }
        #expect {
            try pki.issueSecretCertificate(keyType: .ecdsa(bits: 224), template: SecretCertificateTemplate())
        } throws: { "\($0)".contains("cert-ecdsa with Size 224") && "\($0)".contains("256, 384 or 521") }
        #expect {
            try pki.issueSecretCertificate(
                keyType: .ed25519, template: SecretCertificateTemplate(notAfter: now, validForDays: 3)
            )
        } throws: { "\($0)".contains("both ValidFor and Cert.NotAfter") }
        #expect {
            try pki.issueSecretCertificate(
                keyType: .ed25519,
                template: SecretCertificateTemplate(names: SubjectNames(ipAddresses: ["300.1.1.1"]))
            )
        } throws: { "\($0)".contains("IPAddresses: found '300.1.1.1'") }
    }

    @Test("marble identity checks refuse foreign certificates and empty types")
    func marbleIdentityRefusals() throws {
        let pki = try CoordinatorPKI.generate(configuration)
        let stranger = try CoordinatorPKI.generate(configuration)
        let csr = try VerifiedCSR(pemOrDER: marbleCSR())
        let foreign = try stranger.issueMarbleCredentials(for: csr, marbleUUID: UUID(), marbleType: "backend")
        #expect {
            try pki.marbleIdentity(of: foreign.certificate)
        } throws: { "\($0)".contains("invalid marble identity certificate issuer") }
        #expect {
            try pki.issueMarbleCredentials(for: csr, marbleUUID: UUID(), marbleType: "")
        } throws: { "\($0)".contains("marble type: found an empty string") }
    }
}
