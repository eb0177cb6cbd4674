import BigInt
import Crypto
import Foundation
import _CryptoExtras

/// A signing key that SGX accepts: RSA with a 3072-bit modulus and public exponent 3.
public struct SGXSigningKey: Sendable {
    public static let modulusBits = 3072
    public static let publicExponent: UInt = 3

    public let privateKey: _RSA.Signing.PrivateKey
    /// The modulus, big-endian, exactly 384 bytes.
    public let modulus: [UInt8]

    public init(privateKey: _RSA.Signing.PrivateKey) throws(SigningKeyError) {
        let primitives: _RSA.Signing.PublicKey.Primitives
        do {
            primitives = try privateKey.publicKey.getKeyPrimitives()
        } catch {
            throw SigningKeyError(found: "a key whose numbers cannot be read (\(error))", expected: Self.requirement, hint: Self.keygenHint)
        }
        let exponent = BigUInt(primitives.publicExponent)
        guard privateKey.keySizeInBits == Self.modulusBits, exponent == BigUInt(Self.publicExponent) else {
            throw SigningKeyError(
                found: "RSA-\(privateKey.keySizeInBits) with public exponent \(exponent)", expected: Self.requirement, hint: Self.keygenHint)
        }
        let modulus = Array(primitives.modulus.drop { $0 == 0 })
        self.privateKey = privateKey
        self.modulus = Array(repeating: 0, count: max(0, Self.modulusBits / 8 - modulus.count)) + modulus
    }

    /// A key from PEM (`RSA PRIVATE KEY` or `PRIVATE KEY`, unencrypted).
    public init(pemRepresentation pem: String) throws(SigningKeyError) {
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem)
        } catch {
            let firstLine = pem.split(separator: "\n").first.map { String($0.prefix(40)) } ?? "(empty)"
            throw SigningKeyError(
                found: "PEM text starting with '\(firstLine)' that is not an unencrypted RSA private key of at least 1024 bits",
                expected: Self.requirement,
                hint: "Decrypt an encrypted key with 'openssl rsa', or \(Self.keygenHint.prefix(1).lowercased())\(Self.keygenHint.dropFirst())")
        }
        try self.init(privateKey: key)
    }

    /// The key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), the form `gramine-sgx-gen-private-key` writes.
    public var pemRepresentation: String { privateKey.pemRepresentation }

    /// MRSIGNER of enclaves signed with this key: SHA-256 of the little-endian modulus.
    public var mrSigner: [UInt8] { Array(SHA256.hash(data: Array(modulus.reversed()))) }

    static let requirement = "RSA-3072 with public exponent 3 (an SGX requirement)"
    static let keygenHint = "Generate a suitable key with 'cloister gramine keygen' (or 'openssl genrsa -3 3072')."

    /// A new random key. swift-crypto cannot generate exponent-3 keys, so the primes are found here (see
    /// `PrimeSearch`) from the system CSPRNG.
    public static func generate() throws(SigningKeyError) -> SGXSigningKey {
        var generator = SystemRandomNumberGenerator()
        let (p, q) = primes(using: &generator)
        let exponent = BigUInt(publicExponent)
        let n = p * q
        let lambda = (p - 1) * (q - 1) / (p - 1).greatestCommonDivisor(with: q - 1)
        // p ≡ q ≡ 2 (mod 3) makes 3 coprime to λ, so the inverse exists.
        guard let d = exponent.inverse(lambda) else {
            throw SigningKeyError(
                found: "generated primes for which 3 has no inverse", expected: requirement, hint: "Try again; report this if it repeats.")
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(n: n.serialize(), e: exponent.serialize(), d: d.serialize(), p: p.serialize(), q: q.serialize())
        } catch {
            throw SigningKeyError(
                found: "a generated key that BoringSSL refuses (\(error))", expected: requirement, hint: "Try again; report this if it repeats.")
        }
        return try SGXSigningKey(privateKey: key)
    }

    /// Two distinct 1536-bit primes ≡ 2 (mod 3) whose product has 3072 bits (their two top bits are set).
    static func primes(using generator: inout some RandomNumberGenerator) -> (p: BigUInt, q: BigUInt) {
        let bits = modulusBits / 2
        let p = BigUInt(words: PrimeSearch.prime(bits: bits, using: &generator).map(UInt.init))
        while true {
            let q = BigUInt(words: PrimeSearch.prime(bits: bits, using: &generator).map(UInt.init))
            // FIPS 186-5 A.1.3 asks |p − q| > 2^(bits − 100), so that Fermat's method cannot factor n; this also
            // rules out p = q. Independent random primes fail it with probability about 2⁻⁹⁷.
            if (p > q ? p - q : q - p) > BigUInt(1) << (bits - 100) { return (p, q) }
        }
    }
}

/// Why a key cannot sign an enclave.
public struct SigningKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String { "signing key: found \(found); expected \(expected). \(hint)" }
}
