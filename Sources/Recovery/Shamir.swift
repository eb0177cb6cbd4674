/// Shamir secret sharing over GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1.
///
/// The share layout follows hashicorp/shamir (which MarbleRun uses): the share of an n-byte secret is n bytes of
/// polynomial values followed by one byte, the x coordinate (distinct, non-zero). A 32-byte data key therefore
/// gives 33-byte shares.
enum Shamir {
    static func split(_ secret: [UInt8], parts: Int, threshold: Int) -> [[UInt8]] {
        precondition(parts >= 1 && parts <= 255 && threshold >= 1 && threshold <= parts)
        var xCoordinates: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        while xCoordinates.count < parts {
            let x = UInt8.random(in: 1...255, using: &generator)
            if !xCoordinates.contains(x) { xCoordinates.append(x) }
        }
        var shares = xCoordinates.map { _ in [UInt8]() }
        for byte in secret {
            let coefficients = [byte] + (1..<threshold).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for (index, x) in xCoordinates.enumerated() {
                shares[index].append(evaluate(coefficients, at: x))
            }
        }
        for index in shares.indices { shares[index].append(xCoordinates[index]) }
        return shares
    }

    /// The secret from `threshold` or more shares of equal length with distinct x coordinates.
    static func combine(_ shares: [[UInt8]]) -> [UInt8] {
        precondition(!shares.isEmpty && shares.allSatisfy { $0.count == shares[0].count })
        let xs = shares.map { $0[$0.count - 1] }
        return (0..<(shares[0].count - 1)).map { position in
            interpolateAtZero(xs: xs, ys: shares.map { $0[position] })
        }
    }

    /// Horner's rule; coefficients[0] is the constant term.
    private static func evaluate(_ coefficients: [UInt8], at x: UInt8) -> UInt8 {
        coefficients.reversed().reduce(0) { multiply($0, x) ^ $1 }
    }

    private static func interpolateAtZero(xs: [UInt8], ys: [UInt8]) -> UInt8 {
        var result: UInt8 = 0
        for i in xs.indices {
            var basis: UInt8 = 1
            for j in xs.indices where j != i {
                // Lagrange basis at 0: x_j / (x_j - x_i); subtraction is XOR in GF(2^8).
                basis = multiply(basis, divide(xs[j], xs[j] ^ xs[i]))
            }
            result ^= multiply(ys[i], basis)
        }
        return result
    }

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a
        var b = b
        var product: UInt8 = 0
        for _ in 0..<8 {
            // Branch-free: mask is 0xff when the low bit of b is set.
            product ^= a & (0 &- (b & 1))
            let carry = 0 &- (a >> 7)
            a = (a << 1) ^ (0x1b & carry)
            b >>= 1
        }
        return product
    }

    /// a / b for b != 0, as a * b^254 (b^255 = 1 in GF(2^8)).
    static func divide(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var inverse: UInt8 = 1
        var base = b
        var exponent = 254
        while exponent > 0 {
            if exponent & 1 == 1 { inverse = multiply(inverse, base) }
            base = multiply(base, base)
            exponent >>= 1
        }
        return multiply(a, inverse)
    }
}
