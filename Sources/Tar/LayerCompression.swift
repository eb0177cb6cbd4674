import CompressNIO
import NIOCore

/// How a layer blob is compressed, as told by its first bytes (media types lie often enough not to be trusted).
public enum LayerCompression: Sendable, Equatable {
    case uncompressed
    case gzip
    case zstd
    case bzip2
    case xz

    private static let magics: [(LayerCompression, [UInt8])] = [
        (.gzip, [0x1F, 0x8B]),
        (.zstd, [0x28, 0xB5, 0x2F, 0xFD]),
        (.bzip2, Array("BZh".utf8)),
        (.xz, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]),
    ]

    /// The longest prefix ``detect(_:)`` may need.
    public static let longestMagic = 6

    /// The compression of a blob starting with `prefix`, or nil while `prefix` is too short to tell (it matches the
    /// start of a magic number). A tar archive starts with a file name, which none of these magic numbers begins.
    public static func detect(_ prefix: some Collection<UInt8>) -> LayerCompression? {
        for (compression, magic) in magics {
            if prefix.count >= magic.count {
                if prefix.starts(with: magic) { return compression }
            } else if magic.starts(with: prefix) {
                return nil
            }
        }
        return .uncompressed
    }
}

/// Decompresses a layer blob in chunks, detecting its compression from its first bytes: gzip is inflated, an
/// uncompressed tar passes through, zstd, bzip2 and xz are refused by name.
///
/// Memory stays bounded by `outputChunkSize` whatever the layer's size: output is handed on as each piece is inflated.
/// Concatenated gzip members (as `cat a.gz b.gz` makes) are read as one stream, as gzip and Go read them.
///
/// Not copyable: it owns zlib's stream state.
public struct LayerDecompressor: ~Copyable, ChunkConsumer {
    public static let defaultOutputChunkSize = 256 * 1024

    private enum Phase {
        case detecting([UInt8])
        case passThrough
        /// `memberEnded`: the current gzip member's trailer has been read, so the stream may end here.
        case inflating(ZlibDecompressor, memberEnded: Bool)
        case failed(TarError)
    }

    private var phase: Phase = .detecting([])
    private var input: ByteBuffer
    private var output: ByteBuffer
    /// Compressed bytes consumed so far.
    public private(set) var offset: UInt64 = 0

    public init(outputChunkSize: Int = defaultOutputChunkSize) {
        input = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        output = ByteBufferAllocator().buffer(capacity: max(outputChunkSize, 4096))
    }

    /// The compression found, once enough bytes have been seen.
    public var compression: LayerCompression? {
        switch phase {
        case .detecting, .failed: nil
        case .passThrough: .uncompressed
        case .inflating: .gzip
        }
    }

    /// Decompresses `chunk`, handing each piece of output to `handle`.
    public mutating func consume(
        _ chunk: UnsafeRawBufferPointer, _ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        do {
            try decompress(chunk, handle)
        } catch {
            phase = .failed(error)
            throw error
        }
    }

    /// Declares the end of the blob: a gzip stream that stops before its trailer is truncated.
    public mutating func finish(_ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void) throws(TarError) {
        switch phase {
        case .failed(let error):
            throw error
        case .detecting(let prefix):
            // Too short for any magic number: let the tar reader judge it.
            phase = .passThrough
            try withBytes(of: prefix, handle)
        case .passThrough:
            return
        case .inflating(_, let memberEnded):
            guard memberEnded else {
                throw TarError(
                    .truncatedCompressedData, "the gzip stream ends before its end", found: "the end of input",
                    expected: "the rest of the deflate data and the gzip trailer (CRC-32 and length)", offset: offset,
                    hint: "the download stopped early; fetch the layer again and check its digest")
            }
        }
    }

    private mutating func decompress(
        _ chunk: UnsafeRawBufferPointer, _ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        switch phase {
        case .failed(let error):
            throw error
        case .passThrough:
            offset += UInt64(chunk.count)
            try handle(chunk)
        case .detecting(var prefix):
            let needed = min(LayerCompression.longestMagic - prefix.count, chunk.count)
            prefix.append(contentsOf: chunk[0..<needed])
            guard let compression = LayerCompression.detect(prefix) else {
                phase = .detecting(prefix)
                offset += UInt64(needed)
                return
            }
            try start(compression)
            // The detection prefix is replayed before the rest of the chunk, as the stream's first bytes.
            let alreadyCounted = UInt64(prefix.count - needed)
            offset -= alreadyCounted
            try withBytes(of: prefix) { buffer throws(TarError) in try decompress(buffer, handle) }
            try decompress(UnsafeRawBufferPointer(rebasing: chunk[needed...]), handle)
        case .inflating(let decompressor, var memberEnded):
            input.clear()
            input.writeBytes(chunk)
            while input.readableBytes > 0 {
                if memberEnded {
                    // Bytes after a member's trailer must be another member.
                    do { try decompressor.reset() } catch { throw zlibFailure(error) }
                    memberEnded = false
                }
                let before = input.readableBytes
                output.clear()
                var needsInput = false
                do {
                    try decompressor.inflate(from: &input, to: &output)
                    // Without an error zlib either reached the member's end or used all the input; only an empty
                    // call tells the two apart when no input is left.
                    memberEnded = input.readableBytes > 0 || hasReachedEnd(decompressor)
                    needsInput = !memberEnded
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    needsInput = false
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    needsInput = true
                } catch {
                    offset += UInt64(before - input.readableBytes)
                    throw zlibFailure(error)
                }
                offset += UInt64(before - input.readableBytes)
                phase = .inflating(decompressor, memberEnded: memberEnded)
                try deliverOutput(handle)
                if needsInput && input.readableBytes == 0 { break }
            }
            phase = .inflating(decompressor, memberEnded: memberEnded)
        }
    }

    private mutating func start(_ compression: LayerCompression) throws(TarError) {
        switch compression {
        case .uncompressed:
            phase = .passThrough
        case .gzip:
            do {
                phase = .inflating(try ZlibDecompressor(algorithm: .gzip), memberEnded: false)
            } catch {
                throw zlibFailure(error)
            }
        case .zstd, .bzip2, .xz:
            throw TarError(
                .unsupportedCompression, "the layer is compressed with \(compression), which Cloister does not read",
                found: "\(compression) magic bytes", expected: "gzip (1f 8b) or an uncompressed tar", offset: 0,
                hint: "convert the image to gzip layers first, e.g. skopeo copy --dest-compress-format gzip")
        }
    }

    private func hasReachedEnd(_ decompressor: ZlibDecompressor) -> Bool {
        var empty = ByteBufferAllocator().buffer(capacity: 0)
        var scratch = ByteBufferAllocator().buffer(capacity: 16)
        do {
            try decompressor.inflate(from: &empty, to: &scratch)
            return true
        } catch {
            return false
        }
    }

    private mutating func deliverOutput(_ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void) throws(TarError) {
        guard output.readableBytes > 0 else { return }
        let result = output.withUnsafeReadableBytes { buffer in
            Result { () throws(TarError) in try handle(buffer) }
        }
        try result.get()
    }

    private func zlibFailure(_ error: any Error) -> TarError {
        let afterMember: Bool
        if case .inflating(_, let memberEnded) = phase { afterMember = memberEnded } else { afterMember = false }
        if let error = error as? CompressNIOError, error == .corruptData {
            return TarError(
                .corruptCompressedData,
                afterMember ? "bytes after the end of a gzip member are not another gzip member" : "the gzip data is corrupt",
                found: "data zlib rejects (bad header, deflate data or CRC-32)", expected: "a valid gzip stream",
                offset: offset, hint: "the blob is damaged or not gzip; fetch the layer again and check its digest")
        }
        return TarError(
            .corruptCompressedData, "zlib failed", found: "\(error)", expected: "zlib to inflate the stream", offset: offset,
            hint: "this is unexpected; report it with the image reference")
    }
}

/// Compresses a tar stream with gzip in chunks, at a given level (1, the default, is fastest: image conversion is
/// bound by compression time, and level 1 loses little for typical layers).
///
/// Not copyable: it owns zlib's stream state.
public struct GzipCompressor: ~Copyable {
    private let compressor: ZlibCompressor
    private var input: ByteBuffer
    private var output: ByteBuffer
    private var isFinished = false

    public init(level: Int = 1, outputChunkSize: Int = 256 * 1024) throws(TarError) {
        guard (0...9).contains(level) else {
            throw TarError(
                .valueOutOfRange, "the gzip level is out of range", found: "\(level)", expected: "0 to 9",
                hint: "use 1 for speed, 6 for gzip's default, 9 for the smallest layers")
        }
        do {
            compressor = try ZlibCompressor(algorithm: .gzip, configuration: ZlibConfiguration(compressionLevel: Int32(level)))
        } catch {
            throw TarError(
                .corruptCompressedData, "zlib could not start a gzip stream", found: "\(error)",
                expected: "a zlib deflate stream", hint: "this is unexpected; the machine may be out of memory")
        }
        input = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        output = ByteBufferAllocator().buffer(capacity: max(outputChunkSize, 4096))
    }

    public mutating func compress<Bytes: Collection<UInt8>>(
        _ chunk: Bytes, _ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        try withContiguousBytes(chunk) { buffer throws(TarError) in try compress(buffer, handle) }
    }

    /// Compresses `chunk`, handing compressed output to `handle` as zlib produces it.
    public mutating func compress(
        _ chunk: UnsafeRawBufferPointer, _ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) {
        guard !isFinished else { throw finishedMisuse() }
        input.clear()
        input.writeBytes(chunk)
        while input.readableBytes > 0 {
            try step(flush: .no, handle)
        }
    }

    /// Flushes the rest of the stream and its trailer.
    public mutating func finish(_ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void) throws(TarError) {
        guard !isFinished else { throw finishedMisuse() }
        isFinished = true
        input.clear()
        while try !step(flush: .finish, handle) {}
    }

    /// One call into zlib; true when the stream is complete.
    @discardableResult
    private mutating func step(
        flush: CompressNIOFlush, _ handle: (UnsafeRawBufferPointer) throws(TarError) -> Void
    ) throws(TarError) -> Bool {
        output.clear()
        var isComplete = false
        do {
            try compressor.deflate(from: &input, to: &output, flush: flush)
            isComplete = flush == .finish
        } catch let error as CompressNIOError where error == .bufferOverflow {
            isComplete = false
        } catch {
            throw TarError(
                .corruptCompressedData, "zlib failed to compress", found: "\(error)", expected: "deflate to succeed",
                hint: "this is unexpected; the machine may be out of memory")
        }
        if output.readableBytes > 0 {
            try output.withUnsafeReadableBytes { buffer in
                Result { () throws(TarError) in try handle(buffer) }
            }.get()
        }
        return isComplete
    }

    private func finishedMisuse() -> TarError {
        TarError(
            .writerMisuse, "gzip output was written after the stream was finished", found: "a finished stream",
            expected: "compress calls before finish", hint: "this is a bug in the caller of GzipCompressor")
    }
}
