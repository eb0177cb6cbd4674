import Hexadecimal
import Testing

@Suite struct HexadecimalTests {
    @Test func decodesEitherCaseAndEncodesLowerCase() {
        #expect([UInt8](hexadecimal: "00aBfF10") == [0x00, 0xAB, 0xFF, 0x10])
        #expect([UInt8](hexadecimal: "") == [])
        #expect([UInt8](hexadecimal: "00aBfF10"[...]) == [0x00, 0xAB, 0xFF, 0x10])
        #expect([0x00, 0xAB, 0xFF, 0x10].hexadecimal == "00abff10")
        #expect([UInt8]().hexadecimal == "")
        #expect([UInt8](0...255).hexadecimal.count == 512)
        #expect([UInt8](hexadecimal: [UInt8](0...255).hexadecimal) == [UInt8](0...255))
    }

    @Test func refusesOddLengthsAndNonDigits() {
        for text in ["0", "abc", "0g", "zz", " 00", "00 ", "0x00", "é0"] {
            #expect([UInt8](hexadecimal: text) == nil, "\(text)")
        }
        #expect(UInt8(ascii: "F").hexadecimalDigitValue == 15)
        #expect(UInt8(ascii: "g").hexadecimalDigitValue == nil)
    }
}
