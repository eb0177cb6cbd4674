import ArgumentParser
import CoordinatorAPI
import CoordinatorClient
import Foundation
import Hexadecimal
import ProtectedFiles

struct FileSystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fs",
        abstract: "Encrypt, decrypt, inspect and verify Gramine encrypted files (protected files, format v2).",
        discussion: """
            Files are byte-compatible with gramine-sgx-pf-crypt and with Gramine's encrypted mounts. Each file is \
            bound to the host path Gramine opens it under: the mount's uri without "file:", plus "/" and the file's \
            path inside the mount, normalised. A file opened under any other path is refused.
            Each command takes a file, or a directory to handle every regular file under it (recursively); for a \
            directory, --mount-uri gives the uri of the encrypted mount that serves it.
            Key files: 16 raw bytes (gramine-sgx-pf-crypt gen-key), or 32 hex digits with an optional newline.
            Exit codes: 0 done; 1 a file was refused (wrong key, wrong path, damaged); 2 unusable input or usage error.
            """,
        subcommands: [
            FileSystemEncryptCommand.self, FileSystemDecryptCommand.self, FileSystemInspectCommand.self,
            FileSystemVerifyCommand.self,
        ]
    )
}

/// Where the 16-byte key comes from: a key file, or a Coordinator secret read after the same attestation-first check
/// as every command that talks to a Coordinator.
enum FileSystemKeySource {
    case keyFile(String)
    case coordinatorSecret(name: String, connection: CoordinatorConnectionOptions, user: UserFlags)

    func load() async throws(FileSystemCommandFailure) -> ProtectedFileKey {
        switch self {
        case .keyFile(let path):
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw FileSystemCommandFailure(subject: path, message: "cannot read the key file", hint: "check the path given to --key", exitCode: 2)
            }
            do {
                return try ProtectedFileKey(keyFileContents: Array(contents))
            } catch {
                throw FileSystemCommandFailure(subject: path, message: error.message, hint: error.hint, exitCode: 2)
            }
        case .coordinatorSecret(let name, let connection, let user):
            let secret: SecretObject
            do {
                secret = try await Self.read(name, connection: connection, user: user)
            } catch {
                throw FileSystemCommandFailure(subject: "secret \(name)", message: error.description, hint: error.hint, exitCode: error.exitCode)
            }
            guard secret.type == "symmetric-key", secret.privateKey.count == ProtectedFileKey.byteCount else {
                throw FileSystemCommandFailure(
                    subject: "secret \(name)",
                    message: "is a \(secret.type) of \(secret.privateKey.count * 8) bits, not a 128-bit symmetric key",
                    hint: "name a manifest secret of Type symmetric-key and Size 128: Gramine's file keys are 16 bytes", exitCode: 2)
            }
            do {
                return try ProtectedFileKey(bytes: Array(secret.privateKey))
            } catch {
                throw FileSystemCommandFailure(subject: "secret \(name)", message: error.message, hint: error.hint, exitCode: 2)
            }
        }
    }

    private static func read(
        _ name: String, connection: CoordinatorConnectionOptions, user: UserFlags
    ) async throws(CoordinatorClientError) -> SecretObject {
        let settings = try ClientSettings.resolve(connection, user: user, address: nil, environment: ProcessInfo.processInfo.environment)
        let (client, _) = try await connection.connect(settings, quiet: false)
        let answer: SecretsGetResponse
        do {
            answer = try await client.get(
                ClientAPIPath.secrets, query: "s=" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name))
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        guard let secret = answer.secrets[name] else {
            throw CoordinatorClientError(
                .malformedAnswer, "the Coordinator's answer lacks the secret \(name)", found: answer.secrets.keys.sorted().joined(separator: ", "),
                expected: name, hint: "Check the Coordinator's version.")
        }
        return secret
    }
}

struct FileSystemKeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The key file: 16 raw bytes, or 32 hex digits.", valueName: "KEY"))
    var key: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Take the key from this Coordinator secret (a 128-bit symmetric-key your user may read) instead of --key; the Coordinator is verified first.",
            valueName: "NAME"))
    var secret: String?

    @Option(name: .customLong("user-cert"), help: ArgumentHelp("User certificate (PEM) for --secret (env CLOISTER_CERT).", valueName: "file"))
    var userCertificate: String?

    @Option(name: .customLong("user-key"), help: ArgumentHelp("User private key (PEM) for --user-cert (env CLOISTER_KEY).", valueName: "file"))
    var userKey: String?

    @OptionGroup(title: "Coordinator (with --secret)") var connection: CoordinatorConnectionOptions

    func validate() throws {
        switch (key, secret) {
        case (nil, nil): throw ValidationError("Give the key: --key FILE, or --secret NAME to read it from the Coordinator.")
        case (.some, .some): throw ValidationError("Give either --key or --secret, not both.")
        default: break
        }
    }

    var source: FileSystemKeySource {
        if let key { return .keyFile(key) }
        return .coordinatorSecret(
            name: secret ?? "",
            connection: connection,
            user: UserFlags(certificate: userCertificate, key: userKey, certificateFlag: "--user-cert", keyFlag: "--user-key"))
    }
}

/// Where the files are (to be) bound: --path for one file, --mount-uri for a directory.
struct FileSystemBindingOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            The path a single file is bound to: the host path Gramine opens it under (e.g. /data/secret.bin, or \
            enc_files/input.txt for a mount with uri="file:enc_files/"). It is normalised as Gramine does.
            """,
            valueName: "BOUND_PATH"))
    var path: String?

    @Option(
        name: .customLong("mount-uri"),
        help: ArgumentHelp(
            """
            For a directory: the uri of the encrypted mount that will serve it, as written in the manifest (e.g. \
            file:/data/enc, or file:enc_files/). The file DIR/sub/f is bound to URI_PATH/sub/f. The mount's enclave \
            path plays no part in the binding.
            """,
            valueName: "URI"))
    var mountURI: String?

    /// The binding for `input`, or nil when neither option was given.
    func binding(for input: FileSystemInput) throws(FileSystemCommandFailure) -> FileSystemBinding? {
        switch (input, path, mountURI) {
        case (_, .some, .some):
            throw FileSystemCommandFailure(
                subject: input.path, message: "--path and --mount-uri both given", hint: "use --path for a file, --mount-uri for a directory",
                exitCode: 2)
        case (.directory, .some, nil):
            throw FileSystemCommandFailure(
                subject: input.path, message: "is a directory, and --path binds a single file",
                hint: "give --mount-uri with the uri of the mount that serves the directory", exitCode: 2)
        case (.file, nil, .some):
            throw FileSystemCommandFailure(
                subject: input.path, message: "is a file, and --mount-uri is for directories",
                hint: "give --path with the host path Gramine opens the file under", exitCode: 2)
        case (.file, .some(let path), nil):
            do {
                return .file(try BoundPath(path))
            } catch {
                throw FileSystemCommandFailure(subject: path, message: error.description, hint: error.hint, exitCode: 2)
            }
        case (.directory, nil, .some(let uri)):
            return .mount(ProtectedFileMount(uri: uri))
        case (_, nil, nil):
            return nil
        }
    }
}

enum FileSystemBinding {
    case file(BoundPath)
    case mount(ProtectedFileMount)

    var boundPath: BoundPath? { if case .file(let path) = self { path } else { nil } }
    var mount: ProtectedFileMount? { if case .mount(let mount) = self { mount } else { nil } }
}

enum FileSystemInput {
    case file(String)
    case directory(String)

    var path: String {
        switch self {
        case .file(let path), .directory(let path): path
        }
    }

    static func classify(_ path: String) throws(FileSystemCommandFailure) -> FileSystemInput {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileSystemCommandFailure(subject: path, message: "no such file or directory", hint: "check the path", exitCode: 2)
        }
        return isDirectory.boolValue ? .directory(path) : .file(path)
    }
}

struct FileSystemCommandFailure: Error {
    let subject: String
    let message: String
    let hint: String
    let exitCode: Int32

    init(subject: String, message: String, hint: String, exitCode: Int32) {
        self.subject = subject
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    /// A file refused for what it is (exit 1), or unusable because it could not be read or written (exit 2).
    /// Runs `operation` on the file or tree at `subject`; its failure becomes one that names `subject`.
    static func naming<Value>(_ subject: String, _ operation: () throws(ProtectedFileError) -> Value) throws(FileSystemCommandFailure) -> Value {
        do { return try operation() } catch { throw FileSystemCommandFailure(subject: subject, error) }
    }

    static func naming<Value>(
        _ subject: String, _ operation: () throws(ProtectedFileTreeFailure) -> Value
    ) throws(FileSystemCommandFailure) -> Value {
        do { return try operation() } catch { throw FileSystemCommandFailure(subject: subject, error) }
    }

    init(subject: String, _ error: ProtectedFileError) {
        let exitCode: Int32 = if case .io = error { 2 } else { 1 }
        self.init(subject: subject, message: error.description, hint: error.hint, exitCode: exitCode)
    }

    init(subject: String, _ error: ProtectedFileTreeFailure) {
        switch error {
        case .file(let error): self.init(subject: subject, error)
        case .path(let error): self.init(subject: subject, message: error.description, hint: error.hint, exitCode: 2)
        default: self.init(subject: subject, message: error.description, hint: error.hint, exitCode: 2)
        }
    }
}

enum FileSystemOutput {
    /// Runs a command's `body`; a ``FileSystemCommandFailure`` is printed (JSON when asked) and ends the process with
    /// its exit code.
    static func reportingFailures(json: Bool = false, _ body: () async throws -> Void) async throws {
        do { try await body() } catch let failure as FileSystemCommandFailure { try fail(failure, json: json) }
    }

    static func fail(_ failure: FileSystemCommandFailure, json: Bool = false) throws -> Never {
        if json {
            print(
                FileSystemOutput.encode([
                    "ok": .bool(false), "file": .string(failure.subject), "error": .string(failure.message), "hint": .string(failure.hint),
                ]))
        } else {
            report(failure)
        }
        throw ExitCode(failure.exitCode)
    }

    static func report(_ failure: FileSystemCommandFailure) {
        FileHandle.standardError.write(Data("error: \(failure.subject): \(failure.message)\n  hint: \(failure.hint)\n".utf8))
    }

    /// Prints a directory report (one line a file, failures on stderr) and exits as its worst file demands.
    static func finish(_ report: ProtectedFileTree.Report, verb: String, root: String, json: Bool) throws {
        var worst: Int32 = 0
        var files: [ClientJSON] = []
        for entry in report.entries {
            switch entry.outcome {
            case .success(let shape):
                if !json { print("\(verb): \(entry.relativePath) (\(shape.plainSize) B, bound to \(entry.boundPath ?? "?"))") }
                files.append(
                    .object([
                        "file": .string(entry.relativePath), "ok": .bool(true), "boundPath": .string(entry.boundPath ?? ""),
                        "plainSize": .int(Int(clamping: shape.plainSize)),
                    ]))
            case .failure(let error):
                let failure = FileSystemCommandFailure(subject: root + "/" + entry.relativePath, error)
                worst = max(worst, failure.exitCode)
                if !json { Self.report(failure) }
                files.append(
                    .object([
                        "file": .string(entry.relativePath), "ok": .bool(false), "error": .string(failure.message), "hint": .string(failure.hint),
                    ]))
            }
        }
        if json {
            print(
                FileSystemOutput.encode([
                    "ok": .bool(worst == 0), "directory": .string(root), "files": .array(files),
                    "skipped": .array(report.skipped.map(ClientJSON.string)),
                ]))
        } else {
            for skipped in report.skipped { print("skipped (not a regular file): \(skipped)") }
            print("\(report.entries.count - report.failures.count) of \(report.entries.count) file(s) \(verb)")
        }
        if worst != 0 { throw ExitCode(worst) }
    }

    /// Gives the literals of this file their type; the encoding is the other commands'.
    static func encode(_ object: [String: ClientJSON]) -> String { ClientOutput.encode(object) }
}

struct FileSystemEncryptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt a file, or every file under a directory, into Gramine encrypted files.",
        discussion: """
            Example: cloister fs encrypt secret.bin --output enc/secret.bin --key wrap.key --path /data/enc/secret.bin
            Example: cloister fs encrypt plain/ --output enc_files/ --key wrap.key --mount-uri file:enc_files/
            Each output is written to a temporary file and renamed into place once complete.
            Exit codes: 0 encrypted; 2 unusable input (unreadable input or key, missing --path/--mount-uri, path too long).
            """
    )

    @Argument(help: "The plaintext file or directory.") var input: String
    @Option(name: .long, help: ArgumentHelp("The encrypted file, or directory for a directory input.", valueName: "OUTPUT")) var output: String
    @OptionGroup var keyOptions: FileSystemKeyOptions
    @OptionGroup var binding: FileSystemBindingOptions

    func run() async throws {
        try await FileSystemOutput.reportingFailures {
            let input = try FileSystemInput.classify(input)
            let key = try await keyOptions.source.load()
            switch (input, try binding.binding(for: input)) {
            case (.file(let path), .file(let bound)?):
                let summary = try FileSystemCommandFailure.naming(path) { () throws(ProtectedFileError) in
                    try ProtectedFileOperations.encryptFile(at: path, to: output, key: key, path: bound)
                }
                print(
                    "encrypted: \(path) -> \(output) (\(summary.shape.plainSize) B, \(summary.shape.nodeCount) nodes, bound to \(summary.boundPath))")
            case (.directory(let path), .mount(let mount)?):
                let report = try FileSystemCommandFailure.naming(path) { () throws(ProtectedFileTreeFailure) in
                    try ProtectedFileTree.encrypt(directory: path, into: output, key: key, mount: mount)
                }
                try FileSystemOutput.finish(report, verb: "encrypted", root: path, json: false)
            default:
                throw FileSystemCommandFailure(
                    subject: input.path, message: "the bound path is missing",
                    hint: "give --path BOUND_PATH for a file, or --mount-uri URI for a directory", exitCode: 2)
            }
        }
    }
}

struct FileSystemDecryptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt a Gramine encrypted file, or every file under a directory.",
        discussion: """
            With --path (or --mount-uri for a directory) each file must be bound to that path, as Gramine requires; \
            without, the binding is shown but not checked. Nothing is written for a file that fails: every node is \
            authenticated before its output file is renamed into place.
            Example: cloister fs decrypt enc/secret.bin --output secret.bin --key wrap.key --path /data/enc/secret.bin
            Exit codes: 0 decrypted; 1 a file was refused (wrong key or path, damaged); 2 unusable input.
            """
    )

    @Argument(help: "The encrypted file or directory.") var input: String
    @Option(name: .long, help: ArgumentHelp("The plaintext file, or directory for a directory input.", valueName: "OUTPUT")) var output: String
    @OptionGroup var keyOptions: FileSystemKeyOptions
    @OptionGroup var binding: FileSystemBindingOptions

    func run() async throws {
        try await FileSystemOutput.reportingFailures {
            let input = try FileSystemInput.classify(input)
            let key = try await keyOptions.source.load()
            let binding = try binding.binding(for: input)
            switch input {
            case .file(let path):
                let metadata = try FileSystemCommandFailure.naming(path) { () throws(ProtectedFileError) in
                    try ProtectedFileOperations.decryptFile(at: path, to: output, key: key, expectedPath: binding?.boundPath)
                }
                let check = binding == nil ? "not checked" : "checked"
                print("decrypted: \(path) -> \(output) (\(metadata.plainSize) B, bound to \(metadata.boundPath), \(check))")
            case .directory(let path):
                let report = try FileSystemCommandFailure.naming(path) { () throws(ProtectedFileTreeFailure) in
                    try ProtectedFileTree.decrypt(directory: path, into: output, key: key, mount: binding?.mount)
                }
                try FileSystemOutput.finish(report, verb: "decrypted", root: path, json: false)
            }
        }
    }
}

struct FileSystemVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Authenticate every node of a Gramine encrypted file, or of every file under a directory.",
        discussion: """
            Checks what Gramine checks on open and on every read (the key, the bound path when given, every MHT and \
            data node), and what Gramine leaves implicit: the file has exactly the nodes its size needs, and the \
            bytes Gramine does not authenticate (metadata padding, flags) are as Gramine writes them.
            Example: cloister fs verify enc_files/ --key wrap.key --mount-uri file:enc_files/
            Exit codes: 0 every file verified; 1 a file was refused; 2 unusable input.
            """
    )

    @Argument(help: "The encrypted file or directory.") var input: String
    @OptionGroup var keyOptions: FileSystemKeyOptions
    @OptionGroup var binding: FileSystemBindingOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        try await FileSystemOutput.reportingFailures(json: json) {
            let input = try FileSystemInput.classify(input)
            let key = try await keyOptions.source.load()
            let binding = try binding.binding(for: input)
            switch input {
            case .file(let path):
                let metadata = try FileSystemCommandFailure.naming(path) { () throws(ProtectedFileError) in
                    try ProtectedFileOperations.verifyFile(at: path, key: key, expectedPath: binding?.boundPath)
                }
                if json {
                    print(
                        FileSystemOutput.encode([
                            "ok": .bool(true), "file": .string(path), "boundPath": .string(metadata.boundPath),
                            "pathChecked": .bool(binding != nil), "plainSize": .int(Int(clamping: metadata.plainSize)),
                        ]))
                } else {
                    let check = binding == nil ? "not checked" : "checked"
                    print("verified: \(path) (\(metadata.plainSize) B, \(metadata.shape.nodeCount) nodes, bound to \(metadata.boundPath), \(check))")
                }
            case .directory(let path):
                let report = try FileSystemCommandFailure.naming(path) { () throws(ProtectedFileTreeFailure) in
                    try ProtectedFileTree.verify(directory: path, key: key, mount: binding?.mount)
                }
                try FileSystemOutput.finish(report, verb: "verified", root: path, json: json)
            }
        }
    }
}

struct FileSystemInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a Gramine encrypted file reveals: its header without the key, everything with it.",
        discussion: """
            Without the key the format shows only bytes 0..<59 of the metadata node in the clear: file id, version, \
            metadata key nonce, metadata MAC (the root MAC that authenticates the whole file) and feature flags, plus \
            the size on disk, from which the node count and a 4096-byte range of plaintext sizes follow. With the key: \
            the bound path, the exact plaintext size, the root MHT node's MAC and the tree shape. Inspect reads only the \
            metadata node; use verify to authenticate every node.
            Example: cloister fs inspect enc/secret.bin --key wrap.key --json
            Exit codes: 0 shown; 1 not a valid encrypted file, or the key does not open it; 2 unusable input.
            """
    )

    @Argument(help: "The encrypted file.") var file: String
    @Option(name: .long, help: ArgumentHelp("The key file (16 raw bytes, or 32 hex digits), to show the encrypted metadata too.", valueName: "KEY"))
    var key: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        try await FileSystemOutput.reportingFailures(json: json) {
            var opened: ProtectedFileKey?
            if let key { opened = try await FileSystemKeySource.keyFile(key).load() }
            let inspection = try FileSystemCommandFailure.naming(file) { () throws(ProtectedFileError) in
                try ProtectedFileOperations.inspectFile(at: file, key: opened)
            }
            json ? print(FileSystemOutput.encode(jsonObject(inspection))) : print(text(inspection))
            if let problem = inspection.sizeProblem {
                if !json { FileSystemOutput.report(FileSystemCommandFailure(subject: file, problem)) }
                throw ExitCode(1)
            }
        }
    }

    private func text(_ inspection: ProtectedFileInspection) -> String {
        let header = inspection.header
        let range = header.plainSizeRange.map { "\($0.lowerBound)...\($0.upperBound) B" } ?? "none (no plaintext size has this many nodes)"
        var lines = [
            "file:               \(file)",
            "format:             Gramine protected file v\(header.majorVersion).\(header.minorVersion)",
            "on disk:            \(header.onDiskSize) B (\(header.nodeCount) nodes)",
            "plaintext size:     \(range) (from the node count)",
            "metadata MAC:       \(header.metadataTag.hexadecimal)",
            "metadata key nonce: \(header.metadataKeyNonce.hexadecimal)",
            "feature flags:      0x\([header.featureFlags].hexadecimal)",
        ]
        if let metadata = inspection.metadata {
            let shape = metadata.shape
            lines += [
                "bound path:         \(metadata.boundPath)",
                "plaintext size:     \(metadata.plainSize) B (exact)",
                "root MHT MAC:       \(shape.dataNodeCount > 0 ? metadata.rootMHTTag.hexadecimal : "none (the plaintext fits in the metadata node)")",
                "tree:               \(shape.mhtNodeCount) MHT node(s) in \(shape.mhtLevels) level(s), \(shape.dataNodeCount) data node(s), \(shape.nodeCount) nodes",
            ]
        } else {
            lines.append("encrypted metadata: give --key to show the bound path, exact size and tree")
        }
        return lines.joined(separator: "\n")
    }

    private func jsonObject(_ inspection: ProtectedFileInspection) -> [String: ClientJSON] {
        let header = inspection.header
        var object: [String: ClientJSON] = [
            "ok": .bool(inspection.sizeProblem == nil), "file": .string(file),
            "majorVersion": .int(Int(header.majorVersion)), "minorVersion": .int(Int(header.minorVersion)),
            "onDiskSize": .int(Int(clamping: header.onDiskSize)), "nodeCount": .int(Int(clamping: header.nodeCount)),
            "metadataMAC": .string(header.metadataTag.hexadecimal), "metadataKeyNonce": .string(header.metadataKeyNonce.hexadecimal),
            "featureFlags": .int(Int(header.featureFlags)), "keyed": .bool(inspection.metadata != nil),
        ]
        if let range = header.plainSizeRange {
            object["plainSizeRange"] = .object(["min": .int(Int(clamping: range.lowerBound)), "max": .int(Int(clamping: range.upperBound))])
        }
        if let metadata = inspection.metadata {
            let shape = metadata.shape
            object["boundPath"] = .string(metadata.boundPath)
            object["plainSize"] = .int(Int(clamping: metadata.plainSize))
            if shape.dataNodeCount > 0 { object["rootMHTMAC"] = .string(metadata.rootMHTTag.hexadecimal) }
            object["tree"] = .object([
                "dataNodes": .int(Int(clamping: shape.dataNodeCount)), "mhtNodes": .int(Int(clamping: shape.mhtNodeCount)),
                "mhtLevels": .int(shape.mhtLevels), "nodes": .int(Int(clamping: shape.nodeCount)),
            ])
        }
        if let problem = inspection.sizeProblem {
            object["error"] = .string(problem.description)
            object["hint"] = .string(problem.hint)
        }
        return object
    }
}
