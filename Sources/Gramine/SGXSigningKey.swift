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
            throw SigningKeyError(found: "RSA-\(privateKey.keySizeInBits) with public exponent \(exponent)", expected: Self.requirement, hint: Self.keygenHint)
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
                expected: Self.requirement, hint: "Decrypt an encrypted key with 'openssl rsa', or \(Self.keygenHint.prefix(1).lowercased())\(Self.keygenHint.dropFirst())")
        }
        try self.init(privateKey: key)
    }

    /// The key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), the form `gramine-sgx-gen-private-key` writes.
    public var pemRepresentation: String { privateKey.pemRepresentation }

    /// MRSIGNER of enclaves signed with this key: SHA-256 of the little-endian modulus.
    public var mrSigner: [UInt8] { Array(SHA256.hash(data: Array(modulus.reversed()))) }

    static let requirement = "RSA-3072 with public exponent 3 (an SGX requirement)"
    static let keygenHint = "Generate a suitable key with 'cloister gramine keygen' (or 'openssl genrsa -3 3072')."

    /// A new random key. swift-crypto cannot generate exponent-3 keys, so the primes are found here: random
    /// 1536-bit candidates from the system CSPRNG with their two top bits set (so that n has exactly 3072 bits),
    /// p ≡ 2 (mod 3) so that 3 is invertible, sieved by small primes, then Miller-Rabin with random bases.
    public static func generate() throws(SigningKeyError) -> SGXSigningKey {
        var generator = SystemRandomNumberGenerator()
        let exponent = BigUInt(publicExponent)
        while true {
            let p = PrimeSearch.prime(bits: modulusBits / 2, using: &generator)
            let q = PrimeSearch.prime(bits: modulusBits / 2, using: &generator)
            guard p != q else { continue }
            let n = p * q
            let lambda = (p - 1) * (q - 1) / (p - 1).greatestCommonDivisor(with: q - 1)
            guard n.bitWidth == modulusBits, let d = exponent.inverse(lambda) else { continue }
            let key: _RSA.Signing.PrivateKey
            do {
                key = try _RSA.Signing.PrivateKey(n: n.serialize(), e: exponent.serialize(), d: d.serialize(), p: p.serialize(), q: q.serialize())
            } catch {
                throw SigningKeyError(found: "a generated key that BoringSSL refuses (\(error))", expected: requirement, hint: "Try again; report this if it repeats.")
            }
            return try SGXSigningKey(privateKey: key)
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

enum PrimeSearch {
    static let smallPrimes: [UInt] = {
        var isComposite = [Bool](repeating: false, count: 20_000)
        var primes: [UInt] = []
        for candidate in 2..<isComposite.count where !isComposite[candidate] {
            primes.append(UInt(candidate))
            for multiple in stride(from: candidate * candidate, to: isComposite.count, by: candidate) { isComposite[multiple] = true }
        }
        return primes
    }()

    static let millerRabinRounds = 8

    /// A probable prime of exactly `bits` bits with its two top bits set and ≡ 5 (mod 6), i.e. odd and ≡ 2 (mod 3).
    static func prime(bits: Int, using generator: inout some RandomNumberGenerator) -> BigUInt {
        while true {
            var start = BigUInt.randomInteger(withExactWidth: bits, using: &generator)
            start |= BigUInt(1) << (bits - 2)
            start += BigUInt((5 + 6 - Int(start % 6)) % 6)
            // Walk candidates start, start+6, ... keeping each one's remainder by the small primes, so that only
            // candidates without a small factor reach the expensive test.
            var remainders = smallPrimes.map { UInt(start % BigUInt($0)) }
            for step in 0..<4096 {
                if step > 0 {
                    for index in remainders.indices { remainders[index] = (remainders[index] + 6) % smallPrimes[index] }
                }
                guard !remainders.contains(0) else { continue }
                let candidate = start + BigUInt(6 * step)
                guard candidate.bitWidth == bits else { break }
                if isProbablePrime(candidate, using: &generator) { return candidate }
            }
        }
    }

    static func isProbablePrime(_ n: BigUInt, using generator: inout some RandomNumberGenerator) -> Bool {
        let nMinusOne = n - 1
        var d = nMinusOne
        var shifts = 0
        while d.isMultiple(of: 2) {
            d >>= 1
            shifts += 1
        }
        for _ in 0..<millerRabinRounds {
            let base = BigUInt.randomInteger(lessThan: n - 3, using: &generator) + 2
            var x = base.power(d, modulus: n)
            if x == 1 || x == nMinusOne { continue }
            var witness = true
            for _ in 1..<max(shifts, 1) {
                x = x.power(2, modulus: n)
                if x == nMinusOne {
                    witness = false
                    break
                }
            }
            if witness { return false }
        }
        return true
    }
}
