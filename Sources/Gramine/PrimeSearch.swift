/// Random probable primes for RSA keys with public exponent 3, as little-endian `UInt64` limbs.
///
/// A search draws a random start with its two top bits set (so it exceeds √2·2^(bits−1), as FIPS 186-5 asks, and the
/// product of two such primes has exactly twice their width), moves it up to ≡ 5 (mod 6) (odd, and ≡ 2 (mod 3) so that
/// 3 is invertible modulo p − 1), and walks start, start + 6, start + 12, … . A sieve over a window of that walk strikes the candidates with a factor below
/// 2¹⁶, which leaves about 15% of them for Miller–Rabin.
enum PrimeSearch {
    /// Miller–Rabin rounds with random bases for the 1536-bit primes of an RSA-3072 key: FIPS 186-5 Table B.1 asks for
    /// 4 to reach an error probability of 2⁻¹²⁸, matching the key's 128-bit security strength.
    static let millerRabinRounds = 4

    /// Distance between consecutive candidates: keeps them ≡ 5 (mod 6).
    static let step: UInt64 = 6

    /// Candidates sieved at once. A prime near 2¹⁵³⁶ comes about every 355 steps of 6, so a window this long holds one
    /// with probability above 99.6%; when it holds none the search starts afresh.
    static let windowSize = 2048

    /// A prime that the sieve divides by, with step⁻¹ mod prime, which locates a window's first multiple of the prime
    /// without a division of the wide start.
    struct SievingPrime: Sendable {
        let prime: UInt64
        let stepInverse: UInt64
    }

    /// The primes 5 ..< 2¹⁶ (2 and 3 never divide a candidate). A bound of 2²⁰ would spare only a tenth of the
    /// Miller–Rabin tests, and in a debug build its table and the remainders of each start cost about as much.
    static let sievingPrimes: [SievingPrime] = {
        var isComposite = [Bool](repeating: false, count: 1 << 16)
        var primes: [SievingPrime] = []
        for candidate in 2..<isComposite.count where !isComposite[candidate] {
            for multiple in stride(from: candidate * candidate, to: isComposite.count, by: candidate) { isComposite[multiple] = true }
            guard candidate >= 5 else { continue }
            let prime = UInt64(candidate)
            // step^(p−2) ≡ step⁻¹ (mod p) by Fermat; products of two residues below 2¹⁶ fit a UInt64.
            var inverse: UInt64 = 1
            var base = step % prime
            var exponent = prime - 2
            while exponent > 0 {
                if exponent & 1 == 1 { inverse = inverse * base % prime }
                base = base * base % prime
                exponent >>= 1
            }
            primes.append(SievingPrime(prime: prime, stepInverse: inverse))
        }
        return primes
    }()

    /// A probable prime of exactly `bits` bits (a multiple of 64) with its two top bits set, ≡ 5 (mod 6).
    static func prime(bits: Int, using generator: inout some RandomNumberGenerator) -> [UInt64] {
        precondition(bits >= 64 && bits % 64 == 0, "prime search works on whole limbs; \(bits) bits requested")
        let width = bits / 64
        while true {
            var start = (0..<width).map { _ in generator.next() as UInt64 }
            start[width - 1] |= 0b11 << 62
            // (5 − start) mod 6, kept non-negative.
            guard !Limbs.add((11 - Limbs.remainder(start, dividingBy: step)) % step, to: &start) else { continue }

            // isComposite[k]: start + 6k has a factor among the sieving primes.
            var isComposite = [Bool](repeating: false, count: windowSize)
            for sieving in sievingPrimes {
                let p = sieving.prime
                // start + 6k ≡ 0 (mod p) ⟺ k ≡ −start · 6⁻¹ (mod p).
                var k = Int((p - Limbs.remainder(start, dividingBy: p)) % p * sieving.stepInverse % p)
                while k < windowSize {
                    isComposite[k] = true
                    k += Int(p)
                }
            }
            for k in 0..<windowSize where !isComposite[k] {
                var candidate = start
                // Running past 2^bits (only for a start within 6·windowSize of it) ends this window.
                guard !Limbs.add(step * UInt64(k), to: &candidate) else { break }
                if isProbablePrime(candidate, rounds: millerRabinRounds, using: &generator) { return candidate }
            }
        }
    }

    /// Miller–Rabin (FIPS 186-5 B.3.1) with `rounds` random bases, for an odd n above 3. A prime always passes; a
    /// composite passes one round with probability at most 1/4, and far less for random numbers of this size.
    static func isProbablePrime(_ n: [UInt64], rounds: Int, using generator: inout some RandomNumberGenerator) -> Bool {
        precondition(n[0] & 1 == 1 && Limbs.bitLength(n) > 2, "Miller–Rabin needs an odd number above 3")
        let modulus = MontgomeryModulus(n)
        var nMinusOne = n
        nMinusOne[0] -= 1
        // n − 1 = 2^shifts · d with d odd.
        let shifts = Limbs.trailingZeroBitCount(nMinusOne)
        let d = Limbs.shiftedRight(nMinusOne, by: shifts)
        let one = Limbs.powerOfTwo(0, width: n.count)
        let two = Limbs.powerOfTwo(1, width: n.count)
        let topMask = UInt64.max >> n[n.count - 1].leadingZeroBitCount

        for _ in 0..<rounds {
            // A uniform base in [2, n − 2]: draw as many bits as n has, and draw again when outside.
            var base: [UInt64]
            repeat {
                base = (0..<n.count).map { _ in generator.next() as UInt64 }
                base[n.count - 1] &= topMask
            } while Limbs.isLess(base, than: two) || !Limbs.isLess(base, than: nMinusOne)

            var x = modulus.power(base, d)
            guard x != one && x != nMinusOne else { continue }
            var isWitness = true
            for _ in 1..<shifts {
                x = modulus.multiply(x, x)
                if x == nMinusOne {
                    isWitness = false
                    break
                }
            }
            if isWitness { return false }
        }
        return true
    }
}
