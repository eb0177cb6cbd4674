import ArgumentParser
import CoordinatorAPI
import CoordinatorClient
import Foundation

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Submit a recovery secret to a Coordinator in recovery mode.",
        discussion: """
            FILE is the recovery data `manifest set --recovery-data` wrote (JSON, key name to base64; give --name when \
            it holds several), or one raw secret. An encrypted secret is decrypted with --recovery-key; the decrypted \
            secret is signed with it. For keys that must stay offline, see recover-with-signature.
            Example: cloister recover recovery.json --recovery-key recovery-private.pem --name admin --policy era.json
            Exit codes: 0 accepted (remaining shares printed); 1 refused; 2 usage error or unreachable.
            """
    )
    @Argument(help: "The recovery secret (recovery data JSON, or one encrypted or decrypted secret's bytes).") var file: String
    @Option(name: .customLong("recovery-key"), help: ArgumentHelp("The recovery private key (RSA PEM).", valueName: "file")) var recoveryKey: String
    @Option(help: ArgumentHelp("The recovery key name, when FILE holds several.", valueName: "name")) var name: String?
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        let share: RecoveryShare
        do {
            let holder = try RecoverySecretFile.holder(keyPath: recoveryKey)
            let secret = try holder.decryptedIfNeeded(try RecoverySecretFile.read(file, name: name))
            share = RecoveryShare(secret: secret, signature: try holder.sign(secret))
        } catch {
            try ClientOutput.fail(error, json: options.json)
        }
        try await RecoverySubmission.submit(share, options: options, address: target.address)
    }
}

/// Sends a decrypted (or transport-encrypted) secret and its signature to the verified Coordinator and prints progress.
enum RecoverySubmission {
    static func submit(_ share: RecoveryShare, options: ClientOptions, address: String?) async throws {
        try await options.run(address: address) { client throws(CoordinatorClientError) in
            let answer = try await client.recover(share)
            return ClientResult(
                text: answer.remaining == 0
                    ? "recovered: \(answer.message)" : "accepted; \(answer.remaining) more share(s) needed: \(answer.message)",
                json: ["remaining": .int(answer.remaining), "message": .string(answer.message)])
        }
    }
}

/// The recovery files a key holder works with.
enum RecoverySecretFile {
    /// The secret in `path`: one entry of the recovery data `manifest set --recovery-data` wrote (JSON, key name to
    /// base64; `name` picks one when it holds several), or the raw bytes of a single secret.
    static func read(_ path: String, name: String?) throws(CoordinatorClientError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CoordinatorClientError(.invalidInput, "cannot read the recovery secret file \(path)", hint: "Check the path.")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else { return Array(data) }
        let entries = object.sorted { $0.key < $1.key }
        guard let entry = name.map({ key in entries.first { $0.key == key } }) ?? (entries.count == 1 ? entries.first : nil) else {
            throw CoordinatorClientError(
                .invalidInput, "the recovery data \(path) holds no single entry to use", found: entries.map(\.key).joined(separator: ", "),
                expected: name.map { "an entry named \($0)" } ?? "exactly one entry, or --name", hint: "Give --name KEY.")
        }
        guard let bytes = Data(base64Encoded: entry.value) else {
            throw CoordinatorClientError(
                .invalidInput, "the recovery data entry \(entry.key) in \(path) is not base64",
                hint: "Use the file `manifest set --recovery-data` wrote.")
        }
        return Array(bytes)
    }

    static func holder(keyPath: String) throws(CoordinatorClientError) -> RecoveryKeyHolder {
        guard let pem = try? String(contentsOfFile: keyPath, encoding: .utf8) else {
            throw CoordinatorClientError(.invalidInput, "cannot read the recovery key \(keyPath)", hint: "Check --recovery-key.")
        }
        return try RecoveryKeyHolder(privateKeyPEM: pem)
    }

    static func bytes(_ path: String, what: String, hint: String) throws(CoordinatorClientError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CoordinatorClientError(.invalidInput, "cannot read the \(what) \(path)", hint: hint)
        }
        return Array(data)
    }
}
