import Foundation
import NIOCore

/// The bytes of one blob or manifest as chunks, read as they are consumed: memory stays bounded by the chunk size
/// whatever the blob's size. A stream is read once.
public struct BlobStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = ImageTransferError

    /// Where the bytes come from (a URL or a path), for messages.
    public let origin: String
    /// The length when known beforehand (from a descriptor or a file's size).
    public let length: Int64?
    let base: any AsyncSequence<ByteBuffer, any Error> & Sendable

    init(origin: String, length: Int64?, base: any AsyncSequence<ByteBuffer, any Error> & Sendable) {
        self.origin = origin
        self.length = length
        self.base = base
    }

    /// A stream over bytes already in memory.
    public init(bytes: [UInt8], origin: String) {
        self.init(origin: origin, length: Int64(bytes.count), base: MemoryChunks(buffer: ByteBuffer(bytes: bytes)))
    }

    /// A stream over a local file, read in chunks of `chunkSize` bytes.
    public init(contentsOfFile path: String, chunkSize: Int = 1 << 20) throws(ImageTransferError) {
        let size: Int64
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        } catch {
            throw .fileSystem(path: path, operation: "read", reason: Self.reason(error))
        }
        self.init(origin: path, length: size, base: FileChunks(path: path, chunkSize: chunkSize))
    }

    /// The same bytes, checked against `digest` (and `size` when given) as they pass: a stream that runs past
    /// `size` fails at once, and one whose hash or length is wrong fails at its end instead of finishing, so a
    /// consumer that reads to the end never acts on wrong content. `progress` sees the running count of bytes hashed.
    public func verified(
        digest: ContentDigest, size: Int64?, progress: (@Sendable (Int64) -> Void)? = nil
    ) -> BlobStream {
        BlobStream(
            origin: origin, length: size ?? length,
            base: VerifyingChunks(base: base, origin: origin, digest: digest, size: size, progress: progress))
    }

    public func verified(against descriptor: Descriptor, progress: (@Sendable (Int64) -> Void)? = nil) -> BlobStream {
        verified(digest: descriptor.digest, size: descriptor.size, progress: progress)
    }

    /// The same bytes, each chunk shown to `observe` before the consumer gets it: one read of a layer can feed an
    /// upload and a scan of its files. An error thrown by `observe` ends the stream with it.
    public func observed(_ observe: @escaping @Sendable (ByteBuffer) throws -> Void) -> BlobStream {
        BlobStream(origin: origin, length: length, base: ObservedChunks(base: base, observe: observe))
    }

    /// Reads the whole stream, refusing more than `limit` bytes: for manifests and configurations only.
    public func collect(upTo limit: Int, what: String) async throws(ImageTransferError) -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in self {
            guard bytes.count + chunk.readableBytes <= limit else { throw .tooLarge(location: origin, what: what, limit: limit) }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: Self.iterator(of: base), origin: origin)
    }

    static func iterator<Base: AsyncSequence<ByteBuffer, any Error>>(of base: Base) -> any AsyncIteratorProtocol<ByteBuffer, any Error> {
        base.makeAsyncIterator()
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: any AsyncIteratorProtocol<ByteBuffer, any Error>
        let origin: String

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(ImageTransferError) -> ByteBuffer? {
            do {
                return try await base.next(isolation: actor)
            } catch let error as ImageTransferError {
                throw error
            } catch {
                throw .readFailed(location: origin, reason: BlobStream.reason(error))
            }
        }

        public mutating func next() async throws(ImageTransferError) -> ByteBuffer? {
            try await next(isolation: nil)
        }
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return String(describing: error)
    }
}

/// Shows each chunk to an observer as it passes.
struct ObservedChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: any AsyncSequence<ByteBuffer, any Error> & Sendable
    let observe: @Sendable (ByteBuffer) throws -> Void

    func makeAsyncIterator() -> Iterator {
        Iterator(base: BlobStream.iterator(of: base), observe: observe)
    }

    struct Iterator: AsyncIteratorProtocol {
        var base: any AsyncIteratorProtocol<ByteBuffer, any Error>
        let observe: @Sendable (ByteBuffer) throws -> Void

        mutating func next(isolation actor: isolated (any Actor)?) async throws -> ByteBuffer? {
            guard let chunk = try await base.next(isolation: actor) else { return nil }
            try observe(chunk)
            return chunk
        }

        mutating func next() async throws -> ByteBuffer? { try await next(isolation: nil) }
    }
}

/// Hashes and counts chunks as they pass and fails the stream when they do not match the expectation.
struct VerifyingChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: any AsyncSequence<ByteBuffer, any Error> & Sendable
    let origin: String
    let digest: ContentDigest
    let size: Int64?
    let progress: (@Sendable (Int64) -> Void)?

    func makeAsyncIterator() -> Iterator {
        Iterator(base: BlobStream.iterator(of: base), chunks: self)
    }

    struct Iterator: AsyncIteratorProtocol {
        var base: any AsyncIteratorProtocol<ByteBuffer, any Error>
        let chunks: VerifyingChunks
        var accumulator = DigestAccumulator()
        var finished = false

        mutating func next(isolation actor: isolated (any Actor)?) async throws -> ByteBuffer? {
            guard !finished else { return nil }
            guard let chunk = try await base.next(isolation: actor) else {
                finished = true
                try check()
                return nil
            }
            accumulator.update(chunk)
            if let size = chunks.size, accumulator.byteCount > size {
                finished = true
                throw ImageTransferError.sizeMismatch(
                    location: chunks.origin, digest: chunks.digest, expected: size, found: size, stoppedEarly: true)
            }
            chunks.progress?(accumulator.byteCount)
            return chunk
        }

        mutating func next() async throws -> ByteBuffer? { try await next(isolation: nil) }

        private func check() throws(ImageTransferError) {
            if let size = chunks.size, accumulator.byteCount != size {
                throw .sizeMismatch(
                    location: chunks.origin, digest: chunks.digest, expected: size, found: accumulator.byteCount, stoppedEarly: false)
            }
            let found = accumulator.finalize()
            guard found == chunks.digest else {
                throw .digestMismatch(location: chunks.origin, expected: chunks.digest, found: found)
            }
        }
    }
}

/// One buffer, handed out in slices so that consumers see chunks of the usual size.
struct MemoryChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer
    var chunkSize = 1 << 20

    func makeAsyncIterator() -> Iterator { Iterator(remaining: buffer, chunkSize: chunkSize) }

    struct Iterator: AsyncIteratorProtocol {
        var remaining: ByteBuffer
        let chunkSize: Int

        mutating func next() async throws -> ByteBuffer? {
            guard remaining.readableBytes > 0 else { return nil }
            return remaining.readSlice(length: Swift.min(chunkSize, remaining.readableBytes))
        }
    }
}

/// A file's bytes, read when asked for. Reads of a local file are short, so they run on the calling thread rather
/// than hopping to a thread pool for each chunk.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let chunkSize: Int

    func makeAsyncIterator() -> Iterator { Iterator(path: path, chunkSize: chunkSize) }

    struct Iterator: AsyncIteratorProtocol {
        let path: String
        let chunkSize: Int
        var handle: FileHandle?
        var finished = false

        init(path: String, chunkSize: Int) {
            self.path = path
            self.chunkSize = chunkSize
        }

        mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            if handle == nil { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)) }
            guard let data = try handle?.read(upToCount: chunkSize), !data.isEmpty else {
                finished = true
                try handle?.close()
                handle = nil
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }
}
