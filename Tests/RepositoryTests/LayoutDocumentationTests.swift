import Foundation
import TestSupport
import Testing

/// The README's layout table and `docs/architecture.md` name every target under `Sources/`, so that a newcomer's map
/// never misses a module.
@Suite struct LayoutDocumentationTests {
    static let root = SharedData.repositoryRoot

    static var targets: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources").path)) ?? []).filter { !$0.hasPrefix(".") }
            .sorted()
    }

    @Test func theREADMELayoutTableNamesEveryTarget() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "## Layout"))
        let table = String(readme[start.upperBound...]).components(separatedBy: "\n## ").first ?? ""
        #expect(Self.targets.count > 20)
        for target in Self.targets where target != "sealed-store-crash-probe" {
            #expect(table.contains("`\(target)`"), "the README's layout table does not name \(target)")
        }
    }

    @Test func theArchitectureDocumentNamesEveryTarget() throws {
        let architecture = try String(contentsOf: Self.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        for target in Self.targets {
            let pattern = "(^|[^A-Za-z-])\(NSRegularExpression.escapedPattern(for: target))([^A-Za-z-]|$)"
            #expect(architecture.range(of: pattern, options: .regularExpression) != nil, "docs/architecture.md does not name \(target)")
        }
    }
}
