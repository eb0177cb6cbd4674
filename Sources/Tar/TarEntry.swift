/// The type of a tar entry, after folding the format's synonyms together (`0`, `\0` and `7` are all regular files).
public enum TarEntryKind: Sendable, Hashable {
    case regularFile
    case hardLink
    case symbolicLink
    case characterDevice
    case blockDevice
    case directory
    case fifo
    /// A type flag this reader does not interpret (GNU sparse `S`, volume label `V`, dump directory `D`, ...): its
    /// content is delivered as is, and deciding what it means is left to the caller.
    case other(typeFlag: UInt8)

    /// Types whose size field is ignored and that are never followed by content, as POSIX and Go's archive/tar (which
    /// wrote most image layers) treat them.
    var isHeaderOnly: Bool {
        switch self {
        case .hardLink, .symbolicLink, .characterDevice, .blockDevice, .directory, .fifo: true
        case .regularFile, .other: false
        }
    }
}

/// One entry of a tar archive: the header as read (with PAX and GNU long-name extensions applied) or to be written.
public struct TarEntry: Sendable, Hashable {
    /// The name as written in the archive (a directory written by GNU tar ends with `/`); see ``RootFilesystem`` for
    /// normalized paths.
    public var path: String
    public var kind: TarEntryKind
    /// Bytes of content that follow the header; always 0 for header-only kinds (links, directories, devices, FIFOs).
    public var size: UInt64
    /// Permission bits with set-user-ID, set-group-ID and sticky (`0o7777`).
    public var mode: UInt32
    public var uid: UInt64
    public var gid: UInt64
    public var userName: String
    public var groupName: String
    /// Seconds since the Unix epoch; a PAX `mtime` fraction is kept only in ``paxRecords``.
    public var modificationTime: Int64
    /// The target of a symbolic link, or the archive path of a hard link's target; empty otherwise.
    public var linkTarget: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Reading: every PAX record in effect for this entry (global ones overridden by the entry's own), including the
    /// keys this module does not interpret. Writing: extra records to emit; the interpreted keys are computed.
    public var paxRecords: [String: String]

    public init(
        path: String, kind: TarEntryKind, size: UInt64 = 0, mode: UInt32, uid: UInt64 = 0, gid: UInt64 = 0,
        userName: String = "", groupName: String = "", modificationTime: Int64 = 0, linkTarget: String = "",
        deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, paxRecords: [String: String] = [:]
    ) {
        self.path = path
        self.kind = kind
        self.size = kind.isHeaderOnly ? 0 : size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.modificationTime = modificationTime
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.paxRecords = paxRecords
    }

    public static func regularFile(
        _ path: String, size: UInt64, mode: UInt32 = 0o644, uid: UInt64 = 0, gid: UInt64 = 0, modificationTime: Int64 = 0
    ) -> TarEntry {
        TarEntry(path: path, kind: .regularFile, size: size, mode: mode, uid: uid, gid: gid, modificationTime: modificationTime)
    }

    public static func directory(
        _ path: String, mode: UInt32 = 0o755, uid: UInt64 = 0, gid: UInt64 = 0, modificationTime: Int64 = 0
    ) -> TarEntry {
        TarEntry(path: path, kind: .directory, mode: mode, uid: uid, gid: gid, modificationTime: modificationTime)
    }

    public static func symbolicLink(
        _ path: String, target: String, uid: UInt64 = 0, gid: UInt64 = 0, modificationTime: Int64 = 0
    ) -> TarEntry {
        TarEntry(
            path: path, kind: .symbolicLink, mode: 0o777, uid: uid, gid: gid, modificationTime: modificationTime,
            linkTarget: target
        )
    }

    /// `target` is the archive path of an entry written earlier.
    public static func hardLink(
        _ path: String, target: String, mode: UInt32 = 0o644, uid: UInt64 = 0, gid: UInt64 = 0, modificationTime: Int64 = 0
    ) -> TarEntry {
        TarEntry(
            path: path, kind: .hardLink, mode: mode, uid: uid, gid: gid, modificationTime: modificationTime,
            linkTarget: target
        )
    }
}
