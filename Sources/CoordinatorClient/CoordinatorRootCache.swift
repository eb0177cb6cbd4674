import Crypto
import Foundation
import Hexadecimal
import SwiftASN1

/// The verified Coordinator root certificate kept between runs (MarbleRun's `coordinator-cert.pem`), so that other
/// tools (curl `--cacert`, openssl) can pin it, and so that a later run notices when a verified Coordinator presents
/// another root.
///
/// With an `address`, the root is also kept per Coordinator address (`coordinator-roots/HOST_PORT.pem` beside
/// `path`) and compared with that entry only, so that a user working with several deployments is warned when one of
/// them changes its root, not each time they switch; `path` still holds the latest verified root.
public struct CoordinatorRootCache: Sendable {
    public let path: String
    public let address: String?

    public init(path: String, address: String? = nil) {
        self.path = path
        self.address = address
    }

    /// Where this cache compares roots: the per-address entry when there is an address, else `path`.
    public var comparedPath: String {
        guard let address else { return path }
        let name = String(address.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "_" })
        return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("coordinator-roots")
            .appendingPathComponent(name + ".pem").path
    }

    /// Something the user must hear about after recording a root; recording itself never fails a command.
    public struct Notice: Sendable, Hashable {
        public enum Kind: String, Sendable, Codable {
            /// The verified Coordinator presents another root than the one cached by an earlier verified run.
            case rootChanged
            /// The cache held something that is not a PEM certificate; it was replaced.
            case cacheUnreadable
            /// The new root could not be written to the cache.
            case cacheNotWritten
        }

        public let kind: Kind
        public let message: String
        /// Lower-case hex SHA-256 of the cached root's DER, when there was a readable one.
        public let previousRootSHA256: String?
        /// Lower-case hex SHA-256 of the root the verified Coordinator presents.
        public let currentRootSHA256: String
    }

    /// Lower-case hex SHA-256 of a certificate's DER, the fingerprint `openssl x509 -fingerprint -sha256` shows.
    public static func fingerprint(_ der: [UInt8]) -> String {
        SHA256.hash(data: der).hexadecimal
    }

    /// Compares the root of a Coordinator that passed verification with the cached one, then caches it.
    ///
    /// Only call this for a verified root: the cache must never hold a root nobody attested.
    public func record(verifiedRootPEM rootPEM: String, rootDER: [UInt8]) -> [Notice] {
        let current = Self.fingerprint(rootDER)
        var notices: [Notice] = []
        let comparedPath = comparedPath
        if let cached = FileManager.default.contents(atPath: comparedPath) {
            if let previousDER = Self.rootDER(inPEM: cached) {
                let previous = Self.fingerprint(previousDER)
                if previous != current {
                    notices.append(
                        Notice(
                            kind: .rootChanged,
                            message: "the Coordinator's root certificate changed since the last verified connection: SHA-256 "
                                + "\(previous) was cached in \(comparedPath), the Coordinator now presents \(current). Its quote binds the new "
                                + "root, so it passed verification; a new root means the Coordinator is in recovery mode (a temporary "
                                + "root until recovered), has just been recovered, or was redeployed with fresh state and new keys. "
                                + "Certificates and TLS clients pinned to the old root no longer trust it: fetch the new one with "
                                + "`cloister certificate root`. If no recovery or redeployment was expected, find out why before "
                                + "handing it secrets. The cache now holds the new root.",
                            previousRootSHA256: previous, currentRootSHA256: current))
                }
            } else {
                notices.append(
                    Notice(
                        kind: .cacheUnreadable,
                        message: "the root cache \(comparedPath) does not hold a PEM certificate, so a change of the Coordinator's root "
                            + "cannot be detected this time; it now holds the verified root \(current).",
                        previousRootSHA256: nil, currentRootSHA256: current))
            }
        }
        do {
            for file in Set([path, comparedPath]) {
                let url = URL(fileURLWithPath: file)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(rootPEM.utf8).write(to: url, options: .atomic)
            }
        } catch {
            notices.append(
                Notice(
                    kind: .cacheNotWritten,
                    message: "the verified root \(current) could not be cached in \(path) (\(error.localizedDescription)); later "
                        + "runs cannot tell whether the Coordinator's root changed. Give a writable file with --root-cache.",
                    previousRootSHA256: nil, currentRootSHA256: current))
        }
        return notices
    }

    /// The root of a cached PEM file: its last certificate (a chain file lists the intermediate first).
    private static func rootDER(inPEM data: Data) -> [UInt8]? {
        guard let documents = try? PEMDocument.parseMultiple(pemString: String(decoding: data, as: UTF8.self)),
            let last = documents.last(where: { $0.discriminator == "CERTIFICATE" })
        else { return nil }
        return last.derBytes
    }
}
