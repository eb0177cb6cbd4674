import Crypto
import Foundation
import X509

/// The Coordinator's signature over a manifest: ASN.1 DER ECDSA by the root key over SHA-256 of the manifest bytes
/// (MarbleRun `manifestSignatureRootECDSA`).
public enum ManifestSignature {
    /// Whether `signature` is the root key's signature over `manifest`; false for anything malformed.
    public static func isValid(signature: [UInt8], manifest: [UInt8], rootDER: [UInt8]) -> Bool {
        guard let root = try? Certificate(derEncoded: rootDER) else { return false }
        let digest = SHA256.hash(data: manifest)
        if let key = P384.Signing.PublicKey(root.publicKey),
            let parsed = try? P384.Signing.ECDSASignature(derRepresentation: signature)
        {
            return key.isValidSignature(parsed, for: digest)
        }
        if let key = P256.Signing.PublicKey(root.publicKey),
            let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature)
        {
            return key.isValidSignature(parsed, for: digest)
        }
        return false
    }
}
