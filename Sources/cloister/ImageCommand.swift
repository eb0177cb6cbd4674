import ArgumentParser
import Convert
import Foundation
import OCI

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build the images of Cloister itself.",
        subcommands: [ImageBuildCommand.self])
}

struct ImageBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Write an OCI image holding a Cloister binary and exactly the shared libraries it needs (no Docker engine).",
        discussion: """
            coordinator: /usr/local/bin/cloister (this program: the Coordinator, the marble-injector and the CLI), its
              libraries in /usr/lib/x86_64-linux-gnu, the CA bundle; user 65532, entrypoint cloister, command
              coordinator, CLOISTER_DATA_DIR=/coordinator/data (owned by 65532), ports 4433 and 2001. It runs as it is in
              simulation (cloister coordinator --simulation) and converts with cloister convert for SGX nodes.
            premain: the launcher, self-contained under /cloister (bin/cloister-premain, lib/ with its loader), to copy
              into an image of your own; cloister convert adds the same files to the images it converts.

            Labels: org.opencontainers.image.{title,version,revision,source,licenses,created}. The revision is
            --revision, else CLOISTER_REVISION, else the git commit of the checkout this program was built in.
            Examples:
              cloister image build coordinator --output docker://registry.example/cloister:0.1.0
              cloister image build premain --output oci:./images:premain
            """)

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case coordinator, premain
    }

    @Argument(help: ArgumentHelp("coordinator or premain."))
    var kind: Kind
    @Option(help: ArgumentHelp("Where to write the image: docker://REGISTRY/REPOSITORY[:TAG] or oci:DIRECTORY[:TAG].", valueName: "reference"))
    var output: String
    @Option(help: ArgumentHelp("The binary to package (default: this program, or cloister-premain beside it).", valueName: "file"))
    var binary: String?
    @Option(help: ArgumentHelp("The source revision for the labels (default: CLOISTER_REVISION, else git).", valueName: "revision"))
    var revision: String?
    @Option(help: ArgumentHelp("Creation time, RFC 3339 (default: SOURCE_DATE_EPOCH, else now).", valueName: "time"))
    var created: String?
    @Flag(help: "Use http:// for the registry (loopback registries only).") var plainHTTP = false
    @Flag(help: "Print one JSON object.") var json = false

    static let sourceRepository = "https://github.com/cloister-dev/cloister"

    func run() async throws {
        let image: ProgramImage
        do {
            image = try makeImage()
        } catch let error as ConversionError {
            try ClientOutput.fail(ClientInputError(message: error.description, hint: error.hint), json: json, exitCode: error.exitCode)
        } catch let error as ClientInputError {
            try ClientOutput.fail(error, json: json, exitCode: 2)
        }
        let result: ProgramImageResult
        do {
            result = try await image.write()
        } catch {
            try ClientOutput.fail(ClientInputError(message: error.description, hint: error.hint), json: json, exitCode: error.exitCode)
        }
        if json {
            print(
                ClientOutput.encode([
                    "image": .string(result.image), "digest": .string("\(result.manifestDigest)"), "layerSize": .int(Int(result.layerSize)),
                    "files": ClientJSON.strings(result.files), "labels": .object(image.labels.mapValues { .string($0) }),
                ]))
        } else {
            print(
                """
                image:    \(result.image)@\(result.manifestDigest)
                files:    \(result.files.count) (\(result.layerSize) bytes compressed)
                revision: \(image.labels[ProgramImage.Label.revision] ?? "")
                """)
        }
    }

    private func makeImage() throws -> ProgramImage {
        let destination: ImageReference
        do {
            destination = try ImageReference(parsing: output)
        } catch {
            throw ClientInputError(message: "--output '\(output)': \(error)", hint: "Give docker://REGISTRY/REPOSITORY[:TAG] or oci:DIRECTORY[:TAG].")
        }
        let created = try creationTime()
        let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() ?? URL(fileURLWithPath: CommandLine.arguments[0])
        var image: ProgramImage
        switch kind {
        case .coordinator:
            image = ProgramImage(
                program: binary ?? executable.path, programPath: "/usr/local/bin/cloister", entrypoint: ["/usr/local/bin/cloister"],
                workingDirectory: "/coordinator", created: created, destination: destination)
            image.cmd = ["coordinator"]
            image.environment = ["HOME=/home/cloister", "CLOISTER_DATA_DIR=/coordinator/data"]
            image.ownedDirectories = ["/home/cloister", "/coordinator/data"]
            image.exposedPorts = ["4433/tcp", "2001/tcp"]
        case .premain:
            let launcher = binary ?? executable.deletingLastPathComponent().appendingPathComponent("cloister-premain").path
            guard FileManager.default.isExecutableFile(atPath: launcher) else {
                throw ClientInputError(message: "no launcher at \(launcher)", hint: "Give it with --binary (swift build --product cloister-premain).")
            }
            image = ProgramImage(
                program: launcher, programPath: ConvertedImageLayout.launcher, entrypoint: ConvertedImageLayout.loaderEntrypoint,
                workingDirectory: "/", created: created, destination: destination)
            image.libraryLayout = .selfContained(directory: ConvertedImageLayout.libraryDirectory)
            image.ownedDirectories = [ConvertedImageLayout.runDirectory]
        }
        image.registry = RegistryClient.Options(plainHTTP: plainHTTP, credentials: CredentialStore(environment: ProcessInfo.processInfo.environment))
        image.labels = [
            ProgramImage.Label.title: kind == .coordinator ? "Cloister Coordinator" : "Cloister launcher (cloister-premain)",
            ProgramImage.Label.version: CloisterVersion.current,
            ProgramImage.Label.revision: try sourceRevision(near: executable),
            ProgramImage.Label.source: Self.sourceRepository,
            ProgramImage.Label.licenses: "Apache-2.0",
            ProgramImage.Label.created: created,
        ]
        return image
    }

    private func creationTime() throws -> String {
        if let created {
            guard ISO8601DateFormatter().date(from: created) != nil else {
                throw ClientInputError(message: "--created '\(created)' is not an RFC 3339 time", hint: "Write it as 2026-12-07T18:00:00Z.")
            }
            return created
        }
        let formatter = ISO8601DateFormatter()
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
            guard let seconds = TimeInterval(epoch) else {
                throw ClientInputError(
                    message: "SOURCE_DATE_EPOCH '\(epoch)' is not a number of seconds",
                    hint: "Set it to a Unix time, e.g. $(git log -1 --format=%ct).")
            }
            return formatter.string(from: Date(timeIntervalSince1970: seconds))
        }
        return formatter.string(from: Date())
    }

    private func sourceRevision(near executable: URL) throws -> String {
        if let revision, !revision.isEmpty { return revision }
        if let revision = ProcessInfo.processInfo.environment["CLOISTER_REVISION"], !revision.isEmpty { return revision }
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", executable.deletingLastPathComponent().path, "rev-parse", "HEAD"]
        let pipe = Pipe()
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        if (try? git.run()) != nil {
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            git.waitUntilExit()
            let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if git.terminationStatus == 0, text.count == 40 { return text }
        }
        throw ClientInputError(
            message: "the source revision is unknown: this program was not built in a git checkout",
            hint: "Pass --revision (or set CLOISTER_REVISION) to the commit the binary was built from.")
    }
}
