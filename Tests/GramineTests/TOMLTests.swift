import Gramine
import Testing

@Suite struct TOMLTests {
    let reader = TOMLReader()

    @Test func keepsInsertionOrderAndWritesPlainValuesBeforeTables() throws {
        let table = try reader.parse(
            """
            z = 1
            [b]
            y = "x"
            c.d = true
            [a]
            k = 0x1F
            """)
        #expect(table.keys == ["z", "b", "a"])
        #expect(TOMLWriter.string(from: table) == "z = 1\n\n[b]\ny = \"x\"\n\n[b.c]\nd = true\n\n[a]\nk = 31\n")
    }

    @Test func writesArraysMultiLineAndInlineTablesOnlyWhenShort() throws {
        let short = try reader.parse("mounts = [{ path = \"/tmp\", type = \"tmpfs\" }]\nlist = [1, [2, 3], []]\nempty = {}\n")
        #expect(
            TOMLWriter.string(from: short) == """
                mounts = [
                    { path = "/tmp", type = "tmpfs" },
                ]
                list = [
                    1,
                    [
                        2,
                        3,
                    ],
                    [],
                ]

                [empty]

                """)
        let long = String(repeating: "a", count: 80)
        let table = try reader.parse("files = [{ uri = \"file:/\(long)\" }, { uri = \"b\" }]")
        #expect(TOMLWriter.string(from: table) == "[[files]]\nuri = \"file:/\(long)\"\n\n[[files]]\nuri = \"b\"\n")
    }

    @Test func tableWithOnlySubtablesGetsNoHeader() throws {
        let table = try reader.parse("[a.b]\nx = 1\n[a.c]\ny = 2\n")
        #expect(TOMLWriter.string(from: table) == "[a.b]\nx = 1\n\n[a.c]\ny = 2\n")
    }

    @Test func readsAndWritesEscapesLikeTomliW() throws {
        let table = try reader.parse(
            #"""
            s = "tab\there \"q\" back\\slash \u00e9 \U0001F600 nl\n cr\r bell\u0007 del\u007F esc\e hex\x41"
            lit = 'C:\path\n'
            ml = """
            line1 \
               line2"""
            mll = '''
            raw\n'''
            "quoted key" = 1
            "" = 2
            """#)
        #expect(table["s"] == .string("tab\there \"q\" back\\slash é 😀 nl\n cr\r bell\u{7} del\u{7F} esc\u{1B} hexA"))
        #expect(table["lit"] == .string(#"C:\path\n"#))
        #expect(table["ml"] == .string("line1 line2"))
        #expect(table["mll"] == .string(#"raw\n"#))
        let written = TOMLWriter.string(from: table)
        #expect(written.hasPrefix(#"s = "tab\#there \"q\" back\\slash é 😀 nl\n cr\r bell\u0007 del\u007f esc\u001b hexA""#))
        #expect(written.contains(#"lit = "C:\\path\\n""#))
        #expect(written.contains("\"quoted key\" = 1\n\"\" = 2\n"))
        #expect(try reader.parse(written) == table)
    }

    @Test func readsNumbersBooleansAndFloats() throws {
        let table = try reader.parse(
            "a = +1_000\nb = -0\nc = 0o17\nd = 0b101\ne = 1.5e3\nf = -inf\ng = nan\nh = 6.02e+23\ni = false\nj = 1e16\nk = 0.1")
        #expect(table["a"] == .integer(1000) && table["c"] == .integer(15) && table["d"] == .integer(5))
        #expect(table["e"] == .float(1500) && table["f"] == .float(-.infinity) && table["i"] == .boolean(false))
        #expect(
            TOMLWriter.string(from: table)
                == "a = 1000\nb = 0\nc = 15\nd = 5\ne = 1500.0\nf = -inf\ng = nan\nh = 6.02e+23\ni = false\nj = 1e+16\nk = 0.1\n")
    }

    @Test func arraysOfTablesAndInlineTablesOverSeveralLines() throws {
        let table = try reader.parse(
            """
            [[fs.mounts]]
            path = "/a"
            [fs.mounts.options]
            ro = true
            [[fs.mounts]]
            path = "/b"
            x = { a = 1,
                  b = [1,2,], # comment
                }
            """)
        let mounts = try #require(table[path: ["fs", "mounts"]]?.array)
        #expect(mounts.count == 2)
        #expect(mounts[0].table?[path: ["options", "ro"]] == .boolean(true))
        #expect(mounts[1].table?[path: ["x", "b"]] == .array([.integer(1), .integer(2)]))
    }

    @Test(arguments: [
        ("a = 1\na = 2", 2, 1, "'a' defined again"),
        ("[a]\n[a]", 2, 1, "[a] declared again (it was already defined by a table header)"),
        ("[a]\nb.c = 1\n[a.b]", 3, 1, "[a.b] declared again (it was already defined by dotted keys)"),
        ("a = { b = 1 }\n[a.c]", 2, 1, "'a' holding a table value"),
        ("a = [1]\n[[a]]", 2, 1, "a header for 'a', which already holds a array value"),
        ("x = \"abc", 1, 9, "the end of the input"),
        ("x = \"a\\qb\"", 1, 7, "the escape '\\q'"),
        ("x = 0123", 1, 5, "'0123'"),
        ("x = 1979-05-27", 1, 5, "the date or time '1979-05-27'"),
        ("x = 99999999999999999999", 1, 5, "'99999999999999999999'"),
        ("x = 1 y = 2", 1, 7, "'y'"),
        ("é = 1", 1, 1, "'é'"),
        ("x = \"\u{1}\"", 1, 6, "control character U+0001 in a string"),
        ("a = 1\r", 1, 6, "a carriage return not followed by a line feed"),
        ("a = [1 2]", 1, 8, "'2'"),
    ])
    func errorsNameTheirPositionAndWhatWasFound(input: String, line: Int, column: Int, found: String) {
        let error = #expect(throws: TOMLError.self) { try reader.parse(input) }
        #expect(error?.line == line)
        #expect(error?.column == column)
        #expect(error?.found == found)
        #expect(error?.expected.isEmpty == false && error?.hint.isEmpty == false)
    }

    @Test func hostileInputFailsQuickly() {
        let deep = String(repeating: "[", count: 100_000)
        let error = #expect(throws: TOMLError.self) { try reader.parse("x = " + deep) }
        #expect(error?.found.contains("nested more than 64") == true)
        let longKey = #expect(throws: TOMLError.self) { try reader.parse(Array(repeating: "a", count: 50_000).joined(separator: ".") + " = 1") }
        #expect(longKey?.found.contains("more than 64 dotted parts") == true)
        let small = TOMLReader(maximumInputBytes: 10)
        #expect(throws: TOMLError.self) { try small.parse("x = \"0123456789\"") }
        #expect(throws: TOMLError.self) { try reader.parse([0x61, 0x20, 0x3D, 0x20, 0x22, 0xFF, 0x22]) }
    }

    @Test func roundTripsWhatItWrites() throws {
        var nested = TOMLTable()
        nested["list"] = .array([.string("a\u{0}b"), .table(TOMLTable(["k": .integer(-5)]))])
        nested["weird key.with dot"] = .float(0.5)
        var root = TOMLTable()
        root["top"] = .boolean(true)
        root["nested"] = .table(nested)
        root["aot"] = .array([.table(TOMLTable(["u": .string(String(repeating: "x", count: 120))]))])
        let written = TOMLWriter.string(from: root)
        #expect(try reader.parse(written) == root)
        #expect(TOMLWriter.string(from: try reader.parse(written)) == written)
    }
}
