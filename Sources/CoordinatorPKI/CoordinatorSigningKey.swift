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
    let key: any CurvePrivateKey

    /// A new random key on `curve`.
    public init(generatingOn curve: CoordinatorCurve) {
        key = curve.privateKeyType.generate()
    }

    /// Restores a key from its PKCS#8 DER form (as written by ``pkcs8DER``).
    public init(pkcs8DER: Data) throws(PKIError) {
        guard let key = CoordinatorCurve.allCases.lazy.compactMap({ try? $0.privateKeyType.init(derRepresentation: pkcs8DER) }).first
        else {
            throw PKIError.malformedKey(
                what: "Coordinator private key",
                detail: "\(pkcs8DER.count) bytes are not a PKCS#8 ECDSA P-256 or P-384 private key",
                hint: "restore keys only from data written by CoordinatorPKI.serialized()"
            )
        }
        self.key = key
    }

    public var curve: CoordinatorCurve { type(of: key).curve }

    /// The key in PKCS#8 DER form (`openssl pkey -inform DER` reads it).
    public var pkcs8DER: Data { key.derRepresentation }

    /// The key in PKCS#8 PEM form (`-----BEGIN PRIVATE KEY-----`).
    public var pkcs8PEM: String { PEMText.encode(type: "PRIVATE KEY", der: key.derRepresentation) }

    public var certificateKey: Certificate.PrivateKey { key.certificateKey }

    public var publicKey: CoordinatorVerifyingKey { CoordinatorVerifyingKey(key: key.publicKey) }

    /// ECDSA signature (ASN.1 DER) over SHA-256(`message`).
    public func signature(for message: some DataProtocol) throws(PKIError) -> Data {
        do {
            return try key.signatureDER(for: SHA256.hash(data: message))
        } catch {
            throw PKIError.signingFailed(what: "ECDSA signature over \(message.count) bytes", underlying: "\(error)")
        }
    }

    /// The ECDSA signature algorithm used in certificates signed by this key (SHA-256 for P-256, SHA-384 for
    /// P-384, as RFC 5480 recommends).
    var certificateSignatureAlgorithm: Certificate.SignatureAlgorithm { type(of: key).certificateSignatureAlgorithm }

    public static func == (lhs: CoordinatorSigningKey, rhs: CoordinatorSigningKey) -> Bool {
        lhs.curve == rhs.curve && lhs.key.rawRepresentation == rhs.key.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key.rawRepresentation)
    }
}

/// The public half of a ``CoordinatorSigningKey``; checks signatures made by ``CoordinatorSigningKey/signature(for:)``.
public struct CoordinatorVerifyingKey: Sendable, Hashable {
    let key: any CurvePublicKey

    /// The ECDSA P-256 or P-384 key of `certificate` (for example the Coordinator root certificate).
    public init(certificate: Certificate) throws(PKIError) {
        guard let key = CoordinatorCurve.allCases.lazy.compactMap({ $0.publicKeyType.init(certificate.publicKey) }).first else {
            throw PKIError.malformedKey(
                what: "public key of certificate \(certificate.subject)",
                detail: "found \(certificate.publicKey), expected an ECDSA P-256 or P-384 key",
                hint: "pass the Coordinator root certificate"
            )
        }
        self.key = key
    }

    /// A key from a PEM `-----BEGIN PUBLIC KEY-----` block (SubjectPublicKeyInfo).
    public init(pem: String) throws(PKIError) {
        guard let key = CoordinatorCurve.allCases.lazy.compactMap({ try? $0.publicKeyType.init(pemRepresentation: pem) }).first else {
            throw PKIError.malformedKey(
                what: "PEM public key",
                detail: "not an ECDSA P-256 or P-384 SubjectPublicKeyInfo (\(pem.prefix(40))...)",
                hint: "export it with `openssl pkey -pubout`"
            )
        }
        self.key = key
    }

    init(key: any CurvePublicKey) { self.key = key }

    public var curve: CoordinatorCurve { type(of: key).curve }

    /// The key as PEM SubjectPublicKeyInfo.
    public var pem: String { key.pemRepresentation }

    /// Whether `signatureDER` is an ECDSA signature by this key over SHA-256(`message`).
    public func isValidSignature(_ signatureDER: some DataProtocol, for message: some DataProtocol) -> Bool {
        key.isValidSignature(derRepresentation: signatureDER, for: SHA256.hash(data: message))
    }

    public static func == (lhs: CoordinatorVerifyingKey, rhs: CoordinatorVerifyingKey) -> Bool {
        lhs.curve == rhs.curve && lhs.key.rawRepresentation == rhs.key.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key.rawRepresentation)
    }
}

extension CoordinatorCurve {
    var privateKeyType: any CurvePrivateKey.Type {
        switch self {
        case .p256: P256.Signing.PrivateKey.self
        case .p384: P384.Signing.PrivateKey.self
        }
    }

    var publicKeyType: any CurvePublicKey.Type {
        switch self {
        case .p256: P256.Signing.PublicKey.self
        case .p384: P384.Signing.PublicKey.self
        }
    }
}

/// What the Coordinator needs of a swift-crypto ECDSA private key; P-256 and P-384 keys differ only in type.
protocol CurvePrivateKey: Sendable {
    associatedtype PublicKey: CurvePublicKey
    static var curve: CoordinatorCurve { get }
    static var certificateSignatureAlgorithm: Certificate.SignatureAlgorithm { get }
    init<Bytes: ContiguousBytes>(rawRepresentation: Bytes) throws
    init<Bytes: RandomAccessCollection>(derRepresentation: Bytes) throws where Bytes.Element == UInt8
    var rawRepresentation: Data { get }
    var derRepresentation: Data { get }
    var publicKey: PublicKey { get }
    var certificateKey: Certificate.PrivateKey { get }
    func signatureDER(for digest: SHA256.Digest) throws -> Data
}

extension CurvePrivateKey {
    /// A new key: a uniformly random scalar in [1, n-1], n the group order.
    ///
    /// swift-crypto's `init()` draws keys until one is "compact representable" (every other key is not) and runs a
    /// FIPS pairwise sign-and-verify on each draw (a quarter of the Coordinator's CPU time per activation with
    /// P-384 keys), for a property that no certificate or TLS use of the key needs. `init(rawRepresentation:)` computes
    /// the public point and rejects 0 and scalars >= n, so drawing again until it accepts gives the same uniform
    /// distribution over valid keys.
    static func generate() -> Self {
        let size = SymmetricKeySize(bitCount: curve.scalarByteCount * 8)
        while true {
            let scalar = SymmetricKey(size: size).withUnsafeBytes { Data($0) }
            if let key = try? Self(rawRepresentation: scalar) { return key }
        }
    }
}

extension CoordinatorCurve {
    /// Bytes of a private scalar (and of one coordinate) on the curve.
    var scalarByteCount: Int {
        switch self {
        case .p256: 32
        case .p384: 48
        }
    }
}

/// What the Coordinator needs of a swift-crypto ECDSA public key.
protocol CurvePublicKey: Sendable {
    static var curve: CoordinatorCurve { get }
    init?(_ certificateKey: Certificate.PublicKey)
    init(pemRepresentation: String) throws
    var rawRepresentation: Data { get }
    var pemRepresentation: String { get }
    func isValidSignature(derRepresentation: some DataProtocol, for digest: SHA256.Digest) -> Bool
}

extension P256.Signing.PrivateKey: CurvePrivateKey {
    static var curve: CoordinatorCurve { .p256 }
    static var certificateSignatureAlgorithm: Certificate.SignatureAlgorithm { .ecdsaWithSHA256 }
    var certificateKey: Certificate.PrivateKey { Certificate.PrivateKey(self) }
    func signatureDER(for digest: SHA256.Digest) throws -> Data { try signature(for: digest).derRepresentation }
}

extension P384.Signing.PrivateKey: CurvePrivateKey {
    static var curve: CoordinatorCurve { .p384 }
    static var certificateSignatureAlgorithm: Certificate.SignatureAlgorithm { .ecdsaWithSHA384 }
    var certificateKey: Certificate.PrivateKey { Certificate.PrivateKey(self) }
    func signatureDER(for digest: SHA256.Digest) throws -> Data { try signature(for: digest).derRepresentation }
}

extension P256.Signing.PublicKey: CurvePublicKey {
    static var curve: CoordinatorCurve { .p256 }
    func isValidSignature(derRepresentation: some DataProtocol, for digest: SHA256.Digest) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: derRepresentation) else { return false }
        return isValidSignature(signature, for: digest)
    }
}

extension P384.Signing.PublicKey: CurvePublicKey {
    static var curve: CoordinatorCurve { .p384 }
    func isValidSignature(derRepresentation: some DataProtocol, for digest: SHA256.Digest) -> Bool {
        guard let signature = try? P384.Signing.ECDSASignature(derRepresentation: derRepresentation) else { return false }
        return isValidSignature(signature, for: digest)
    }
}
