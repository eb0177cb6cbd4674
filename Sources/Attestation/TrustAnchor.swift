import Crypto
import Foundation
import SwiftASN1
import X509

/// The root certificate that every collateral and PCK chain must lead to.
///
/// Production verification uses ``intelSGXRootCA``. A simulated platform signs its quotes and collateral under its own
/// root, given with ``simulation(root:)``: results verified under such an anchor say so
/// (``VerifiedQuote/isSimulation``), so that callers can warn loudly that nothing was proven about real hardware.
public struct TrustAnchor: Sendable, Hashable {
    public let certificate: Certificate
    /// True for a simulation anchor: a result under it proves nothing about real SGX/TDX hardware.
    public let isSimulation: Bool
    /// SHA-256 of the root certificate's DER, lower-case hex.
    public let fingerprint: String
    let der: [UInt8]
    let publicKey: P256.Signing.PublicKey?

    /// A production anchor from a root certificate (for example a pinned copy of the Intel SGX Root CA).
    public init(root: Certificate) {
        self.init(root: root, isSimulation: false)
    }

    private init(root: Certificate, isSimulation: Bool) {
        certificate = root
        self.isSimulation = isSimulation
        var serializer = DER.Serializer()
        der = (try? serializer.serialize(root)).map { serializer.serializedBytes } ?? []
        fingerprint = SHA256.hash(data: der).hexadecimal
        publicKey = P256.Signing.PublicKey(root.publicKey)
    }

    /// An anchor for a simulated SGX platform's own root CA.
    public static func simulation(root: Certificate) -> TrustAnchor {
        TrustAnchor(root: root, isSimulation: true)
    }

    /// The Intel SGX Root CA (SHA-256 fingerprint `44a0196b…b674d3`), valid 2018-05-21 to 2049-12-31.
    public static let intelSGXRootCA: TrustAnchor = {
        do {
            return TrustAnchor(root: try Certificate(pemEncoded: intelSGXRootCAPEM))
        } catch {
            preconditionFailure("the embedded Intel SGX Root CA PEM does not parse: \(error)")
        }
    }()

    /// The Intel SGX Root CA, as published at https://certificates.trustedservices.intel.com/IntelSGXRootCA.der.
    public static let intelSGXRootCAPEM = """
        -----BEGIN CERTIFICATE-----
        MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
        aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
        cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
        BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
        A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
        aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
        AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
        1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
        uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
        MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
        ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
        Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
        KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
        AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
        -----END CERTIFICATE-----
        """

    public var subject: String { certificate.subject.description }

    public static func == (lhs: TrustAnchor, rhs: TrustAnchor) -> Bool {
        lhs.der == rhs.der && lhs.isSimulation == rhs.isSimulation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(der)
        hasher.combine(isSimulation)
    }
}
