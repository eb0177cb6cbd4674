import Foundation
import StrictJSON
import TestSupport
import Testing

@testable import Manifest

/// Random damage to valid manifests must never crash the reader, validator or renderer, and must end either in a
/// valid manifest (which then renders for every marble) or in faults that each say where, what and what to do.
@Suite struct MutationPropertyTests {
    /// 10,000 mutations in four independently seeded chunks, which Swift Testing runs in parallel.
    static let chunks = 4
    static let iterationsPerChunk = 2_500

    static let seeds: [String] = [baseManifestJSON, MarbleRunSamples.unitTestManifest, MarbleRunSamples.documentationManifest]

    enum Mutation: CaseIterable {
        case deleteKey, wrongType, brokenReference, truncate, deepNesting, hugeString, flipByte, templateNoise, oddNumber, renameKey
    }

    @Test(arguments: 0..<chunks)
    func randomMutationsEndInAValidManifestOrPreciseFaults(chunk: Int) throws {
        var generator = SeededGenerator(seed: 0x5EED_C10157E5 &+ UInt64(chunk))
        let trees = try Self.seeds.map { try JSONParser.parse(Array($0.utf8)) }
        var outcomes = (unreadable: 0, invalid: 0, valid: 0)

        for iteration in 0..<Self.iterationsPerChunk {
            var tree = trees[Int.random(in: 0..<trees.count, using: &generator)]
            var bytes: [UInt8]? = nil
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let mutation = Mutation.allCases.randomElement(using: &generator)!
                switch mutation {
                case .truncate, .flipByte, .deepNesting:
                    var current = bytes ?? GoJSONEncoding.encode(tree)
                    Self.mutateBytes(&current, mutation, using: &generator)
                    bytes = current
                default:
                    if bytes == nil { tree = Self.mutateTree(tree, mutation, using: &generator) }
                }
            }
            let input = bytes ?? GoJSONEncoding.encode(tree)
            let manifest: Manifest
            do {
                manifest = try ManifestDocument.parse(input)
            } catch {
                if error.message.isEmpty || error.hint.isEmpty { Issue.record("iteration \(iteration): unreadable without explanation") }
                outcomes.unreadable += 1
                continue
            }
            let report = manifest.validate()
            // Plain checks with Issue.record keep 10,000 iterations fast; #expect per finding costs more than the work.
            if let vague = (report.errors + report.warnings).first(where: { $0.message.isEmpty || $0.hint.isEmpty }) {
                Issue.record("iteration \(iteration): a finding without message or hint: \(vague)")
            }
            if report.isValid {
                outcomes.valid += 1
                let values = RenderingFixtures.input(for: manifest)
                for marble in manifest.content.marbles.keys {
                    do {
                        _ = try manifest.renderParameters(forMarble: marble, input: values)
                    } catch {
                        Issue.record("iteration \(iteration): a valid manifest failed to render: \(error)")
                    }
                }
                _ = manifest.secretsToGenerate
            } else {
                outcomes.invalid += 1
                if let unplaced = report.errors.first(where: { $0.path.isEmpty && !$0.message.hasPrefix("expected an object (manifest)") }) {
                    Issue.record("iteration \(iteration): an error without a path: \(unplaced)")
                }
            }
        }
        // The mutations must exercise all three outcomes, or the property says little.
        #expect(outcomes.unreadable > 25 && outcomes.invalid > 250 && outcomes.valid > 25, "\(outcomes)")
    }

    static func mutateBytes(_ bytes: inout [UInt8], _ mutation: Mutation, using generator: inout SeededGenerator) {
        guard !bytes.isEmpty else { return }
        let position = Int.random(in: 0..<bytes.count, using: &generator)
        switch mutation {
        case .truncate:
            bytes.removeSubrange(position...)
        case .flipByte:
            bytes[position] = UInt8.random(in: 0...255, using: &generator)
        default:
            let depth = Int.random(in: 1...3_000, using: &generator)
            bytes.insert(
                contentsOf: Array(repeating: UInt8(ascii: "["), count: depth) + Array("1".utf8) + Array(repeating: UInt8(ascii: "]"), count: depth),
                at: position)
        }
    }

    static func mutateTree(_ tree: JSONValue, _ mutation: Mutation, using generator: inout SeededGenerator) -> JSONValue {
        let paths = allPaths(tree)
        guard let path = paths.randomElement(using: &generator), !path.isEmpty else { return tree }
        let current = value(at: path, in: tree)
        let replacement: JSONValue?
        switch mutation {
        case .deleteKey:
            replacement = nil
        case .wrongType:
            replacement = [JSONValue.null, .bool(true), .number("7"), .string("x"), .array([.string("y")]), .object([])].randomElement(
                using: &generator)!
        case .brokenReference:
            replacement = .string(["ghost", "backend", "frontend", "web", "dataKey", "", "Secrets"].randomElement(using: &generator)!)
        case .hugeString:
            replacement = .string(String(repeating: "A", count: Int.random(in: 10_000...100_000, using: &generator)))
        case .templateNoise:
            let noise = [
                "{{", "}}", "{{ raw .Secrets.dataKey }}", "{{ string .Secrets.apiToken }}", "{{ pem .Secrets.ghost.Cert }}",
                "{{ hex .MarbleRun.RootCA.Private }}", "{{- /* c */ -}}", "{{ \"{{\" }}", "\u{0}",
            ]
            let base: String = if case .string(let text) = current { text } else { "" }
            replacement = .string(base + noise.randomElement(using: &generator)!)
        case .oddNumber:
            replacement = .number(["-1", "0", "1.5", "1e3", "18446744073709551616", "256", "224", "8", "4096"].randomElement(using: &generator)!)
        case .renameKey:
            return renameLastKey(tree, path: path, suffix: ["s", "X", ""].randomElement(using: &generator)!)
        default:
            return tree
        }
        return tree.setting(path, to: replacement)
    }

    static func allPaths(_ tree: JSONValue, prefix: [String] = []) -> [[String]] {
        guard case .object(let members) = tree else { return [] }
        return members.flatMap { [prefix + [$0.key]] + allPaths($0.value, prefix: prefix + [$0.key]) }
    }

    static func value(at path: [String], in tree: JSONValue) -> JSONValue? {
        var current: JSONValue? = tree
        for key in path {
            guard case .object(let members) = current else { return nil }
            current = members.first { $0.key == key }?.value
        }
        return current
    }

    static func renameLastKey(_ tree: JSONValue, path: [String], suffix: String) -> JSONValue {
        guard let moved = value(at: path, in: tree) else { return tree }
        let renamed = suffix.isEmpty ? path.last!.lowercased() : path.last! + suffix
        return tree.setting(path, to: nil).setting(Array(path.dropLast()) + [renamed], to: moved)
    }
}
