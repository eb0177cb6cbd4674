/// Reads an image layer blob (gzip or uncompressed tar, told by its first bytes) in chunks and reports its tar
/// events: a ``LayerDecompressor`` feeding a ``TarReader``.
///
/// ```swift
/// var reader = LayerReader()
/// for try await chunk in response.body {
///     try reader.consume(chunk) { event throws(TarError) in try root.apply(event) }
/// }
/// try reader.finish { event throws(TarError) in try root.apply(event) }
/// ```
public struct LayerReader: ~Copyable, ChunkConsumer {
    private var decompressor: LayerDecompressor
    private var tarReader: TarReader

    public init(outputChunkSize: Int = LayerDecompressor.defaultOutputChunkSize, metadataLimit: Int = TarReader.defaultMetadataLimit) {
        decompressor = LayerDecompressor(outputChunkSize: outputChunkSize)
        tarReader = TarReader(metadataLimit: metadataLimit)
    }

    /// The compression found, once enough bytes have been seen.
    public var compression: LayerCompression? { decompressor.compression }
    /// Bytes of the blob consumed so far.
    public var compressedOffset: UInt64 { decompressor.offset }
    /// Bytes of tar read so far.
    public var tarOffset: UInt64 { tarReader.offset }

    public mutating func consume(
        _ chunk: UnsafeRawBufferPointer, _ handle: (TarEvent) throws(TarError) -> Void
    ) throws(TarError) {
        try decompressor.consume(chunk) { tar throws(TarError) in try tarReader.consume(tar, handle) }
    }

    /// Declares the end of the blob; fails if the compressed stream or the archive is truncated.
    public mutating func finish(_ handle: (TarEvent) throws(TarError) -> Void) throws(TarError) {
        try decompressor.finish { tar throws(TarError) in try tarReader.consume(tar, handle) }
        try tarReader.finish(handle)
    }
}
