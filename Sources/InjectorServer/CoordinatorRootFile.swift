import Foundation
import Logging
import Synchronization

/// The verified Coordinator root certificate the injector hands to marbles, read from a file (a ConfigMap the user
/// fills after `cloister certificate root`) and read again when the file changes or appears.
public final class CoordinatorRootFile: Sendable {
    public let path: String
    private let logger: Logger
    private let current: Mutex<(stamp: FileStamp?, pem: String?)>

    public init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
        current = Mutex((nil, nil))
    }

    /// The PEM, nil while the file is missing or holds no certificate.
    public func pem() -> String? {
        let stamp = try? FileStamp.of(path).get()
        let known = current.withLock { $0 }
        if stamp == known.stamp { return known.pem }
        var pem: String?
        if stamp != nil, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            if text.contains("-----BEGIN CERTIFICATE-----") {
                pem = text
            } else {
                logger.error("The Coordinator root file holds no PEM certificate; marbles get none", metadata: ["file": "\(path)"])
            }
        }
        current.withLock { $0 = (stamp, pem) }
        if pem != nil { logger.notice("Loaded the Coordinator root certificate for marbles", metadata: ["file": "\(path)"]) }
        return pem
    }
}
