import Crypto
import Foundation
import Gramine
import Hexadecimal
import Testing
import _CryptoExtras

@Suite struct SigningKeyTests {
    @Test(arguments: [_RSA.Signing.KeySize.bits2048, .bits3072])
    func keysSGXCannotUseAreRefusedWithTheFix(size: _RSA.Signing.KeySize) throws {
        let pem = try _RSA.Signing.PrivateKey(keySize: size).pemRepresentation
        let error = #expect(throws: SigningKeyError.self) { try SGXSigningKey(pemRepresentation: pem) }
        #expect(error?.found == "RSA-\(size.bitCount) with public exponent 65537")
        #expect(error?.expected.contains("RSA-3072 with public exponent 3") == true)
        #expect(error?.hint.contains("cloister gramine keygen") == true)
    }

    @Test func textThatIsNoKeyIsRefused() {
        let error = #expect(throws: SigningKeyError.self) { try SGXSigningKey(pemRepresentation: "-----BEGIN CERTIFICATE-----\nAAAA\n") }
        #expect(error?.found.contains("BEGIN CERTIFICATE") == true)
    }

    /// Key generation runs the prime search in this process: a few seconds in a debug build.
    @Test func generatedKeySignsASigStructThatVerifies() throws {
        let started = ContinuousClock.now
        let key = try SGXSigningKey.generate()
        let elapsed = ContinuousClock.now - started
        print("SGX key generation took \(elapsed)")
        #expect(key.pemRepresentation.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        let reloaded = try SGXSigningKey(pemRepresentation: key.pemRepresentation)
        #expect(reloaded.modulus == key.modulus)

        let fields = SigStruct.Fields(
            date: try SigStructDate(parsing: "2026-02-03"), mrEnclave: Array(SHA256.hash(data: [1, 2, 3])), productID: 7, securityVersion: 9,
            attributeFlags: 0x6, xfrm: 0x3, miscSelect: 0)
        let signed = try SigStruct.signed(fields, with: reloaded)
        let parsed = try SigStruct(bytes: signed.bytes)
        #expect(parsed.mrSigner == key.mrSigner)
        #expect(parsed.productID == 7 && parsed.securityVersion == 9 && parsed.isDebug)
        #expect(parsed.date == "2026-02-03")
    }

    @Test func datesAreBCDAndStrict() throws {
        #expect(try SigStructDate(parsing: "0000-00-00").description == "0000-00-00")
        #expect(throws: SigStructError.self) { try SigStructDate(parsing: "2026-1-15") }
        #expect(throws: SigStructError.self) { try SigStructDate(parsing: "2026-01-15x") }
        let today = try SigStructDate(parsing: "today", now: Date(timeIntervalSince1970: 1_768_435_200), calendar: Calendar(identifier: .gregorian))
        #expect(today.year == 2026)
    }

    @Test func attributesFollowTheManifest() throws {
        let manifest = try TOMLReader().parse(
            """
            [sgx]
            debug = true
            use_exinfo = true
            isvprodid = 5
            cpu_features.avx = "required"
            cpu_features.avx512 = "disabled"
            cpu_features.mpx = "disabled"
            """)
        let fields = try SigStruct.Fields(manifest: manifest, mrEnclave: [UInt8](repeating: 0, count: 32), date: SigStructDate(parsing: "2026-01-01"))
        #expect(fields.attributeFlags == 0x6 && fields.miscSelect == 1 && fields.productID == 5)
        #expect(fields.xfrm == 0x3)
        #expect(fields.xfrmMask == 0xffff_ffff_fff9_ffff)
        let bad = try TOMLReader().parse("[sgx]\ncpu_features.pkru = \"unspecified\"")
        let error = #expect(throws: GramineManifestError.self) {
            try SigStruct.Fields(manifest: bad, mrEnclave: [UInt8](repeating: 0, count: 32), date: SigStructDate(parsing: "2026-01-01"))
        }
        #expect(error?.key == "sgx.cpu_features.pkru")
    }
}
