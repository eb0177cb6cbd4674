import Crypto
import Foundation
import NIOCore
import Synchronization
import Tar

/// The image's root filesystem as its layers build it, read while the layers stream past: for each path only its
/// metadata and the SHA-256 of its content, so memory grows with the number of files, not their size.
final class LayerScan: Sendable {
    private struct State: ~Copyable {
        var root: RootFilesystem
        var reader = LayerReader()
        var failure: TarError?
    }

    private let state: Mutex<State>

    /// Files whose whole content is kept (small configuration files the conversion reads).
    static let capturedFiles: Set<String> = ["/etc/passwd", "/etc/group"]

    init() {
        state = Mutex(State(root: RootFilesystem(capturingContentsOf: Self.capturedFiles, captureLimit: 1 << 20)))
    }

    func beginLayer() {
        state.withLock { state in
            state.root.beginLayer()
            state.reader = LayerReader()
        }
    }

    /// Feeds the next bytes of the layer blob; the first failure is kept for ``endLayer(_:)`` to report.
    func consume(_ chunk: ByteBuffer) throws {
        try state.withLock { state in
            var root = RootFilesystem()
            swap(&root, &state.root)
            defer { swap(&root, &state.root) }
            do throws(TarError) {
                try chunk.withUnsafeReadableBytes { bytes throws(TarError) in
                    try state.reader.consume(bytes) { event throws(TarError) in try root.apply(event) }
                }
            } catch {
                state.failure = error
                throw error
            }
        }
    }

    /// Ends the layer: a truncated blob or archive is an error here.
    func endLayer(_ layer: String) throws(ConversionError) {
        let failure: TarError? = state.withLock { state in
            if let failure = state.failure { return failure }
            var root = RootFilesystem()
            swap(&root, &state.root)
            defer { swap(&root, &state.root) }
            do throws(TarError) {
                try state.reader.finish { event throws(TarError) in try root.apply(event) }
                try root.endLayer()
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw Self.refusal(failure, layer: layer) }
    }

    /// The layer error the scan kept, if the stream failed because of it.
    func failure(layer: String) -> ConversionError? {
        state.withLock { $0.failure }.map { Self.refusal($0, layer: layer) }
    }

    var root: RootFilesystem { state.withLock { $0.root } }

    static func refusal(_ error: TarError, layer: String) -> ConversionError {
        ConversionError(
            .refusedImage, "layer \(layer)" + (error.entry.map { ", entry \($0)" } ?? "") + (error.offset.map { " at byte \($0)" } ?? ""),
            found: error.found, expected: error.expected, hint: error.problem + "; " + error.hint)
    }
}

/// Which files of the image the enclave trusts, listed as `finalize_manifest.py` of Gramine's GSC lists them: every
/// regular file, and every path that reaches one through symbolic links, including paths through linked directories
/// (so on merged-/usr images both `/lib/...` and `/usr/lib/...` are listed), except what the exclusions name.
public struct TrustedFileSelection: Sendable, Hashable {
    /// GSC's exclusions: mutable, per-host or secret paths that must not be measured.
    public static let defaultExclusions = [
        "/boot/*", "/.dockerenv", "/.dockerinit", "/dev/*", "/etc/gshadow*", "/etc/mtab", "/etc/.pwd.lock", "/etc/rc?.d/*",
        "/etc/security/*", "/etc/shadow*", "/proc/*", "/sys/*", "/var/*",
    ]

    /// Glob patterns (`fnmatch`, `*` also matching '/') of paths to leave out, on top of the defaults.
    public var exclude: [String]
    /// Patterns of paths to keep even when an exclusion matches them.
    public var include: [String]

    public init(exclude: [String] = [], include: [String] = []) {
        self.exclude = exclude
        self.include = include
    }

    func isSelected(_ path: String) -> Bool {
        let matches = { (patterns: [String]) in patterns.contains { fnmatch($0, path, 0) == 0 } }
        return matches(include) || !matches(Self.defaultExclusions + exclude)
    }

    /// The trusted paths of `root`, sorted, each with its content's SHA-256.
    func files(in root: RootFilesystem) -> [(path: String, sha256: [UInt8])] {
        var children: [String: [(name: String, metadata: FileMetadata)]] = [:]
        for (path, metadata) in root.allEntries() {
            let parent = (path as NSString).deletingLastPathComponent
            children[parent, default: []].append(((path as NSString).lastPathComponent, metadata))
        }
        var files: [(path: String, sha256: [UInt8])] = []
        // (the path as listed, the real directory it names, the real directories on the way, for loops)
        var pending: [(listed: String, real: String, chain: Set<String>)] = [("", "/", ["/"])]
        while let (listed, real, chain) = pending.popLast() {
            for (name, metadata) in (children[real] ?? []).sorted(by: { $0.name > $1.name }) {
                let listedPath = listed + "/" + name
                let realPath = (real == "/" ? "" : real) + "/" + name
                switch metadata.kind {
                case .regularFile:
                    if let digest = metadata.contentDigest, isSelected(listedPath) { files.append((listedPath, Array(digest))) }
                case .directory:
                    if chain.count < RootFilesystem.symbolicLinkLimit { pending.append((listedPath, realPath, chain.union([realPath]))) }
                case .symbolicLink:
                    guard let target = try? root.resolve(realPath) else { continue }
                    if target.metadata.kind == .regularFile, let digest = target.metadata.contentDigest, isSelected(listedPath) {
                        files.append((listedPath, Array(digest)))
                    } else if target.metadata.kind == .directory, !chain.contains(target.path), chain.count < RootFilesystem.symbolicLinkLimit {
                        pending.append((listedPath, target.path, chain.union([target.path])))
                    }
                default:
                    continue
                }
            }
        }
        return files.sorted { $0.path < $1.path }
    }
}
