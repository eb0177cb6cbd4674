import ArgumentParser
import Convert
import Foundation
import Gramine
import Hexadecimal
import OCI
import Synchronization

struct ConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an OCI image into a signed Gramine SGX image, registry to registry, without a container engine.",
        discussion: """
            References use skopeo's transports: docker://HOST/REPO:TAG (or @sha256:DIGEST), oci:DIR[:TAG]. The input's \
            layers are copied unchanged (a layer the destination has is not uploaded again); one layer is added with \
            the launcher (cloister-premain), the Gramine runtime and the signed enclave manifest, whose loader.argv is \
            the image's ENTRYPOINT followed by its CMD. The destination tag is written last.
            On an SGX node the converted image starts the enclave through Gramine; with CLOISTER_PLATFORM=simulation \
            it runs the launcher directly (no protection). Pin the printed Package in the Coordinator's manifest.
            Example: cloister convert docker://registry.local/app:1 docker://registry.local/app-sgx:1 --gramine /usr --key enclave-key.pem
            Exit codes: 0 converted; 1 the image is refused (digest mismatch, escaping tar entry, already converted, zstd); \
            2 unusable input (flags, key, Gramine installation) or unreachable registry.
            """
    )

    @Argument(help: "The image to convert (docker://... or oci:DIR[:TAG]); with --info, the converted image to describe.")
    var source: String

    @Argument(help: "Where to write the converted image (docker://... or oci:DIR[:TAG]).")
    var destination: String?

    @Option(
        help: ArgumentHelp(
            "The Gramine runtime: an installation prefix directory (lib/x86_64-linux-gnu/gramine/sgx/libpal.so below it), or an image that holds one (docker://..., oci:..., docker-archive:...).",
            valueName: "directory|image"))
    var gramine: String?

    @Option(help: ArgumentHelp("The enclave signing key: PEM, RSA-3072 with public exponent 3 (cloister gramine keygen).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("The platform to take from an image index.", valueName: "os/arch[/variant]"))
    var platform = "linux/amd64"

    @Option(help: ArgumentHelp("sgx.enclave_size.", valueName: "size")) var enclaveSize = "1G"
    @Option(help: ArgumentHelp("sgx.max_threads.", valueName: "n")) var maxThreads = 16
    @Flag(help: "sgx.edmm_enable (SGX2 dynamic memory).") var edmm = false
    @Flag(help: "A debug enclave (its memory is readable; never for production).") var debug = false
    @Option(name: .customLong("isvprodid"), help: ArgumentHelp("ISVPRODID.", valueName: "n")) var productID: UInt16 = 0
    @Option(name: .customLong("isvsvn"), help: ArgumentHelp("ISVSVN.", valueName: "n")) var securityVersion: UInt16 = 0

    @Option(help: ArgumentHelp("A path pattern (fnmatch, * also matches /) to leave out of the trusted files; repeatable.", valueName: "pattern"))
    var exclude: [String] = []
    @Option(help: ArgumentHelp("A path pattern to keep among the trusted files even when an exclusion matches; repeatable.", valueName: "pattern"))
    var include: [String] = []

    @Option(help: ArgumentHelp("The launcher binary to put into the image (default: cloister-premain beside this program).", valueName: "file"))
    var launcher: String?

    @Option(help: ArgumentHelp("The SIGSTRUCT date (default: today).", valueName: "YYYY-MM-DD")) var date: String?

    @Option(
        name: .customLong("encrypted-mount"),
        help: ArgumentHelp(
            "Serve this enclave directory through Gramine's encrypted files with /dev/attestation/keys/KEYNAME, which the marble gets from the Coordinator at activation; repeatable.",
            valueName: "path:keyname"))
    var encryptedMounts: [String] = []

    @Flag(help: "Use http:// for the registries (loopback registries only).") var plainHTTP = false

    @Flag(help: "Describe an image cloister convert made (its enclave identity and Package) instead of converting.")
    var info = false

    @Flag(help: "Print one JSON object (and no progress).") var json = false

    func run() async throws {
        if info {
            try await describe()
            return
        }
        let (request, extracted) = try await makeRequest()
        defer { if let extracted { try? FileManager.default.removeItem(atPath: extracted) } }
        let reporter = ProgressReporter(enabled: !json && isatty(STDERR_FILENO) == 1)
        let result: ConversionResult
        do {
            result = try await ImageConverter(request, progress: reporter.report).convert()
        } catch {
            try ClientOutput.fail(ClientInputError(message: error.description, hint: error.hint), json: json, exitCode: error.exitCode)
        }
        reporter.finish()
        for hint in result.hints { FileHandle.standardError.write(Data("cloister convert: hint: \(hint)\n".utf8)) }
        emit(
            image: result.image, digest: "\(result.manifestDigest)", mrEnclave: result.mrEnclave.hexadecimal,
            mrSigner: result.mrSigner.hexadecimal, productID: Int(result.productID), securityVersion: Int(result.securityVersion),
            debug: result.debug,
            extra: [
                "source": .string(source), "sourceDigest": .string("\(result.sourceDigest)"),
                "argv": .array(result.argv.map(ClientJSON.string)), "trustedFiles": .int(result.trustedFileCount),
            ])
    }

    /// The conversion the flags describe, and the directory a Gramine image was extracted to, to remove afterwards.
    private func makeRequest() async throws -> (ConversionRequest, String?) {
        guard let destination else {
            try ClientOutput.fail(
                ClientInputError(message: "no destination image", hint: "Give SOURCE DESTINATION, or --info IMAGE."), json: json, exitCode: 2)
        }
        guard let gramine, let key else {
            try ClientOutput.fail(
                ClientInputError(
                    message: "--gramine and --key are required to convert",
                    hint: "Give the Gramine installation prefix and the signing key (cloister gramine keygen)."),
                json: json, exitCode: 2)
        }
        do {
            let signingKey = try SGXSigningKey(pemRepresentation: try String(contentsOfFile: key, encoding: .utf8))
            let imagePlatform = try ImagePlatform(parsing: platform)
            let registry = RegistryClient.Options(
                plainHTTP: plainHTTP, credentials: CredentialStore(environment: ProcessInfo.processInfo.environment))
            var extracted: String?
            let installation: GramineInstallation
            if ["docker://", "oci:", "docker-archive:"].contains(where: { gramine.hasPrefix($0) }) {
                let directory = NSTemporaryDirectory() + "cloister-gramine-\(UUID().uuidString)"
                extracted = directory
                installation = try await GramineInstallation.extract(
                    from: try ImageReference(parsing: gramine), platform: imagePlatform, registry: registry, into: directory)
            } else {
                installation = try GramineInstallation(prefix: gramine)
            }
            var request = ConversionRequest(
                source: try ImageReference(parsing: source), destination: try ImageReference(parsing: destination),
                gramine: installation, signingKey: signingKey, launcher: try launcherPath())
            request.platform = imagePlatform
            request.trustedFiles = TrustedFileSelection(exclude: exclude, include: include)
            request.enclave.size = enclaveSize
            request.enclave.maxThreads = maxThreads
            request.enclave.edmm = edmm
            request.enclave.debug = debug
            request.enclave.productID = productID
            request.enclave.securityVersion = securityVersion
            request.enclave.encryptedMounts = try encryptedMounts.map { text throws(ConversionError) in try EncryptedMount(parsing: text) }
            request.date = try date.map { text throws(SigStructError) in try SigStructDate(parsing: text) }
            request.registry = registry
            return (request, extracted)
        } catch let error as SigningKeyError {
            try ClientOutput.fail(ClientInputError(message: "\(key): \(error.description)", hint: error.hint), json: json, exitCode: 2)
        } catch let error as ConversionError {
            try ClientOutput.fail(ClientInputError(message: error.description, hint: error.hint), json: json, exitCode: error.exitCode)
        } catch {
            try ClientOutput.fail(
                ClientInputError(message: "\(error)", hint: "Check the references, --platform, --date and the key file."), json: json, exitCode: 2)
        }
    }

    private func launcherPath() throws -> String {
        if let launcher { return launcher }
        let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let beside = executable.deletingLastPathComponent().appendingPathComponent("cloister-premain").path
        guard FileManager.default.isExecutableFile(atPath: beside) else {
            throw ConversionError(
                .unusableInput, "the launcher", found: "no cloister-premain beside \(executable.path)", expected: "the launcher binary",
                hint: "give it with --launcher (swift build --product cloister-premain)")
        }
        return beside
    }

    /// `--info`: the enclave identity a converted image's configuration records.
    private func describe() async throws {
        do {
            let reference = try ImageReference(parsing: source)
            let options = RegistryClient.Options(plainHTTP: plainHTTP, credentials: CredentialStore(environment: ProcessInfo.processInfo.environment))
            let (digest, configuration) = try await withRegistryClient(options: options) { client async throws in
                let image = try ImageEndpoints.source(reference, client: client)
                let resolved = try await image.resolveManifest(for: try ImagePlatform(parsing: platform))
                return (resolved.descriptor.digest, try await image.configuration(of: resolved.manifest).configuration)
            }
            let labels = configuration.config.labels ?? [:]
            guard let mrEnclave = labels[ConvertedImageLayout.Label.mrEnclave], let mrSigner = labels[ConvertedImageLayout.Label.mrSigner] else {
                try ClientOutput.fail(
                    ClientInputError(
                        message: "\(source) was not made by cloister convert (it has no \(ConvertedImageLayout.Label.mrEnclave) label)",
                        hint: "Convert it first."),
                    json: json, exitCode: 1)
            }
            emit(
                image: source, digest: "\(digest)", mrEnclave: mrEnclave, mrSigner: mrSigner,
                productID: Int(labels[ConvertedImageLayout.Label.productID] ?? "") ?? 0,
                securityVersion: Int(labels[ConvertedImageLayout.Label.securityVersion] ?? "") ?? 0, debug: false,
                extra: [
                    "source": .string(labels[ConvertedImageLayout.Label.source] ?? ""),
                    "sourceDigest": .string(labels[ConvertedImageLayout.Label.sourceDigest] ?? ""),
                ])
        } catch let error as ExitCode {
            throw error
        } catch {
            try ClientOutput.fail(ClientInputError(message: "\(error)", hint: "Check the reference and --plain-http."), json: json, exitCode: 2)
        }
    }

    private func emit(
        image: String, digest: String, mrEnclave: String, mrSigner: String, productID: Int, securityVersion: Int, debug: Bool,
        extra: [String: ClientJSON]
    ) {
        let unique: [String: ClientJSON] = ["UniqueID": .string(mrEnclave), "Debug": .bool(debug)]
        let signer: [String: ClientJSON] = [
            "SignerID": .string(mrSigner), "ProductID": .int(productID), "SecurityVersion": .int(securityVersion), "Debug": .bool(debug),
        ]
        if json {
            var object = extra
            object["image"] = .string(image)
            object["digest"] = .string(digest)
            object["mrenclave"] = .string(mrEnclave)
            object["mrsigner"] = .string(mrSigner)
            object["productID"] = .int(productID)
            object["securityVersion"] = .int(securityVersion)
            object["package"] = .object(unique)
            object["signerPackage"] = .object(signer)
            print(ClientOutput.encode(object))
        } else {
            print(
                """
                image:           \(image)@\(digest)
                MRENCLAVE:       \(mrEnclave)
                MRSIGNER:        \(mrSigner)
                ProductID:       \(productID)
                SecurityVersion: \(securityVersion)
                manifest Packages entry (this exact build):
                \(ClientOutput.encode(unique))
                or, to accept every build of this signer and product at this version or later:
                \(ClientOutput.encode(signer))
                """)
        }
    }
}

/// Per-layer progress on a terminal, as skopeo shows it: bytes read and hashed, uploaded, or found in place.
final class ProgressReporter: Sendable {
    private let enabled: Bool
    private let lines = Mutex<[String: String]>([:])

    init(enabled: Bool) {
        self.enabled = enabled
    }

    var report: TransferProgress? {
        guard enabled else { return nil }
        return { [self] event in
            let (digest, text): (ContentDigest, String) =
                switch event {
                case .started(let digest, let size): (digest, "starting" + (size.map { " (\(Self.megabytes($0)))" } ?? ""))
                case .read(let digest, let bytes): (digest, "read and hashed \(Self.megabytes(bytes))")
                case .uploaded(let digest, let bytes): (digest, "uploaded \(Self.megabytes(bytes))")
                case .alreadyPresent(let digest): (digest, "already present; read and hashed")
                case .mounted(let digest, let from): (digest, "mounted from \(from); read and hashed")
                case .completed(let digest): (digest, "done")
                }
            let line = "Copying blob \(digest.hex.prefix(12)) \(text)"
            let changed = lines.withLock { lines in
                defer { lines[digest.hex] = line }
                return lines[digest.hex] != line
            }
            if changed { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8)) }
            if case .completed = event { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
}
