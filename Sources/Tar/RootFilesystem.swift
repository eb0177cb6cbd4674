import Crypto

public enum FileKind: Sendable, Hashable {
    case regularFile
    case directory
    case symbolicLink
    case characterDevice
    case blockDevice
    case fifo
}

/// What the flattened view keeps of a file: its metadata and, for a regular file, the SHA-256 of its content, never
/// the content itself (except for the few files asked for; see ``RootFilesystem/capturedContent(at:)``).
public struct FileMetadata: Sendable, Hashable {
    public var kind: FileKind
    /// Permission bits with set-user-ID, set-group-ID and sticky.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Content size of a regular file; 0 for the other kinds.
    public var size: UInt64
    /// SHA-256 of a regular file's content.
    public var contentDigest: SHA256Digest?
    /// A symbolic link's target, as written.
    public var linkTarget: String?
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var modificationTime: Int64

    public init(
        kind: FileKind, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, size: UInt64 = 0,
        contentDigest: SHA256Digest? = nil, linkTarget: String? = nil, deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0,
        modificationTime: Int64 = 0
    ) {
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.contentDigest = contentDigest
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.modificationTime = modificationTime
    }
}

/// The root filesystem an OCI image's layers make when applied in order: later entries replace earlier ones, OCI
/// whiteouts (`.wh.NAME`, `.wh..wh..opq`) hide what lower layers put there, hard links take their target's content,
/// and entries under a symbolically linked directory land where the link points (as Docker and containerd extract).
///
/// Memory grows with the number of files, not their size: content is hashed as it streams by.
///
/// Names with a `..` component are refused, and so is following a symbolic link whose target climbs above the root
/// (where the kernel would stop at the root, the refusal makes a hostile or broken image visible instead).
///
/// ```swift
/// var root = RootFilesystem(capturingContentsOf: ["/etc/passwd"])
/// for layer in layers {
///     root.beginLayer()
///     var reader = LayerReader()
///     for chunk in layer { try reader.consume(chunk) { event throws(TarError) in try root.apply(event) } }
///     try reader.finish { event throws(TarError) in try root.apply(event) }
///     try root.endLayer()
/// }
/// let (path, python) = try root.resolve("/bin/python3")
/// ```
public struct RootFilesystem: Sendable {
    /// Linux's limit on symbolic links followed in one lookup.
    public static let symbolicLinkLimit = 40

    private struct Node: Sendable {
        var name: String
        var parent: Int
        var metadata: FileMetadata
        var children: [String: Int] = [:]
        /// The last layer that put this node, or anything under it, in place: whiteouts only hide what lower layers
        /// put there.
        var layer: Int
        var capturedContent: [UInt8]?
    }

    /// The content of the regular file being streamed.
    private struct OpenFile: Sendable {
        let node: Int
        var hasher = SHA256()
        var captured: [UInt8]?
    }

    private static let rootIndex = 0
    private static let whiteoutPrefix = ".wh."
    private static let opaqueMarker = ".wh..wh..opq"

    /// All nodes ever made; removed ones stay behind unreachable, so indices stay valid.
    private var nodes: [Node]
    private var layer = 0
    private var openFile: OpenFile?
    /// The entry being applied, for error messages.
    private var currentEntry: (path: String, offset: UInt64)?
    public let capturedPaths: Set<String>
    public let captureLimit: Int

    /// `paths` (normalized or not) name regular files whose content is kept when at most `captureLimit` bytes long.
    public init(capturingContentsOf paths: Set<String> = [], captureLimit: Int = 1 << 20) {
        capturedPaths = Set(paths.compactMap { try? Self.normalize($0) })
        self.captureLimit = captureLimit
        nodes = [Node(name: "", parent: Self.rootIndex, metadata: FileMetadata(kind: .directory, mode: 0o755), layer: 0)]
    }

    // MARK: Applying layers

    /// Starts the next layer: whiteouts in it hide what earlier layers put in place.
    public mutating func beginLayer() {
        layer += 1
    }

    /// Fails when the layer ended inside an entry (the tar reader reports truncation first, when it is used).
    public mutating func endLayer() throws(TarError) {
        guard openFile == nil else {
            throw TarError(
                .truncatedArchive, "the layer ended inside a file's content", found: "an unfinished entry",
                expected: "every entry's content to end", entry: currentEntry?.path, offset: currentEntry?.offset,
                hint: "call TarReader.finish before endLayer, and pass it every event")
        }
    }

    /// Applies one event of the current layer's tar stream.
    public mutating func apply(_ event: TarEvent) throws(TarError) {
        switch event {
        case .entry(let entry, let offset):
            currentEntry = (entry.path, offset)
            openFile = nil
            try apply(entry)
        case .content(let bytes):
            guard openFile != nil else { return }
            openFile?.hasher.update(bufferPointer: bytes)
            if openFile?.captured != nil { openFile?.captured?.append(contentsOf: bytes) }
        case .entryEnd:
            guard let file = openFile else { return }
            openFile = nil
            nodes[file.node].metadata.contentDigest = file.hasher.finalize()
            nodes[file.node].capturedContent = file.captured
        case .archiveEnd:
            return
        }
    }

    private mutating func apply(_ entry: TarEntry) throws(TarError) {
        let components = try Self.components(entry.path, entry: entry.path, offset: currentEntry?.offset)
        guard let name = components.last else {
            guard entry.kind == .directory else {
                throw failure(
                    .invalidName, "an entry that is not a directory names the root", found: "\(entry.kind)",
                    expected: "a directory", hint: "the layer is corrupt; rebuild it")
            }
            nodes[Self.rootIndex].metadata = try metadata(of: entry, kind: .directory)
            return
        }
        let parent = try directory(components.dropLast())
        touch(parent)

        if name == Self.opaqueMarker {
            for child in nodes[parent].children.values { hideLowerLayers(child, from: parent) }
            return
        }
        if name.hasPrefix(Self.whiteoutPrefix + Self.whiteoutPrefix) {
            // Other AUFS metadata (`.wh..wh.plnk`, ...): not part of the image's files.
            return
        }
        if name.hasPrefix(Self.whiteoutPrefix) {
            let hidden = String(name.dropFirst(Self.whiteoutPrefix.count))
            guard !hidden.isEmpty, hidden != ".", hidden != ".." else {
                throw failure(
                    .invalidName, "a whiteout names no file", found: "\"\(name)\"", expected: ".wh. followed by a file name",
                    hint: "the layer is corrupt; rebuild it")
            }
            if let child = nodes[parent].children[hidden] { hideLowerLayers(child, from: parent) }
            return
        }

        let newMetadata: FileMetadata
        var capturedContent: [UInt8]?
        switch entry.kind {
        case .regularFile: newMetadata = try metadata(of: entry, kind: .regularFile)
        case .directory: newMetadata = try metadata(of: entry, kind: .directory)
        case .symbolicLink: newMetadata = try metadata(of: entry, kind: .symbolicLink)
        case .characterDevice: newMetadata = try metadata(of: entry, kind: .characterDevice)
        case .blockDevice: newMetadata = try metadata(of: entry, kind: .blockDevice)
        case .fifo: newMetadata = try metadata(of: entry, kind: .fifo)
        case .hardLink:
            let target = try hardLinkTarget(entry.linkTarget)
            newMetadata = nodes[target].metadata
            capturedContent = nodes[target].capturedContent
        case .other(let typeFlag):
            throw failure(
                .unsupportedEntryType, "an entry has a type image layers do not use",
                found: "type flag \(String(UnicodeScalar(typeFlag)).debugDescription)",
                expected: "a file, directory, link, device or FIFO (0-7)",
                hint: "GNU sparse files and volume labels cannot be in an image layer; rebuild it with plain files")
        }

        let index: Int
        if let existing = nodes[parent].children[name],
            nodes[existing].metadata.kind == .directory, newMetadata.kind == .directory
        {
            index = existing
            nodes[index].metadata = newMetadata
            nodes[index].layer = layer
        } else {
            index = nodes.count
            nodes.append(Node(name: name, parent: parent, metadata: newMetadata, layer: layer, capturedContent: capturedContent))
            nodes[parent].children[name] = index
        }
        if entry.kind == .regularFile {
            let wantsContent =
                !capturedPaths.isEmpty && entry.size <= UInt64(captureLimit)
                && capturedPaths.contains(Self.path(of: index, in: nodes))
            openFile = OpenFile(node: index, captured: wantsContent ? [] : nil)
            if entry.size == 0 { nodes[index].metadata.contentDigest = SHA256().finalize() }
        }
    }

    /// Removes what lower layers put at `node`, keeping what the current layer put there.
    private mutating func hideLowerLayers(_ start: Int, from startParent: Int) {
        // A loop, not recursion: a hostile layer can nest directories deeper than the stack allows.
        var pending = [(node: start, parent: startParent)]
        while let (node, parent) = pending.popLast() {
            if nodes[node].layer < layer {
                nodes[parent].children[nodes[node].name] = nil
            } else {
                pending.append(contentsOf: nodes[node].children.values.map { ($0, node) })
            }
        }
    }

    /// Marks `node` and its ancestors as holding something of the current layer.
    private mutating func touch(_ node: Int) {
        var current = node
        while nodes[current].layer < layer {
            nodes[current].layer = layer
            if current == Self.rootIndex { break }
            current = nodes[current].parent
        }
    }

    private func hardLinkTarget(_ target: String) throws(TarError) -> Int {
        let components = try Self.components(target, entry: currentEntry?.path, offset: currentEntry?.offset)
        guard let name = components.last else {
            throw failure(
                .invalidName, "a hard link points at the root", found: "\"\(target)\"", expected: "a file",
                hint: "the layer is corrupt; rebuild it")
        }
        let parent = try lookUpDirectory(components.dropLast())
        guard let parent, let node = nodes[parent].children[name] else {
            throw failure(
                .missingHardLinkTarget, "a hard link's target is not in this or a lower layer",
                found: "link to \"\(target)\"", expected: "an entry written before the link",
                hint: "the layer is corrupt or its entries are out of order; rebuild it")
        }
        guard nodes[node].metadata.kind != .directory else {
            throw failure(
                .unsupportedEntryType, "a hard link points at a directory", found: "link to \"\(target)\"",
                expected: "a link to a file", hint: "directories cannot be hard-linked; rebuild the layer")
        }
        return node
    }

    private func metadata(of entry: TarEntry, kind: FileKind) throws(TarError) -> FileMetadata {
        guard let uid = UInt32(exactly: entry.uid), let gid = UInt32(exactly: entry.gid) else {
            throw failure(
                .valueOutOfRange, "an entry's owner is beyond Linux's 32-bit IDs", found: "uid \(entry.uid), gid \(entry.gid)",
                expected: "IDs up to \(UInt32.max)", hint: "the layer is corrupt; rebuild it")
        }
        return FileMetadata(
            kind: kind, mode: entry.mode & 0o7777, uid: uid, gid: gid, size: kind == .regularFile ? entry.size : 0,
            linkTarget: kind == .symbolicLink ? entry.linkTarget : nil, deviceMajor: entry.deviceMajor,
            deviceMinor: entry.deviceMinor, modificationTime: entry.modificationTime)
    }

    private func failure(_ kind: TarError.Kind, _ problem: String, found: String, expected: String, hint: String) -> TarError {
        TarError(
            kind, problem, found: found, expected: expected, entry: currentEntry?.path, offset: currentEntry?.offset,
            hint: hint)
    }

    // MARK: Paths

    /// `./a/b`, `a/b/`, `/a//b` → `/a/b`; a `..` component is refused.
    public static func normalize(_ path: String) throws(TarError) -> String {
        "/" + (try components(path, entry: path, offset: nil)).joined(separator: "/")
    }

    private static func components(_ path: String, entry: String?, offset: UInt64?) throws(TarError) -> [String] {
        var components: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            guard component != ".." else {
                throw TarError(
                    .escapesRoot, "a name climbs out of the image root", found: "\"\(path)\" with a .. component",
                    expected: "a path inside the root without ..", entry: entry, offset: offset,
                    hint: "the layer is hostile or broken; do not use this image")
            }
            components.append(String(component))
        }
        return components
    }

    /// The directory at `components`, following symbolic links within the root and creating missing directories
    /// (as tar does for entries whose parents are not in the archive).
    private mutating func directory(_ components: ArraySlice<String>) throws(TarError) -> Int {
        var walk = Walk(path: "/" + components.joined(separator: "/"))
        var pending = Array(components.reversed())
        while let component = pending.popLast() {
            if try walk.step(component, isFinal: false, pending: &pending, in: nodes) != nil { continue }
            let parent = walk.current
            let index = nodes.count
            nodes.append(
                Node(name: component, parent: parent, metadata: FileMetadata(kind: .directory, mode: 0o755), layer: layer))
            nodes[parent].children[component] = index
            walk.stack.append(index)
        }
        return walk.current
    }

    /// Like ``directory(_:)`` without creating: nil when a component is missing.
    private func lookUpDirectory(_ components: ArraySlice<String>) throws(TarError) -> Int? {
        var walk = Walk(path: "/" + components.joined(separator: "/"))
        var pending = Array(components.reversed())
        while let component = pending.popLast() {
            guard try walk.step(component, isFinal: false, pending: &pending, in: nodes) != nil else { return nil }
        }
        return walk.current
    }

    private static func path(of node: Int, in nodes: [Node]) -> String {
        var names: [String] = []
        var current = node
        while current != rootIndex {
            names.append(nodes[current].name)
            current = nodes[current].parent
        }
        return "/" + names.reversed().joined(separator: "/")
    }

    /// Path resolution inside the root, component by component, as the kernel does it (`..` after a followed link
    /// goes to the parent of the link's target).
    private struct Walk {
        /// The nodes from the root to where the walk is.
        var stack: [Int] = [RootFilesystem.rootIndex]
        var linksLeft = RootFilesystem.symbolicLinkLimit
        /// The last symbolic link followed: an escape through `..` is blamed on it.
        var lastLink: (node: Int, target: String)?
        /// The path being resolved, for errors.
        let path: String

        init(path: String) {
            self.path = path
        }

        var current: Int { stack.last ?? RootFilesystem.rootIndex }

        /// Takes one component; nil when it does not exist (the walk stays at its parent). A symbolic link is
        /// replaced by its target's components in `pending`; anything else but a directory may only be `isFinal`.
        mutating func step(
            _ component: String, isFinal: Bool, pending: inout [String], in nodes: [Node]
        ) throws(TarError) -> Int? {
            if component == "." { return current }
            if component == ".." {
                guard stack.count > 1 else { throw escape(nodes) }
                stack.removeLast()
                return current
            }
            guard let child = nodes[current].children[component] else { return nil }
            let metadata = nodes[child].metadata
            switch metadata.kind {
            case .directory:
                stack.append(child)
                return child
            case .symbolicLink:
                let target = metadata.linkTarget ?? ""
                linksLeft -= 1
                guard linksLeft >= 0 else {
                    throw TarError(
                        .tooManySymbolicLinks, "resolving a path follows too many symbolic links",
                        found: "more than \(RootFilesystem.symbolicLinkLimit), the last \(RootFilesystem.path(of: child, in: nodes)) -> \(target)",
                        expected: "at most \(RootFilesystem.symbolicLinkLimit)", entry: path,
                        hint: "the image has a symbolic link loop; fix the links")
                }
                guard !target.isEmpty else { return nil }
                lastLink = (child, target)
                if target.hasPrefix("/") { stack = [RootFilesystem.rootIndex] }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                return current
            case .regularFile, .characterDevice, .blockDevice, .fifo:
                guard isFinal else {
                    throw TarError(
                        .notADirectory, "a path goes through something that is not a directory",
                        found: "\(RootFilesystem.path(of: child, in: nodes)) is a \(metadata.kind)", expected: "a directory",
                        entry: path, hint: "the image's files conflict; check the path")
                }
                stack.append(child)
                return child
            }
        }

        func escape(_ nodes: [Node]) -> TarError {
            let found =
                lastLink.map { "symbolic link \(RootFilesystem.path(of: $0.node, in: nodes)) -> \($0.target)" }
                ?? "a .. component at the root"
            return TarError(
                .escapesRoot, "resolving a path climbs above the image root", found: found,
                expected: "a target inside the image root", entry: path,
                hint: "the image's links point outside it; fix the link or do not use this image")
        }
    }

    // MARK: Queries

    /// The file stored at exactly `path` (normalized), following no symbolic link.
    public func entry(at path: String) -> FileMetadata? {
        guard let components = try? Self.components(path, entry: path, offset: nil) else { return nil }
        var current = Self.rootIndex
        for component in components {
            guard let child = nodes[current].children[component] else { return nil }
            current = child
        }
        return nodes[current].metadata
    }

    /// Resolves `path` as the kernel would inside the image (every symbolic link followed, absolute targets against
    /// the image root), giving the final path and its file. Fails when the path does not exist, a link climbs above
    /// the root, or more than ``symbolicLinkLimit`` links are followed.
    public func resolve(_ path: String) throws(TarError) -> (path: String, metadata: FileMetadata) {
        var walk = Walk(path: path)
        var pending = Array(path.split(separator: "/").map(String.init).reversed())
        while let component = pending.popLast() {
            guard try walk.step(component, isFinal: pending.isEmpty, pending: &pending, in: nodes) != nil else {
                throw TarError(
                    .notFound, "a path does not exist in the image",
                    found: "no \"\(component)\" in \(Self.path(of: walk.current, in: nodes))", expected: "an existing file",
                    entry: path, hint: "check the path and the image's layers")
            }
        }
        return (Self.path(of: walk.current, in: nodes), nodes[walk.current].metadata)
    }

    /// The content of a regular file named at creation in `capturingContentsOf`, if it was at most `captureLimit`
    /// bytes; `path` is resolved first.
    public func capturedContent(at path: String) -> [UInt8]? {
        guard let resolved = try? resolve(path) else { return nil }
        guard let components = try? Self.components(resolved.path, entry: nil, offset: nil) else { return nil }
        var current = Self.rootIndex
        for component in components {
            guard let child = nodes[current].children[component] else { return nil }
            current = child
        }
        return nodes[current].capturedContent
    }

    /// Every file, directory and link with its normalized path, sorted by path; the root itself is left out.
    public func allEntries() -> [(path: String, metadata: FileMetadata)] {
        var result: [(path: String, metadata: FileMetadata)] = []
        var pending: [(node: Int, path: String)] = [(Self.rootIndex, "")]
        while let (node, path) = pending.popLast() {
            for (name, child) in nodes[node].children {
                let childPath = path + "/" + name
                result.append((childPath, nodes[child].metadata))
                if nodes[child].metadata.kind == .directory { pending.append((child, childPath)) }
            }
        }
        return result.sorted { $0.path < $1.path }
    }

    /// Every regular file with its normalized path, sorted by path.
    public func regularFiles() -> [(path: String, metadata: FileMetadata)] {
        allEntries().filter { $0.metadata.kind == .regularFile }
    }
}
