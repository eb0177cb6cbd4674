import ArgumentParser
import CoordinatorAPI
import CoordinatorClient
import Foundation

/// MarbleRun's `recover-with-signature`: recovery for key holders whose private key stays off the networked machine.
/// Only `public-key` and the upload talk to the Coordinator (after verifying it); `encrypt-secret` and `sign-secret`
/// run offline where the key is.
struct RecoverWithSignatureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-with-signature",
        abstract: "Submit a recovery secret signed elsewhere, optionally encrypted to the Coordinator's ephemeral key.",
        discussion: """
            FILE is the decrypted recovery secret, or that secret encrypted to the Coordinator's ephemeral recovery key \
            (encrypt-secret); --signature is the raw PKCS#1 v1.5 SHA-256 signature over the decrypted secret (sign-secret).
            A key holder whose key never touches a networked machine:
              cloister recover-with-signature public-key -o coordinator-key.pem --coordinator HOST:4433 --policy era.json
              cloister recover-with-signature encrypt-secret recovery.json --coordinator-pub-key coordinator-key.pem -k recovery.pem -o secret.enc
              cloister recover-with-signature sign-secret recovery.json -k recovery.pem -o secret.sig
              cloister recover-with-signature secret.enc --signature secret.sig --coordinator HOST:4433 --policy era.json
            The ephemeral key lives until the Coordinator restarts or is recovered: fetch it anew after a restart.
            Exit codes: 0 accepted (remaining shares printed); 1 refused or the Coordinator failed verification; 2 usage error or unreachable.
            """,
        subcommands: [Upload.self, PublicKey.self, EncryptSecret.self, SignSecret.self],
        defaultSubcommand: Upload.self
    )

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "upload",
            abstract: "Submit FILE with --signature to the verified Coordinator (the default: `recover-with-signature FILE -s SIG`).",
            discussion: """
                Example: cloister recover-with-signature secret.enc --signature secret.sig --coordinator HOST:4433 --policy era.json
                Exit codes: 0 accepted (remaining shares printed); 1 refused or the Coordinator failed verification; 2 usage error or unreachable.
                """
        )
        @Argument(help: "The decrypted recovery secret, or the output of encrypt-secret.") var file: String
        @Option(
            name: [.customShort("s"), .customLong("signature")], help: ArgumentHelp("The signature file (sign-secret's output).", valueName: "file"))
        var signature: String
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            let share: RecoveryShare
            do {
                share = RecoveryShare(
                    secret: try RecoverySecretFile.bytes(
                        file, what: "recovery secret", hint: "Give the decrypted secret or encrypt-secret's output."),
                    signature: try RecoverySecretFile.bytes(signature, what: "signature", hint: "Give sign-secret's output with --signature."))
            } catch {
                try ClientOutput.fail(error, json: options.json)
            }
            try await RecoverySubmission.submit(share, options: options, address: target.address)
        }
    }

    struct PublicKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Fetch the verified Coordinator's ephemeral recovery public key (PEM; recovery mode only).",
            discussion: """
                Example: cloister recover-with-signature public-key -o coordinator-key.pem --coordinator HOST:4433 --policy era.json
                Exit codes: 0 printed or written; 1 refused (not in recovery mode) or the Coordinator failed verification; 2 usage error or unreachable.
                """
        )
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the PEM to this file.", valueName: "file")) var output: String?
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            try await options.run(address: target.address) { client throws(CoordinatorClientError) in
                let key = try await client.recoveryTransportKey()
                let pem = key.pemRepresentation + "\n"
                if let output { try ManifestUpload.write(Data(pem.utf8), to: output) }
                return ClientResult(
                    text: output.map { "wrote the Coordinator's RSA-\(key.keySizeInBits) recovery public key to \($0)" }
                        ?? pem.trimmingCharacters(in: .newlines),
                    json: ["algorithm": .string("RSA"), "keySize": .int(key.keySizeInBits), "pem": .string(pem)])
            }
        }
    }

    struct EncryptSecret: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encrypt-secret",
            abstract: "Encrypt a recovery secret to the Coordinator's ephemeral key (offline).",
            discussion: """
                FILE is the recovery data (JSON; --name picks the entry), an encrypted secret (then -k decrypts it first), \
                or a decrypted secret.
                Example: cloister recover-with-signature encrypt-secret recovery.json --name admin --coordinator-pub-key coordinator-key.pem -k recovery.pem -o secret.enc
                Exit codes: 0 written or printed (base64); 1 failed; 2 usage error or unusable input.
                """
        )
        @Argument(help: "The recovery secret (recovery data JSON, encrypted or decrypted bytes).") var file: String
        @Option(
            name: .customLong("coordinator-pub-key"), help: ArgumentHelp("The Coordinator's ephemeral key (public-key's output).", valueName: "file"))
        var coordinatorPublicKey: String
        @Option(
            name: [.customShort("k"), .customLong("recovery-key"), .customLong("key")],
            help: ArgumentHelp("The recovery private key (RSA PEM), to decrypt an encrypted secret first.", valueName: "file"))
        var recoveryKey: String?
        @Option(help: ArgumentHelp("The recovery key name, when FILE holds several.", valueName: "name")) var name: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the encrypted secret (raw bytes) to this file.", valueName: "file")) var output:
            String?
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            let encrypted: [UInt8]
            do {
                let keyPEM = try RecoverySecretFile.bytes(
                    coordinatorPublicKey, what: "Coordinator public key", hint: "Give public-key's output with --coordinator-pub-key.")
                let key = try RecoveryTransportKey(pemRepresentation: String(decoding: keyPEM, as: UTF8.self), source: coordinatorPublicKey)
                var secret = try RecoverySecretFile.read(file, name: name)
                if !RecoverySecretLength.isDecrypted(secret) {
                    guard let recoveryKey else {
                        throw CoordinatorClientError(
                            .invalidInput, "the recovery secret in \(file) is encrypted to a recovery key",
                            found: "\(secret.count) bytes", expected: "a decrypted secret (16, 32 or 33 bytes), or -k KEY to decrypt it",
                            hint: "Give the recovery private key with -k.")
                    }
                    secret = try RecoverySecretFile.holder(keyPath: recoveryKey).decrypt(secret)
                }
                encrypted = try key.encrypt(secret)
                if let output { try ManifestUpload.write(encrypted, to: output) }
            } catch {
                try ClientOutput.fail(error, json: json)
            }
            let base64 = Data(encrypted).base64EncodedString()
            try ClientOutput.emit(
                ClientResult(
                    text: output.map { "wrote the encrypted recovery secret to \($0)" } ?? base64,
                    json: ["encryptedSecret": .string(base64)]),
                json: json, coordinator: nil)
        }
    }

    struct SignSecret: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-secret",
            abstract: "Sign a recovery secret with the recovery key (offline).",
            discussion: """
                The signature is over the decrypted secret, as the Coordinator checks it: an encrypted FILE is decrypted with \
                the same key first. FILE is the recovery data (JSON; --name picks the entry) or one secret's bytes.
                Example: cloister recover-with-signature sign-secret recovery.json --name admin -k recovery.pem -o secret.sig
                Exit codes: 0 written or printed (base64); 1 failed; 2 usage error or unusable input.
                """
        )
        @Argument(help: "The recovery secret (recovery data JSON, encrypted or decrypted bytes).") var file: String
        @Option(
            name: [.customShort("k"), .customLong("recovery-key"), .customLong("key")],
            help: ArgumentHelp("The recovery private key (RSA PEM).", valueName: "file"))
        var recoveryKey: String
        @Option(help: ArgumentHelp("The recovery key name, when FILE holds several.", valueName: "name")) var name: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the signature (raw bytes) to this file.", valueName: "file")) var output: String?
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            let signature: [UInt8]
            do {
                let holder = try RecoverySecretFile.holder(keyPath: recoveryKey)
                signature = try holder.sign(try holder.decryptedIfNeeded(try RecoverySecretFile.read(file, name: name)))
                if let output { try ManifestUpload.write(signature, to: output) }
            } catch {
                try ClientOutput.fail(error, json: json)
            }
            let base64 = Data(signature).base64EncodedString()
            try ClientOutput.emit(
                ClientResult(text: output.map { "wrote the signature to \($0)" } ?? base64, json: ["signature": .string(base64)]),
                json: json, coordinator: nil)
        }
    }
}
