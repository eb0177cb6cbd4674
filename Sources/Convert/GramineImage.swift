import Foundation
import NIOCore
import OCI
import Tar

extension GramineInstallation {
    /// The Gramine installation an image holds (GSC's `/gramine/meson_build_output`, a distribution's `/usr`, or any
    /// other prefix with `lib/x86_64-linux-gnu/gramine/` below it), copied out into `directory`: only the files below
    /// such a `gramine/` directory are written, layer by layer, whiteouts applied.
    public static func extract(
        from reference: ImageReference, platform: ImagePlatform, registry: RegistryClient.Options, into directory: String
    ) async throws(ConversionError) -> GramineInstallation {
        try await withRegistryClient(options: registry) { client async throws(ConversionError) in
            let source = try ImageEndpoints.source(reference, client: client)
            let manifest: ImageManifest
            do {
                manifest = try await source.resolveManifest(for: platform).manifest
            } catch {
                throw ImageConverter.transferError(error)
            }
            var extraction = GramineExtraction(directory: directory)
            for layer in manifest.layers {
                do {
                    var reader = LayerReader()
                    for try await chunk in try await source.openBlob(layer) {
                        try chunk.withUnsafeReadableBytes { bytes throws(TarError) in
                            try reader.consume(bytes) { event throws(TarError) in try extraction.apply(event) }
                        }
                    }
                    try reader.finish { event throws(TarError) in try extraction.apply(event) }
                } catch let error as TarError where error.kind == .inputFailed {
                    throw ConversionError(.unusableInput, error.entry ?? directory, found: error.found, expected: error.expected, hint: error.hint)
                } catch let error as TarError {
                    throw LayerScan.refusal(error, layer: "\(layer.digest) of --gramine \(reference)")
                } catch {
                    throw ImageConverter.transferError(error)
                }
            }
            guard
                let prefix = extraction.prefixes.sorted().first(where: {
                    FileManager.default.fileExists(atPath: directory + $0 + "/" + libraryDirectory + "/sgx/libpal.so")
                })
            else {
                throw ConversionError(
                    .unusableInput, "--gramine \(reference)", found: "no \(libraryDirectory)/sgx/libpal.so in the image",
                    expected: "an image with a Gramine installation",
                    hint: "give an image Gramine was installed into, or an installation prefix directory")
            }
            return try GramineInstallation(prefix: directory + prefix)
        }
    }
}

/// Writes the entries below any `lib/x86_64-linux-gnu/gramine/` directory of a layer stream to a directory.
struct GramineExtraction {
    let directory: String
    /// The installation prefixes seen, as image paths ("" for the root).
    private(set) var prefixes: Set<String> = []
    private var output: FileHandle?

    static let marker = "/" + GramineInstallation.libraryDirectory + "/"

    init(directory: String) {
        self.directory = directory
    }

    mutating func apply(_ event: TarEvent) throws(TarError) {
        switch event {
        case .entry(let entry, _):
            output = nil
            let path = try RootFilesystem.normalize(entry.path)
            guard let range = path.range(of: Self.marker) else { return }
            prefixes.insert(String(path[..<range.lowerBound]))
            let target = directory + path
            let name = (path as NSString).lastPathComponent
            do {
                if name.hasPrefix(".wh.") {
                    let hidden = (target as NSString).deletingLastPathComponent + "/" + name.dropFirst(4)
                    if FileManager.default.fileExists(atPath: hidden) { try FileManager.default.removeItem(atPath: hidden) }
                    return
                }
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                if (try? FileManager.default.attributesOfItem(atPath: target)) != nil { try FileManager.default.removeItem(atPath: target) }
                switch entry.kind {
                case .directory:
                    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                case .symbolicLink:
                    try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: entry.linkTarget)
                case .hardLink:
                    try FileManager.default.copyItem(atPath: directory + (try RootFilesystem.normalize(entry.linkTarget)), toPath: target)
                case .regularFile:
                    guard FileManager.default.createFile(atPath: target, contents: nil, attributes: [.posixPermissions: Int(entry.mode & 0o777)]),
                        let handle = FileHandle(forWritingAtPath: target)
                    else { throw CocoaError(.fileWriteUnknown) }
                    output = handle
                default:
                    return
                }
            } catch let error as TarError {
                throw error
            } catch {
                throw Self.failure(path, error)
            }
        case .content(let bytes):
            do {
                try output?.write(contentsOf: Data(bytes))
            } catch {
                throw Self.failure("a Gramine file", error)
            }
        case .entryEnd, .archiveEnd:
            try? output?.close()
            output = nil
        }
    }

    private static func failure(_ path: String, _ error: any Error) -> TarError {
        TarError(
            .inputFailed, "a Gramine file could not be copied out of the image", found: "\(error.localizedDescription)",
            expected: "a writable temporary directory", entry: path, offset: nil, hint: "check TMPDIR and free space")
    }
}
