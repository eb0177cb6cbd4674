import BigInt
import Testing

@testable import Gramine

/// SplitMix64: reproducible "random" operands and Miller–Rabin bases, so that a failure can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func limbs(_ value: BigUInt, width: Int) -> [UInt64] {
    let words = value.words.map(UInt64.init)
    return words + Array(repeating: 0, count: width - words.count)
}

private func big(_ limbs: [UInt64]) -> BigUInt { BigUInt(words: limbs.map(UInt.init)) }

/// A random odd modulus of exactly `width` limbs.
private func randomModulus(width: Int, using generator: inout SeededGenerator) -> [UInt64] {
    var modulus = (0..<width).map { _ in generator.next() }
    modulus[0] |= 1
    modulus[width - 1] |= (1 << 63) >> (generator.next() % 64)  // vary the top limb's length too
    return modulus
}

private func randomBelow(_ modulus: BigUInt, width: Int, using generator: inout SeededGenerator) -> [UInt64] {
    limbs(BigUInt(words: (0..<width).map { _ in UInt(generator.next()) }) % modulus, width: width)
}

@Suite struct MontgomeryTests {
    @Test(arguments: [1, 2, 3, 9, 24])
    func productsMatchBigInt(width: Int) {
        var generator = SeededGenerator(state: UInt64(width))
        for _ in 0..<8 {
            let modulus = randomModulus(width: width, using: &generator)
            let n = big(modulus)
            let arithmetic = MontgomeryModulus(modulus)
            #expect(big(arithmetic.rSquared) == (BigUInt(1) << (128 * width)) % n)
            for _ in 0..<5 {
                let a = randomBelow(n, width: width, using: &generator)
                let b = randomBelow(n, width: width, using: &generator)
                #expect(big(arithmetic.multiply(a, b)) == big(a) * big(b) % n)
            }
            // The largest operands give the largest intermediate sums.
            let nMinusOne = limbs(n - 1, width: width)
            #expect(big(arithmetic.multiply(nMinusOne, nMinusOne)) == 1)
        }
    }

    @Test(arguments: [1, 2, 4, 8])
    func powersMatchBigInt(width: Int) {
        var generator = SeededGenerator(state: 100 + UInt64(width))
        for _ in 0..<5 {
            let modulus = randomModulus(width: width, using: &generator)
            let n = big(modulus)
            let arithmetic = MontgomeryModulus(modulus)
            let base = randomBelow(n, width: width, using: &generator)
            let exponent = (0..<width).map { _ in generator.next() }
            #expect(big(arithmetic.power(base, exponent)) == big(base).power(big(exponent), modulus: n))
            #expect(big(arithmetic.power(base, [0])) == 1)
            #expect(big(arithmetic.power(limbs(0, width: width), exponent)) == 0)
        }
    }

    /// Fermat's little theorem at the full 1536 bits, where BigInt's own exponentiation would be too slow in a debug build.
    @Test func powersModuloA1536BitPrimeObeyFermat() {
        let prime = (BigUInt(1) << 1536) - 3453
        let arithmetic = MontgomeryModulus(limbs(prime, width: 24))
        var generator = SeededGenerator(state: 1536)
        let base = randomBelow(prime, width: 24, using: &generator)
        #expect(arithmetic.power(base, limbs(prime - 1, width: 24)) == limbs(1, width: 24))
        #expect(arithmetic.power(base, limbs(prime, width: 24)) == base)
    }
}

@Suite struct PrimeSearchTests {
    private func isProbablePrime(_ number: BigUInt, seed: UInt64 = 7) -> Bool {
        var generator = SeededGenerator(state: seed)
        return PrimeSearch.isProbablePrime(number.words.map(UInt64.init), rounds: PrimeSearch.millerRabinRounds, using: &generator)
    }

    @Test func knownPrimesPass() {
        let primes: [BigUInt] = [
            5, 7, 65_537, 2_305_843_009_213_693_951, 18_446_744_073_709_551_557,  // 2⁶¹ − 1, the largest prime below 2⁶⁴
            (BigUInt(1) << 127) - 1, (BigUInt(1) << 521) - 1, (BigUInt(1) << 1279) - 1,
            (BigUInt(1) << 1536) - 3453, (BigUInt(1) << 1535) + 699,  // the primes nearest 2¹⁵³⁶ below and 2¹⁵³⁵ above
        ]
        for prime in primes { #expect(isProbablePrime(prime), "\(prime)") }
    }

    /// Carmichael numbers fool the Fermat test for every coprime base, and strong pseudoprimes fool Miller–Rabin for
    /// the first few prime bases; random bases catch both.
    @Test(arguments: [UInt64(1), 2, 3])
    func compositesFail(seed: UInt64) {
        let carmichael: [BigUInt] = [
            561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825_265, 321_197_185, 5_394_826_801, 232_250_619_601, 9_746_347_772_161,
        ]
        let strongPseudoprimes: [BigUInt] = [3_215_031_751, 3_825_123_056_546_413_051]  // to bases 2…7 and 2…23
        // 2⁶⁴ + 1 = 274177 · 67280421310721, and n − 1 = 2⁶⁴ exercises a shift by a whole limb.
        let others: [BigUInt] = [(BigUInt(1) << 64) + 1, ((BigUInt(1) << 127) - 1) * ((BigUInt(1) << 521) - 1), 9, 15, 25]
        for composite in carmichael + strongPseudoprimes + others { #expect(!isProbablePrime(composite, seed: seed), "\(composite)") }
    }

    /// A 311-bit Carmichael number of Chernick's form (6k + 1)(12k + 1)(18k + 1), whose three factors are prime.
    @Test func largeCarmichaelNumberFails() {
        let k = (BigUInt(1) << 100) + 8580
        let factors = [6 * k + 1, 12 * k + 1, 18 * k + 1]
        for factor in factors { #expect(isProbablePrime(factor)) }
        let n = factors.reduce(1, *)
        // Korselt's criterion: p − 1 divides n − 1 for each prime factor p.
        for factor in factors { #expect((n - 1) % (factor - 1) == 0) }
        #expect(!isProbablePrime(n))
    }

    @Test func sievingPrimesAndStepInverses() {
        let primes = PrimeSearch.sievingPrimes
        #expect(primes.count == 6542 - 2)  // π(2¹⁶) without 2 and 3
        #expect(primes.prefix(3).map(\.prime) == [5, 7, 11] && primes.last?.prime == 65521)
        for sieving in primes { #expect(PrimeSearch.step * sieving.stepInverse % sieving.prime == 1) }
    }

    /// Sizes at which BigInt's own primality test (exact below 82 bits) stays quick in a debug build.
    @Test(arguments: [64, 128, 256])
    func searchFindsPrimesOfTheRequestedShape(bits: Int) {
        var generator = SeededGenerator(state: UInt64(bits))
        for _ in 0..<2 {
            let prime = big(PrimeSearch.prime(bits: bits, using: &generator))
            #expect(prime.bitWidth == bits && prime >> (bits - 2) == 0b11)
            #expect(prime % 6 == 5)
            #expect(prime.isPrime())
        }
    }

    /// The shape of a real key's primes, which the PEM does not show: SGX's exponent 3 and FIPS 186-5's distance.
    @Test func keyPrimesMeetTheSGXAndFIPSRules() {
        var generator = SystemRandomNumberGenerator()
        let (p, q) = SGXSigningKey.primes(using: &generator)
        #expect(p.bitWidth == 1536 && q.bitWidth == 1536 && (p * q).bitWidth == 3072)
        #expect(p % 3 == 2 && q % 3 == 2)
        #expect((p > q ? p - q : q - p) > BigUInt(1) << 1436)
    }
}
