import Hummingbird
import NIOCore
import NIOSSL

/// The request context of the Coordinator's servers: Hummingbird's core context plus the connection, so that a route
/// can read the TLS client certificate the peer presented (user authentication, marble certificate binding).
public struct CoordinatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }

    /// The DER of the TLS client certificate of this connection; nil when the peer presented none.
    func clientCertificateDER() async -> [UInt8]? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get() else { return nil }
        return try? certificate.toDERBytes()
    }
}
