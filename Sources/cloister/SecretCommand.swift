import ArgumentParser
import CoordinatorAPI
import CoordinatorClient
import Foundation

struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Set and read secrets as a user of the manifest (--cert/--key).",
        subcommands: [Set.self, Get.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Upload user-defined secrets.",
            discussion: """
                FILE is MarbleRun's format, a JSON object: {"name": {"Key": "<base64>"}} for plain and symmetric-key \
                secrets, {"name": {"Cert": "<base64 DER>", "Private": "<base64 PKCS#8>"}} for certificates.
                Example: cloister secret set secrets.json --cert admin.pem --key admin-key.pem --policy era.json
                Exit codes: 0 set; 1 refused (user not allowed, wrong type); 2 usage error or unreachable.
                """
        )
        @Argument(help: "The secrets file (JSON).") var file: String
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument

        func run() async throws {
            let secrets: [String: UserSecretObject]
            do {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CoordinatorClientError(.invalidInput, "cannot read the secrets file \(file)", hint: "Check the path.")
                }
                do {
                    secrets = try JSONDecoder().decode([String: UserSecretObject].self, from: data)
                } catch {
                    throw CoordinatorClientError(
                        .invalidInput, "the secrets file \(file) is not a JSON object of user secrets", found: "\(error)",
                        expected: #"{"name": {"Key": "<base64>"}} or {"name": {"Cert": "...", "Private": "..."}}"#, hint: "Fix the file.")
                }
            } catch {
                try ClientOutput.fail(error, json: options.json)
            }
            try await options.run(address: target.address) { client throws(CoordinatorClientError) in
                try await client.post(ClientAPIPath.secrets, body: SecretsSetRequest(secrets: secrets))
                let names = secrets.keys.sorted()
                return ClientResult(text: "set \(names.joined(separator: ", "))", json: ["set": .strings(names)])
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Read secrets.",
            discussion: """
                Example: cloister secret get apiToken dbCert localhost:4433 --cert reader.pem --key reader-key.pem --policy era.json --json
                As in MarbleRun's CLI, a last argument of the form host:port or https://host:port is the Coordinator's address.
                Exit codes: 0 printed; 1 refused (user not allowed to read a secret); 2 usage error or unreachable.
                """
        )
        @Argument(help: "Secret names, optionally followed by the Coordinator's address (host:port or https://host:port).")
        var arguments: [String]
        @OptionGroup var options: ClientOptions

        /// The secret names and the trailing address, when the last argument is one.
        var namesAndAddress: (names: [String], address: String?) {
            guard arguments.count >= 2, let last = arguments.last, Self.isAddress(last) else { return (arguments, nil) }
            return (Array(arguments.dropLast()), last)
        }

        static func isAddress(_ text: String) -> Bool {
            if text.hasPrefix("https://") { return true }
            guard let colon = text.lastIndex(of: ":") else { return false }
            let port = text[text.index(after: colon)...]
            return !port.isEmpty && port.allSatisfy(\.isASCII) && port.allSatisfy(\.isNumber) && colon != text.startIndex
        }

        func validate() throws {
            if namesAndAddress.names.isEmpty { throw ValidationError("Name at least one secret.") }
        }

        func run() async throws {
            let (names, address) = namesAndAddress
            try await options.run(address: address) { client throws(CoordinatorClientError) in
                let query = names.map { "s=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) }.joined(separator: "&")
                let answer: SecretsGetResponse = try await client.get(ClientAPIPath.secrets, query: query)
                var text = [String]()
                var json = [String: ClientJSON]()
                for (name, secret) in answer.secrets.sorted(by: { $0.key < $1.key }) {
                    var object: [String: ClientJSON] = [
                        "type": .string(secret.type), "size": .int(Int(secret.size)), "shared": .bool(secret.shared),
                        "userDefined": .bool(secret.userDefined),
                    ]
                    if !secret.cert.isEmpty { object["cert"] = .string(secret.cert.base64EncodedString()) }
                    if !secret.privateKey.isEmpty { object["private"] = .string(secret.privateKey.base64EncodedString()) }
                    if !secret.publicKey.isEmpty { object["public"] = .string(secret.publicKey.base64EncodedString()) }
                    json[name] = .object(object)
                    text.append("\(name): type \(secret.type)")
                    if !secret.cert.isEmpty { text.append("  cert (DER, base64): \(secret.cert.base64EncodedString())") }
                    if !secret.privateKey.isEmpty { text.append("  private (base64): \(secret.privateKey.base64EncodedString())") }
                    if !secret.publicKey.isEmpty, secret.publicKey != secret.privateKey {
                        text.append("  public (base64): \(secret.publicKey.base64EncodedString())")
                    }
                }
                return ClientResult(text: text.joined(separator: "\n"), json: ["secrets": .object(json)])
            }
        }
    }
}
