import Crypto
import Foundation
import SwiftASN1
import X509

/// The elliptic curve of the Coordinator's CA keys.
///
/// Cloister defaults to P-256; MarbleRun uses P-384 for its CA and marble keys, and either is accepted by every
/// MarbleRun client because they only check signatures, never the curve.
public enum CoordinatorCurve: String, Codable, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
}

/// An ECDSA private key of the Coordinator (root, intermediate, TLS or marble key).
///
/// Signatures made with ``signature(for:)`` are ASN.1 DER ECDSA signatures over SHA-256 of the message, whatever the
/// curve: this is what MarbleRun does for the manifest signature (`openssl dgst -sha256 -verify` checks them).
public struct CoordinatorSigningKey: Sendable, Hashable {
    enum Backing: Sendable, Hashable {
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)

        static func == (lhs: Backing, rhs: Backing) -> Bool {
            switch (lhs, rhs) {
            case (.p256(let left), .p256(let right)): left.rawRepresentation == right.rawRepresentation
            case (.p384(let left), .p384(let right)): left.rawRepresentation == right.rawRepresentation
            default: false
            }
        }

        func hash(into hasher: inout Hasher) {
            switch self {
            case .p256(let key): hasher.combine(key.rawRepresentation)
            case .p384(let key): hasher.combine(key.rawRepresentation)
            }
        }
    }

    let backing: Backing

    /// A new random key on `curve`.
    public init(generatingOn curve: CoordinatorCurve) {
        switch curve {
        case .p256: backing = .p256(P256.Signing.PrivateKey())
        case .p384: backing = .p384(P384.Signing.PrivateKey())
        }
    }

    /// Restores a key from its PKCS#8 DER form (as written by ``pkcs8DER``).
    public init(pkcs8DER: Data) throws(PKIError) {
        if let key = try? P256.Signing.PrivateKey(derRepresentation: pkcs8DER) {
            backing = .p256(key)
        } else if let key = try? P384.Signing.PrivateKey(derRepresentation: pkcs8DER) {
            backing = .p384(key)
        } else {
            throw PKIError.malformedKey(
                what: "Coordinator private key",
                detail: "\(pkcs8DER.count) bytes are not a PKCS#8 ECDSA P-256 or P-384 private key",
                hint: "restore keys only from data written by CoordinatorPKI.serialized()"
            )
        }
    }

    public var curve: CoordinatorCurve {
        switch backing {
        case .p256: .p256
        case .p384: .p384
        }
    }

    /// The key in PKCS#8 DER form (`openssl pkey -inform DER` reads it).
    public var pkcs8DER: Data {
        switch backing {
        case .p256(let key): key.derRepresentation
        case .p384(let key): key.derRepresentation
        }
    }

    /// The key in PKCS#8 PEM form (`-----BEGIN PRIVATE KEY-----`).
    public var pkcs8PEM: String {
        switch backing {
        case .p256(let key): key.pemRepresentation
        case .p384(let key): key.pemRepresentation
        }
    }

    public var certificateKey: Certificate.PrivateKey {
        switch backing {
        case .p256(let key): Certificate.PrivateKey(key)
        case .p384(let key): Certificate.PrivateKey(key)
        }
    }

    public var publicKey: CoordinatorVerifyingKey {
        switch backing {
        case .p256(let key): CoordinatorVerifyingKey(backing: .p256(key.publicKey))
        case .p384(let key): CoordinatorVerifyingKey(backing: .p384(key.publicKey))
        }
    }

    /// ECDSA signature (ASN.1 DER) over SHA-256(`message`).
    public func signature(for message: some DataProtocol) throws(PKIError) -> Data {
        let digest = SHA256.hash(data: message)
        do {
            switch backing {
            case .p256(let key): return try key.signature(for: digest).derRepresentation
            case .p384(let key): return try key.signature(for: digest).derRepresentation
            }
        } catch {
            throw PKIError.signingFailed(what: "ECDSA signature over \(message.count) bytes", underlying: "\(error)")
        }
    }

    /// The ECDSA signature algorithm used in certificates signed by this key (SHA-256 for P-256, SHA-384 for
    /// P-384, as RFC 5480 recommends).
    var certificateSignatureAlgorithm: Certificate.SignatureAlgorithm {
        switch backing {
        case .p256: .ecdsaWithSHA256
        case .p384: .ecdsaWithSHA384
        }
    }
}

/// The public half of a ``CoordinatorSigningKey``; checks signatures made by ``CoordinatorSigningKey/signature(for:)``.
public struct CoordinatorVerifyingKey: Sendable, Hashable {
    enum Backing: Sendable, Hashable {
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)

        static func == (lhs: Backing, rhs: Backing) -> Bool {
            switch (lhs, rhs) {
            case (.p256(let left), .p256(let right)): left.rawRepresentation == right.rawRepresentation
            case (.p384(let left), .p384(let right)): left.rawRepresentation == right.rawRepresentation
            default: false
            }
        }

        func hash(into hasher: inout Hasher) {
            switch self {
            case .p256(let key): hasher.combine(key.rawRepresentation)
            case .p384(let key): hasher.combine(key.rawRepresentation)
            }
        }
    }

    let backing: Backing

    /// The ECDSA P-256 or P-384 key of `certificate` (for example the Coordinator root certificate).
    public init(certificate: Certificate) throws(PKIError) {
        if let key = P256.Signing.PublicKey(certificate.publicKey) {
            backing = .p256(key)
        } else if let key = P384.Signing.PublicKey(certificate.publicKey) {
            backing = .p384(key)
        } else {
            throw PKIError.malformedKey(
                what: "public key of certificate \(certificate.subject)",
                detail: "found \(certificate.publicKey), expected an ECDSA P-256 or P-384 key",
                hint: "pass the Coordinator root certificate"
            )
        }
    }

    /// A key from a PEM `-----BEGIN PUBLIC KEY-----` block (SubjectPublicKeyInfo).
    public init(pem: String) throws(PKIError) {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            backing = .p256(key)
        } else if let key = try? P384.Signing.PublicKey(pemRepresentation: pem) {
            backing = .p384(key)
        } else {
            throw PKIError.malformedKey(
                what: "PEM public key",
                detail: "not an ECDSA P-256 or P-384 SubjectPublicKeyInfo (\(pem.prefix(40))...)",
                hint: "export it with `openssl pkey -pubout`"
            )
        }
    }

    init(backing: Backing) { self.backing = backing }

    public var curve: CoordinatorCurve {
        switch backing {
        case .p256: .p256
        case .p384: .p384
        }
    }

    /// The key as PEM SubjectPublicKeyInfo.
    public var pem: String {
        switch backing {
        case .p256(let key): key.pemRepresentation
        case .p384(let key): key.pemRepresentation
        }
    }

    /// Whether `signatureDER` is an ECDSA signature by this key over SHA-256(`message`).
    public func isValidSignature(_ signatureDER: some DataProtocol, for message: some DataProtocol) -> Bool {
        let digest = SHA256.hash(data: message)
        switch backing {
        case .p256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: signatureDER) else { return false }
            return key.isValidSignature(signature, for: digest)
        case .p384(let key):
            guard let signature = try? P384.Signing.ECDSASignature(derRepresentation: signatureDER) else { return false }
            return key.isValidSignature(signature, for: digest)
        }
    }
}
