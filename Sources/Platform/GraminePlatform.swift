import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The real platform: an SGX enclave run by Gramine, reached through Gramine's `/dev/attestation` pseudo-files
/// (gramine.md §8). A quote is one exchange (write the 64 bytes of `user_report_data`, then read `quote`), so
/// exchanges are serialized within the process.
///
/// The directory is configurable so that the same code can be exercised against a directory laid out like
/// `/dev/attestation` whose other side is played by a test.
public final class GraminePlatform: EnclavePlatform {
    public static let defaultDirectory = URL(fileURLWithPath: "/dev/attestation", isDirectory: true)

    /// The largest quote accepted; real DCAP quotes with a PEM chain are about 4.6 KiB.
    static let maximumQuoteSize = 1 << 20

    public let attestationDirectory: URL
    public var kind: PlatformKind { .gramine }
    private let exchange = Mutex(())

    /// Connects to Gramine's attestation interface; fails unless `attestation_type` says `dcap`.
    public init(attestationDirectory: URL = GraminePlatform.defaultDirectory) throws(PlatformError) {
        self.attestationDirectory = attestationDirectory
        let typeFile = path("attestation_type")
        let type = String(decoding: try Self.readAll(typeFile), as: UTF8.self)
            .trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
        guard type == "dcap" else { throw .attestationType(path: typeFile, found: type) }
    }

    public func quote(reportData: [UInt8]) throws(PlatformError) -> [UInt8] {
        try ReportData.validate(reportData)
        let quoteFile = path("quote")
        let quote = try exchange.withLock { _ throws(PlatformError) -> [UInt8] in
            try Self.writeAll(path("user_report_data"), reportData, create: false)
            return try Self.readAll(quoteFile)
        }
        let reportDataRange = (SGXQuoteV3.headerSize + 320)..<(SGXQuoteV3.headerSize + SGXReportBody.size)
        guard quote.count >= reportDataRange.upperBound else {
            throw .attestationFileSize(
                path: quoteFile, found: quote.count, expected: "a quote of at least \(reportDataRange.upperBound)")
        }
        guard Array(quote[reportDataRange]) == reportData else {
            throw .attestationFile(
                path: quoteFile, operation: "read",
                reason: "the quote carries other report data than was written to user_report_data (is another "
                    + "thread of this enclave writing it outside GraminePlatform?)")
        }
        return quote
    }

    public func sealingKey(_ policy: SealingKeyPolicy) throws(PlatformError) -> SymmetricKey {
        let keyFile = path("keys/" + policy.gramineKeyName)
        let key = try Self.readAll(keyFile)
        guard key.count == EncryptedFileKey.size else {
            throw .attestationFileSize(path: keyFile, found: key.count, expected: "\(EncryptedFileKey.size)")
        }
        return SymmetricKey(data: key)
    }

    /// The identity in the body of the enclave's own local report (`report`, an `sgx_report_t`).
    public func measurement() throws(PlatformError) -> EnclaveMeasurement? {
        let reportFile = path("report")
        let report = try Self.readAll(reportFile)
        guard report.count >= SGXReportBody.size else {
            throw .attestationFileSize(
                path: reportFile, found: report.count, expected: "at least \(SGXReportBody.size) (an sgx_report_t)")
        }
        return SGXReportBody.measurement(from: Array(report.prefix(SGXReportBody.size)))
    }

    public func setEncryptedFileKey(named name: String, key: [UInt8]) throws(PlatformError) {
        try EncryptedFileKey.validate(name: name, key: key)
        try Self.writeAll(path("keys/" + name), key, create: true)
    }

    private func path(_ name: String) -> String {
        attestationDirectory.appendingPathComponent(name).path
    }

    /// Reads a pseudo-file to its end (also a pipe whose writer answers late).
    static func readAll(_ path: String) throws(PlatformError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, "open for reading") }
        defer { close(descriptor) }
        var contents = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read")
            }
            if count == 0 { return contents }
            contents += buffer[0..<count]
            guard contents.count <= maximumQuoteSize else {
                throw .attestationFileSize(path: path, found: contents.count, expected: "at most \(maximumQuoteSize)")
            }
        }
    }

    /// Writes `bytes` in one `write` call, as Gramine's pseudo-files expect the whole value at once.
    static func writeAll(_ path: String, _ bytes: [UInt8], create: Bool) throws(PlatformError) {
        let flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0)
        let descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else { throw failure(path, "open for writing") }
        defer { close(descriptor) }
        var written: Int
        repeat {
            written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        guard written >= 0 else { throw failure(path, "write") }
        guard written == bytes.count else {
            throw .attestationFileSize(path: path, found: written, expected: "all \(bytes.count) bytes written")
        }
    }

    private static func failure(_ path: String, _ operation: String) -> PlatformError {
        .attestationFile(path: path, operation: operation, reason: String(cString: strerror(errno)))
    }
}
