import Foundation
import OCI

/// An image holding one program and exactly the shared libraries it loads, resolved from the program on this machine,
/// with no distribution underneath: how Cloister's own binaries (the Coordinator, the launcher) are shipped without a
/// Docker engine. Libraries land in `/usr/lib/x86_64-linux-gnu` under the names programs ask for and the dynamic
/// loader at the path the program names, so the program starts as it does here; or, self-contained, everything in one
/// directory that can be copied into any other image (the launcher's layout in converted images).
public struct ProgramImage: Sendable {
    public enum LibraryLayout: Sendable, Hashable {
        /// The loader at the program's `PT_INTERP` path and the libraries in `/usr/lib/x86_64-linux-gnu`.
        case system
        /// The loader and the libraries in `directory`; the entrypoint must run the program through that loader.
        case selfContained(directory: String)
    }

    public static let libraryDirectory = "/usr/lib/x86_64-linux-gnu"
    public static let caBundle = "/etc/ssl/certs/ca-certificates.crt"
    /// distroless's "nonroot" user: no name is needed, and Kubernetes' runAsNonRoot accepts a numeric user.
    public static let nonRootUser: UInt64 = 65532

    public enum Label {
        public static let title = "org.opencontainers.image.title"
        public static let version = "org.opencontainers.image.version"
        public static let revision = "org.opencontainers.image.revision"
        public static let source = "org.opencontainers.image.source"
        public static let licenses = "org.opencontainers.image.licenses"
        public static let created = "org.opencontainers.image.created"
    }

    /// The program on this machine and where it goes in the image.
    public var program: String
    public var programPath: String
    public var entrypoint: [String]
    public var cmd: [String]?
    public var environment: [String] = []
    public var exposedPorts: [String] = []
    public var workingDirectory: String
    /// Directories the non-root user owns (mode 0755), e.g. its home and data directory; the working directory is root's.
    public var ownedDirectories: [String] = []
    /// Extra host files copied to the same path, such as the CA bundle.
    public var extraFiles: [String] = [caBundle]
    public var libraryLayout = LibraryLayout.system
    public var labels: [String: String] = [:]
    /// RFC 3339; the config's `created` and the history entry's.
    public var created: String
    public var destination: ImageReference
    public var registry = RegistryClient.Options()
    public var temporaryDirectory = NSTemporaryDirectory()

    public init(program: String, programPath: String, entrypoint: [String], workingDirectory: String, created: String, destination: ImageReference) {
        self.program = program
        self.programPath = programPath
        self.entrypoint = entrypoint
        self.workingDirectory = workingDirectory
        self.created = created
        self.destination = destination
    }

    /// The image's files: the program, its loader and libraries, and the extra files, each with its hash.
    func files() throws(ConversionError) -> [LayerFile] {
        let libraries = try SharedLibraries.resolve(program: program)
        var files = [try LayerFile(imagePath: programPath, hostPath: program, mode: 0o755)]
        let libraryDirectory: String
        switch libraryLayout {
        case .system:
            libraryDirectory = Self.libraryDirectory
            if let interpreter = libraries.interpreter {
                files.append(try LayerFile(imagePath: interpreter, hostPath: interpreter, mode: 0o755))
            }
        case .selfContained(let directory):
            libraryDirectory = directory
            if let interpreter = libraries.interpreter {
                let name = (interpreter as NSString).lastPathComponent
                files.append(try LayerFile(imagePath: directory + "/" + name, hostPath: interpreter, mode: 0o755))
            }
        }
        // The loader is also a library of libc (DT_NEEDED ld-linux-x86-64.so.2): each image path is added once.
        for library in libraries.libraries {
            let imagePath = libraryDirectory + "/" + library.name
            if !files.contains(where: { $0.imagePath == imagePath }) {
                files.append(try LayerFile(imagePath: imagePath, hostPath: library.path, mode: 0o755))
            }
        }
        for extra in extraFiles {
            files.append(try LayerFile(imagePath: extra, hostPath: extra, mode: 0o644))
        }
        return files
    }

    public func write() async throws(ConversionError) -> ProgramImageResult {
        let files = try files()
        var directories = ["/tmp": LayerDirectory(mode: 0o1777)]
        if workingDirectory != "/" { directories[workingDirectory] = LayerDirectory() }
        for owned in ownedDirectories {
            directories[owned] = LayerDirectory(mode: 0o755, uid: Self.nonRootUser, gid: Self.nonRootUser)
        }
        let layer = try WrittenLayer.write(files: files, extra: [], directories: directories, to: temporaryDirectory)
        defer { try? FileManager.default.removeItem(atPath: layer.path) }
        var configuration = ImageConfiguration(
            architecture: "amd64", os: "linux", created: created,
            config: ContainerConfiguration(
                user: "\(Self.nonRootUser):\(Self.nonRootUser)", exposedPorts: exposedPorts.isEmpty ? nil : exposedPorts,
                env: ["PATH=/usr/local/bin:/usr/bin:/bin"] + environment, entrypoint: entrypoint, cmd: cmd,
                workingDir: workingDirectory, labels: labels))
        configuration.appendLayer(
            diffID: layer.diffID,
            history: HistoryEntry(created: created, createdBy: "cloister image build: \(programPath), its shared libraries and the CA bundle"))
        let configurationBytes = configuration.encoded()
        return try await withRegistryClient(options: registry) { client async throws(ConversionError) in
            let destination = try ImageEndpoints.destination(self.destination, client: client)
            do {
                let storedLayer = try await destination.putBlob(fileAt: layer.path, expected: layer.digest, progress: nil)
                let storedConfiguration = try await destination.putBlob(bytes: configurationBytes, progress: nil)
                let manifest = ImageManifest(
                    config: Descriptor(mediaType: .ociConfig, digest: storedConfiguration.digest, size: storedConfiguration.size),
                    layers: [Descriptor(mediaType: .ociLayerTarGzip, digest: storedLayer.digest, size: storedLayer.size)])
                let written = try await ImageCopier(progress: nil).putImage(
                    manifestBytes: manifest.encoded(), mediaType: .ociManifest, to: destination, tag: ImageConverter.tag(of: self.destination))
                return ProgramImageResult(
                    image: "\(self.destination)", manifestDigest: written.digest, layerSize: storedLayer.size,
                    files: files.map(\.imagePath).sorted())
            } catch {
                throw ImageConverter.transferError(error)
            }
        }
    }
}

public struct ProgramImageResult: Sendable, Hashable {
    public let image: String
    public let manifestDigest: ContentDigest
    /// The compressed layer's size in bytes.
    public let layerSize: Int64
    public let files: [String]
}
