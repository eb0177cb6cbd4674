import Attestation
import Foundation
import TestSupport

/// The shared DCAP corpus (`corpus/dcap/corpus.json`), loaded once.
struct Corpus: Sendable {
    struct Expected: Sendable {
        let accept: Bool
        let status: TCBStatus?
        let advisoryIDs: [String]
        let reasonCategory: String?
    }

    struct Case: Sendable {
        let id: String
        let expectationClass: String
        let quote: [UInt8]
        let collateral: Collateral
        let instant: Date
        let expected: Expected
        /// policy_reject: the TCB verdict below the hard-coded policy.
        let underlying: (status: TCBStatus, advisoryIDs: [String])?
        /// The corpus's expected parse, per part ("header", "report", ...), as text.
        let quoteFields: [String: [String: String]]?

        init(entry: [String: Any], directory: URL, isNegative: Bool) throws {
            id = entry["id"] as? String ?? ""
            expectationClass = entry["expectation_class"] as! String
            let files = entry["files"] as! [String: String]
            quote = Array(try Data(contentsOf: directory.appendingPathComponent(files["quote"]!)))
            collateral = try JSONDecoder().decode(Collateral.self, from: Data(contentsOf: directory.appendingPathComponent(files["collateral"]!)))
            instant = Date(timeIntervalSince1970: TimeInterval(entry["verification_time"] as! Int))
            let raw = (isNegative ? entry["expected_dcap_qvl"] : entry["expected"]) as! [String: Any]
            expected = Expected(
                accept: raw["result"] as? String == "accept",
                status: (raw["status"] as? String).flatMap(TCBStatus.init(rawValue:)),
                advisoryIDs: raw["advisory_ids"] as? [String] ?? [],
                reasonCategory: raw["reason_category"] as? String)
            if let underlying = entry["underlying_tcb_status"] as? [String: Any] {
                self.underlying = (TCBStatus(rawValue: underlying["status"] as! String)!, underlying["advisory_ids"] as? [String] ?? [])
            } else {
                self.underlying = nil
            }
            quoteFields = (entry["quote_fields"] as? [String: Any])?.mapValues(Corpus.texts)
        }
    }

    struct ParseOnly: Sendable {
        let file: String
        let quote: [UInt8]
        let header: [String: String]
        let report: [String: String]
    }

    let cases: [Case]
    let negatives: [Case]
    let parseOnly: [ParseOnly]
    let counts: [String: Int]

    static let directory = SharedData.directory("corpus/dcap")
    static let missing = SharedData.missingMessage("corpus/dcap")

    /// A JSON object's members as the text a parsed field is compared with.
    static func texts(_ object: Any?) -> [String: String] {
        (object as? [String: Any] ?? [:]).mapValues { $0 as? String ?? "\($0)" }
    }

    static let shared: Corpus? = {
        guard let directory else { return nil }
        do {
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("corpus.json"))) as! [String: Any]
            let cases = try (manifest["cases"] as! [[String: Any]]).map { try Case(entry: $0, directory: directory, isNegative: false) }
            let negatives = try (manifest["negative_cases"] as! [[String: Any]]).map { try Case(entry: $0, directory: directory, isNegative: true) }
            let parseOnly = try (manifest["parse_only"] as! [[String: Any]]).map {
                ParseOnly(
                    file: $0["file"] as! String, quote: Array(try Data(contentsOf: directory.appendingPathComponent($0["file"] as! String))),
                    header: texts($0["header"]), report: texts($0["report"]))
            }
            return Corpus(cases: cases, negatives: negatives, parseOnly: parseOnly, counts: manifest["counts"] as? [String: Int] ?? [:])
        } catch {
            fatalError("the corpus at \(directory.path) does not load: \(error)")
        }
    }()
}
