/// `Array.withUnsafeBytes` and `withUnsafeMutableBytes` only rethrow untyped errors; these keep `ProtectedFileError`
/// typed through the closure.
extension Array where Element == UInt8 {
    func withBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws(ProtectedFileError) -> Result
    ) throws(ProtectedFileError) -> Result {
        let outcome = withUnsafeBytes { buffer in Swift.Result { () throws(ProtectedFileError) in try body(buffer) } }
        return try outcome.get()
    }

    mutating func withMutableBytes<Result>(
        _ body: (UnsafeMutableRawBufferPointer) throws(ProtectedFileError) -> Result
    ) throws(ProtectedFileError) -> Result {
        let outcome = withUnsafeMutableBytes { buffer in Swift.Result { () throws(ProtectedFileError) in try body(buffer) } }
        return try outcome.get()
    }
}
