import Crypto
import Foundation
import NIOCore
import StrictJSON
import Synchronization
import Tar

/// An image in a `docker save` archive (skopeo's `docker-archive:FILE`): a tar holding `manifest.json`, the
/// configuration and the layers as files. The archive has no descriptors, so the first read hashes every file once to
/// describe the image as an OCI manifest; blobs are then streamed out of the archive entry by entry, and checked
/// against those digests like any other blob.
public final class DockerArchiveSource: ImageSource, Sendable {
    public let path: String
    /// Archive member path of each blob, by digest, filled by ``resolveManifest(for:)``.
    private let members = Mutex<[ContentDigest: String]>([:])

    public init(path: String) {
        self.path = path
    }

    public var location: String { "docker-archive:\(path)" }

    public func resolveManifest(for platform: ImagePlatform) async throws(ImageTransferError) -> ResolvedManifest {
        let scan = try ArchiveScan.read(path)
        guard let manifestText = scan.small["manifest.json"] else {
            throw .notADockerArchive(path: path, reason: "the archive has no manifest.json; it is not a docker save archive")
        }
        let image = try Self.image(in: manifestText, archive: path)
        guard let configDigest = scan.digests[image.config], let configBytes = scan.small[image.config] else {
            throw .notADockerArchive(path: path, reason: "its manifest.json names the configuration \(image.config), which the archive lacks")
        }
        var layers: [Descriptor] = []
        var members: [ContentDigest: String] = [image.config: configDigest].reduce(into: [:]) { $0[$1.value] = $1.key }
        for layer in image.layers {
            guard let digest = scan.digests[layer], let size = scan.sizes[layer] else {
                throw .notADockerArchive(path: path, reason: "its manifest.json names the layer \(layer), which the archive lacks")
            }
            let mediaType: MediaType = scan.gzip.contains(layer) ? .ociLayerTarGzip : .ociLayerTar
            layers.append(Descriptor(mediaType: mediaType, digest: digest, size: size))
            members[digest] = layer
        }
        self.members.withLock { $0 = members }
        let manifest = ImageManifest(
            mediaType: .ociManifest, config: Descriptor(mediaType: .ociConfig, digest: configDigest, size: Int64(configBytes.count)),
            layers: layers)
        let bytes = manifest.encoded()
        return ResolvedManifest(manifest: manifest, bytes: bytes, descriptor: Descriptor(of: bytes, mediaType: .ociManifest))
    }

    public func openUnverifiedBlob(_ descriptor: Descriptor) async throws(ImageTransferError) -> BlobStream {
        guard let member = members.withLock({ $0[descriptor.digest] }) else {
            throw .fileSystem(path: path, operation: "read blob \(descriptor.digest) from", reason: "the archive holds no such file")
        }
        return BlobStream(origin: "\(location) (\(member))", length: descriptor.size, base: ArchiveMemberChunks(archive: path, member: member))
    }

    /// The one image of `manifest.json`: its configuration and layers, as archive member paths.
    static func image(in manifest: [UInt8], archive: String) throws(ImageTransferError) -> (config: String, layers: [String]) {
        let reason = "its manifest.json is not docker save's [{\"Config\": ..., \"Layers\": [...]}]"
        guard case .array(let images)? = try? JSONParser.parse(manifest, maximumDepth: 8) else {
            throw .notADockerArchive(path: archive, reason: reason)
        }
        guard images.count == 1, case .object(let fields) = images[0] else {
            throw .notADockerArchive(
                path: archive,
                reason: images.count == 1 ? reason : "it holds \(images.count) images; save one image per archive (docker save IMAGE)")
        }
        guard case .string(let config)? = fields.last(where: { $0.key == "Config" })?.value,
            case .array(let layerValues)? = fields.last(where: { $0.key == "Layers" })?.value
        else { throw .notADockerArchive(path: archive, reason: reason) }
        var layers: [String] = []
        for value in layerValues {
            guard case .string(let layer) = value else { throw .notADockerArchive(path: archive, reason: reason) }
            layers.append(layer)
        }
        return (config, layers)
    }
}

/// One pass over an archive: each regular member's digest and size, whether it is gzip, and the content of the small
/// JSON members (manifest.json, the configuration).
struct ArchiveScan {
    var digests: [String: ContentDigest] = [:]
    var sizes: [String: Int64] = [:]
    var gzip: Set<String> = []
    var small: [String: [UInt8]] = [:]

    static let smallLimit = 8 << 20

    static func read(_ path: String) throws(ImageTransferError) -> ArchiveScan {
        var scan = ArchiveScan()
        var reader = TarReader()
        var current: (name: String, hasher: SHA256, size: Int64, head: [UInt8], keep: Bool)?
        func handle(_ event: TarEvent) throws(TarError) {
            switch event {
            case .entry(let entry, _):
                current =
                    entry.kind == .regularFile
                    ? (Self.memberName(entry.path), SHA256(), 0, [], entry.path.hasSuffix(".json") && entry.size <= UInt64(smallLimit)) : nil
            case .content(let bytes):
                guard current != nil else { return }
                current!.hasher.update(bufferPointer: bytes)
                current!.size += Int64(bytes.count)
                if current!.keep || current!.head.count < 2 { current!.head.append(contentsOf: bytes.prefix(current!.keep ? bytes.count : 2)) }
            case .entryEnd:
                guard let member = current else { return }
                scan.digests[member.name] = ContentDigest(sha256: member.hasher.finalize())
                scan.sizes[member.name] = member.size
                if member.head.starts(with: [0x1F, 0x8B]) { scan.gzip.insert(member.name) }
                if member.keep { scan.small[member.name] = member.head }
                current = nil
            case .archiveEnd:
                break
            }
        }
        do {
            let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? file.close() }
            while let data = try file.read(upToCount: 1 << 20), !data.isEmpty {
                try reader.consume(data, handle)
            }
            try reader.finish(handle)
        } catch let error as TarError {
            throw .readFailed(location: "docker-archive:\(path)", reason: error.description)
        } catch {
            throw .fileSystem(path: path, operation: "read", reason: BlobStream.reason(error))
        }
        return scan
    }

    /// Member names as manifest.json writes them: without a leading "./".
    static func memberName(_ path: String) -> String {
        path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    }
}

/// The content of one archive member, read chunk by chunk from the archive.
struct ArchiveMemberChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let archive: String
    let member: String

    func makeAsyncIterator() -> Iterator { Iterator(archive: archive, member: member) }

    struct Iterator: AsyncIteratorProtocol {
        let archive: String
        let member: String
        var file: FileHandle?
        var reader = TarReader()
        var inMember = false
        var done = false

        init(archive: String, member: String) {
            self.archive = archive
            self.member = member
        }

        mutating func next() async throws -> ByteBuffer? {
            if file == nil { file = try FileHandle(forReadingFrom: URL(fileURLWithPath: archive)) }
            while !done {
                let data = try file?.read(upToCount: 1 << 20) ?? Data()
                var output = ByteBuffer()
                let member = member
                var inMember = inMember
                var done = done
                let handle = { (event: TarEvent) throws(TarError) in
                    switch event {
                    case .entry(let entry, _): inMember = entry.kind == .regularFile && ArchiveScan.memberName(entry.path) == member
                    case .content(let bytes): if inMember { output.writeBytes(bytes) }
                    case .entryEnd:
                        if inMember {
                            done = true
                            inMember = false
                        }
                    case .archiveEnd: break
                    }
                }
                if data.isEmpty {
                    try reader.finish(handle)
                    guard done else {
                        try file?.close()
                        throw ImageTransferError.readFailed(location: "docker-archive:\(archive)", reason: "the archive ended before \(member) did")
                    }
                } else {
                    try reader.consume(data, handle)
                }
                self.inMember = inMember
                self.done = done
                if done { try file?.close() }
                if output.readableBytes > 0 { return output }
            }
            return nil
        }
    }
}
