import Glibc

/// Philox-4x32-10, a counter-based random generator (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
///
/// Element `i` of a random tensor is a pure function of `(seed, stream, i)`, so results are bitwise the
/// same whatever the thread count or slicing of the work.
public struct Philox: Sendable {
    public let key: (UInt32, UInt32)

    public init(seed: UInt64) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// Four 32-bit random words for a 128-bit counter.
    @inlinable
    public func block(_ counter: (UInt32, UInt32, UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c.0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c.2)
            c = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c.1 ^ k.0, UInt32(truncatingIfNeeded: p1),
                 UInt32(truncatingIfNeeded: p0 >> 32) ^ c.3 ^ k.1, UInt32(truncatingIfNeeded: p0))
            k = (k.0 &+ 0x9E37_79B9, k.1 &+ 0xBB67_AE85)
        }
        return c
    }

    /// Four words for element block `index` of stream `stream`.
    @inlinable
    public func block(stream: UInt64, index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        block((UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
               UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)))
    }

    /// A uniform float in [0, 1) from a 32-bit word (24 significant bits).
    @inlinable public static func unitFloat(_ w: UInt32) -> Float { Float(w >> 8) * (1.0 / 16_777_216.0) }
    /// A uniform double in [0, 1) from two 32-bit words (53 significant bits).
    @inlinable public static func unitDouble(_ hi: UInt32, _ lo: UInt32) -> Double {
        let bits = (UInt64(hi) << 21) ^ UInt64(lo >> 11)
        return Double(bits & ((1 << 53) - 1)) * (1.0 / 9_007_199_254_740_992.0)
    }
}

/// A sequential stream over Philox for code that draws numbers one at a time (shuffles, data generators).
/// Each `next()` advances a counter; the sequence depends only on `(seed, stream)`.
public struct PhiloxStream: Sendable {
    public let philox: Philox
    public let stream: UInt64
    public private(set) var counter: UInt64 = 0
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    public init(seed: UInt64, stream: UInt64 = 0) { philox = Philox(seed: seed); self.stream = stream }

    public mutating func nextUInt32() -> UInt32 {
        if used == 4 { buffer = philox.block(stream: stream, index: counter); counter &+= 1; used = 0 }
        defer { used += 1 }
        switch used { case 0: return buffer.0; case 1: return buffer.1; case 2: return buffer.2; default: return buffer.3 }
    }
    public mutating func nextUInt64() -> UInt64 { (UInt64(nextUInt32()) << 32) | UInt64(nextUInt32()) }
    /// Uniform in [0, 1).
    public mutating func nextDouble() -> Double { Philox.unitDouble(nextUInt32(), nextUInt32()) }
    public mutating func nextFloat() -> Float { Philox.unitFloat(nextUInt32()) }
    /// Uniform integer in 0..<bound (bound > 0), unbiased by rejection.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true { let r = nextUInt64(); if r < limit { return Int(r % b) } }
    }
    /// A standard normal sample (Box–Muller).
    public mutating func nextNormal() -> Double {
        let u1 = max(nextDouble(), 1e-300), u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

