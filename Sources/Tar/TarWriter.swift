#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A streaming tar writer: gives the archive's bytes to an output function as entries are written, holding nothing
/// but the current entry's remaining size.
///
/// Writes POSIX ustar headers, preceded by a PAX extended header (`x`) when a value does not fit ustar: a path longer
/// than the name and prefix fields allow or not ASCII, a long or non-ASCII link target or user/group name, a size of
/// 8 GiB or more, an ID or time beyond the octal fields. The output depends only on the entries given (PAX records
/// sorted, PAX header names derived from the path), so the same entries always give the same archive and digest.
///
/// ```swift
/// var writer = TarWriter()
/// try writer.writeHeaderOnly(.directory("etc/"), to: output)
/// try writer.beginEntry(.regularFile("etc/hostname", size: 6), to: output)
/// try writer.writeContent(bytes, to: output)
/// try writer.endEntry(to: output)
/// try writer.finish(to: output)
/// ```
public struct TarWriter: Sendable {
    private enum State: Sendable {
        case betweenEntries
        case inEntry(path: String, size: UInt64, remaining: UInt64)
        case finished
    }

    private var state: State = .betweenEntries
    /// Bytes of tar written so far.
    public private(set) var offset: UInt64 = 0

    public init() {}

    /// Writes the headers of `entry`; then its content must follow through ``writeContent(_:to:)`` (exactly
    /// `entry.size` bytes in all) and ``endEntry(to:)``.
    public mutating func beginEntry(
        _ entry: TarEntry, to output: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        guard case .betweenEntries = state else {
            throw misuse("an entry was begun while another is open or after the end", entry: entry.path)
        }
        let size = entry.kind.isHeaderOnly ? 0 : entry.size
        let headers = try Self.headers(for: entry, size: size)
        try emit(headers, to: output)
        state = .inEntry(path: entry.path, size: size, remaining: size)
    }

    /// Writes part of the current entry's content.
    public mutating func writeContent(
        _ chunk: UnsafeRawBufferPointer, to output: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        guard case .inEntry(let path, let size, let remaining) = state else {
            throw misuse("content was written outside an entry", entry: nil)
        }
        guard UInt64(chunk.count) <= remaining else {
            throw TarError(
                .contentSizeMismatch, "more content was written than the entry's size", found: "\(size - remaining + UInt64(chunk.count)) bytes",
                expected: "\(size) bytes", entry: path, offset: offset,
                hint: "give the entry its real size, or stop writing at it")
        }
        state = .inEntry(path: path, size: size, remaining: remaining - UInt64(chunk.count))
        offset += UInt64(chunk.count)
        try output(chunk)
    }

    public mutating func writeContent<Bytes: Collection<UInt8>>(
        _ chunk: Bytes, to output: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        try withContiguousBytes(chunk) { buffer throws(TarError) in try writeContent(buffer, to: output) }
    }

    /// Ends the current entry, padding its content to a whole block.
    public mutating func endEntry(to output: (UnsafeRawBufferPointer) throws(TarError) -> Void) throws(TarError) {
        guard case .inEntry(let path, let size, let remaining) = state else {
            throw misuse("an entry was ended that was not begun", entry: nil)
        }
        guard remaining == 0 else {
            throw TarError(
                .contentSizeMismatch, "an entry was ended before all its content was written",
                found: "\(size - remaining) bytes", expected: "\(size) bytes", entry: path, offset: offset,
                hint: "write exactly the size given in the entry (did the file change while it was read?)")
        }
        state = .betweenEntries
        let padding = (TarHeaderBlock.size - Int(size % UInt64(TarHeaderBlock.size))) % TarHeaderBlock.size
        if padding > 0 { try emit([UInt8](repeating: 0, count: padding), to: output) }
    }

    /// Writes an entry without content: a directory, a link, a device or a FIFO (or an empty regular file).
    public mutating func writeHeaderOnly(
        _ entry: TarEntry, to output: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        var entry = entry
        if !entry.kind.isHeaderOnly { entry.size = 0 }
        try beginEntry(entry, to: output)
        try endEntry(to: output)
    }

    /// Writes a regular file whose `entry.size` bytes are read from `descriptor` (from its current position), in
    /// chunks of `chunkSize`.
    public mutating func writeFile(
        _ entry: TarEntry, from descriptor: Int32, chunkSize: Int = 1 << 20,
        to output: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        try beginEntry(entry, to: output)
        var remaining = entry.kind.isHeaderOnly ? 0 : entry.size
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkSize, 1), alignment: 16)
        defer { buffer.deallocate() }
        while remaining > 0 {
            let wanted = Int(min(UInt64(buffer.count), remaining))
            let count = read(descriptor, buffer.baseAddress, wanted)
            if count < 0 {
                if errno == EINTR { continue }
                throw TarError(
                    .inputFailed, "reading a file's content failed", found: "errno \(errno) (\(String(cString: strerror(errno))))",
                    expected: "a readable file", entry: entry.path, offset: offset,
                    hint: "check that the file is readable and not a directory")
            }
            guard count > 0 else {
                throw TarError(
                    .contentSizeMismatch, "a file ended before its size", found: "\(entry.size - remaining) bytes",
                    expected: "\(entry.size) bytes", entry: entry.path, offset: offset,
                    hint: "the file shrank while it was read; give the entry its current size")
            }
            remaining -= UInt64(count)
            try writeContent(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), to: output)
        }
        try endEntry(to: output)
    }

    /// Writes the two zero blocks that end an archive.
    public mutating func finish(to output: (UnsafeRawBufferPointer) throws(TarError) -> Void) throws(TarError) {
        guard case .betweenEntries = state else { throw misuse("the archive was finished inside an entry or twice", entry: nil) }
        state = .finished
        try emit([UInt8](repeating: 0, count: 2 * TarHeaderBlock.size), to: output)
    }

    private mutating func emit(
        _ bytes: [UInt8], to output: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        offset += UInt64(bytes.count)
        try withBytes(of: bytes, output)
    }

    private func misuse(_ problem: String, entry: String?) -> TarError {
        let current =
            switch state {
            case .betweenEntries: "no open entry"
            case .inEntry(let path, _, _): "entry \"\(path)\" open"
            case .finished: "a finished archive"
            }
        return TarError(
            .writerMisuse, problem, found: current, expected: "beginEntry, writeContent, endEntry in turn, then finish",
            entry: entry, offset: offset, hint: "this is a bug in the caller of TarWriter")
    }

    // MARK: Headers

    private static func isPlainASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// The ustar name and prefix for `path`, if it fits: the name field alone, or split at a slash into prefix and
    /// name.
    private static func ustarName(_ path: String) -> (prefix: [UInt8], name: [UInt8])? {
        let bytes = Array(path.utf8)
        guard isPlainASCII(path) else { return nil }
        if bytes.count <= TarHeaderBlock.name.length { return ([], bytes) }
        // The prefix holds at most 155 bytes and the name at most 100, with the slash between them in neither.
        let earliestSplit = max(bytes.count - TarHeaderBlock.name.length - 1, 1)
        let latestSplit = min(bytes.count - 2, TarHeaderBlock.prefix.length)
        guard earliestSplit <= latestSplit else { return nil }
        for split in earliestSplit...latestSplit where bytes[split] == UInt8(ascii: "/") {
            return (Array(bytes[..<split]), Array(bytes[(split + 1)...]))
        }
        return nil
    }

    static func headers(for entry: TarEntry, size: UInt64) throws(TarError) -> [UInt8] {
        guard !entry.path.isEmpty, !entry.path.utf8.contains(0), !entry.linkTarget.utf8.contains(0) else {
            throw TarError(
                .invalidName, "an entry's name or link target cannot be written", found: "\"\(entry.path)\"",
                expected: "a non-empty path without NUL bytes", entry: entry.path,
                hint: "pass the path relative to the image root, such as \"usr/bin/env\"")
        }
        var path = entry.path
        if entry.kind == .directory && !path.hasSuffix("/") { path += "/" }
        var records = entry.paxRecords
        var block = [UInt8](repeating: 0, count: TarHeaderBlock.size)

        if let (prefix, name) = ustarName(path) {
            TarHeaderBlock.writeBytes(prefix, TarHeaderBlock.prefix, into: &block)
            TarHeaderBlock.writeBytes(name, TarHeaderBlock.name, into: &block)
        } else {
            records["path"] = path
            TarHeaderBlock.writeBytes(asciiFallback(path).suffix(TarHeaderBlock.name.length), TarHeaderBlock.name, into: &block)
        }
        if isPlainASCII(entry.linkTarget) && entry.linkTarget.utf8.count <= TarHeaderBlock.linkName.length {
            TarHeaderBlock.writeBytes(entry.linkTarget.utf8, TarHeaderBlock.linkName, into: &block)
        } else {
            records["linkpath"] = entry.linkTarget
            TarHeaderBlock.writeBytes(
                asciiFallback(entry.linkTarget).prefix(TarHeaderBlock.linkName.length), TarHeaderBlock.linkName, into: &block)
        }

        func octalOrPAX(_ value: UInt64, _ field: TarHeaderBlock.Field, key: String) {
            if value <= UInt64(TarHeaderBlock.octalLimit(field)) {
                TarHeaderBlock.writeOctal(Int64(value), field, into: &block)
            } else {
                records[key] = String(value)
                TarHeaderBlock.writeOctal(0, field, into: &block)
            }
        }
        TarHeaderBlock.writeOctal(Int64(entry.mode & 0o7777), TarHeaderBlock.mode, into: &block)
        octalOrPAX(entry.uid, TarHeaderBlock.uid, key: "uid")
        octalOrPAX(entry.gid, TarHeaderBlock.gid, key: "gid")
        octalOrPAX(size, TarHeaderBlock.contentSize, key: "size")
        if entry.modificationTime >= 0 {
            octalOrPAX(UInt64(entry.modificationTime), TarHeaderBlock.modificationTime, key: "mtime")
        } else {
            records["mtime"] = String(entry.modificationTime)
            TarHeaderBlock.writeOctal(0, TarHeaderBlock.modificationTime, into: &block)
        }
        block[TarHeaderBlock.typeFlagOffset] = typeFlag(entry.kind)
        TarHeaderBlock.writeBytes("ustar\0".utf8, TarHeaderBlock.magic, into: &block)
        TarHeaderBlock.writeBytes("00".utf8, TarHeaderBlock.version, into: &block)
        for (name, field, key) in [
            (entry.userName, TarHeaderBlock.userName, "uname"), (entry.groupName, TarHeaderBlock.groupName, "gname"),
        ] {
            if isPlainASCII(name) && name.utf8.count < field.length {
                TarHeaderBlock.writeBytes(name.utf8, field, into: &block)
            } else {
                records[key] = name
            }
        }
        if entry.kind == .characterDevice || entry.kind == .blockDevice {
            let deviceLimit = TarHeaderBlock.octalLimit(TarHeaderBlock.deviceMajor)
            guard Int64(entry.deviceMajor) <= deviceLimit, Int64(entry.deviceMinor) <= deviceLimit else {
                throw TarError(
                    .valueOutOfRange, "a device number does not fit a ustar header",
                    found: "\(entry.deviceMajor),\(entry.deviceMinor)", expected: "at most \(deviceLimit) each",
                    entry: entry.path, hint: "such devices cannot be stored in an image layer")
            }
            TarHeaderBlock.writeOctal(Int64(entry.deviceMajor), TarHeaderBlock.deviceMajor, into: &block)
            TarHeaderBlock.writeOctal(Int64(entry.deviceMinor), TarHeaderBlock.deviceMinor, into: &block)
        }
        TarHeaderBlock.writeChecksum(into: &block)
        if records.isEmpty { return block }
        return paxHeader(records, for: path, modificationTime: entry.modificationTime) + block
    }

    private static func typeFlag(_ kind: TarEntryKind) -> UInt8 {
        switch kind {
        case .regularFile: UInt8(ascii: "0")
        case .hardLink: UInt8(ascii: "1")
        case .symbolicLink: UInt8(ascii: "2")
        case .characterDevice: UInt8(ascii: "3")
        case .blockDevice: UInt8(ascii: "4")
        case .directory: UInt8(ascii: "5")
        case .fifo: UInt8(ascii: "6")
        case .other(let flag): flag
        }
    }

    /// What an old reader that ignores PAX sees in the ustar fields: the text with non-ASCII bytes replaced.
    private static func asciiFallback(_ text: String) -> [UInt8] {
        text.utf8.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "_") }
    }

    private static func paxHeader(_ records: [String: String], for path: String, modificationTime: Int64) -> [UInt8] {
        let body = PAXRecords.encode(records)
        var block = [UInt8](repeating: 0, count: TarHeaderBlock.size)
        let baseName = path.split(separator: "/").last.map(String.init) ?? "entry"
        // A stable name, so that the archive is deterministic (GNU tar puts its process ID there).
        let name = Array("PaxHeaders/".utf8) + asciiFallback(baseName)
        TarHeaderBlock.writeBytes(name.prefix(TarHeaderBlock.name.length), TarHeaderBlock.name, into: &block)
        TarHeaderBlock.writeOctal(0o644, TarHeaderBlock.mode, into: &block)
        TarHeaderBlock.writeOctal(0, TarHeaderBlock.uid, into: &block)
        TarHeaderBlock.writeOctal(0, TarHeaderBlock.gid, into: &block)
        TarHeaderBlock.writeOctal(Int64(body.count), TarHeaderBlock.contentSize, into: &block)
        let clampedTime = min(max(modificationTime, 0), TarHeaderBlock.octalLimit(TarHeaderBlock.modificationTime))
        TarHeaderBlock.writeOctal(clampedTime, TarHeaderBlock.modificationTime, into: &block)
        block[TarHeaderBlock.typeFlagOffset] = UInt8(ascii: "x")
        TarHeaderBlock.writeBytes("ustar\0".utf8, TarHeaderBlock.magic, into: &block)
        TarHeaderBlock.writeBytes("00".utf8, TarHeaderBlock.version, into: &block)
        TarHeaderBlock.writeChecksum(into: &block)
        let padding = (TarHeaderBlock.size - body.count % TarHeaderBlock.size) % TarHeaderBlock.size
        return block + body + [UInt8](repeating: 0, count: padding)
    }
}
