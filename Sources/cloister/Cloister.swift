import ArgumentParser
import CoordinatorAPI
import Foundation

@main
struct Cloister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister",
        abstract: "Run unmodified containers inside Intel SGX enclaves: attest, provision and govern them.",
        discussion: """
            Exit codes: 0 success or accepted; 1 rejected, invalid, or the Coordinator failed verification or refused; \
            2 unusable input, usage error, or the Coordinator is unreachable.
            """,
        version: CloisterVersion.current,
        subcommands: [
            ManifestCommand.self, QuoteCommand.self, CoordinatorCommand.self, StatusCommand.self, CertificateCommand.self, SecretCommand.self,
            PackageInfoCommand.self, GramineCommand.self, ConvertCommand.self, ImageCommand.self, InjectorCommand.self, FileSystemCommand.self,
            RecoverCommand.self, RecoverWithSignatureCommand.self, VersionCommand.self,
        ]
    )

    /// Runs the command, reporting usage errors with exit code 2 as documented (the parser's own default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

enum CloisterVersion {
    static let current = CloisterRelease.version
}
