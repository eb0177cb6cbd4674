import Foundation
import StrictJSON
import Testing

@testable import Manifest

@Suite struct ParsingTests {
    @Test func tenThousandNestedArraysAreRefusedWithoutRecursion() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        do {
            _ = try ManifestDocument.parse(Array(deep.utf8))
            Issue.record("a 10,000-deep document must be refused")
        } catch {
            #expect(error.message == "the manifest is not valid JSON (line 1, column 513: nesting deeper than 512 levels)")
        }
        let objects = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(throws: ManifestReadError.self) { try ManifestDocument.parse(Array(objects.utf8)) }
    }

    @Test func deepYAMLIsRefusedBeforeYamsRecurses() throws {
        let flow = "a: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let blockLines = (0..<3_000).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")
        for text in [flow, blockLines] {
            do {
                _ = try ManifestDocument.parse(Array(text.utf8))
                Issue.record("deep YAML must be refused")
            } catch {
                #expect(error.message.contains("nests deeper than 512 levels"))
            }
        }
    }

    @Test func yamlJustBelowTheLimitParsesOnATaskThread() async throws {
        let flow = "a: " + String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        let manifest = try await Task { try ManifestDocument.parse(Array(flow.utf8)) }.value
        #expect(manifest.sourceFormat == .yaml)
        #expect(manifest.bytes.count == 1_006)
    }

    @Test func aliasBombsAreRefused() throws {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...8 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        do {
            _ = try ManifestDocument.parse(Array(lines.joined(separator: "\n").utf8))
            Issue.record("an alias bomb must be refused")
        } catch {
            #expect(
                error.message == "the manifest is neither JSON nor YAML (the YAML expands to more than 100000 values (aliases repeated too often))")
        }
    }

    @Test func yamlIsConvertedToTheJSONTheMarbleRunCLIUploads() throws {
        // From MarbleRun's CLI tests: converted JSON has no whitespace.
        let simple = try ManifestDocument.parse(Array("TestSignature: signature\n".utf8))
        #expect(String(decoding: simple.bytes, as: UTF8.self) == #"{"TestSignature":"signature"}"#)
        #expect(simple.fingerprint == RenderingFixtures.sha256Hex(Array(#"{"TestSignature":"signature"}"#.utf8)))
        let yaml = """
            z: 1
            a:
              yes: on
              octal: 0755
              hex: 0x1F
              float: 1.50
              big: 1e21
              small: 0.0000001
              none: ~
              quoted: "123"
              html: <b> & </b>
              list: [y, N, "x"]
            """
        let manifest = try ManifestDocument.parse(Array(yaml.utf8))
        #expect(
            String(decoding: manifest.bytes, as: UTF8.self)
                == #"{"a":{"big":1e+21,"float":1.5,"hex":31,"html":"\u003cb\u003e \u0026 \u003c/b\u003e","list":[true,false,"x"],"none":null,"octal":493,"quoted":"123","small":1e-7,"true":true},"z":1}"#
        )
    }

    @Test func yamlDuplicateKeysAreRejectedAsByYAMLToJSONStrict() {
        #expect(throws: ManifestReadError.self) { try ManifestDocument.parse(Array("a: 1\na: 2\n".utf8)) }
    }

    @Test func jsonLookingYAMLIsAcceptedWithAWarning() throws {
        let manifest = try ManifestDocument.parse(Array(#"{"Packages": {}, }"#.utf8))
        #expect(manifest.sourceFormat == .yaml)
        let note = try #require(manifest.validate().warnings.first { $0.path == "" })
        #expect(
            note.message
                == "the file is not valid JSON (line 1, column 18: expected a quoted object key) and was read as YAML, as the MarbleRun CLI does")
        #expect(throws: ManifestReadError.self) { try ManifestDocument.parse(Array(#"{"Packages": {}, }"#.utf8), formats: .json) }
    }

    @Test func textThatIsNeitherJSONNorYAMLIsUnreadable() {
        #expect(throws: ManifestReadError.self) { try ManifestDocument.parse(Array("{\"a\": [1, 2}".utf8)) }
        #expect(throws: ManifestReadError.self) { try ManifestDocument.parse([0xFF, 0xFE, 0x00]) }
        #expect(throws: ManifestReadError.self) { try ManifestDocument.parse(Array("key: [unclosed".utf8)) }
    }

    @Test func goFloatFormatting() {
        #expect(GoJSONEncoding.formatFloat(1e21) == "1e+21")
        #expect(GoJSONEncoding.formatFloat(1e20) == "100000000000000000000")
        #expect(GoJSONEncoding.formatFloat(1e-7) == "1e-7")
        #expect(GoJSONEncoding.formatFloat(1.25e-10) == "1.25e-10")
        #expect(GoJSONEncoding.formatFloat(0.000001) == "0.000001")
        #expect(GoJSONEncoding.formatFloat(-2.5) == "-2.5")
        #expect(GoJSONEncoding.formatFloat(123456789) == "123456789")
        #expect(GoJSONEncoding.formatFloat(.infinity) == nil)
    }

    @Test func goIntegerResolution() {
        #expect(YAMLConversion.goInteger("1_000") == "1000")
        #expect(YAMLConversion.goInteger("-0x10") == "-16")
        #expect(YAMLConversion.goInteger("0b101") == "5")
        #expect(YAMLConversion.goInteger("18446744073709551615") == "18446744073709551615")
        #expect(YAMLConversion.goInteger("18446744073709551616") == nil)
        #expect(YAMLConversion.goInteger("09") == nil)
    }

    @Test func rfc3339TimesAsGoReadsThem() {
        #expect(RFC3339.date("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(RFC3339.date("2030-01-01T01:00:00+01:00") == Date(timeIntervalSince1970: 1_893_456_000))
        #expect(RFC3339.date("2000-02-29T12:00:00.5Z") == Date(timeIntervalSince1970: 951_825_600.5))
        #expect(RFC3339.date("0001-01-01T00:00:00Z") == Date(timeIntervalSince1970: -62_135_596_800))
        #expect(RFC3339.date("2001-02-29T00:00:00Z") == nil)
        #expect(RFC3339.date("2030-01-01 00:00:00Z") == nil)
        #expect(RFC3339.date("2030-01-01T00:00:00") == nil)
    }

    @Test func pathsQuoteKeysThatAreNotPlainWords() {
        let path = JSONPath.root / "Marbles" / "web" / "Parameters" / "Files" / "/etc/app.conf"
        #expect(path.description == #"Marbles.web.Parameters.Files["/etc/app.conf"]"#)
        #expect((JSONPath.root / "TLS" / "t").appending(index: 2).appending("Port").description == "TLS.t[2].Port")
        #expect((JSONPath.root / "a\"b").description == #"["a\"b"]"#)
    }
}
