import CoordinatorClient
import Foundation
import SwiftASN1
import Testing

/// The cache of the verified Coordinator root: silent on the first and on an unchanged root, a notice with both
/// fingerprints when the root changes, and notices when the cache cannot be read or written. Recording never fails.
@Suite struct RootCacheTests {
    static func pem(_ der: [UInt8]) -> String { PEMDocument(type: "CERTIFICATE", derBytes: der).pemString + "\n" }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("root-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func firstAndUnchangedRootsAreSilentAndAChangeNamesBothFingerprints() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/coordinator-cert.pem").path
        let cache = CoordinatorRootCache(path: path)
        let original: [UInt8] = Array(repeating: 0x30, count: 40)
        let replacement: [UInt8] = Array(repeating: 0x31, count: 40)

        #expect(cache.record(verifiedRootPEM: Self.pem(original), rootDER: original).isEmpty)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.pem(original))
        #expect(cache.record(verifiedRootPEM: Self.pem(original), rootDER: original).isEmpty)

        let notices = cache.record(verifiedRootPEM: Self.pem(replacement), rootDER: replacement)
        let notice = try #require(notices.first)
        #expect(notices.count == 1)
        #expect(notice.kind == .rootChanged)
        #expect(notice.previousRootSHA256 == CoordinatorRootCache.fingerprint(original))
        #expect(notice.currentRootSHA256 == CoordinatorRootCache.fingerprint(replacement))
        #expect(
            notice.message.contains(CoordinatorRootCache.fingerprint(original))
                && notice.message.contains(CoordinatorRootCache.fingerprint(replacement)))
        #expect(notice.message.contains("recovery mode") && notice.message.contains("cloister certificate root"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.pem(replacement))
        #expect(cache.record(verifiedRootPEM: Self.pem(replacement), rootDER: replacement).isEmpty)
    }

    @Test func aChainFileIsComparedByItsLastCertificate() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("chain.pem").path
        let intermediate: [UInt8] = Array(repeating: 0x41, count: 30)
        let root: [UInt8] = Array(repeating: 0x42, count: 30)
        try (Self.pem(intermediate) + Self.pem(root)).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(CoordinatorRootCache(path: path).record(verifiedRootPEM: Self.pem(root), rootDER: root).isEmpty)
    }

    @Test func unreadableAndUnwritableCachesAreReportedNotFatal() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let root: [UInt8] = Array(repeating: 0x30, count: 40)
        let garbage = directory.appendingPathComponent("garbage.pem").path
        try "not a certificate".write(toFile: garbage, atomically: true, encoding: .utf8)
        let unreadable = CoordinatorRootCache(path: garbage).record(verifiedRootPEM: Self.pem(root), rootDER: root)
        #expect(unreadable.map(\.kind) == [.cacheUnreadable])
        #expect(try String(contentsOfFile: garbage, encoding: .utf8) == Self.pem(root))

        let blocker = directory.appendingPathComponent("file").path
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let unwritable = CoordinatorRootCache(path: blocker + "/cache.pem").record(verifiedRootPEM: Self.pem(root), rootDER: root)
        #expect(unwritable.map(\.kind) == [.cacheNotWritten])
        #expect(unwritable.first?.message.contains("--root-cache") == true)
    }
}
