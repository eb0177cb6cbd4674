import Foundation
import Gramine
import Hexadecimal
import TestSupport
import Testing

@Suite struct SigStructTests {
    static let vectors = SharedData.directory("vectors/sigstruct")

    static func vector() throws -> [UInt8] {
        try Array(Data(contentsOf: try #require(vectors).appendingPathComponent("v1.sig")))
    }

    @Test(.enabled(if: vectors != nil, "\(SharedData.missingMessage("vectors/sigstruct"))"))
    func readsGramineReferenceVector() throws {
        let sigstruct = try SigStruct(bytes: Self.vector())
        #expect(sigstruct.mrEnclave.hexadecimal == "fd27dc24a691c2f7379b683eb90971505b84d87d74992c5fcfbdb1261e2082a2")
        #expect(sigstruct.mrSigner.hexadecimal == "001b9a066b9842d8187d9c0ad88a0fe6c4dce0c2eb775332be7553b57555794d")
        #expect(sigstruct.productID == 1)
        #expect(sigstruct.securityVersion == 1)
        #expect(!sigstruct.isDebug)
        #expect(sigstruct.attributeFlags == 0x4)
        #expect(sigstruct.xfrm == 0x3)
        #expect(sigstruct.miscSelect == 0)
        #expect(sigstruct.date == "2024-01-15")
    }

    @Test(.enabled(if: vectors != nil, "\(SharedData.missingMessage("vectors/sigstruct"))"), arguments: [960, 1024, 1026, 928, 20])
    func signedFieldChangedAfterSigningIsRefused(offset: Int) throws {
        var bytes = try Self.vector()
        bytes[offset] ^= 0x01
        let error = try #require(throws: SigStructError.self) { try SigStruct(bytes: bytes) }
        #expect(error.field == "SIGNATURE")
        #expect(error.hint.contains("re-sign"))
    }

    @Test(.enabled(if: vectors != nil, "\(SharedData.missingMessage("vectors/sigstruct"))"))
    func wrongSizeHeaderAndExponentAreNamed() throws {
        let bytes = try Self.vector()
        let short = try #require(throws: SigStructError.self) { try SigStruct(bytes: Array(bytes.prefix(1000))) }
        #expect(short.field == "size" && short.found == "1000 bytes")
        var header = bytes
        header[0] = 0x07
        #expect(throws: SigStructError.self) { try SigStruct(bytes: header) }
        #expect((try? SigStruct(bytes: header)) == nil)
        var exponent = bytes
        exponent[512] = 0x01
        let wrongExponent = try #require(throws: SigStructError.self) { try SigStruct(bytes: exponent) }
        #expect(wrongExponent.field == "EXPONENT" && wrongExponent.found == "1")
    }

    @Test func arbitraryBytesAreNotASigStruct() {
        let error = #expect(throws: SigStructError.self) { try SigStruct(bytes: [UInt8](repeating: 0, count: SigStruct.size)) }
        #expect(error?.field == "HEADER")
    }
}
