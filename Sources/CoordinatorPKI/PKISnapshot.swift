import Foundation
import X509

/// Persisting the PKI (for sealed state): a JSON document of DER certificates and PKCS#8 keys.
extension CoordinatorPKI {
    struct Snapshot: Codable {
        static let currentVersion = 1
        var version: Int
        var configuration: PKIConfiguration
        var rootKey: Data
        var rootCertificate: Data
        var intermediateKey: Data
        var intermediateCertificate: Data
        var marbleRootCertificate: Data
        var tlsKey: Data
        var tlsCertificate: Data
    }

    /// The whole PKI, private keys included, as JSON; keep it only inside sealed state.
    public func serialized() throws(PKIError) -> Data {
        let snapshot = Snapshot(
            version: Snapshot.currentVersion,
            configuration: configuration,
            rootKey: rootKey.pkcs8DER,
            rootCertificate: Data(try Self.der(rootCertificate)),
            intermediateKey: intermediateKey.pkcs8DER,
            intermediateCertificate: Data(try Self.der(intermediateCertificate)),
            marbleRootCertificate: Data(try Self.der(marbleRootCertificate)),
            tlsKey: tlsKey.pkcs8DER,
            tlsCertificate: Data(try Self.der(tlsCertificate))
        )
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return try encoder.encode(snapshot)
        } catch {
            throw PKIError.malformedSnapshot(detail: "JSON encoding failed: \(error)", hint: "report this as a bug")
        }
    }

    /// Restores a PKI written by ``serialized()``, checking that each certificate carries its key.
    public init(serialized data: Data) throws(PKIError) {
        let snapshot: Snapshot
        do {
            snapshot = try JSONDecoder().decode(Snapshot.self, from: data)
        } catch {
            throw PKIError.malformedSnapshot(
                detail: "\(data.count) bytes are not a PKI snapshot JSON document (\(error))",
                hint: "pass exactly the bytes written by CoordinatorPKI.serialized()"
            )
        }
        guard snapshot.version == Snapshot.currentVersion else {
            throw PKIError.malformedSnapshot(
                detail: "found version \(snapshot.version), expected \(Snapshot.currentVersion)",
                hint: "restore with the Cloister version that wrote the state"
            )
        }
        let rootKey = try CoordinatorSigningKey(pkcs8DER: snapshot.rootKey)
        let intermediateKey = try CoordinatorSigningKey(pkcs8DER: snapshot.intermediateKey)
        let tlsKey = try CoordinatorSigningKey(pkcs8DER: snapshot.tlsKey)
        let root = try Self.certificate(der: Array(snapshot.rootCertificate), what: "root certificate")
        let intermediate = try Self.certificate(
            der: Array(snapshot.intermediateCertificate), what: "intermediate certificate"
        )
        let marbleRoot = try Self.certificate(
            der: Array(snapshot.marbleRootCertificate), what: "Marble root certificate"
        )
        let tls = try Self.certificate(der: Array(snapshot.tlsCertificate), what: "TLS certificate")
        for (name, certificate, key) in [
            ("root", root, rootKey), ("intermediate", intermediate, intermediateKey),
            ("Marble root", marbleRoot, intermediateKey), ("TLS", tls, tlsKey),
        ] where certificate.publicKey != key.certificateKey.publicKey {
            throw PKIError.malformedSnapshot(
                detail: "the \(name) certificate's public key does not match the stored \(name) private key",
                hint: "the snapshot was altered or mixed from two deployments; restore an intact copy"
            )
        }
        try self.init(
            configuration: snapshot.configuration,
            rootKey: rootKey,
            rootCertificate: root,
            intermediateKey: intermediateKey,
            intermediateCertificate: intermediate,
            marbleRootCertificate: marbleRoot,
            tlsKey: tlsKey,
            tlsCertificate: tls
        )
    }
}
