import Coordinator
import Foundation
import HummingbirdCore
import Logging
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

/// The TLS contexts the servers present, swapped without restarting when the Coordinator replaces its intermediate
/// (manifest updates, recovery): every new connection takes the current one.
///
/// A context is made once per identity rather than adjusted per handshake (NIOSSL's context callback): the callback
/// paused every handshake to install the chain and key again, a cost paid by every activation.
final class TLSIdentityStore: Sendable {
    struct Loaded: Sendable {
        let version: Int
        /// The client API's context: a client certificate is requested and checked per endpoint.
        let clientAPI: NIOSSLContext
        /// The marble API's context: a client certificate is required (any: it is bound by the quote, not a chain).
        let marbleAPI: NIOSSLContext
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
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8))
            key = try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
        } catch {
            throw ServerTLSError(
                found: "PEM that NIOSSL cannot load (\(error))", expected: "a PEM certificate chain and PKCS#8 key",
                hint: "report this as a bug")
        }
        guard !chain.isEmpty else {
            throw ServerTLSError(found: "an empty certificate chain", expected: "the TLS leaf and the intermediate", hint: "report this as a bug")
        }
        func context(requireClientCertificate: Bool) throws(ServerTLSError) -> NIOSSLContext {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification : .optionalVerification
            do {
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw ServerTLSError(
                    found: "a TLS configuration BoringSSL refuses (\(error))", expected: "the Coordinator's chain and key",
                    hint: "report this as a bug")
            }
        }
        return Loaded(
            version: identity.version, clientAPI: try context(requireClientCertificate: false),
            marbleAPI: try context(requireClientCertificate: true))
    }
}

/// Wraps the client API's HTTP child channel in TLS with the Coordinator's current context.
///
/// Client certificates are never chain-verified at the TLS layer: user certificates are compared with the manifest
/// (and their validity reported per endpoint), marble certificates are bound through the quote.
struct CoordinatorTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let identity: TLSIdentityStore

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = identity.loaded.clientAPI
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                NIOSSLServerHandler(context: context, customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) }))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
