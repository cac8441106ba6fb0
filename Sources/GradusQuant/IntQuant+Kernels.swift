import GradusRuntime
import GradusTensor

/// Integer fake-quantization kernels over raw buffers (spec §1).
///
/// Symmetric, `b` bits: `q_max = 2^(b−1) − 1`, `scale = max(absmax, 1e-6)/q_max`,
/// `q = clamp(round(x/scale), −q_max, q_max)`, `x̂ = q·scale`, zero point 0.
/// Asymmetric (Stable-SPAM / Q-GaLore rule): `q_max = 2^b − 1`, `scale = max(max − min, 1e-5)/q_max`,
/// `zero = clamp(−round(min/scale), 0, q_max)`, `q = clamp(round(x/scale) + zero, 0, q_max)`,
/// `x̂ = (q − zero)·scale`. Rounding is half to even; `x/scale` is evaluated as `x·(1/scale)` like torch's
/// `fake_quantize_*` kernels. Stochastic rounding adds `u − 0.5` (`u ∈ [0, 1)`) before rounding.
public enum IntQuantKernel {
    /// Per-scale statistics and parameters of one channel/group.
    @inlinable @inline(__always)
    static func parameters<T: TensorScalar>(_ x: UnsafePointer<T>, _ layout: QuantLayout, channel c: Int,
                                            bits: Int, symmetric: Bool) -> (scale: T, zero: T) {
        if symmetric {
            // absmax over the channel's runs
            var m: T = 0
            for o in 0..<layout.outer {
                let p = x + layout.runStart(o, c)
                for i in 0..<layout.inner { let a = abs(p[i]); m = a > m ? a : m }
            }
            let qmax = T((1 << (bits - 1)) - 1)
            let floor: T = 1e-6
            return ((m > floor ? m : floor) / qmax, 0)
        } else {
            var lo = T.infinity, hi = -T.infinity
            for o in 0..<layout.outer {
                let p = x + layout.runStart(o, c)
                for i in 0..<layout.inner { let v = p[i]; lo = v < lo ? v : lo; hi = v > hi ? v : hi }
            }
            let qmax = T((1 << bits) - 1)
            let floor: T = 1e-5
            let range = hi - lo
            let scale = (range > floor ? range : floor) / qmax
            var zero = -roundHalfEven(lo / scale)
            zero = zero >= 0 ? (zero > qmax ? qmax : zero) : 0  // NaN (from ±∞ inputs) → 0
            return (scale, zero)
        }
    }

    /// Fake-quantizes `x` (layout `layout`) with `bits`-bit integers.
    ///
    /// - Parameters:
    ///   - x: input, `layout.count` elements, row-major.
    ///   - out: dequantized result `x̂` (may alias `x`); `nil` to skip.
    ///   - codes: integer codes `q` (asymmetric codes include the zero point); `nil` to skip.
    ///   - scales: `layout.channels` scales (written).
    ///   - zeroPoints: `layout.channels` zero points (written; 0 when symmetric); `nil` to skip.
    ///   - noise: `u ∈ [0, 1)` per element for stochastic rounding; `nil` = round half to even.
    ///   - bits: 2…8 (`bits == 1` writes `sign(x)` with scale 1; checked by `QuantConfig.validate`).
    @inlinable
    public static func fakeQuantize<T: TensorScalar>(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>?, codes: UnsafeMutablePointer<Int32>?,
        scales: UnsafeMutablePointer<T>, zeroPoints: UnsafeMutablePointer<Int32>?,
        layout: QuantLayout, bits: Int, symmetric: Bool, noise: UnsafePointer<T>? = nil
    ) {
        if bits == 1 {
            for c in 0..<layout.channels {
                scales[c] = 1; zeroPoints?[c] = 0
                for o in 0..<layout.outer {
                    let s = layout.runStart(o, c)
                    for i in s..<(s + layout.inner) {
                        let q = signum(x[i])
                        out?[i] = q; codes?[i] = quantCode(q)
                    }
                }
            }
            return
        }
        let magic = T._roundingMagic
        let half: T = 0.5
        for c in 0..<layout.channels {
            let (scale, zero) = parameters(x, layout, channel: c, bits: bits, symmetric: symmetric)
            scales[c] = scale
            zeroPoints?[c] = Int32(zero)
            let inv = 1 / scale
            // Clamp bounds in the scaled domain, shifted by the zero point (integers, so clamp-then-round
            // equals round-then-clamp).
            let lo: T = symmetric ? -T((1 << (bits - 1)) - 1) : -zero
            let hi: T = symmetric ? T((1 << (bits - 1)) - 1) : T((1 << bits) - 1) - zero
            let z = Int32(zero)
            for o in 0..<layout.outer {
                let s = layout.runStart(o, c)
                let px = x + s
                if let noise {
                    let pn = noise + s
                    for i in 0..<layout.inner {
                        var v = px[i] * inv + (pn[i] - half)
                        v = v < lo ? lo : v
                        v = v > hi ? hi : v
                        let q = (v + magic) - magic
                        out?[s + i] = q * scale
                        codes?[s + i] = quantCode(q) &+ z
                    }
                } else if let out, codes == nil {
                    // hot path: dequantized values only
                    let po = out + s
                    for i in 0..<layout.inner {
                        var v = px[i] * inv
                        v = v < lo ? lo : v
                        v = v > hi ? hi : v
                        po[i] = ((v + magic) - magic) * scale
                    }
                } else {
                    for i in 0..<layout.inner {
                        var v = px[i] * inv
                        v = v < lo ? lo : v
                        v = v > hi ? hi : v
                        let q = (v + magic) - magic
                        out?[s + i] = q * scale
                        codes?[s + i] = quantCode(q) &+ z
                    }
                }
            }
        }
    }

    /// Dequantizes integer codes: `x̂ = (q − zero)·scale` per channel.
    @inlinable
    public static func dequantize<T: TensorScalar>(
        codes: UnsafePointer<Int32>, scales: UnsafePointer<T>, zeroPoints: UnsafePointer<Int32>?,
        into out: UnsafeMutablePointer<T>, layout: QuantLayout
    ) {
        for c in 0..<layout.channels {
            let scale = scales[c]
            let z = zeroPoints?[c] ?? 0
            for o in 0..<layout.outer {
                let s = layout.runStart(o, c)
                for i in s..<(s + layout.inner) { out[i] = T(codes[i] &- z) * scale }
            }
        }
    }

    /// Fills `noise` with `u ∈ [0, 1)` from Philox (`seed`, stream 0): element `i` uses lane `i % 4` of
    /// counter block `i / 4`, so the draw does not depend on how the work is split.
    @inlinable
    public static func fillUniformNoise<T: TensorScalar>(_ noise: UnsafeMutablePointer<T>, count: Int, seed: UInt64) {
        let rng = Philox(seed: seed)
        var i = 0
        while i < count {
            let b = rng.block(stream: 0, index: UInt64(i >> 2))
            for l in 0..<4 where i + l < count {
                let w = l == 0 ? b.0 : (l == 1 ? b.1 : (l == 2 ? b.2 : b.3))
                noise[i + l] = T(Philox.unitFloat(w))
            }
            i += 4
        }
    }
}
