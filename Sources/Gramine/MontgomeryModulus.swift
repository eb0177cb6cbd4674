/// Multiplication and exponentiation modulo one odd number N, on little-endian `UInt64` limbs of one fixed width.
///
/// The prime search for an SGX key spends nearly all its time in modular exponentiation of 1536-bit numbers.
/// attaswift/BigInt does that in generic code that allocates for every product and, unspecialised in a debug build,
/// needed minutes for one key. Here an exponentiation keeps all its operands in one buffer (`Workspace`) and multiplies
/// in Montgomery form over raw pointers with wrapping arithmetic, so that a debug build needs seconds, not minutes.
///
/// Montgomery form of x is xR mod N with R = 2^(64·width); the product of two such numbers, reduced with a division by
/// R instead of by N, is again in that form. Callers see ordinary residues: conversion happens inside.
struct MontgomeryModulus: Sendable {
    /// N, little-endian; every operand has this many limbs and is less than N.
    let modulus: [UInt64]
    /// −N⁻¹ mod 2⁶⁴: multiplying the lowest limb by it gives the multiple of N that clears that limb.
    let negatedInverse: UInt64
    /// R² mod N: a Montgomery product with it turns a residue into Montgomery form.
    let rSquared: [UInt64]

    var width: Int { modulus.count }

    init(_ modulus: [UInt64]) {
        precondition(
            modulus.first.map { $0 & 1 == 1 } == true && Limbs.bitLength(modulus) > 1, "Montgomery arithmetic needs an odd modulus above 1")
        self.modulus = modulus
        // Newton's iteration x ← x(2 − Nx) doubles the number of correct low bits; N₀ is its own inverse mod 8
        // (3 bits), so five steps reach 96 ≥ 64 bits.
        var inverse = modulus[0]
        for _ in 0..<5 { inverse = inverse &* (2 &- modulus[0] &* inverse) }
        negatedInverse = 0 &- inverse
        // R² mod N by doubling, starting from the highest power of two below N (odd N is no power of two). This runs
        // once per candidate that passes the sieve; its ~1,500 doublings at 1536 bits cost ~2% of one exponentiation.
        var power = Limbs.powerOfTwo(Limbs.bitLength(modulus) - 1, width: modulus.count)
        for _ in Limbs.bitLength(modulus) - 1..<(128 * modulus.count) {
            let overflow = Limbs.doubled(&power)
            if overflow || !Limbs.isLess(power, than: modulus) { Limbs.subtract(modulus, from: &power) }
        }
        rSquared = power
    }

    /// a·b mod N, for a and b below N.
    func multiply(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        let work = Workspace(self, slots: 3)
        work.load(a, into: 0)
        work.load(b, into: 1)
        work.load(rSquared, into: 2)
        work.multiply(0, 1, into: 0)  // abR⁻¹
        work.multiply(0, 2, into: 0)  // ab
        return work.value(in: 0)
    }

    /// base^exponent mod N, for a base below N and an exponent of any width.
    ///
    /// Fixed 4-bit windows: four squarings and one multiplication by a table entry per window, whatever the
    /// exponent's digits, so that the sequence of operations does not depend on the (secret) exponent's bits.
    func power(_ base: [UInt64], _ exponent: [UInt64]) -> [UInt64] {
        // Slot 0 accumulates, slot 1 holds a constant, slots 2 + i hold baseⁱ (in Montgomery form) for i < 16.
        let work = Workspace(self, slots: 2 + 16)
        work.load(rSquared, into: 1)
        work.load(Limbs.powerOfTwo(0, width: width), into: 2)
        work.multiply(2, 1, into: 2)  // 1·R² / R = R: the Montgomery form of 1
        work.load(base, into: 3)
        work.multiply(3, 1, into: 3)  // base·R
        for digit in 2..<16 { work.multiply(2 + digit - 1, 3, into: 2 + digit) }

        work.copy(2, to: 0)
        for window in (0..<(exponent.count * 16)).reversed() {
            for _ in 0..<4 { work.multiply(0, 0, into: 0) }
            let digit = Int(truncatingIfNeeded: exponent[window / 16] >> (UInt64(window % 16) * 4) & 0xF)
            work.multiply(0, 2 + digit, into: 0)
        }
        work.load(Limbs.powerOfTwo(0, width: width), into: 1)
        work.multiply(0, 1, into: 0)  // xR·1 / R = x
        return work.value(in: 0)
    }
}

/// The memory of one computation modulo N: the modulus, the product accumulator and `slots` operands of `width` limbs,
/// in one allocation freed with the value.
///
/// The inner loops index raw pointers: in a debug build every `Array` access is a call with a bounds check, retain and
/// release and a uniqueness check, which would cost more than the arithmetic itself.
private struct Workspace: ~Copyable {
    private let memory: UnsafeMutablePointer<UInt64>
    private let width: Int
    private let negatedInverse: UInt64

    init(_ modulus: MontgomeryModulus, slots: Int) {
        width = modulus.width
        negatedInverse = modulus.negatedInverse
        // Layout: N (width), accumulator (width + 2), slots.
        let count = 2 * width + 2 + slots * width
        memory = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        memory.initialize(repeating: 0, count: count)
        modulus.modulus.withUnsafeBufferPointer { memory.update(from: $0.baseAddress!, count: width) }
    }

    deinit { memory.deallocate() }

    private var modulus: UnsafeMutablePointer<UInt64> { memory }
    private var accumulator: UnsafeMutablePointer<UInt64> { memory + width }
    private func slot(_ index: Int) -> UnsafeMutablePointer<UInt64> { memory + (2 * width + 2) + index * width }

    func load(_ value: [UInt64], into index: Int) {
        precondition(value.count == width, "an operand has \(value.count) limbs, the modulus \(width)")
        value.withUnsafeBufferPointer { slot(index).update(from: $0.baseAddress!, count: width) }
    }

    func value(in index: Int) -> [UInt64] { Array(UnsafeBufferPointer(start: slot(index), count: width)) }

    func copy(_ source: Int, to destination: Int) { slot(destination).update(from: slot(source), count: width) }

    /// slot `result` ← slot `a` · slot `b` / R mod N, for operands below N. `result` may be `a` or `b`: both are read
    /// in full before it is written.
    ///
    /// Coarsely integrated operand scanning: for each limb bᵢ add a·bᵢ to the accumulator, then add the multiple of N
    /// that clears its lowest limb and drop that limb. The accumulator stays below 2N, so it needs width + 1 limbs
    /// plus one for the carry of the addition, and one conditional subtraction of N finishes.
    ///
    /// Each step adds two limbs into the 128-bit product, which cannot overflow ((2⁶⁴ − 1)² + 2(2⁶⁴ − 1) = 2¹²⁸ − 1),
    /// written out in place: a helper function would be a real call in a debug build, and adding the carries into the
    /// high limb (rather than into a separate carry from two flags) compiles to add-with-carry instead of
    /// unpredictable branches in a release build. The inner loops are `while` loops because a range's iterator is an
    /// unspecialised call per step in a debug build (15% of the time).
    func multiply(_ a: Int, _ b: Int, into result: Int) {
        let n = width
        let x = slot(a)
        let y = slot(b)
        let m = modulus
        let t = accumulator
        t.update(repeating: 0, count: n + 2)
        var overflow: Bool
        for i in 0..<n {
            let yi = y[i]
            var carry: UInt64 = 0
            var j = 0
            while j < n {
                var (high, low) = x[j].multipliedFullWidth(by: yi)
                (low, overflow) = low.addingReportingOverflow(t[j])
                high &+= overflow ? 1 : 0
                (low, overflow) = low.addingReportingOverflow(carry)
                high &+= overflow ? 1 : 0
                t[j] = low
                carry = high
                j &+= 1
            }
            (t[n], overflow) = t[n].addingReportingOverflow(carry)
            t[n + 1] = overflow ? 1 : 0

            let q = t[0] &* negatedInverse
            var (high, low) = q.multipliedFullWidth(by: m[0])
            // t₀ + low is 0 mod 2⁶⁴ by the choice of q: only its carry is kept.
            (_, overflow) = low.addingReportingOverflow(t[0])
            carry = high &+ (overflow ? 1 : 0)
            j = 1
            while j < n {
                (high, low) = q.multipliedFullWidth(by: m[j])
                (low, overflow) = low.addingReportingOverflow(t[j])
                high &+= overflow ? 1 : 0
                (low, overflow) = low.addingReportingOverflow(carry)
                high &+= overflow ? 1 : 0
                t[j - 1] = low
                carry = high
                j &+= 1
            }
            (t[n - 1], overflow) = t[n].addingReportingOverflow(carry)
            t[n] = t[n + 1] &+ (overflow ? 1 : 0)
        }

        let r = slot(result)
        var borrow: UInt64 = 0
        for j in 0..<n {
            var (difference, borrow1) = t[j].subtractingReportingOverflow(m[j])
            (difference, overflow) = difference.subtractingReportingOverflow(borrow)
            r[j] = difference
            borrow = borrow1 || overflow ? 1 : 0
        }
        // t − N is negative (t < N) exactly when the borrow is not covered by the top limb: then t is the result.
        if t[n] < borrow { r.update(from: t, count: n) }
    }
}

/// Little-endian `UInt64` limb arrays, as `MontgomeryModulus` and `PrimeSearch` use them.
enum Limbs {
    /// 2^exponent in `width` limbs.
    static func powerOfTwo(_ exponent: Int, width: Int) -> [UInt64] {
        var limbs = [UInt64](repeating: 0, count: width)
        limbs[exponent / 64] = 1 << UInt64(exponent % 64)
        return limbs
    }

    static func bitLength(_ a: [UInt64]) -> Int {
        guard let top = a.lastIndex(where: { $0 != 0 }) else { return 0 }
        return 64 * top + (64 - a[top].leadingZeroBitCount)
    }

    static func trailingZeroBitCount(_ a: [UInt64]) -> Int {
        guard let lowest = a.firstIndex(where: { $0 != 0 }) else { return 64 * a.count }
        return 64 * lowest + a[lowest].trailingZeroBitCount
    }

    /// a < b, for arrays of equal width.
    static func isLess(_ a: [UInt64], than b: [UInt64]) -> Bool {
        for index in a.indices.reversed() where a[index] != b[index] { return a[index] < b[index] }
        return false
    }

    /// a ← 2a, returning the bit shifted out.
    static func doubled(_ a: inout [UInt64]) -> Bool {
        var carry: UInt64 = 0
        for index in a.indices {
            let shiftedOut = a[index] >> 63
            a[index] = a[index] << 1 | carry
            carry = shiftedOut
        }
        return carry == 1
    }

    /// a ← a − b mod 2^(64·width).
    static func subtract(_ b: [UInt64], from a: inout [UInt64]) {
        var borrow = false
        for index in a.indices {
            let (difference, borrow1) = a[index].subtractingReportingOverflow(b[index])
            let (final, borrow2) = difference.subtractingReportingOverflow(borrow ? 1 : 0)
            a[index] = final
            borrow = borrow1 || borrow2
        }
    }

    /// a ← a + small, returning whether the sum overflowed the width.
    static func add(_ small: UInt64, to a: inout [UInt64]) -> Bool {
        var carry = small
        for index in a.indices where carry != 0 {
            let (sum, overflow) = a[index].addingReportingOverflow(carry)
            a[index] = sum
            carry = overflow ? 1 : 0
        }
        return carry != 0
    }

    /// a >> bits, keeping the width.
    static func shiftedRight(_ a: [UInt64], by bits: Int) -> [UInt64] {
        let limbShift = bits / 64
        let bitShift = UInt64(bits % 64)
        return a.indices.map { index in
            let low = index + limbShift < a.count ? a[index + limbShift] >> bitShift : 0
            let high = bitShift > 0 && index + limbShift + 1 < a.count ? a[index + limbShift + 1] << (64 - bitShift) : 0
            return low | high
        }
    }

    /// a mod divisor, for a divisor above 0.
    static func remainder(_ a: [UInt64], dividingBy divisor: UInt64) -> UInt64 {
        // Horner's scheme from the top limb: the running remainder is below the divisor, so each two-limb division's
        // quotient fits one limb.
        a.reversed().reduce(0) { remainder, limb in divisor.dividingFullWidth((remainder, limb)).remainder }
    }
}
