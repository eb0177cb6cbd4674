import Crypto
import _CryptoExtras

/// The RSA key that signs an enclave (its SIGSTRUCT), reduced to what identifies it: the modulus.
///
/// SGX defines MRSIGNER as the SHA-256 of the 384-byte modulus stored little-endian, exactly as SIGSTRUCT stores it
/// (gramine.md §7.2). Real SGX additionally requires the public exponent 3; the simulation only needs the modulus, so
/// any 3072-bit RSA key is accepted.
public struct EnclaveSigner: Sendable, Hashable {
    /// The size SGX requires for the modulus.
    public static let modulusSize = 384

    /// The modulus, big-endian, exactly 384 bytes.
    public let modulus: [UInt8]

    public init(publicKey: _RSA.Signing.PublicKey) throws(PlatformError) {
        guard publicKey.keySizeInBits == Self.modulusSize * 8 else {
            throw .signingKey(reason: "the RSA key has \(publicKey.keySizeInBits) bits, SGX requires \(Self.modulusSize * 8)")
        }
        let primitives: _RSA.Signing.PublicKey.Primitives
        do {
            primitives = try publicKey.getKeyPrimitives()
        } catch {
            throw .signingKey(reason: "its modulus could not be read (\(error))")
        }
        var modulus = Array(primitives.modulus.drop(while: { $0 == 0 }))
        guard modulus.count <= Self.modulusSize else {
            throw .signingKey(reason: "the modulus has \(modulus.count) bytes, expected at most \(Self.modulusSize)")
        }
        modulus.insert(contentsOf: repeatElement(0, count: Self.modulusSize - modulus.count), at: 0)
        self.modulus = modulus
    }

    /// A signer from a PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`) or private key (`PRIVATE KEY` or
    /// `RSA PRIVATE KEY`).
    public init(pem: String) throws(PlatformError) {
        if let publicKey = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            try self.init(publicKey: publicKey)
        } else if let privateKey = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) {
            try self.init(publicKey: privateKey.publicKey)
        } else {
            let firstLine = pem.split(separator: "\n").first.map(String.init) ?? "(empty)"
            throw .signingKey(reason: "the PEM text starting with '\(firstLine.prefix(40))' is not an RSA public or private key")
        }
    }

    /// MRSIGNER: SHA-256 of the little-endian modulus.
    public var mrSigner: [UInt8] {
        Array(SHA256.hash(data: Array(modulus.reversed())))
    }
}
