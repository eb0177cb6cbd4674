/// What a ``TarReader`` reports as it reads, in order: for each entry, `.entry`, its content in any number of
/// `.content` pieces, then `.entryEnd`; after the end-of-archive blocks, `.archiveEnd`.
public enum TarEvent {
    /// `offset` is where the entry's first header starts in the tar stream (its PAX or GNU long-name header, if any).
    case entry(TarEntry, offset: UInt64)
    /// A piece of the current entry's content. The buffer is valid only during the call that delivers it.
    case content(UnsafeRawBufferPointer)
    case entryEnd
    case archiveEnd
}

/// An incremental tar reader: fed the archive in chunks of any size (a decompressed HTTP body, a file read piecewise),
/// it reports entries and their content as they complete, holding at most one header and one entry's extended
/// metadata, never content.
///
/// Reads ustar, POSIX PAX (`x` and `g` headers), GNU (long names `L` and `K`, base-256 numbers) and v7 archives. Type
/// `7` (contiguous) is read as a regular file. Content is delivered straight from the caller's chunks, not copied.
///
/// ```swift
/// var reader = TarReader()
/// for chunk in chunks {
///     try reader.consume(chunk) { event throws(TarError) in ... }
/// }
/// try reader.finish { event throws(TarError) in ... }
/// ```
public struct TarReader: Sendable, ChunkConsumer {
    /// Extended metadata (PAX records, GNU long names) above this size is refused: a name is at most a few KiB, and the
    /// limit keeps a hostile header from making the reader hold an arbitrary amount.
    public static let defaultMetadataLimit = 1 << 20

    private enum MetadataKind: Sendable {
        case paxEntry
        case paxGlobal
        case gnuLongName
        case gnuLongLinkTarget

        var description: String {
            switch self {
            case .paxEntry: "PAX extended header (type x)"
            case .paxGlobal: "PAX global header (type g)"
            case .gnuLongName: "GNU long name (type L)"
            case .gnuLongLinkTarget: "GNU long link name (type K)"
            }
        }
    }

    private enum State: Sendable {
        case header
        case metadata(MetadataKind, remaining: Int, padding: Int)
        case content(remaining: UInt64, padding: Int)
        case padding(remaining: Int)
        case ended
        case failed(TarError)
    }

    public let metadataLimit: Int
    /// Bytes of the tar stream consumed so far.
    public private(set) var offset: UInt64 = 0
    private var state: State = .header
    private var headerBuffer: [UInt8] = []
    private var metadataBuffer: [UInt8] = []
    private var sawZeroBlock = false
    private var globalPAX: [String: [UInt8]] = [:]
    private var entryPAX: [String: [UInt8]] = [:]
    private var longName: [UInt8]?
    private var longLinkTarget: [UInt8]?
    /// Where the entry being read started (its first extension header), once one of its headers has been read.
    private var entryStart: UInt64?
    /// The entry whose content is being read, or the last one read: truncation errors name it.
    private var currentEntry: TarEntry?

    public init(metadataLimit: Int = defaultMetadataLimit) {
        self.metadataLimit = metadataLimit
    }

    /// True once the end-of-archive blocks have been read; bytes after them (GNU tar pads to 10 KiB) are skipped.
    public var isAtEnd: Bool {
        if case .ended = state { return true }
        return false
    }

    public mutating func consume(
        _ chunk: UnsafeRawBufferPointer, _ handle: (TarEvent) throws(TarError) -> Void
    ) throws(TarError) {
        if case .failed(let error) = state { throw error }
        do {
            try read(chunk, handle)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Declares the end of the input. Input that ends between entries, or in the padding after an entry's complete
    /// content, ends the archive, with or without the end-of-archive blocks: image tools write layers without them
    /// (umoci leaves out the last padding too), and Go's and containerd's readers take the end of input there as the
    /// end; a layer cut at an entry boundary is caught by its digest instead. Input that ends inside a header or an
    /// entry's content is truncated.
    public mutating func finish(_ handle: (TarEvent) throws(TarError) -> Void) throws(TarError) {
        switch state {
        case .failed(let error):
            throw error
        case .ended:
            return
        case .header where headerBuffer.isEmpty:
            if entryStart != nil {
                throw truncation(
                    "the archive ends after extension headers", found: "no entry after its extension headers",
                    expected: "the header of the entry they describe")
            }
            state = .ended
            try handle(.archiveEnd)
        case .header:
            throw truncation(
                "the archive ends inside a header", found: "\(headerBuffer.count) of 512 header bytes",
                expected: "512 bytes")
        case .metadata(let kind, let remaining, _):
            throw truncation(
                "the archive ends inside a \(kind.description)",
                found: "\(metadataBuffer.count) bytes", expected: "\(metadataBuffer.count + remaining) bytes")
        case .content(let remaining, _):
            let size = currentEntry?.size ?? remaining
            throw truncation(
                "the archive ends inside an entry's content", found: "\(size - remaining) bytes of content",
                expected: "\(size) bytes")
        case .padding:
            // The last entry's content is complete; umoci leaves out the padding after it as well as the end blocks.
            state = .ended
            try handle(.archiveEnd)
        }
    }

    private func truncation(_ problem: String, found: String, expected: String) -> TarError {
        TarError(
            .truncatedArchive, problem, found: found, expected: expected, entry: currentEntry?.path, offset: offset,
            hint: "the download or the decompression stopped early; fetch the layer again and check its digest")
    }

    private mutating func read(
        _ chunk: UnsafeRawBufferPointer, _ handle: (TarEvent) throws(TarError) -> Void
    ) throws(TarError) {
        var position = 0
        while position < chunk.count {
            let available = chunk.count - position
            switch state {
            case .failed(let error):
                throw error
            case .ended:
                offset += UInt64(available)
                return
            case .header:
                let blockOffset = offset - UInt64(headerBuffer.count)
                if headerBuffer.isEmpty && available >= TarHeaderBlock.size {
                    let block = UnsafeRawBufferPointer(rebasing: chunk[position..<(position + TarHeaderBlock.size)])
                    position += TarHeaderBlock.size
                    offset += UInt64(TarHeaderBlock.size)
                    try readHeader(block, at: blockOffset, handle)
                } else {
                    let taken = min(TarHeaderBlock.size - headerBuffer.count, available)
                    headerBuffer.append(contentsOf: chunk[position..<(position + taken)])
                    position += taken
                    offset += UInt64(taken)
                    if headerBuffer.count == TarHeaderBlock.size {
                        let block = headerBuffer
                        headerBuffer.removeAll(keepingCapacity: true)
                        try withBytes(of: block) { buffer throws(TarError) in try readHeader(buffer, at: blockOffset, handle) }
                    }
                }
            case .metadata(let kind, let remaining, let padding):
                let taken = min(remaining, available)
                metadataBuffer.append(contentsOf: chunk[position..<(position + taken)])
                position += taken
                offset += UInt64(taken)
                if taken == remaining {
                    state = Self.afterContent(padding: padding)
                    try completeMetadata(kind)
                } else {
                    state = .metadata(kind, remaining: remaining - taken, padding: padding)
                }
            case .content(let remaining, let padding):
                let taken = Int(min(remaining, UInt64(available)))
                position += taken
                offset += UInt64(taken)
                let isComplete = UInt64(taken) == remaining
                state =
                    isComplete
                    ? Self.afterContent(padding: padding) : .content(remaining: remaining - UInt64(taken), padding: padding)
                try handle(.content(UnsafeRawBufferPointer(rebasing: chunk[(position - taken)..<position])))
                if isComplete { try handle(.entryEnd) }
            case .padding(let remaining):
                let taken = min(remaining, available)
                position += taken
                offset += UInt64(taken)
                state = taken == remaining ? .header : .padding(remaining: remaining - taken)
            }
        }
    }

    private static func afterContent(padding: Int) -> State {
        padding == 0 ? .header : .padding(remaining: padding)
    }

    private static func padding(after size: UInt64) -> Int {
        Int((UInt64(TarHeaderBlock.size) - size % UInt64(TarHeaderBlock.size)) % UInt64(TarHeaderBlock.size))
    }

    private mutating func readHeader(
        _ block: UnsafeRawBufferPointer, at blockOffset: UInt64, _ handle: (TarEvent) throws(TarError) -> Void
    ) throws(TarError) {
        if TarHeaderBlock.isZero(block) {
            if sawZeroBlock {
                state = .ended
                try handle(.archiveEnd)
            } else if entryStart != nil {
                throw TarError(
                    .malformedHeader, "extension headers are followed by the end of the archive",
                    found: "a zero block", expected: "the header of the entry they describe",
                    entry: longName.map { String(decoding: $0, as: UTF8.self) }, offset: blockOffset,
                    hint: "the archive was cut or badly written; rebuild the layer")
            } else {
                sawZeroBlock = true
            }
            return
        }
        let headerName = String(decoding: TarHeaderBlock.stringBytes(block, TarHeaderBlock.name), as: UTF8.self)
        if sawZeroBlock {
            // GNU tar stops at such a block and Go's reader fails: refusing keeps both from seeing different files.
            throw TarError(
                .malformedHeader, "a single zero block is followed by another header", found: "a header after one zero block",
                expected: "two zero blocks ending the archive, or no zero block", entry: headerName,
                offset: blockOffset - UInt64(TarHeaderBlock.size),
                hint: "the archive was concatenated or corrupted; rebuild the layer")
        }
        try verifyChecksum(block, at: blockOffset, name: headerName)
        let typeFlag = block[TarHeaderBlock.typeFlagOffset]
        // A global header belongs to no entry; the others start the entry they describe.
        if entryStart == nil && typeFlag != UInt8(ascii: "g") { entryStart = blockOffset }
        let metadataKind: MetadataKind? =
            switch typeFlag {
            case UInt8(ascii: "x"): .paxEntry
            case UInt8(ascii: "g"): .paxGlobal
            case UInt8(ascii: "L"): .gnuLongName
            case UInt8(ascii: "K"): .gnuLongLinkTarget
            default: nil
            }
        let headerSize = try number(block, TarHeaderBlock.contentSize, at: blockOffset, name: headerName)
        if let metadataKind {
            guard headerSize >= 0, headerSize <= metadataLimit else {
                throw TarError(
                    .metadataTooLarge, "a \(metadataKind.description) is too large", found: "\(headerSize) bytes",
                    expected: "at most \(metadataLimit) bytes", entry: headerName, offset: blockOffset,
                    hint: "names and PAX records are small; this archive is corrupt or hostile")
            }
            metadataBuffer.removeAll(keepingCapacity: true)
            let size = Int(headerSize)
            state = .metadata(metadataKind, remaining: size, padding: Self.padding(after: UInt64(size)))
            if size == 0 { try completeMetadataWithoutContent(metadataKind) }
            return
        }
        let entry = try makeEntry(block, typeFlag: typeFlag, headerSize: headerSize, at: blockOffset, name: headerName)
        let start = entryStart ?? blockOffset
        entryPAX = [:]
        longName = nil
        longLinkTarget = nil
        entryStart = nil
        currentEntry = entry
        try handle(.entry(entry, offset: start))
        if entry.size > 0 {
            state = .content(remaining: entry.size, padding: Self.padding(after: entry.size))
        } else {
            state = .header
            try handle(.entryEnd)
        }
    }

    private mutating func completeMetadataWithoutContent(_ kind: MetadataKind) throws(TarError) {
        state = .header
        try completeMetadata(kind)
    }

    private mutating func completeMetadata(_ kind: MetadataKind) throws(TarError) {
        switch kind {
        case .paxEntry, .paxGlobal:
            let records: [(key: String, value: [UInt8])]
            do {
                records = try PAXRecords.parse(metadataBuffer)
            } catch {
                let reason =
                    switch error {
                    case .malformed(let reason): reason
                    }
                throw TarError(
                    .badPAXRecord, "a \(kind.description) is malformed", found: reason,
                    expected: "records of the form \"LENGTH KEY=VALUE\\n\"", entry: currentEntry?.path,
                    offset: entryStart, hint: "the archive is corrupt; rebuild the layer")
            }
            for (key, value) in records {
                if kind == .paxGlobal {
                    globalPAX[key] = value.isEmpty ? nil : value
                } else {
                    entryPAX[key] = value
                }
            }
        case .gnuLongName:
            longName = Array(metadataBuffer.prefix { $0 != 0 })
        case .gnuLongLinkTarget:
            longLinkTarget = Array(metadataBuffer.prefix { $0 != 0 })
        }
        metadataBuffer.removeAll(keepingCapacity: true)
    }

    private func verifyChecksum(_ block: UnsafeRawBufferPointer, at blockOffset: UInt64, name: String) throws(TarError) {
        let recorded = try number(block, TarHeaderBlock.checksum, at: blockOffset, name: name)
        let sums = TarHeaderBlock.checksums(of: block)
        guard recorded == sums.unsigned || recorded == sums.signed else {
            throw TarError(
                .badChecksum, "a header's checksum does not match its bytes", found: "checksum \(recorded)",
                expected: "\(sums.unsigned) (or \(sums.signed) summed as signed bytes)", entry: name,
                offset: blockOffset,
                hint: "the header is corrupt, or the stream is not a tar archive (is it compressed in a way not detected?)")
        }
    }

    private func number(
        _ block: UnsafeRawBufferPointer, _ field: TarHeaderBlock.Field, at blockOffset: UInt64, name: String
    ) throws(TarError) -> Int64 {
        do {
            return try TarHeaderBlock.number(block, field)
        } catch {
            let shown = block[field.range].map { byte in
                (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
            }.joined()
            let reason =
                switch error {
                case .invalidCharacter(let byte): "the byte \(byte)"
                case .overflow: "a number too large for 64 bits"
                }
            throw TarError(
                .badNumericField, "the \(field.name) field of a header is not a number",
                found: "\"\(shown)\" (\(reason))", expected: "octal digits ended by a space or NUL, or a base-256 number",
                entry: name, offset: blockOffset + UInt64(field.offset), hint: "the header is corrupt; rebuild the layer")
        }
    }

    private func string(
        _ bytes: some Collection<UInt8>, what: String, at blockOffset: UInt64, fallbackName: String
    ) throws(TarError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TarError(
                .invalidName, "the \(what) of an entry is not UTF-8",
                found: "the bytes " + bytes.map { String($0, radix: 16) }.joined(separator: " "),
                expected: "UTF-8 text", entry: fallbackName, offset: blockOffset,
                hint: "rebuild the image with UTF-8 file names (convmv can rename files)")
        }
        return text
    }

    private func makeEntry(
        _ block: UnsafeRawBufferPointer, typeFlag: UInt8, headerSize: Int64, at blockOffset: UInt64, name headerName: String
    ) throws(TarError) -> TarEntry {
        let format = TarHeaderBlock.format(of: block)
        let pax = globalPAX.merging(entryPAX) { _, entry in entry }.filter { !$0.value.isEmpty }

        let nameBytes: [UInt8]
        if let path = pax["path"] {
            nameBytes = path
        } else if let longName {
            nameBytes = longName
        } else {
            let prefix = format == .ustar ? Array(TarHeaderBlock.stringBytes(block, TarHeaderBlock.prefix)) : []
            let name = TarHeaderBlock.stringBytes(block, TarHeaderBlock.name)
            nameBytes = prefix.isEmpty ? Array(name) : prefix + [UInt8(ascii: "/")] + Array(name)
        }
        let path = try string(nameBytes, what: "name", at: blockOffset, fallbackName: headerName)
        guard !path.isEmpty else {
            throw TarError(
                .invalidName, "an entry has an empty name", found: "an empty name", expected: "a path",
                offset: blockOffset, hint: "the archive is corrupt; rebuild the layer")
        }

        let kind: TarEntryKind =
            switch typeFlag {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): format == .v7 && path.hasSuffix("/") ? .directory : .regularFile
            case UInt8(ascii: "1"): .hardLink
            case UInt8(ascii: "2"): .symbolicLink
            case UInt8(ascii: "3"): .characterDevice
            case UInt8(ascii: "4"): .blockDevice
            case UInt8(ascii: "5"): .directory
            case UInt8(ascii: "6"): .fifo
            default: .other(typeFlag: typeFlag)
            }

        func header(_ field: TarHeaderBlock.Field) throws(TarError) -> Int64 {
            try number(block, field, at: blockOffset, name: path)
        }
        func unsigned<Value: FixedWidthInteger>(
            _ value: Int64, _ fieldName: String, as _: Value.Type
        ) throws(TarError) -> Value {
            guard let converted = Value(exactly: value) else {
                throw TarError(
                    .badNumericField, "the \(fieldName) of an entry is out of range", found: "\(value)",
                    expected: "0 to \(Value.max)", entry: path, offset: blockOffset,
                    hint: "the header is corrupt; rebuild the layer")
            }
            return converted
        }
        func paxNumber(_ key: String) throws(TarError) -> UInt64? {
            guard let value = pax[key] else { return nil }
            guard value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let number = UInt64(String(decoding: value, as: UTF8.self))
            else {
                throw TarError(
                    .badPAXRecord, "the PAX record \(key) is not a number",
                    found: "\"\(String(decoding: value, as: UTF8.self))\"", expected: "a decimal number below 2^64",
                    entry: path, offset: entryStart, hint: "the archive is corrupt; rebuild the layer")
            }
            return number
        }

        let size: UInt64
        if let paxSize = try paxNumber("size") {
            size = paxSize
        } else {
            size = try unsigned(headerSize, "size", as: UInt64.self)
        }
        let mode = try unsigned(try header(TarHeaderBlock.mode), "mode", as: UInt64.self)
        // `??` cannot take a typed-throwing right side.
        var uid = try paxNumber("uid")
        if uid == nil { uid = try unsigned(try header(TarHeaderBlock.uid), "uid", as: UInt64.self) }
        var gid = try paxNumber("gid")
        if gid == nil { gid = try unsigned(try header(TarHeaderBlock.gid), "gid", as: UInt64.self) }
        var modificationTime = try paxTime(pax["mtime"], path: path)
        if modificationTime == nil { modificationTime = try header(TarHeaderBlock.modificationTime) }
        let linkTargetBytes = pax["linkpath"] ?? longLinkTarget ?? Array(TarHeaderBlock.stringBytes(block, TarHeaderBlock.linkName))
        let linkTarget = try string(linkTargetBytes, what: "link target", at: blockOffset, fallbackName: path)

        var deviceMajor: UInt32 = 0
        var deviceMinor: UInt32 = 0
        if kind == .characterDevice || kind == .blockDevice {
            deviceMajor = try unsigned(try header(TarHeaderBlock.deviceMajor), "device major number", as: UInt32.self)
            deviceMinor = try unsigned(try header(TarHeaderBlock.deviceMinor), "device minor number", as: UInt32.self)
        }
        let hasNames = format != .v7
        return TarEntry(
            path: path, kind: kind, size: size, mode: UInt32(mode & 0o7777), uid: uid ?? 0, gid: gid ?? 0,
            userName: pax["uname"].map { String(decoding: $0, as: UTF8.self) }
                ?? (hasNames ? String(decoding: TarHeaderBlock.stringBytes(block, TarHeaderBlock.userName), as: UTF8.self) : ""),
            groupName: pax["gname"].map { String(decoding: $0, as: UTF8.self) }
                ?? (hasNames ? String(decoding: TarHeaderBlock.stringBytes(block, TarHeaderBlock.groupName), as: UTF8.self) : ""),
            modificationTime: modificationTime ?? 0, linkTarget: linkTarget, deviceMajor: deviceMajor,
            deviceMinor: deviceMinor, paxRecords: pax.mapValues { String(decoding: $0, as: UTF8.self) })
    }

    /// A PAX time: optional sign, decimal seconds, optional fraction; rounded down to whole seconds.
    private func paxTime(_ value: [UInt8]?, path: String) throws(TarError) -> Int64? {
        guard let value else { return nil }
        let text = String(decoding: value, as: UTF8.self)
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let fraction = parts.count == 2 ? parts[1] : ""
        guard let whole = parts.first, let seconds = Int64(whole), fraction.allSatisfy(\.isASCIIDigit) else {
            throw TarError(
                .badPAXRecord, "the PAX record mtime is not a time", found: "\"\(text)\"",
                expected: "decimal seconds with an optional fraction", entry: path, offset: entryStart,
                hint: "the archive is corrupt; rebuild the layer")
        }
        let hasFraction = fraction.contains { $0 != "0" }
        return whole.hasPrefix("-") && hasFraction && seconds > .min ? seconds - 1 : seconds
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
