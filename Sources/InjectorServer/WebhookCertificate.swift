import Foundation
import Logging
import NIOSSL
import Synchronization

/// Why the webhook's certificate or key cannot be used.
public struct WebhookCertificateError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String { "the webhook's TLS identity in '\(file)' cannot be used: found \(found); expected \(expected). \(hint)" }
}

/// The webhook's TLS context, loaded from a certificate and a key file and loaded again when either file changes
/// (cert-manager and kubelet rotate them in place, through the Secret volume's symlink swap). Each new connection
/// checks the files' identity; a rotation that cannot be loaded keeps the previous identity and is logged.
public final class WebhookCertificate: Sendable {
    struct Loaded {
        let stamps: [FileStamp]
        let context: NIOSSLContext
        /// The files as they were when loading them last failed: not tried (and logged) again until they change.
        var refusedStamps: [FileStamp]? = nil
    }

    public let certificatePath: String
    public let keyPath: String
    private let logger: Logger
    private let current: Mutex<Loaded>

    public init(certificatePath: String, keyPath: String, logger: Logger) throws(WebhookCertificateError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.logger = logger
        current = Mutex(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    private static func stamp(_ path: String) throws(WebhookCertificateError) -> FileStamp {
        switch FileStamp.of(path) {
        case .success(let stamp): return stamp
        case .failure(let error):
            throw WebhookCertificateError(
                file: path, found: "no readable file (\(error.reason))", expected: "a PEM file",
                hint: "mount the webhook's certificate Secret (tls.crt, tls.key) or pass --tls-cert and --tls-key")
        }
    }

    /// The context for a new connection, reloaded first when a file changed.
    public func context() -> NIOSSLContext {
        let inUse = current.withLock { $0 }
        guard let stamps = try? [Self.stamp(certificatePath), Self.stamp(keyPath)], stamps != inUse.stamps,
            stamps != inUse.refusedStamps
        else {
            return inUse.context
        }
        do {
            let fresh = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
            current.withLock { $0 = fresh }
            logger.notice("Loaded the rotated webhook certificate", metadata: ["certificate": "\(certificatePath)"])
            return fresh.context
        } catch {
            current.withLock { $0.refusedStamps = stamps }
            logger.error("Keeping the previous webhook certificate", metadata: ["reason": "\(error)"])
            return inUse.context
        }
    }

    private static func load(certificatePath: String, keyPath: String) throws(WebhookCertificateError) -> Loaded {
        let stamps = [try stamp(certificatePath), try stamp(keyPath)]
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw WebhookCertificateError(
                file: certificatePath, found: "no PEM certificate (\(error))", expected: "a PEM certificate chain",
                hint: "tls.crt of a kubernetes.io/tls Secret has this form")
        }
        guard !chain.isEmpty else {
            throw WebhookCertificateError(
                file: certificatePath, found: "no certificate", expected: "a PEM certificate chain",
                hint: "tls.crt of a kubernetes.io/tls Secret has this form")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw WebhookCertificateError(
                file: keyPath, found: "no PEM private key (\(error))", expected: "the PEM private key of the certificate",
                hint: "tls.key of a kubernetes.io/tls Secret has this form")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return Loaded(stamps: stamps, context: try NIOSSLContext(configuration: configuration))
        } catch {
            throw WebhookCertificateError(
                file: certificatePath, found: "a certificate and key that do not form a TLS identity (\(error))",
                expected: "the key that belongs to the certificate", hint: "check that tls.crt and tls.key come from the same Secret")
        }
    }
}
