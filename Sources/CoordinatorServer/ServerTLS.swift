import Coordinator
import Foundation
import HummingbirdTLS
import NIOCore
import NIOSSL
import Synchronization

/// Why the Coordinator's servers could not set up TLS.
public struct ServerTLSError: Error, Sendable, CustomStringConvertible {
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String {
        "the Coordinator's TLS identity cannot be used: found \(found); expected \(expected). \(hint)"
    }
}

/// The certificate chain and key the servers present, swapped without restarting when the Coordinator replaces its
/// intermediate (manifest updates, recovery): every TLS handshake reads the current one.
final class TLSIdentityStore: Sendable {
    struct Loaded: Sendable {
        let version: Int
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    private let current: Mutex<Loaded>

    init(_ identity: CoordinatorTLSIdentity) throws(ServerTLSError) {
        current = Mutex(try Self.load(identity))
    }

    var loaded: Loaded { current.withLock { $0 } }

    /// Loads `identity` when it is newer than the one in use.
    func update(_ identity: CoordinatorTLSIdentity) throws(ServerTLSError) {
        guard identity.version != loaded.version else { return }
        let fresh = try Self.load(identity)
        current.withLock { if fresh.version > $0.version { $0 = fresh } }
    }

    private static func load(_ identity: CoordinatorTLSIdentity) throws(ServerTLSError) -> Loaded {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8))
            let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
            guard !chain.isEmpty else {
                throw ServerTLSError(found: "an empty certificate chain", expected: "the TLS leaf and the intermediate", hint: "report this as a bug")
            }
            return Loaded(version: identity.version, chain: chain, key: key)
        } catch let error as ServerTLSError {
            throw error
        } catch {
            throw ServerTLSError(
                found: "PEM that NIOSSL cannot load (\(error))", expected: "a PEM certificate chain and PKCS#8 key",
                hint: "report this as a bug")
        }
    }

    /// The TLS settings of a server.
    ///
    /// - Parameter requireClientCertificate: the marble API requires a certificate (any: it is bound by the quote,
    ///   not by a chain); the client API only requests one and checks it per endpoint.
    func channelConfiguration(requireClientCertificate: Bool) -> TLSChannelConfiguration {
        let loaded = loaded
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: loaded.chain.map { .certificate($0) }, privateKey: .privateKey(loaded.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification : .optionalVerification
        configuration.sslContextCallback = { [self] _, promise in
            let loaded = self.loaded
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = loaded.chain.map { .certificate($0) }
            override.privateKey = .privateKey(loaded.key)
            promise.succeed(override)
        }
        // Client certificates are never chain-verified at the TLS layer: user certificates are compared with the
        // manifest (and their validity reported per endpoint), marble certificates are bound through the quote.
        return TLSChannelConfiguration(tlsConfiguration: configuration) { _, promise in
            promise.succeed(.certificateVerified)
        }
    }
}
