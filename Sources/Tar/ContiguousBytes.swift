/// Calls `body` with the bytes of `bytes` in one contiguous buffer, without copying when the collection already stores
/// them contiguously (arrays, slices of arrays, `Data`).
///
/// The standard library's `withContiguousStorageIfAvailable` and `withUnsafeBytes` are `rethrows`, which erases a
/// typed error; the `Result` carries it through intact.
func withContiguousBytes<Bytes: Collection<UInt8>, Value>(
    _ bytes: Bytes, _ body: (UnsafeRawBufferPointer) throws(TarError) -> Value
) throws(TarError) -> Value {
    let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
        Result { () throws(TarError) -> Value in try body(UnsafeRawBufferPointer(buffer)) }
    }
    if let contiguous { return try contiguous.get() }
    return try withBytes(of: Array(bytes), body)
}

/// `Array.withUnsafeBytes` with `body`'s typed error kept.
func withBytes<Value>(
    of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(TarError) -> Value
) throws(TarError) -> Value {
    try array.withUnsafeBytes { buffer in
        Result { () throws(TarError) -> Value in try body(buffer) }
    }.get()
}

/// A stage of the layer pipeline fed chunk by chunk (decompressor, tar reader, layer reader): it consumes a buffer,
/// and any byte collection through that buffer, without a copy when the collection is contiguous.
public protocol ChunkConsumer: ~Copyable {
    associatedtype Output
    mutating func consume(_ chunk: UnsafeRawBufferPointer, _ handle: (Output) throws(TarError) -> Void) throws(TarError)
}

extension ChunkConsumer where Self: ~Copyable {
    public mutating func consume<Bytes: Collection<UInt8>>(
        _ chunk: Bytes, _ handle: (Output) throws(TarError) -> Void
    ) throws(TarError) {
        try withContiguousBytes(chunk) { buffer throws(TarError) in try consume(buffer, handle) }
    }
}
