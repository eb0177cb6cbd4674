import Attestation
import CollateralSources
import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import TestSupport
import Testing
import X509

/// A self-signed server certificate for 127.0.0.1, as a PCCS installation generates for itself.
private struct SelfSignedServer {
    let pem: String
    let tls: TLSConfiguration

    init(commonName: String) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3600),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost")])
            },
            issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        pem = try certificate.serializeAsPEM().pemString
        tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)))
    }
}

@Suite("PCCS TLS trust", .enabled(if: SharedData.directory("corpus/dcap") != nil, "\(SharedData.missingMessage("corpus/dcap"))"))
struct PCCSTrustTests {
    private func corpusEntry() throws -> (CorpusCollateral, CollateralRequest) {
        let entry = try #require(try CorpusCollateral.named("sgx-v3-dcapqvl-sgx_quote-f8b81014"))
        let request = try CollateralRequest(tee: .sgx, fmspc: entry.fmspc, certificateAuthority: .processor)
        return (entry, request)
    }

    private func expected(_ entry: CorpusCollateral) -> Collateral {
        var collateral = entry.collateral
        collateral.pckCertificateChain = nil
        return collateral
    }

    @Test("a self-signed PCCS is refused by default, and reached when its certificate is pinned or trust is waived")
    func selfSignedPCCS() async throws {
        let (entry, request) = try corpusEntry()
        let server = try SelfSignedServer(commonName: "cloister test PCCS")
        let collateralServer = CollateralServer(serving: [entry])
        try await collateralServer.run(tls: server.tls) { base in
            let refused = await #expect(throws: CollateralSourceError.self) {
                try await PCCS(baseURL: base).collateral(for: request)
            }
            guard case .unreachable(_, let reason)? = refused else {
                Issue.record("expected a TLS failure, got \(String(describing: refused))")
                return
            }
            #expect(reason.contains("TLS"))

            for trust in [PCCSTrust.pinnedCertificates(pem: server.pem), .anyCertificate] {
                let fetched = try await trust.withFetchSettings(timeout: .seconds(10)) { settings throws(CollateralSourceError) in
                    try await PCCS(baseURL: base, http: settings).collateral(for: request)
                }
                #expect(fetched == expected(entry), "trust \(trust)")
            }

            let stranger = try SelfSignedServer(commonName: "some other server")
            let mismatch = await #expect(throws: CollateralSourceError.self) {
                try await PCCSTrust.pinnedCertificates(pem: stranger.pem).withFetchSettings(timeout: .seconds(10)) {
                    settings throws(CollateralSourceError) in
                    try await PCCS(baseURL: base, http: settings).collateral(for: request)
                }
            }
            #expect("\(mismatch!)".contains("TLS"))
        }
    }

    @Test("a pinned certificate that is not PEM is refused up front")
    func invalidPinnedCertificate() {
        #expect(throws: CollateralSourceError.self) {
            try PCCSTrust.pinnedCertificates(pem: "not a certificate").makeHTTPClient()
        }
    }
}
