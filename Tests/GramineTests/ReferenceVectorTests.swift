import Foundation
import Gramine
import Hexadecimal
import TestSupport
import Testing

/// Reproduces `gramine-sgx-sign`'s outputs for the shared reference vectors byte for byte.
@Suite struct ReferenceVectorTests {
    static let case1 = SharedData.directory("vectors/gramine-mrenclave/case1")
    static let sigstructVectors = SharedData.directory("vectors/sigstruct")

    static func file(_ name: String) throws -> [UInt8] {
        try Array(Data(contentsOf: try #require(case1).appendingPathComponent(name)))
    }

    static func expected() throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(file("expected.json"))) as? [String: Any])
    }

    static var rootfs: TrustedFileSystem { .chroot(case1!.appendingPathComponent("rootfs").path) }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func manifestTemplateBecomesTheSignersManifestSGX() throws {
        // Gramine hashes loader.entrypoint.uri on the host; the vector was made with the image's /gramine mounted
        // there, which reading it inside the chroot reproduces.
        let manifest = try GramineManifest(parsing: Self.file("manifest.template.toml"))
            .addingSignerDefaults(entrypointFiles: Self.rootfs)
            .expandingTrustedFiles(in: Self.rootfs)
        let expected = try Self.file("entrypoint.manifest.sgx")
        let written = manifest.tomlBytes
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        #expect(written == expected)
    }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func manifestSGXRereadsAndRewritesToTheSameBytes() throws {
        let bytes = try Self.file("entrypoint.manifest.sgx")
        #expect(try GramineManifest(parsing: bytes).tomlBytes == bytes)
    }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func measurementMatchesGraminesRecordStream() throws {
        let libpal = try ELFFile(bytes: Self.file("libpal.so"))
        let measurement = try GramineSigner.measure(manifestSGX: Self.file("entrypoint.manifest.sgx"), libpal: libpal, recordingStream: true)
        let layout = String(decoding: try Self.file("layout.txt"), as: UTF8.self).split(separator: "\n").map(String.init)

        let expectedRecords = layout.filter { $0.hasPrefix("ECREATE") || $0.hasPrefix("EADD") }
        let records = try #require(measurement.records).map(Self.layoutLine)
        let firstDifference = zip(records, expectedRecords).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(
            firstDifference == nil,
            "first differing record #\(firstDifference?.offset ?? -1): ours \(firstDifference?.element.0 ?? "") / Gramine's \(firstDifference?.element.1 ?? "")"
        )
        #expect(records.count == expectedRecords.count)

        let expectedCheckpoints = layout.compactMap { line -> String? in
            guard line.hasPrefix("# stream_sha256 after ") else { return nil }
            return String(line.dropFirst("# stream_sha256 after ".count))
        }
        #expect(measurement.checkpoints.map { "\($0.area): \($0.streamSHA256.hexadecimal)" } == expectedCheckpoints)

        let expected = try Self.expected()
        let layoutSummary = try #require(expected["layout"] as? [String: Any])
        #expect(measurement.mrEnclave.hexadecimal == expected["mrenclave"] as? String)
        #expect(measurement.addCount == layoutSummary["eadd_records"] as? Int)
        #expect(measurement.extendCount == layoutSummary["eextend_records"] as? Int)
        #expect("0x" + String(measurement.heapMax, radix: 16) == layoutSummary["heap_max"] as? String)
    }

    /// A record in `layout.txt`'s words, so that the first differing record can be named.
    static func layoutLine(_ record: MeasurementRecord) -> String {
        func hex(_ value: UInt64, width: Int = 8) -> String {
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        func flagNames(_ flags: UInt64) -> String {
            var names: [String] = []
            if flags & 0x100 != 0 { names.append("TCS") }
            if flags & 0x200 != 0 { names.append("REG") }
            if flags & 0x1 != 0 { names.append("R") }
            if flags & 0x2 != 0 { names.append("W") }
            if flags & 0x4 != 0 { names.append("X") }
            return "flags=0x\(String(flags, radix: 16)) (\(names.joined(separator: "|")))"
        }
        switch record {
        case .create(let pages, let size):
            return "ECREATE ssaframesize=\(pages) size=0x\(String(size, radix: 16))"
        case .addPage(let offset, let flags, let area, let content):
            return "EADD \(hex(offset)) \(flagNames(flags)) EEXTEND x16 page_sha256=\(content.hexadecimal)  [\(area)]"
        case .addUnmeasuredPages(let first, let count, let flags, let area):
            return
                "EADD \(hex(first))..\(hex(first + UInt64(count - 1) * 0x1000)) (\(count) pages, step 0x1000) \(flagNames(flags)) EEXTEND x0  [\(area), not measured]"
        }
    }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func sigstructIsReproducedByteForByte() throws {
        let key = try SGXSigningKey(pemRepresentation: String(decoding: Self.file("signing-key.pem"), as: UTF8.self))
        let output = try GramineSigner.measureAndSign(
            manifestSGX: Self.file("entrypoint.manifest.sgx"), libpal: ELFFile(bytes: Self.file("libpal.so")), key: key,
            date: SigStructDate(parsing: "2026-01-15"))
        #expect(output.sigStruct.bytes == (try Self.file("entrypoint.sig")))

        let expected = try Self.expected()
        let attributes = try #require(expected["attributes"] as? [String: Any])
        #expect(output.sigStruct.mrSigner.hexadecimal == expected["mrsigner"] as? String)
        #expect(key.mrSigner == output.sigStruct.mrSigner)
        #expect(output.sigStruct.bytes[928..<960].hexadecimal == attributes["sigstruct_bytes_928_960_hex"] as? String)
        #expect(output.sigStruct.bytes[20..<24].hexadecimal == expected["sigstruct_date_bytes_hex"] as? String)
        #expect(output.sigStruct.date == "2026-01-15")
    }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func wholePipelineGivesBothOutputs() throws {
        let output = try GramineSigner.sign(
            manifest: Self.file("manifest.template.toml"), libpal: ELFFile(bytes: Self.file("libpal.so")),
            key: SGXSigningKey(pemRepresentation: String(decoding: Self.file("signing-key.pem"), as: UTF8.self)),
            date: SigStructDate(parsing: "2026-01-15"), trustedFiles: Self.rootfs, entrypointFiles: Self.rootfs)
        #expect(output.manifestSGX == (try Self.file("entrypoint.manifest.sgx")))
        #expect(output.sigStruct.bytes == (try Self.file("entrypoint.sig")))
        #expect(GramineSigner.sigPath(forManifest: "/x/entrypoint.manifest") == "/x/entrypoint.sig")
        #expect(GramineSigner.sigPath(forManifest: "app.toml") == "app.toml.sig")
    }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func anyManifestChangeChangesMRENCLAVE() throws {
        let libpal = try ELFFile(bytes: Self.file("libpal.so"))
        let original = try Self.file("entrypoint.manifest.sgx")
        var mutated = original
        let index = try #require(mutated.firstIndex(of: UInt8(ascii: "e")))
        mutated[index] = UInt8(ascii: "E")
        let before = try GramineSigner.measure(manifestSGX: original, libpal: libpal).mrEnclave
        let changedByte = try GramineSigner.measure(manifestSGX: mutated + [UInt8(ascii: "\n")], libpal: libpal).mrEnclave
        #expect(before != changedByte)
        let moreThreads = String(decoding: original, as: UTF8.self).replacingOccurrences(of: "max_threads = 4", with: "max_threads = 5")
        #expect(try GramineSigner.measure(manifestSGX: Array(moreThreads.utf8), libpal: libpal).mrEnclave != before)
    }

    @Test(.enabled(if: case1 != nil, "\(SharedData.missingMessage("vectors/gramine-mrenclave/case1"))"))
    func libpalProgramHeadersAreRead() throws {
        let libpal = try ELFFile(bytes: Self.file("libpal.so"))
        #expect(libpal.entry == 0x10c7)
        #expect(libpal.loadSegments.count == 4)
        #expect(libpal.loadSegments.map(\.flags) == [4, 5, 4, 6])
        #expect(libpal.loadSegments[3].offset == 0x3e80 && libpal.loadSegments[3].virtualAddress == 0x4e80)
        #expect(libpal.dynamic?.needed == [])
        #expect(libpal.interpreter == nil)
    }

    @Test(.enabled(if: sigstructVectors != nil, "\(SharedData.missingMessage("vectors/sigstruct"))"))
    func sigstructVectorParsesAndIsReproducedFromItsFields() throws {
        let directory = try #require(Self.sigstructVectors)
        let bytes = try Array(Data(contentsOf: directory.appendingPathComponent("v1.sig")))
        let parsed = try SigStruct(bytes: bytes)
        #expect(parsed.mrEnclave.hexadecimal == "fd27dc24a691c2f7379b683eb90971505b84d87d74992c5fcfbdb1261e2082a2")
        #expect(parsed.mrSigner.hexadecimal == "001b9a066b9842d8187d9c0ad88a0fe6c4dce0c2eb775332be7553b57555794d")
        #expect(parsed.productID == 1 && parsed.securityVersion == 1 && !parsed.isDebug)
        #expect(parsed.attributeFlags == 0x4 && parsed.xfrm == 0x3 && parsed.miscSelect == 0)
        #expect(parsed.date == "2024-01-15")

        let key = try SGXSigningKey(pemRepresentation: String(contentsOf: directory.appendingPathComponent("v1-key.pem"), encoding: .utf8))
        var fields = SigStruct.Fields(
            date: try SigStructDate(parsing: "2024-01-15"), mrEnclave: parsed.mrEnclave, productID: 1, securityVersion: 1,
            attributeFlags: 0x4, xfrm: 0x3, miscSelect: 0)
        fields.xfrmMask = parsed.xfrmMask
        #expect(try SigStruct.signed(fields, with: key).bytes == bytes)
    }
}
