import Foundation
import TestSupport
import Testing

/// The Helm chart, linted and rendered by Helm v4's own engine (helm-python-sdk) for a matrix of values, every object
/// validated strictly against Kubernetes 1.30, 1.33 and 1.37 (kubernetes-validate), and wrong values files refused by
/// `values.schema.json` with a message naming the key. The checker is `chart_check.py`; its own checks (flags,
/// resources, certificates per values file) are reported back and asserted here.
@Suite(.enabled(if: PythonEnvironment.available, Comment(rawValue: PythonEnvironment.missingMessage)))
struct ChartTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let chart = SharedData.repositoryRoot.appendingPathComponent("charts/cloister").path

    @Test func theChartLintsRendersAndValidatesForEveryValuesFileAndRefusesWrongValues() async throws {
        let result = try await PythonEnvironment.runJSON(
            Self.directory.appendingPathComponent("chart_check.py").path, [Self.chart, Self.directory.appendingPathComponent("values").path])
        let summary = try #require(result["summary"] as? [String: Any])
        #expect(summary["lint_ok"] as? Bool == true, "\(result["lint"] ?? "")")
        #expect((summary["kubernetes_versions"] as? [String])?.count == 3)
        let renders = try #require(result["renders"] as? [String: [String: Any]])
        #expect(renders.count >= 7)
        for (file, render) in renders {
            #expect(render["ok"] as? Bool == true, "\(file): \(render["error"] ?? "")")
            let validation = render["validation"] as? [String: [Any]] ?? [:]
            for (version, errors) in validation {
                #expect(errors.isEmpty, "\(file) on Kubernetes \(version): \(errors)")
            }
            for check in render["checks"] as? [[String: Any]] ?? [] where check["ok"] as? Bool != true {
                Issue.record("\(file): \(check["name"] ?? "") failed: \(check["detail"] ?? "")")
            }
        }
        let rejections = try #require(result["rejections"] as? [String: [String: Any]])
        #expect(rejections.count >= 4)
        for (file, rejection) in rejections {
            #expect(rejection["rejected"] as? Bool == true, "\(file) was accepted")
            let message = rejection["message"] as? String ?? ""
            let keys = rejection["expected"] as? [String] ?? []
            #expect(!keys.isEmpty && keys.contains { message.contains($0) }, "\(file): the message does not name \(keys): \(message)")
        }
        #expect(summary["ok"] as? Bool == true, "\(summary)")
    }

    @Test func aMarbleRunValuesFileCarriesOver() async throws {
        let result = try await PythonEnvironment.runJSON(
            Self.directory.appendingPathComponent("chart_check.py").path, [Self.chart, Self.directory.appendingPathComponent("values").path])
        let render = try #require((result["renders"] as? [String: [String: Any]])?["ok-marblerun-values.yaml"])
        #expect(render["ok"] as? Bool == true)
        let documents = try #require(render["documents"] as? [[String: Any]])
        let kinds = Set(documents.compactMap { $0["kind"] as? String })
        #expect(kinds.isSuperset(of: ["Deployment", "Service", "PersistentVolumeClaim", "MutatingWebhookConfiguration"]), "\(kinds)")
    }
}
