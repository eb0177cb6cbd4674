import Foundation
import TestSupport
import Testing

private let corpus = SharedData.directory("corpus/dcap")
private let cloister = BuiltProgram(named: "cloister")
private let sgxAccept = "sgx-v3-dcapqvl-sgx_quote-f8b81014"
private let tdxAccept = "tdx-v4-dcapqvl-tdx_quote-c42f9164"
private let debugEnclave = "sgx-v3-dcaprs-quote_sgx-743a7a64"
private let noTCBLevel = "tdx-v4-dcapqvl-quote-from-tappd-219cafde"

/// One verification case of `corpus.json`.
private struct CorpusCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Files: Decodable, Sendable {
        let quote: String
        let collateral: String
    }
    struct Expected: Decodable, Sendable {
        let result: String
        let status: String?
        let advisory_ids: [String]?
    }
    struct Underlying: Decodable, Sendable {
        let status: String
        let advisory_ids: [String]
    }
    let id: String
    let tee: String
    let files: Files
    let verification_time: Int64
    let expected: Expected
    let expectation_class: String
    let underlying_tcb_status: Underlying?

    var testDescription: String { id }

    static func all() -> [CorpusCase] {
        guard let corpus, let data = try? Data(contentsOf: corpus.appendingPathComponent("corpus.json")) else { return [] }
        struct Manifest: Decodable { let cases: [CorpusCase] }
        return (try? JSONDecoder().decode(Manifest.self, from: data).cases) ?? []
    }

    static func named(_ id: String) throws -> CorpusCase {
        try #require(all().first { $0.id == id }, "corpus case \(id)")
    }

    var quotePath: String { corpus!.appendingPathComponent(files.quote).path }
    var collateralPath: String { corpus!.appendingPathComponent(files.collateral).path }

    func verify(_ extra: [String] = []) throws -> BuiltProgram.Outcome {
        try cloister.run(["quote", "verify", quotePath, "--collateral", collateralPath, "--at", String(verification_time)] + extra)
    }
}

private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
}

private func temporaryFile(_ name: String, _ contents: Data) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-quote-cli-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try contents.write(to: url)
    return url
}

@Suite(
    "cloister quote",
    .enabled(if: corpus != nil, "\(SharedData.missingMessage("corpus/dcap"))"),
    .enabled(if: cloister.exists, "the cloister executable is not built (swift build --build-tests builds it)"))
struct QuoteCommandTests {
    @Test("every corpus case gives its expected verdict, status and advisories", arguments: CorpusCase.all())
    fileprivate func corpusVerdicts(_ entry: CorpusCase) throws {
        let outcome = try entry.verify(["--json"])
        let report = try jsonObject(outcome.standardOutput)
        switch entry.expectation_class {
        case "must_accept_with_status":
            #expect(outcome.exitCode == 0, "\(outcome.standardOutput)")
            #expect(report["verdict"] as? String == "accepted")
            #expect(report["status"] as? String == entry.expected.status)
            #expect(report["advisoryIDs"] as? [String] == entry.expected.advisory_ids)
        case "must_reject":
            #expect(outcome.exitCode == 1, "\(outcome.standardOutput)")
            #expect(report["verdict"] as? String == "rejected")
            let error = try #require(report["error"] as? [String: Any])
            #expect(error["policy"] as? Bool == false)
        case "policy_reject":
            #expect(outcome.exitCode == 1, "\(outcome.standardOutput)")
            let error = try #require(report["error"] as? [String: Any])
            #expect(error["policy"] as? Bool == true)
            #expect(report["status"] as? String == entry.underlying_tcb_status?.status)
            #expect(report["advisoryIDs"] as? [String] == entry.underlying_tcb_status?.advisory_ids)
        default:
            // Implementation-defined: either verdict, but a verdict (never "unusable") with its reason.
            #expect(outcome.exitCode == 0 || outcome.exitCode == 1)
            if outcome.exitCode == 1 { #expect(report["error"] is [String: Any]) }
        }
    }

    @Test("accepted: readable report with status, levels and the instant given")
    func acceptedReport() throws {
        let outcome = try CorpusCase.named(sgxAccept).verify()
        #expect(outcome.exitCode == 0)
        let text = outcome.standardOutput
        #expect(text.contains("verdict:      ACCEPTED"))
        #expect(text.contains("TCB status:   ConfigurationAndSWHardeningNeeded (advisories INTEL-SA-00289, INTEL-SA-00615)"))
        #expect(text.contains("verified at:  2025-07-04T10:28:44Z (given with --at)"))
        #expect(text.contains("FMSPC:        00A067110000"))
        #expect(text.contains("QE TCB:"))
    }

    @Test("--at accepts ISO-8601 as well as Unix seconds, and without it the current time is named")
    func instants() throws {
        let entry = try CorpusCase.named(tdxAccept)
        let iso = try cloister.run(["quote", "verify", entry.quotePath, "--collateral", entry.collateralPath, "--at", "2025-07-04T10:28:44Z"])
        #expect(iso.standardOutput.contains("verified at:  2025-07-04T10:28:44Z (given with --at)"))
        let now = try cloister.run(["quote", "verify", entry.quotePath, "--collateral", entry.collateralPath])
        #expect(now.standardOutput.contains("(the current time; pass --at to verify as of another instant)"))
        let bad = try cloister.run(["quote", "verify", entry.quotePath, "--collateral", entry.collateralPath, "--at", "yesterday"])
        #expect(bad.exitCode == 2)
        #expect(bad.standardError.contains("--at 'yesterday' is neither an ISO-8601 time nor Unix seconds"))
    }

    @Test("rejected by verification: exit 1 with the failed check, found, expected and what to do")
    func rejectedByVerification() throws {
        let outcome = try CorpusCase.named(noTCBLevel).verify()
        #expect(outcome.exitCode == 1)
        #expect(outcome.standardOutput.contains("verdict:      REJECTED"))
        #expect(outcome.standardOutput.contains("(verification)"))
        #expect(outcome.standardOutput.contains("  found:"))
        #expect(outcome.standardOutput.contains("  what to do:"))
    }

    @Test("rejected by the default policy (debug enclave) while the TCB status is still reported")
    func rejectedByPolicy() throws {
        let entry = try CorpusCase.named(debugEnclave)
        let outcome = try entry.verify()
        #expect(outcome.exitCode == 1)
        #expect(outcome.standardOutput.contains("(policy)"))
        #expect(outcome.standardOutput.contains("TCB status:   ConfigurationAndSWHardeningNeeded"))
        #expect(outcome.standardOutput.lowercased().contains("debug"))

        let allowDebug = try temporaryFile("policy.json", Data(#"{"allowDebug": true}"#.utf8))
        let allowed = try entry.verify(["--policy", allowDebug.path])
        #expect(allowed.exitCode == 0, "\(allowed.standardOutput)")
    }

    @Test("a policy file can reject what verification accepts")
    func policyFileRejects() throws {
        let strict = try temporaryFile("policy.json", Data(#"{"acceptedTCBStatuses": ["UpToDate"]}"#.utf8))
        let outcome = try CorpusCase.named(sgxAccept).verify(["--policy", strict.path, "--json"])
        #expect(outcome.exitCode == 1)
        let error = try #require(try jsonObject(outcome.standardOutput)["error"] as? [String: Any])
        #expect(error["check"] as? String == "policy.tcb_status")
    }

    @Test("--explain prints every check in order, and --json carries the steps")
    func explain() throws {
        let entry = try CorpusCase.named(sgxAccept)
        let text = try entry.verify(["--explain"]).standardOutput
        #expect(text.contains("reasoning, check by check:"))
        let checkLines = text.split(separator: "\n").filter { $0.hasPrefix("[ok  ]") || $0.hasPrefix("[FAIL]") || $0.hasPrefix("[skip]") }
        #expect(checkLines.count >= 15, "\(text)")
        #expect(text.contains("ACCEPTED: TCB status ConfigurationAndSWHardeningNeeded"))

        let rejected = try CorpusCase.named(debugEnclave).verify(["--explain"]).standardOutput
        #expect(rejected.contains("[FAIL]"))
        #expect(rejected.contains("REJECTED:"))

        let json = try jsonObject(try entry.verify(["--explain", "--json"]).standardOutput)
        let steps = try #require(json["explanation"] as? [[String: Any]])
        #expect(steps.count == checkLines.count)
        #expect(steps.allSatisfy { $0["outcome"] as? String == "passed" || $0["outcome"] as? String == "skipped" })
    }

    @Test("--json parses and names every verdict field")
    func jsonOutput() throws {
        let report = try jsonObject(try CorpusCase.named(tdxAccept).verify(["--json"]).standardOutput)
        #expect(report["verdict"] as? String == "accepted")
        #expect(report["exitCode"] as? Int == 0)
        #expect(report["tee"] as? String == "TDX")
        #expect(report["verificationTimeSource"] as? String == "--at")
        for key in ["platformStatus", "qeStatus", "platformTCBLevel", "qeTCBLevel", "tcbDate", "fmspc", "collateralExpiry"] {
            #expect(report[key] != nil, "missing \(key)")
        }
    }

    @Test("unusable input exits 2 with what was wrong and what to do")
    func unusableInput() throws {
        let entry = try CorpusCase.named(sgxAccept)
        let missing = try cloister.run(["quote", "verify", "/nonexistent/quote.bin", "--collateral", entry.collateralPath])
        #expect(missing.exitCode == 2)
        #expect(missing.standardError.contains("quote file /nonexistent/quote.bin does not exist"))
        #expect(missing.standardError.contains("hint:"))

        let garbage = try temporaryFile("garbage.bin", Data((0..<700).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        let notQuote = try cloister.run(["quote", "verify", garbage.path, "--collateral", entry.collateralPath])
        #expect(notQuote.exitCode == 2)
        #expect(notQuote.standardError.contains("is not a valid DCAP quote"))

        let truncated = try temporaryFile("truncated.bin", try Data(contentsOf: URL(fileURLWithPath: entry.quotePath)).prefix(1000))
        let short = try cloister.run(["quote", "verify", truncated.path, "--collateral", entry.collateralPath, "--json"])
        #expect(short.exitCode == 2)
        let problem = try #require(try jsonObject(short.standardOutput)["problem"] as? [String: Any])
        #expect((problem["message"] as? String)?.contains("offset") == true || (problem["message"] as? String)?.contains("byte") == true)

        let badCollateral = try temporaryFile("collateral.json", Data("not json".utf8))
        let noCollateral = try cloister.run(["quote", "verify", entry.quotePath, "--collateral", badCollateral.path])
        #expect(noCollateral.exitCode == 2)
        #expect(noCollateral.standardError.contains("is not dcap-qvl QuoteCollateralV3 JSON"))

        let noSource = try cloister.run(["quote", "verify", entry.quotePath])
        #expect(noSource.exitCode == 2)
        #expect(noSource.standardError.contains("Give exactly one of --collateral FILE, --pcs URL, --pccs URL or --thim [URL]"))

        let badPolicy = try temporaryFile("policy.json", Data(#"{"acceptedTCBStatuses": ["Fine"]}"#.utf8))
        let policy = try cloister.run(["quote", "verify", entry.quotePath, "--collateral", entry.collateralPath, "--policy", badPolicy.path])
        #expect(policy.exitCode == 2)
        #expect(policy.standardError.contains("unknown TCB status(es) Fine"))
    }

    @Test("an unreachable collateral service is unusable input naming the URL")
    func unreachableService() throws {
        let entry = try CorpusCase.named(sgxAccept)
        let outcome = try cloister.run(["quote", "verify", entry.quotePath, "--pccs", "http://127.0.0.1:1", "--timeout", "5"])
        #expect(outcome.exitCode == 2)
        #expect(outcome.standardError.contains("could not connect to http://127.0.0.1:1/sgx/certification/v4/pckcrl?ca=processor"))
    }

    @Test("inspect names every field, from binary or hexadecimal files alike")
    func inspect() throws {
        let entry = try CorpusCase.named(sgxAccept)
        let binary = try cloister.run(["quote", "inspect", entry.quotePath, "--json"])
        #expect(binary.exitCode == 0)
        let hexText = try Data(contentsOf: URL(fileURLWithPath: entry.quotePath)).map { String(format: "%02x", $0) }.joined()
        let hexFile = try temporaryFile("quote.hex", Data(("0x" + hexText + "\n").utf8))
        let hex = try cloister.run(["quote", "inspect", hexFile.path, "--json"])
        var fromBinary = try jsonObject(binary.standardOutput)
        var fromHex = try jsonObject(hex.standardOutput)
        fromBinary["file"] = nil
        fromHex["file"] = nil
        #expect(NSDictionary(dictionary: fromBinary).isEqual(to: fromHex))

        let report = try #require(fromBinary["enclaveReport"] as? [String: Any])
        #expect(report["mrEnclave"] as? String == "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
        #expect(report["isvProdID"] as? Int == 0)
        #expect(report["debug"] as? Bool == false)
        let header = try #require(fromBinary["header"] as? [String: Any])
        #expect(header["version"] as? Int == 3)
        let pck = try #require(fromBinary["pckCertificate"] as? [String: Any])
        #expect(pck["fmspc"] as? String == "00A067110000")
        #expect(pck["issuingCA"] as? String == "processor")

        let text = try cloister.run(["quote", "inspect", entry.quotePath]).standardOutput
        #expect(text.contains("mrSigner: 815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"))
        #expect(text.contains("qeReport:"))
    }

    @Test("inspect shows TD report fields and refuses what is not a quote")
    func inspectTDXAndGarbage() throws {
        let entry = try CorpusCase.named(tdxAccept)
        let report = try jsonObject(try cloister.run(["quote", "inspect", entry.quotePath, "--json"]).standardOutput)
        let td = try #require(report["tdReport"] as? [String: Any])
        for key in ["mrTD", "rtmr0", "rtmr3", "mrSeam", "tdAttributes", "reportData"] { #expect(td[key] is String, "missing \(key)") }
        #expect((td["tdAttributeFlags"] as? [String: Any])?["septVEDisable"] as? Bool == true)

        let notHex = try temporaryFile("quote.txt", Data("hello, this is not a quote".utf8))
        let outcome = try cloister.run(["quote", "inspect", notHex.path])
        #expect(outcome.exitCode == 2)
        #expect(outcome.standardError.contains("is text but not hexadecimal"))
    }
}
