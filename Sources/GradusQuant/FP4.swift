import GradusRuntime
import GradusTensor

/// 4-bit floating point, OCP E2M1 (spec §3.1–3.2): 1 sign, 2 exponent bits (bias 1), 1 mantissa bit, no
/// inf/NaN. Magnitudes by 3-bit code: `0, 0.5, 1, 1.5, 2, 3, 4, 6`; code `8 + k` is `−value(k)`.
public enum FP4 {
    /// Magnitudes of codes 0…7.
    public static let e2m1Magnitudes: [Float] = [0, 0.5, 1, 1.5, 2, 3, 4, 6]

    /// Value of a 4-bit E2M1 code (bit 3 = sign).
    @inlinable @inline(__always)
    public static func e2m1Value<T: TensorScalar>(_ code: UInt8) -> T {
        let m = code & 7
        // 0, 0.5, 1, 1.5 (subnormal + first binade) then 2, 3, 4, 6
        let mag: T = m < 4 ? T(m) * 0.5 : (m & 1 == 0 ? T(1 << ((m >> 1) - 1)) : T(3 << ((m >> 1) - 2)))
        return code & 8 != 0 ? -mag : mag
    }

    /// E2M1 code of `x`: nearest magnitude, ties to the even code (0.25→0, 0.75→1.0, 1.25→1.0, 1.75→2,
    /// 2.5→2, 3.5→4, 5→4), saturating at 6, sign bit kept for values that round to 0 (−0.25 → code 8).
    @inlinable @inline(__always)
    public static func e2m1Code<T: TensorScalar>(_ x: T) -> UInt8 {
        let a = abs(x)
        // Decision points between codes k and k+1; the tie goes to the even code, so the comparison is
        // strict (>) when k is even and inclusive (>=) when k is odd.
        var m: UInt8 = a > 0.25 ? 1 : 0
        m &+= a >= 0.75 ? 1 : 0
        m &+= a > 1.25 ? 1 : 0
        m &+= a >= 1.75 ? 1 : 0
        m &+= a > 2.5 ? 1 : 0
        m &+= a >= 3.5 ? 1 : 0
        m &+= a > 5 ? 1 : 0
        return x.sign == .minus ? m | 8 : m
    }

    /// Element-wise E2M1 cast: `codes[i] = E2M1(x[i])`, `values[i] = value(codes[i])` (either may be nil).
    @inlinable
    public static func e2m1Cast<T: TensorScalar>(_ x: UnsafePointer<T>, codes: UnsafeMutablePointer<UInt8>?,
                                                 values: UnsafeMutablePointer<T>?, count n: Int) {
        for i in 0..<n {
            let c = e2m1Code(x[i])
            codes?[i] = c
            values?[i] = e2m1Value(c)
        }
    }

    /// Per-group float-scale E2M1 fake quantization (Gradus default for FP4):
    /// `scale = absmax_group/6`, `code = E2M1(x/scale)`, `x̂ = value(code)·scale`. An all-zero group
    /// gets scale 0 and codes 0 (or 8 for −0).
    @inlinable
    public static func absmaxFakeQuantize<T: TensorScalar>(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>?, codes: UnsafeMutablePointer<UInt8>?,
        scales: UnsafeMutablePointer<T>?, layout: QuantLayout
    ) {
        for c in 0..<layout.channels {
            var m: T = 0
            for o in 0..<layout.outer {
                let p = x + layout.runStart(o, c)
                for i in 0..<layout.inner { let a = abs(p[i]); m = a > m ? a : m }
            }
            let scale = m / 6
            scales?[c] = scale
            for o in 0..<layout.outer {
                let s = layout.runStart(o, c)
                for i in s..<(s + layout.inner) {
                    let code = scale > 0 ? e2m1Code(x[i] / scale) : (x[i].sign == .minus ? 8 : 0)
                    codes?[i] = code
                    out?[i] = e2m1Value(code) * scale
                }
            }
        }
    }

    /// MXFP4 fake quantization (torchao `to_mx`, FLOOR scaling): blocks of `blockSize` consecutive
    /// elements (count must be a multiple), shared scale `2^e`, `e = floor(log2 absmax) − 2` clamped to
    /// [−127, 128]; elements `E2M1(x/2^e)` (saturating). An all-zero block reports `e = −127`.
    @inlinable
    public static func mxfp4FakeQuantize<T: TensorScalar>(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>?, codes: UnsafeMutablePointer<UInt8>?,
        scaleExponents: UnsafeMutablePointer<Int32>?, count n: Int, blockSize: Int
    ) {
        var b = 0
        while b < n {
            let len = Swift.min(blockSize, n - b)
            var m: T = 0
            for i in b..<(b + len) { let a = abs(x[i]); m = a > m ? a : m }
            var e: Int = m > 0 && m.isFinite ? Int(m.exponent) - 2 : -127
            e = Swift.max(-127, Swift.min(128, e))
            scaleExponents?[b / blockSize] = Int32(e)
            // E8M0 scale -127 is 2^-127, clamped to the smallest normal float32 like torchao
            let scale = T(sign: .plus, exponent: T.Exponent(Swift.max(e, -126)), significand: 1)
            for i in b..<(b + len) {
                let code = e2m1Code(x[i] / scale)
                codes?[i] = code
                out?[i] = e2m1Value(code) * scale
            }
            b += len
        }
    }
}
