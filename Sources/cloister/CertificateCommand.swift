import ArgumentParser
import CoordinatorClient
import Foundation

struct CertificateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificate",
        abstract: "Print the attested Coordinator's certificates (PEM).",
        discussion: """
            The root is stable for the deployment; the intermediate changes with every manifest update.
            Example: cloister certificate chain --coordinator localhost:4433 --policy era.json -o chain.pem
            Exit codes: 0 printed; 1 the Coordinator failed verification; 2 usage error or unreachable.
            """,
        subcommands: [Root.self, Intermediate.self, Chain.self]
    )

    struct Root: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "root", abstract: "The root certificate.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the PEM to this file.", valueName: "file")) var output: String?
        func run() async throws { try await CertificateCommand.print(options, address: target.address, output: output) { $0.rootPEM } }
    }

    struct Intermediate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "intermediate", abstract: "The intermediate certificate.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the PEM to this file.", valueName: "file")) var output: String?
        func run() async throws { try await CertificateCommand.print(options, address: target.address, output: output) { $0.intermediatePEM } }
    }

    struct Chain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "chain", abstract: "Intermediate then root.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: CoordinatorAddressArgument
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the PEM to this file.", valueName: "file")) var output: String?
        func run() async throws {
            try await CertificateCommand.print(options, address: target.address, output: output) { $0.intermediatePEM + $0.rootPEM }
        }
    }

    static func print(
        _ options: ClientOptions, address: String?, output: String?, _ select: @escaping @Sendable (CoordinatorIdentity) -> String
    ) async throws {
        try await options.run(address: address) { client throws(CoordinatorClientError) in
            let pem = select(client.identity)
            if let output {
                do {
                    try Data(pem.utf8).write(to: URL(fileURLWithPath: output))
                } catch {
                    throw CoordinatorClientError(.invalidInput, "cannot write \(output)", found: "\(error)", hint: "Check the path given with -o.")
                }
            }
            return ClientResult(
                text: output.map { "wrote \($0)" } ?? pem.trimmingCharacters(in: .newlines), json: ["pem": .string(pem)])
        }
    }
}
