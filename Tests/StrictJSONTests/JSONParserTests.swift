import StrictJSON
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String, maximumDepth: Int = JSONParser.defaultMaximumDepth) throws(JSONSyntaxError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8), maximumDepth: maximumDepth)
    }

    @Test func membersKeepTheirOrderRepeatedKeysAndNumberLiterals() throws {
        let value = try parse(#" {"b": 1.0, "a": [true, false, null, -0, 1e3], "b": "x"} "#)
        #expect(
            value
                == .object([
                    JSONMember(key: "b", value: .number("1.0")),
                    JSONMember(key: "a", value: .array([.bool(true), .bool(false), .null, .number("-0"), .number("1e3")])),
                    JSONMember(key: "b", value: .string("x")),
                ]))
        #expect(try parse("{}") == .object([]))
        #expect(try parse("[[], {}]") == .array([.array([]), .object([])]))
    }

    @Test func tenThousandNestedContainersAreRefusedWithoutRecursion() throws {
        let arrays = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let error = #expect(throws: JSONSyntaxError.self) { try parse(arrays) }
        #expect(error?.message == "nesting deeper than 512 levels")
        #expect(error?.offset == 512)
        let objects = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(throws: JSONSyntaxError.self) { try parse(objects) }
    }

    @Test func nestingUpToTheLimitParses() throws {
        #expect(try parse(String(repeating: "[", count: 512) + String(repeating: "]", count: 512)) != .null)
        #expect(try parse("[[1]]", maximumDepth: 2) == .array([.array([.number("1")])]))
        let error = #expect(throws: JSONSyntaxError.self) { try parse("[[[1]]]", maximumDepth: 2) }
        #expect(error?.message == "nesting deeper than 2 levels")
    }

    @Test func syntaxErrorsNameOffsetLineAndColumn() {
        #expect(throws: JSONSyntaxError(offset: 14, line: 2, column: 13, message: "expected ',' or '}' after an object member")) {
            try parse("{\n  \"a\": true \"b\": 1}")
        }
        #expect(
            throws: JSONSyntaxError(
                offset: 7, line: 1, column: 8, message: "control character 0xA inside a string; escape it (for a newline write \\n)")
        ) {
            try parse("{\"a\":\"x\ny\"}")
        }
        #expect(throws: JSONSyntaxError(offset: 0, line: 1, column: 1, message: "unexpected end of input; a value is missing")) {
            try parse("")
        }
        #expect(throws: JSONSyntaxError(offset: 3, line: 1, column: 4, message: "unexpected text after the JSON value")) {
            try parse("{} x")
        }
        #expect(throws: JSONSyntaxError(offset: 1, line: 1, column: 2, message: "unexpected character '<'; expected a value")) {
            try parse("[<]")
        }
        #expect(throws: JSONSyntaxError(offset: 9, line: 1, column: 10, message: "unexpected end of input; the object is not closed")) {
            try parse(#"{"a": [1]"#)
        }
        #expect(throws: JSONSyntaxError(offset: 2, line: 1, column: 3, message: "unexpected end of input; the array is not closed")) {
            try parse("[1")
        }
        #expect(throws: JSONSyntaxError(offset: 4, line: 1, column: 5, message: "unexpected end of input; a value is missing")) {
            try parse("[1, ")
        }
        #expect(JSONSyntaxError(offset: 3, line: 1, column: 4, message: "m").description == "line 1, column 4: m")
    }

    @Test func stringsDecodeEscapesAndSurrogatesAsGo() throws {
        #expect(try parse(#""a\u00e9\ud83d\ude00\n\/""#) == .string("aé😀\n/"))
        #expect(try parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(try parse(#""\ud800\u0041""#) == .string("\u{FFFD}A"))
        #expect(try parse(#"{"k\"ey": "v"}"#) == .object([JSONMember(key: "k\"ey", value: .string("v"))]))
        #expect(throws: JSONSyntaxError.self) { try parse(#""\x""#) }
        #expect(throws: JSONSyntaxError.self) { try parse(#""\u12""#) }
        #expect(throws: JSONSyntaxError.self) { try parse(#""open"#) }
    }

    @Test func invalidUTF8IsRefusedAtItsFirstBadByte() throws {
        let cases: [(bytes: [UInt8], offset: Int)] = [
            ([0x22, 0xFF, 0x22], 1),
            (Array(#"{"a": "ok", "b": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), 18),
            ([0x22, 0xC0, 0xAF, 0x22], 1),  // overlong '/'
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),  // an encoded surrogate
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // above U+10FFFF
            ([0x22, 0x61, 0xE2, 0x82], 2),  // truncated sequence
        ]
        for (bytes, offset) in cases {
            let error = try #require(throws: JSONSyntaxError.self) { try JSONParser.parse(bytes) }
            #expect(error.offset == offset)
            #expect(error.message.contains("offset \(offset) is not valid UTF-8"))
        }
        #expect(try JSONParser.parse(Array("\"é😀€\"".utf8)) == .string("é😀€"))
    }

    @Test func numbersFollowTheRFCGrammar() throws {
        #expect(try parse("-0.5e+3") == .number("-0.5e+3"))
        #expect(try parse("[0, 12, 3.25E-2]") == .array([.number("0"), .number("12"), .number("3.25E-2")]))
        for invalid in ["01", "[1,]", "-", "1.", "1e", ".5", "+1", "tru", "nul"] {
            #expect(throws: JSONSyntaxError.self, "\(invalid)") { try parse(invalid) }
        }
    }

    @Test func objectMembersComeWithTheExactBytesOfTheirValues() throws {
        let text = #"{"tcbInfo": {"b":1,  "a":[2]} , "signature":"00ab", "n": 7}"#
        let bytes = Array(text.utf8)
        let members = try JSONParser.parseObjectMembers(bytes)
        #expect(members.map(\.key) == ["tcbInfo", "signature", "n"])
        #expect(members.map { String(decoding: bytes[$0.valueRange], as: UTF8.self) } == [#"{"b":1,  "a":[2]}"#, #""00ab""#, "7"])
        #expect(members[1].value == .string("00ab"))
        #expect(try JSONParser.parseObjectMembers(Array(" {} ".utf8)).isEmpty)
        let notAnObject = #expect(throws: JSONSyntaxError.self) { try JSONParser.parseObjectMembers(Array(" [1]".utf8)) }
        #expect(notAnObject?.message == "expected a JSON object")
        #expect(notAnObject?.offset == 1)
    }

    @Test func stringLiteralsEscapeWhatRFC8259RequiresAndParseBack() throws {
        #expect(JSONValue.stringLiteral("a\"b\\c\n\r\t\u{01}\u{1F}é😀/") == #""a\"b\\c\n\r\t\u0001\u001fé😀/""#)
        let everyControlCharacter = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init))) + "\"\\x"
        #expect(try JSONParser.parse(Array(JSONValue.stringLiteral(everyControlCharacter).utf8)) == .string(everyControlCharacter))
    }
}
