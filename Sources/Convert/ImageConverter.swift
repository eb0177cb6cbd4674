import Foundation
import Gramine
import Hexadecimal
import NIOCore
import OCI
import Tar

/// What a conversion makes of an image, and how.
public struct ConversionRequest: Sendable {
    public var source: ImageReference
    public var destination: ImageReference
    public var platform: ImagePlatform = .linuxAMD64
    /// The Gramine installation whose SGX PAL the image gets.
    public var gramine: GramineInstallation
    /// The enclave signing key (RSA-3072, e = 3).
    public var signingKey: SGXSigningKey
    /// The launcher binary (`cloister-premain`) built for the image's architecture.
    public var launcher: String
    public var trustedFiles = TrustedFileSelection()
    public var enclave = EnclaveSettings()
    /// The SIGSTRUCT date; the day of the conversion when nil.
    public var date: SigStructDate?
    public var registry = RegistryClient.Options()
    /// Where the new layer is written before it is uploaded.
    public var temporaryDirectory = NSTemporaryDirectory()

    public init(
        source: ImageReference, destination: ImageReference, gramine: GramineInstallation, signingKey: SGXSigningKey, launcher: String
    ) {
        self.source = source
        self.destination = destination
        self.gramine = gramine
        self.signingKey = signingKey
        self.launcher = launcher
    }
}

/// The enclave's size and threads as `sgx.*` sets them, with its identity values.
public struct EnclaveSettings: Sendable, Hashable {
    /// `sgx.enclave_size`, e.g. "1G".
    public var size = "1G"
    public var maxThreads = 16
    public var edmm = false
    /// `sgx.debug`: a debug enclave's memory is readable; never for production.
    public var debug = false
    public var productID: UInt16 = 0
    public var securityVersion: UInt16 = 0
    /// Directories served through Gramine's protected files (`fs.mounts` of type "encrypted").
    public var encryptedMounts: [EncryptedMount] = []

    public init() {}
}

/// What the conversion made.
public struct ConversionResult: Sendable, Hashable {
    public let image: String
    public let manifestDigest: ContentDigest
    public let sourceDigest: ContentDigest
    public let mrEnclave: [UInt8]
    public let mrSigner: [UInt8]
    public let productID: UInt16
    public let securityVersion: UInt16
    public let debug: Bool
    public let argv: [String]
    public let trustedFileCount: Int
    /// Advice on the enclave settings (size, threads) from what the image holds.
    public let hints: [String]

    /// The MarbleRun manifest `Packages` entry pinning exactly this enclave.
    public var packageEntry: [String: String] {
        ["UniqueID": mrEnclave.hexadecimal, "Debug": debug ? "true" : "false"]
    }
}

/// Converts an OCI image into an SGX image, registry to registry (or OCI layout), without a container engine: the
/// input's layers are copied unchanged (each read once, scanned while it passes), one layer is added with the
/// launcher, the Gramine runtime and the signed enclave manifest, and the destination tag is written last.
public struct ImageConverter: Sendable {
    public let request: ConversionRequest
    public let progress: TransferProgress?

    public init(_ request: ConversionRequest, progress: TransferProgress? = nil) {
        self.request = request
        self.progress = progress
    }

    public func convert() async throws(ConversionError) -> ConversionResult {
        try await withRegistryClient(options: request.registry) { client async throws(ConversionError) in
            let source = try ImageEndpoints.source(request.source, client: client)
            let destination = try ImageEndpoints.destination(request.destination, client: client)
            return try await convert(from: source, to: destination)
        }
    }

    private func convert(from source: any ImageSource, to destination: any ImageDestination) async throws(ConversionError) -> ConversionResult {
        let resolved = try await transfer { () async throws(ImageTransferError) in try await source.resolveManifest(for: request.platform) }
        let (_, configuration) = try await transfer { () async throws(ImageTransferError) in try await source.configuration(of: resolved.manifest) }
        if let earlier = configuration.config.labels?[ConvertedImageLayout.Label.sourceDigest] {
            let from = configuration.config.labels?[ConvertedImageLayout.Label.source] ?? "an unnamed image"
            throw ConversionError(
                .refusedImage, "\(request.source)", found: "an image cloister convert already made from \(from) (\(earlier))",
                expected: "an image that was not converted", hint: "convert the original image \(from) instead")
        }
        let scan = LayerScan()
        let copier = ImageCopier(progress: progress)
        for layer in resolved.manifest.layers {
            try await copy(layer, from: source, to: destination, scanning: scan, copier: copier)
        }
        let root = scan.root
        let invocation = try ProgramInvocation(configuration: configuration.config, root: root)
        try EncryptedMount.checkDistinct(request.enclave.encryptedMounts)
        let selected = request.trustedFiles.files(in: root)
        // Files under an encrypted mount are served by the mount from the volume, not measured from the image.
        let imageFiles = selected.filter { file in !request.enclave.encryptedMounts.contains { $0.covers(file.path) } }
        let mountHints = request.enclave.encryptedMounts.compactMap { mount -> String? in
            let hidden = selected.filter { mount.covers($0.path) }.count
            guard hidden > 0 else { return nil }
            return "\(hidden) file(s) of the image under \(mount.path) are not measured: the encrypted mount serves that directory, "
                + "so they must be Gramine encrypted files (cloister fs encrypt DIR --mount-uri file:\(mount.path) ...) or move elsewhere"
        }
        let added = try addedFiles()
        let trusted =
            imageFiles.filter { file in !added.contains { $0.imagePath == file.path } }.map { ($0.path, $0.sha256) }
            + added.map { ($0.imagePath, $0.sha256) }
        guard let libos = added.first(where: { $0.imagePath.hasSuffix("/libsysdb.so") })?.sha256 else {
            throw ConversionError(
                .unusableInput, "--gramine \(request.gramine.prefix)", found: "no libsysdb.so among the files taken from it",
                expected: "Gramine's LibOS", hint: "give a complete Gramine installation")
        }
        let manifest = EnclaveManifestBuilder(
            invocation: invocation, trustedFiles: trusted, libosSHA256: libos, settings: request.enclave
        ).manifest()
        let signed = try sign(manifest)
        let layer = try WrittenLayer.write(
            files: added,
            extra: [
                (ConvertedImageLayout.application + ".manifest.sgx", signed.manifestSGX),
                (ConvertedImageLayout.application + ".sig", signed.sigStruct.bytes),
            ],
            directories: [ConvertedImageLayout.runDirectory: LayerDirectory(mode: 0o1777)], to: request.temporaryDirectory)
        defer { try? FileManager.default.removeItem(atPath: layer.path) }
        let isDocker = resolved.manifest.mediaType == .dockerManifest
        let stored = try await transfer { () async throws(ImageTransferError) in
            try await destination.putBlob(fileAt: layer.path, expected: layer.digest, progress: progress)
        }
        var output = configuration
        output.config.entrypoint = ConvertedImageLayout.entrypoint
        output.config.cmd = nil
        output.config.env =
            (configuration.config.env ?? []).filter { !$0.hasPrefix("EDG_MARBLE_UUID_FILE=") }
            + ["EDG_MARBLE_UUID_FILE=\(ConvertedImageLayout.uuidFile)"]
        var labels = configuration.config.labels ?? [:]
        labels[ConvertedImageLayout.Label.mrEnclave] = signed.sigStruct.mrEnclave.hexadecimal
        labels[ConvertedImageLayout.Label.mrSigner] = signed.sigStruct.mrSigner.hexadecimal
        labels[ConvertedImageLayout.Label.productID] = "\(signed.sigStruct.productID)"
        labels[ConvertedImageLayout.Label.securityVersion] = "\(signed.sigStruct.securityVersion)"
        labels[ConvertedImageLayout.Label.source] = "\(request.source)"
        labels[ConvertedImageLayout.Label.sourceDigest] = "\(resolved.descriptor.digest)"
        output.config.labels = labels
        output.appendLayer(diffID: layer.diffID, history: HistoryEntry(createdBy: "cloister convert (Gramine SGX enclave, launcher)"))
        let configurationBytes = output.encoded()
        let storedConfiguration = try await transfer { () async throws(ImageTransferError) in
            try await destination.putBlob(bytes: configurationBytes, progress: nil)
        }
        var manifestOut = resolved.manifest
        manifestOut.config = Descriptor(
            mediaType: resolved.manifest.config.mediaType, digest: storedConfiguration.digest, size: storedConfiguration.size)
        manifestOut.layers.append(
            Descriptor(mediaType: isDocker ? .dockerLayerTarGzip : .ociLayerTarGzip, digest: stored.digest, size: stored.size))
        let manifestBytes = manifestOut.encoded()
        let tag = Self.tag(of: request.destination)
        let written = try await transfer { () async throws(ImageTransferError) in
            try await copier.putImage(manifestBytes: manifestBytes, mediaType: manifestOut.mediaType, to: destination, tag: tag)
        }
        return ConversionResult(
            image: "\(request.destination)", manifestDigest: written.digest, sourceDigest: resolved.descriptor.digest,
            mrEnclave: signed.sigStruct.mrEnclave, mrSigner: signed.sigStruct.mrSigner, productID: signed.sigStruct.productID,
            securityVersion: signed.sigStruct.securityVersion, debug: signed.sigStruct.isDebug, argv: invocation.arguments,
            trustedFileCount: trusted.count,
            hints: EnclaveSizing.hints(for: imageFiles.map(\.path), settings: request.enclave) + mountHints)
    }

    /// Copies one layer unless the destination has it (or can mount it), and scans its files from the same read.
    private func copy(
        _ layer: Descriptor, from source: any ImageSource, to destination: any ImageDestination, scanning scan: LayerScan,
        copier: ImageCopier
    ) async throws(ConversionError) {
        switch layer.mediaType.kind {
        case .layer: break
        case .zstdLayer:
            throw ConversionError(
                .refusedImage, "layer \(layer.digest)", found: "a zstd-compressed layer (\(layer.mediaType))",
                expected: "a gzip or uncompressed layer",
                hint: "copy the image with gzip layers first, e.g. skopeo copy --dest-compress-format gzip")
        default:
            throw ConversionError(
                .refusedImage, "layer \(layer.digest)", found: "the media type \(layer.mediaType)", expected: "an OCI or Docker layer type",
                hint: "convert an image made of tar layers")
        }
        scan.beginLayer()
        let present = try await transfer { () async throws(ImageTransferError) in try await destination.hasBlob(layer) }
        var mounted = false
        if !present, let repository = source.mountableRepository {
            mounted = try await transfer { () async throws(ImageTransferError) in try await destination.mountBlob(layer, from: repository) }
        }
        let progress = progress
        do {
            let stream = try await source.openBlob(layer) { bytes in progress?(.read(layer.digest, bytes: bytes)) }
                .observed { chunk in try scan.consume(chunk) }
            if present || mounted {
                progress?(present ? .alreadyPresent(layer.digest) : .mounted(layer.digest, from: source.mountableRepository!))
                for try await _ in stream {}
            } else {
                progress?(.started(layer.digest, size: layer.size))
                _ = try await destination.putBlob(stream, expected: layer.digest, progress: progress)
                progress?(.completed(layer.digest))
            }
        } catch {
            if let failure = scan.failure(layer: "\(layer.digest)") { throw failure }
            throw Self.transferError(error)
        }
        try scan.endLayer("\(layer.digest)")
    }

    /// The launcher with its libraries and loader, and the Gramine runtime, with their hashes.
    private func addedFiles() throws(ConversionError) -> [LayerFile] {
        let libraries = try SharedLibraries.resolve(program: request.launcher)
        var files = [try LayerFile(imagePath: ConvertedImageLayout.launcher, hostPath: request.launcher, mode: 0o755)]
        if let interpreter = libraries.interpreter {
            files.append(try LayerFile(imagePath: ConvertedImageLayout.loader, hostPath: interpreter, mode: 0o755))
        }
        // The loader is also a library of libc (DT_NEEDED ld-linux-x86-64.so.2): each image path is added once.
        for library in libraries.libraries {
            let imagePath = ConvertedImageLayout.libraryDirectory + "/" + library.name
            if !files.contains(where: { $0.imagePath == imagePath }) {
                files.append(try LayerFile(imagePath: imagePath, hostPath: library.path, mode: 0o755))
            }
        }
        for relative in try request.gramine.files() {
            files.append(
                try LayerFile(imagePath: ConvertedImageLayout.graminePrefix + "/" + relative, hostPath: request.gramine.prefix + "/" + relative))
        }
        return files
    }

    private func sign(_ manifest: GramineManifest) throws(ConversionError) -> GramineSigner.Output {
        let libpal: ELFFile
        do {
            libpal = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: request.gramine.libpalPath))))
        } catch {
            throw ConversionError(
                .unusableInput, request.gramine.libpalPath, found: "\(error)", expected: "Gramine's libpal.so", hint: "check --gramine")
        }
        do {
            let completed = try manifest.addingSignerDefaults(entrypointFiles: .host)
            return try GramineSigner.measureAndSign(
                manifestSGX: completed.tomlBytes, libpal: libpal, key: request.signingKey, date: request.date ?? SigStructDate.day(of: Date()))
        } catch {
            throw ConversionError(
                .unusableInput, "the enclave manifest", found: "\(error)", expected: "a manifest Gramine can sign", hint: "check the enclave settings"
            )
        }
    }

    /// The tag to write: the destination's tag, or for an OCI layout its name.
    static func tag(of reference: ImageReference) -> String? {
        switch reference {
        case .registry(let registry): registry.tag ?? (registry.digest == nil ? "latest" : nil)
        case .layout(let layout): layout.tag
        case .dockerArchive: nil
        }
    }

    private func transfer<Result>(_ body: () async throws(ImageTransferError) -> Result) async throws(ConversionError) -> Result {
        do {
            return try await body()
        } catch {
            throw Self.transferError(error)
        }
    }

    static func transferError(_ error: any Error) -> ConversionError {
        guard let error = error as? ImageTransferError else {
            return ConversionError(.transfer, "the transfer", found: "\(error)", expected: "a completed transfer", hint: "retry")
        }
        switch error {
        case .digestMismatch, .sizeMismatch, .malformedDocument:
            return ConversionError(
                .refusedImage, "the source image", found: "\(error)", expected: "content that matches its digests",
                hint: "the image is damaged or was tampered with; push it again")
        case .invalidReference, .layoutReferenceNotFound, .notALayout, .notADockerArchive, .plainHTTPRefused, .credentialsUnreadable:
            return ConversionError(
                .unusableInput, "the image reference", found: "\(error)", expected: "a reachable image",
                hint: "check the reference, --plain-http and the auth file")
        default:
            return ConversionError(
                .transfer, "the transfer", found: "\(error)", expected: "a completed transfer", hint: "check the registry and retry")
        }
    }
}
