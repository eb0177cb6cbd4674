import CoordinatorPKI
import Foundation
import SealedStore
import X509

extension Coordinator {
    /// The manifest feature gate that enables ``setMonotonicCounter(name:value:clientCertificateDER:)``.
    public static let monotonicCounterFeatureGate = "MonotonicCounter"
    static let monotonicCounterPrefix = "monotonicCounter/"

    /// `POST /api/v2/monotonic-counter`: raises the calling marble's counter `name` to `value` when that is higher,
    /// and returns the value it had before (0 for a new counter). A counter never goes down, so a marble can detect
    /// that its own sealed data was rolled back.
    ///
    /// Requires the manifest's `MonotonicCounter` feature gate, the accepting-marbles state, and a TLS client
    /// certificate this Coordinator issued to a marble (MarbleRun's `VerifyMarble`). Counters belong to the marble's
    /// (type, UUID), are sealed with the rest of the state, and survive restarts. The update log has no entry kind for
    /// counters (MarbleRun writes none either), so setting one is not logged there.
    public func setMonotonicCounter(
        name: String, value: UInt64, clientCertificateDER: [UInt8]?
    ) throws(CoordinatorError)
        -> UInt64
    {
        try requireFeatureGate(Self.monotonicCounterFeatureGate, for: "marble monotonic counters")
        _ = try requireAcceptingMarbles()
        let marble = try authenticateMarble(clientCertificateDER)
        let key = Self.monotonicCounterKey(marble: marble, name: name)
        guard key.utf8.count <= SealedStore.maximumKeyBytes else {
            // The key holds base64 of the name (4 characters per 3 bytes) after the marble's part.
            let room = SealedStore.maximumKeyBytes - (key.utf8.count - Data(name.utf8).base64EncodedString().utf8.count)
            throw CoordinatorError(
                .badRequest, .malformedRequest, found: "a counter name of \(name.utf8.count) bytes",
                expected: "at most \(max(room, 0) / 4 * 3) bytes for marble type '\(marble.marbleType.prefix(64))'",
                hint: "use a shorter counter name")
        }
        guard let store = openStore else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "locked sealed state", expected: "unsealed state",
                hint: "recover the Coordinator first")
        }
        let previous: UInt64
        do {
            previous = try store.update { transaction in
                let stored = try Self.counterValue(try transaction.value(forKey: key), key: key)
                if value > stored { try transaction.put(key, Data(String(value).utf8)) }
                return stored
            }
        } catch {
            throw Self.storageError(error, "setting monotonic counter '\(name)'")
        }
        logger.debug(
            "Monotonic counter set",
            metadata: [
                "marble": "\(marble.uuid.uuidString.lowercased())", "type": "\(marble.marbleType)", "counter": "\(name)",
                "previous": "\(previous)", "requested": "\(value)",
            ])
        return previous
    }

    /// The sealed-store key of a marble's counter, MarbleRun's counter ID: base64 of the marble type, of the UUID's
    /// 16 bytes and of the counter name, so that no name can reach another marble's counters.
    static func monotonicCounterKey(marble: MarbleIdentity, name: String) -> String {
        let uuid = withUnsafeBytes(of: marble.uuid.uuid) { Data($0) }
        return monotonicCounterPrefix
            + [Data(marble.marbleType.utf8), uuid, Data(name.utf8)].map { $0.base64EncodedString() }.joined(separator: "/")
    }

    private static func counterValue(_ stored: Data?, key: String) throws(CoordinatorError) -> UInt64 {
        guard let stored else { return 0 }
        // A counter that does not read must not restart from 0: that would undo the rollback protection it gives.
        guard let value = UInt64(String(decoding: stored, as: UTF8.self)) else {
            throw CoordinatorError(
                .internal, .storage,
                found: "monotonic counter '\(key)' holding \(stored.count) bytes that are not a decimal count",
                expected: "the decimal counter value written by this Coordinator",
                hint: "the sealed state is damaged: restore the whole data directory from a backup")
        }
        return value
    }

    /// The marble that presented `certificateDER`: a certificate this Coordinator's current Marble root issued, with
    /// a UUID common name and the marble-type extension.
    func authenticateMarble(_ certificateDER: [UInt8]?) throws(CoordinatorError) -> MarbleIdentity {
        guard let certificateDER, !certificateDER.isEmpty else {
            throw CoordinatorError(
                .unauthenticated, .noClientCertificate, found: "a request without a TLS client certificate",
                expected: "the marble certificate the Coordinator issued at activation",
                hint: "connect with MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN and MARBLE_PREDEFINED_PRIVATE_KEY as the client identity")
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: certificateDER)
        } catch {
            throw CoordinatorError(
                .unauthenticated, .notAMarbleCertificate, found: "\(certificateDER.count) bytes that are not a certificate (\(error))",
                expected: "the marble certificate the Coordinator issued at activation", hint: "present the marble's certificate")
        }
        do {
            return try pki.marbleIdentity(of: certificate, now: configuration.clock())
        } catch {
            throw CoordinatorError(
                .unauthenticated, .notAMarbleCertificate, found: "certificate '\(certificate.subject)': \(error)",
                expected: "a certificate issued by this Coordinator's Marble root, CN a UUID, with extension "
                    + "\(CoordinatorPKI.marbleTypeExtensionOID) naming the marble type",
                hint: "present the certificate the Coordinator issued to the marble at activation (after a manifest "
                    + "update that rotated the intermediate, the marble must activate again)")
        }
    }
}
