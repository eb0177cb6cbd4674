import Foundation
import TestSupport
import Testing

/// `docs/kubernetes.md` says only what works: every `cloister` line names a subcommand and flags that exist, every
/// `helm install` line's values render with Helm's engine and validate against Kubernetes' schemas, every name a
/// `kubectl` line uses is one the chart creates or reads, and every Kubernetes object in it validates strictly.
@Suite(.enabled(if: PythonEnvironment.available && BuiltProgram(named: "cloister").exists, Comment(rawValue: PythonEnvironment.missingMessage)))
struct DocsTests {
    static let document = SharedData.repositoryRoot.appendingPathComponent("docs/kubernetes.md")
    static let cloister = BuiltProgram(named: "cloister")

    struct Block {
        let language: String
        let text: String
    }

    static func blocks() throws -> [Block] {
        var blocks: [Block] = []
        var language: String?
        var lines: [String] = []
        for line in try String(contentsOf: document, encoding: .utf8).components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                if let current = language {
                    blocks.append(Block(language: current, text: lines.joined(separator: "\n")))
                    language = nil
                } else {
                    language = String(line.dropFirst(3))
                    lines = []
                }
            } else if language != nil {
                lines.append(line)
            }
        }
        return blocks
    }

    static func commands() throws -> [[String]] {
        try blocks().filter { $0.language == "sh" }.flatMap { $0.text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) } }
    }

    @Test func everyCloisterLineUsesASubcommandAndFlagsThatExist() async throws {
        let lines = try Self.commands().filter { $0.first == "cloister" }
        #expect(lines.count >= 9)
        for words in lines {
            var path: [String] = []
            for word in words.dropFirst() {
                guard word.range(of: "^[a-z][a-z-]*$", options: .regularExpression) != nil else { break }
                let candidate = path + [word, "--help"]
                let help = try await offThePool { try Self.cloister.run(candidate) }
                guard help.exitCode == 0, !help.standardOutput.isEmpty else { break }
                path.append(word)
            }
            let subcommand = path + ["--help"]
            let help = try await offThePool { try Self.cloister.run(subcommand) }.standardOutput
            #expect(!path.isEmpty, "\(words.joined(separator: " ")): no subcommand")
            for flag in words where flag.hasPrefix("--") {
                let name = String(flag.prefix { $0 != "=" })
                #expect(help.contains(name), "`\(words.joined(separator: " "))`: cloister \(path.joined(separator: " ")) has no \(name)")
            }
        }
    }

    @Test func everyHelmInstallRendersAndValidatesAndKubectlUsesTheChartsNames() async throws {
        let blocks = try Self.blocks()
        let valuesFiles = Dictionary(
            uniqueKeysWithValues: blocks.filter { $0.language == "yaml" && $0.text.hasPrefix("# values-") }.map {
                (String($0.text.prefix { $0 != "\n" }.dropFirst(2)), $0.text)
            })
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let installs = try Self.commands().filter { $0.starts(with: ["helm", "install"]) }
        #expect(installs.count >= 3)
        for (index, words) in installs.enumerated() {
            #expect(words.dropFirst(2).first == "cloister" && words.dropFirst(3).first == "charts/cloister", "\(words)")
            var values = ""
            var sets: [String] = []
            var position = 4
            while position < words.count {
                switch words[position] {
                case "-f":
                    values = try #require(valuesFiles[words[position + 1]], "no YAML block for \(words[position + 1])")
                    position += 2
                case "--set":
                    sets.append(words[position + 1])
                    position += 2
                default:
                    position += 1
                }
            }
            // --set a.b=c as YAML; a shell substitution stands for what it makes (a base64 CA here).
            for assignment in sets {
                let (key, value) = (String(assignment.prefix { $0 != "=" }), String(assignment.drop { $0 != "=" }.dropFirst()))
                let literal =
                    value.hasPrefix("$(") ? Data("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".utf8).base64EncodedString() : value
                var indent = ""
                for part in key.split(separator: ".").dropLast() {
                    values += "\n\(indent)\(part):"
                    indent += "  "
                }
                values += "\n\(indent)\(key.split(separator: ".").last ?? ""): \(literal)"
            }
            try values.write(toFile: directory.path + "/ok-docs-\(index).yaml", atomically: true, encoding: .utf8)
        }
        let result = try await PythonEnvironment.runJSON(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("chart_check.py").path,
            [SharedData.repositoryRoot.appendingPathComponent("charts/cloister").path, directory.path])
        let renders = try #require(result["renders"] as? [String: [String: Any]])
        #expect(renders.count == installs.count)
        var names: Set<String> = []
        for (file, render) in renders {
            #expect(render["ok"] as? Bool == true, "\(file): \(render["error"] ?? "") \(render["validation"] ?? "")")
            for document in render["documents"] as? [[String: Any]] ?? [] {
                let kind = (document["kind"] as? String ?? "").lowercased()
                let name = (document["metadata"] as? [String: Any])?["name"] as? String ?? ""
                names.insert("\(kind)/\(name)")
                for volume in (((document["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["volumes"]
                    as? [[String: Any]] ?? []
                {
                    if let map = (volume["configMap"] as? [String: Any])?["name"] as? String { names.insert("configmap/\(map)") }
                    if let secret = (volume["secret"] as? [String: Any])?["secretName"] as? String { names.insert("secret/\(secret)") }
                }
            }
        }
        for checks in (result["checks"] as? [String: [[String: Any]]] ?? [:]).values {
            for check in checks where check["ok"] as? Bool != true { Issue.record("\(check["name"] ?? ""): \(check["detail"] ?? "")") }
        }
        let kubectl = try Self.commands().filter { $0.first == "kubectl" && $0.contains("cloister") }
        #expect(kubectl.count >= 4)
        for words in kubectl {
            let arguments = Array(words.drop { $0 != "-n" }.dropFirst(2))
            let reference: String
            switch arguments.first {
            case "rollout": reference = arguments[2]
            case "port-forward": reference = arguments[1].replacingOccurrences(of: "svc/", with: "service/")
            case "create": reference = "\(arguments[1] == "secret" ? "secret" : arguments[1])/\(arguments[arguments[1] == "secret" ? 3 : 2])"
            default: reference = ""
            }
            #expect(
                names.contains(reference),
                "`\(words.joined(separator: " "))` names \(reference), which the chart neither creates nor reads: \(names.sorted())")
        }
    }

    @Test func everyKubernetesObjectInItValidates() async throws {
        let objects = try Self.blocks().filter { $0.language == "yaml" && $0.text.hasPrefix("apiVersion:") }
        #expect(!objects.isEmpty)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let validator = SharedData.repositoryRoot.appendingPathComponent(".venv/bin/kubernetes-validate").path
        for (index, object) in objects.enumerated() {
            let path = directory.path + "/object-\(index).yaml"
            try object.text.write(toFile: path, atomically: true, encoding: .utf8)
            for version in ["1.30.0", "1.33.0", "1.37.0"] {
                let output = try await runProgramOffPool(validator, ["--strict", "-k", version, path])
                #expect(output.contains("passed for resource"), "\(output)")
            }
        }
    }
}
