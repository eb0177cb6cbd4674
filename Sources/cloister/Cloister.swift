import ArgumentParser

@main
struct Cloister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister",
        abstract: "Run unmodified containers inside Intel SGX enclaves: attest, provision and govern them.",
        discussion: """
            Exit codes: 0 success or accepted; 1 rejected or invalid; 2 unusable input or usage error.
            """,
        version: CloisterVersion.current,
        subcommands: [ManifestCommand.self, QuoteCommand.self, CoordinatorCommand.self, StatusCommand.self, CertificateCommand.self, SecretCommand.self, PackageInfoCommand.self, VersionCommand.self]
    )
}

enum CloisterVersion {
    static let current = "0.1.0"
}
