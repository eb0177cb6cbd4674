import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import Launcher

@Suite struct MarbleUUIDStoreTests {
    @Test func createsAUUIDWithMode0600AndKeepsIt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("state/nested/uuid")
        let first = try MarbleUUIDStore.loadOrCreate(at: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let stored = try String(contentsOfFile: path, encoding: .utf8)
        #expect(stored == first.uuidString.lowercased() + "\n")
        #expect(try MarbleUUIDStore.loadOrCreate(at: path) == first)
    }

    @Test func readsAMarbleRunUUIDFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("uuid")
        try "B1F2C3D4-0000-4000-8000-00000000000A".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try MarbleUUIDStore.loadOrCreate(at: path) == UUID(uuidString: "b1f2c3d4-0000-4000-8000-00000000000a"))
    }

    @Test func refusesAFileThatIsNotAUUID() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("uuid")
        try "not-a-uuid".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try MarbleUUIDStore.loadOrCreate(at: path)
        } throws: { error in
            let failure = error as? LauncherError
            return failure?.stage == .uuid && failure?.subject == path && failure?.found == "'not-a-uuid'"
        }
    }
}

@Suite struct MarbleKeyTests {
    @Test func certificateAndCSRCarryTheNamesAndTheSameKey() throws {
        let names = try MarbleNames(parsing: "db.example,10.0.0.9,fd00::5", variable: "V")
        let key = try MarbleKey(names: names)
        let certificate = try Certificate(derEncoded: key.certificateDER)
        let request = try CertificateSigningRequest(derEncoded: key.csrDER)

        let expected: Set<GeneralName> = [
            .dnsName("db.example"), .ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 9])),
            .ipAddress(ASN1OctetString(contentBytes: [0xfd] + [UInt8](repeating: 0, count: 14) + [5])),
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .ipAddress(ASN1OctetString(contentBytes: [UInt8](repeating: 0, count: 15) + [1])),
        ]
        let certificateNames = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(Set(certificateNames) == expected)
        let requestedNames = try #require(try request.attributes.extensionRequest?.extensions.subjectAlternativeNames)
        #expect(Set(requestedNames) == expected)

        #expect(certificate.publicKey == Certificate.PublicKey(key.privateKey.publicKey))
        #expect(request.publicKey == certificate.publicKey)
        #expect(request.publicKey.isValidSignature(request.signature, for: request))
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        #expect(certificate.subject == (try DistinguishedName { CommonName(MarbleKey.commonName) }))
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
    }

    @Test func reportDataBindsTheCertificate() throws {
        let key = try MarbleKey(names: MarbleNames(dnsNames: ["localhost"], ipAddresses: []))
        #expect(key.reportData.count == 64)
        #expect(Array(key.reportData.prefix(32)) == Array(SHA256.hash(data: key.certificateDER)))
        #expect(key.reportData.suffix(32).allSatisfy { $0 == 0 })
    }

    @Test func everyLaunchMakesANewKey() throws {
        let names = MarbleNames(dnsNames: ["localhost"], ipAddresses: [])
        #expect(try MarbleKey(names: names).certificateDER != MarbleKey(names: names).certificateDER)
    }
}
