import ArgumentParser
import CoordinatorAPI
import CoordinatorClient
import Crypto
import Foundation
import Hexadecimal
import Manifest

/// The manifest file to upload: a full manifest (JSON, or YAML converted as the MarbleRun CLI does) or a package
/// update (a JSON object with only `Packages`), as the exact bytes the Coordinator stores and hashes.
enum ManifestUpload {
    static func bytes(_ path: String) throws(CoordinatorClientError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CoordinatorClientError(.invalidInput, "cannot read the manifest file \(path)", hint: "Check the path.")
        }
        if let manifest = try? ManifestDocument.parse(Array(data), formats: .jsonOrYAML) { return manifest.bytes }
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw CoordinatorClientError(
                .invalidInput, "the manifest file \(path) is neither a manifest nor a JSON object", expected: "a MarbleRun manifest (JSON or YAML)",
                hint: "Check it with `cloister manifest check \(path)`.")
        }
        return Array(data)
    }

    static func fingerprint(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).hexadecimal
    }

    static func write(_ bytes: some DataProtocol, to path: String) throws(CoordinatorClientError) {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CoordinatorClientError(.invalidInput, "cannot write \(path)", found: "\(error)", hint: "Check the output path.")
        }
    }

    /// Recovery secrets as MarbleRun's CLI stores them (`--recovery-data`): a JSON object, key name to base64.
    static func recoveryJSON(_ secrets: [String: Data]?) -> [String: ClientJSON] {
        guard let secrets, !secrets.isEmpty else { return [:] }
        return ["recoverySecrets": .object(secrets.mapValues { .string($0.base64EncodedString()) })]
    }

    static func saveRecovery(_ secrets: [String: Data]?, to path: String?) throws(CoordinatorClientError) -> String {
        guard let secrets, !secrets.isEmpty else { return "" }
        guard let path else {
            return "\nrecovery secrets (encrypted to the recovery keys; keep them, or pass --recovery-data FILE):\n"
                + secrets.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value.base64EncodedString())" }.joined(separator: "\n")
        }
        let object = secrets.mapValues { $0.base64EncodedString() }
        try write(Data(ClientOutput.encode(object).utf8), to: path)
        return "\nrecovery secrets written to \(path)"
    }

    /// Uploads `file` to `path` on the verified Coordinator, keeps the new recovery secrets the answer carries
    /// (`--recovery-data`) and prints `report`'s text and JSON with them.
    static func upload<Answer: RecoverySecretsCarrying>(
        _ file: String, to path: String, recoveryData: String?, options: ClientOptions, address: String?,
        _ report: @escaping @Sendable (Answer, [UInt8]) -> (text: String, json: [String: ClientJSON])
    ) async throws {
        let bytes: [UInt8]
        do { bytes = try ManifestUpload.bytes(file) } catch { try ClientOutput.fail(error, json: options.json) }
        try await options.run(address: address) { client throws(CoordinatorClientError) in
            let answer: Answer = try await client.post(path, body: ManifestRequest(manifest: Data(bytes)))
            let recovery = try saveRecovery(answer.newRecoverySecrets, to: recoveryData)
            let (text, json) = report(answer, bytes)
            return ClientResult(text: text + recovery, json: recoveryJSON(answer.newRecoverySecrets).merging(json) { $1 })
        }
    }
}

/// An answer to a manifest upload, which may carry recovery secrets for a new state key.
protocol RecoverySecretsCarrying: Codable, Sendable {
    var newRecoverySecrets: [String: Data]? { get }
}

extension ManifestSetResponse: RecoverySecretsCarrying {
    var newRecoverySecrets: [String: Data]? { recoverySecrets }
}

extension UpdateApplyResponse: RecoverySecretsCarrying {
    var newRecoverySecrets: [String: Data]? { recoverySecrets }
}

extension UpdateManifestPostResponse: RecoverySecretsCarrying {
    var newRecoverySecrets: [String: Data]? { recoverySecrets }
}

struct ManifestSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set the deployment's manifest on a verified Coordinator.",
        discussion: """
            Example: cloister manifest set manifest.json --coordinator localhost:4433 --policy era.json --recovery-data recovery.json
            Exit codes: 0 set; 1 refused (invalid manifest, wrong state) or the Coordinator failed verification; 2 usage error or unreachable.
            """
    )
    @Argument(help: "The manifest (JSON or YAML).") var file: String
    @Option(name: .customLong("recovery-data"), help: ArgumentHelp("Write the encrypted recovery secrets here (JSON).", valueName: "file"))
    var recoveryData: String?
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        try await ManifestUpload.upload(file, to: ClientAPIPath.manifest, recoveryData: recoveryData, options: options, address: target.address) {
            (_: ManifestSetResponse, bytes) in
            let fingerprint = ManifestUpload.fingerprint(bytes)
            return ("manifest set (SHA-256 \(fingerprint))", ["fingerprint": .string(fingerprint)])
        }
    }
}

struct ManifestGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the manifest the verified Coordinator enforces, after checking the root key's signature over it.",
        discussion: """
            Example: cloister manifest get --coordinator localhost:4433 --policy era.json -o deployed.json
            Exit codes: 0 printed; 1 no manifest, bad signature or the Coordinator failed verification; 2 usage error or unreachable.
            """
    )
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the manifest to this file.", valueName: "file")) var output: String?
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        try await options.run(address: target.address) { client throws(CoordinatorClientError) in
            let answer = try await ManifestGetCommand.fetchSigned(client)
            if let output { try ManifestUpload.write(answer.manifest, to: output) }
            let text = String(decoding: answer.manifest, as: UTF8.self)
            return ClientResult(
                text: output.map { "wrote \($0) (SHA-256 \(answer.manifestFingerprint))" } ?? text,
                json: [
                    "fingerprint": .string(answer.manifestFingerprint), "manifest": .string(text),
                    "signature": .string(answer.manifestSignatureRootECDSA.base64EncodedString()),
                ])
        }
    }

    /// The enforced manifest, whose fingerprint and root signature were both checked.
    static func fetchSigned(_ client: CoordinatorClient) async throws(CoordinatorClientError) -> ManifestGetResponse {
        let answer: ManifestGetResponse = try await client.get(ClientAPIPath.manifest)
        let computed = ManifestUpload.fingerprint(Array(answer.manifest))
        guard computed == answer.manifestFingerprint.lowercased() else {
            throw CoordinatorClientError(
                .untrusted, "the Coordinator's manifest does not match the fingerprint it reports", found: computed,
                expected: answer.manifestFingerprint, hint: "Do not trust this Coordinator; report it.")
        }
        guard
            ManifestSignature.isValid(
                signature: Array(answer.manifestSignatureRootECDSA), manifest: Array(answer.manifest), rootDER: client.identity.rootDER)
        else {
            throw CoordinatorClientError(
                .untrusted, "the manifest signature is not the attested root key's signature over the manifest",
                expected: "ECDSA by the root certificate's key over SHA-256 of the manifest", hint: "Do not trust this Coordinator; report it.")
        }
        return answer
    }
}

struct ManifestVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that the verified Coordinator enforces exactly this manifest.",
        discussion: """
            Compares the local manifest's SHA-256 (YAML converted as for upload) with the fingerprint the attested \
            Coordinator reports and signs.
            Example: cloister manifest verify manifest.json --coordinator localhost:4433 --policy era.json
            Exit codes: 0 match; 1 mismatch or the Coordinator failed verification; 2 usage error or unreachable.
            """
    )
    @Argument(help: "The manifest (JSON or YAML).") var file: String
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        let bytes: [UInt8]
        do { bytes = try ManifestUpload.bytes(file) } catch { try ClientOutput.fail(error, json: options.json) }
        let local = ManifestUpload.fingerprint(bytes)
        try await options.run(address: target.address) { client throws(CoordinatorClientError) in
            let answer = try await ManifestGetCommand.fetchSigned(client)
            let matches = answer.manifestFingerprint.lowercased() == local
            let text =
                matches
                ? "OK: the Coordinator enforces \(file) (SHA-256 \(local))"
                : "MISMATCH: \(file) has SHA-256 \(local), the Coordinator enforces \(answer.manifestFingerprint)\n  hint: fetch the enforced manifest with `cloister manifest get` and compare."
            return ClientResult(
                text: text,
                json: ["matches": .bool(matches), "local": .string(local), "enforced": .string(answer.manifestFingerprint)],
                passed: matches)
        }
    }
}

struct ManifestLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Print the Coordinator's update log (one JSON line per change).",
        discussion: "Exit codes: 0 printed; 1 refused or the Coordinator failed verification; 2 usage error or unreachable."
    )
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        try await options.run(address: target.address) { client throws(CoordinatorClientError) in
            let answer: UpdateLogResponse = try await client.get(ClientAPIPath.update)
            return ClientResult(text: answer.updateLog.joined(separator: "\n"), json: ["updateLog": .strings(answer.updateLog)])
        }
    }
}

struct ManifestSignatureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signature",
        abstract: "Print the enforced manifest's fingerprint and the root key's signature over it (checked).",
        discussion: "Exit codes: 0 printed; 1 bad signature or the Coordinator failed verification; 2 usage error or unreachable."
    )
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        try await options.run(address: target.address) { client throws(CoordinatorClientError) in
            let answer = try await ManifestGetCommand.fetchSigned(client)
            let signature = answer.manifestSignatureRootECDSA.base64EncodedString()
            return ClientResult(
                text: "fingerprint (SHA-256): \(answer.manifestFingerprint)\nsignature (ECDSA, ASN.1 DER, base64): \(signature)",
                json: ["fingerprint": .string(answer.manifestFingerprint), "signature": .string(signature)])
        }
    }
}

struct ManifestUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Update the manifest: package updates at once, full updates after every required user acknowledges.",
        discussion: """
            Example (two users):
              cloister manifest update apply new.json --cert alice.pem --key alice-key.pem --policy era.json
              cloister manifest update acknowledge new.json --cert bob.pem --key bob-key.pem --policy era.json
            """,
        subcommands: [Apply.self, Acknowledge.self, Cancel.self, Get.self]
    )

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply", abstract: "Propose (or, for a package update, apply) a manifest update as a user.",
            discussion: "Exit codes: 0 accepted; 1 refused; 2 usage error or unreachable.")
        @Argument(help: "The update: a package update or a full manifest.") var file: String
        @Option(name: .customLong("recovery-data"), help: ArgumentHelp("Write new encrypted recovery secrets here (JSON).", valueName: "file"))
        var recoveryData: String?
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            try await ManifestUpload.upload(file, to: ClientAPIPath.update, recoveryData: recoveryData, options: options, address: target.address) {
                (answer: UpdateApplyResponse, _) in
                let text =
                    answer.missingAcknowledgments == 0
                    ? "update applied"
                    : "update pending: \(answer.missingAcknowledgments) acknowledgement(s) missing from \(answer.missingUsers.joined(separator: ", "))"
                return (text, ["missingAcknowledgments": .int(answer.missingAcknowledgments), "missingUsers": .strings(answer.missingUsers)])
            }
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acknowledge", abstract: "Acknowledge the pending update; give the same manifest file.",
            discussion: "Exit codes: 0 counted; 1 refused (not a required user, different manifest); 2 usage error or unreachable.")
        @Argument(help: "The pending manifest, byte for byte.") var file: String
        @Option(name: .customLong("recovery-data"), help: ArgumentHelp("Write new encrypted recovery secrets here (JSON).", valueName: "file"))
        var recoveryData: String?
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            try await ManifestUpload.upload(
                file, to: ClientAPIPath.updateManifest, recoveryData: recoveryData, options: options, address: target.address
            ) { (answer: UpdateManifestPostResponse, _) in
                let json: [String: ClientJSON] = [
                    "message": .string(answer.message), "missingAcknowledgments": .int(answer.missingAcknowledgments),
                    "missingUsers": .strings(answer.missingUsers),
                ]
                return (answer.message, json)
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel", abstract: "Cancel the pending update.",
            discussion: "Exit codes: 0 cancelled; 1 refused or nothing pending; 2 usage error or unreachable.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            try await options.run(address: target.address) { client throws(CoordinatorClientError) in
                let answer: UpdateCancelResponse = try await client.post(ClientAPIPath.updateCancel, body: Optional<NoPayload>.none)
                return ClientResult(text: answer.message, json: ["message": .string(answer.message)])
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Print the pending update and who has not acknowledged it.",
            discussion: "Exit codes: 0 printed; 1 nothing pending or refused; 2 usage error or unreachable.")
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the pending manifest to this file.", valueName: "file")) var output: String?
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            try await options.run(address: target.address) { client throws(CoordinatorClientError) in
                let answer: UpdateManifestGetResponse = try await client.get(ClientAPIPath.updateManifest)
                if let output { try ManifestUpload.write(answer.manifest, to: output) }
                let text = String(decoding: answer.manifest, as: UTF8.self)
                return ClientResult(
                    text: "\(answer.message)\nmissing: \(answer.missingUsers.joined(separator: ", "))"
                        + (output.map { "\nwrote \($0)" } ?? "\n" + text),
                    json: [
                        "message": .string(answer.message), "missingUsers": .strings(answer.missingUsers),
                        "manifest": .string(text), "fingerprint": .string(ManifestUpload.fingerprint(Array(answer.manifest))),
                    ])
            }
        }
    }
}
