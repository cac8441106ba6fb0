import _GradusShims
#if canImport(Glibc)
import Glibc
#endif

/// The scalar types an optimizer can run in: `Float` (storage precision for training) and `Double`
/// (golden tests to ~1e-9). Kernels are generic over it and pre-specialised for both
/// (`@_specialize`), so even a call from unspecialised generic code runs the concrete loop.
///
/// The elementary functions here avoid `Float.squareRoot()`, whose errno semantics block
/// vectorisation on Linux (see the toolchain guide); `squareRoot(of:)` maps to `gradus_sqrtf`/`gradus_sqrt`.
public protocol OptimizerScalar: BinaryFloatingPoint, Sendable {
    /// √x without errno semantics (vectorises).
    static func squareRoot(of x: Self) -> Self
    /// eˣ.
    static func exponential(_ x: Self) -> Self
    /// `1/σ(|x|) = 1 + e^−|x|`, the denominator of diffGrad's friction `σ(|x|)`, without a library call so that the
    /// loop calling it vectorises. `Float`: Cephes' `expf` reduction with the polynomial one degree shorter (the argument is never
    /// positive, so no upper clamp; clamped at −87.3 so the exponent bits never underflow, where σ is 1 to float32
    /// precision anyway): σ computed from it is within 3 ulp of the float64 value (measured over ±[1e−30, 200]).
    /// `Double`: the C library's `exp` (golden tests, no hot path). The AVX2+FMA step kernel (`_GradusShims/optim_avx2.c`,
    /// see `AdamStepKernel`) evaluates a degree-5 polynomial with FMAs instead, four operations shorter (σ within 1.25 ulp).
    static func inverseLogisticOfMagnitude(_ x: Self) -> Self
    /// A short name (`"float32"`, `"float64"`) for messages and checkpoints.
    static var dtypeName: String { get }
}

extension Float: OptimizerScalar {
    @inlinable @inline(__always) public static func squareRoot(of x: Float) -> Float { gradus_sqrtf(x) }
    @inlinable @inline(__always) public static func exponential(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func inverseLogisticOfMagnitude(_ x: Float) -> Float {
        // −|x| = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact n·ln2_hi), eʳ by a degree-6
        // polynomial, 2ⁿ built in the exponent bits. Adding 1.5·2²³ rounds t to an integer that then sits in
        // the low mantissa bits of k, so no float-to-int conversion (which would trap or not vectorise) is needed.
        // `x < c ? x : c` rather than `Swift.max`, which costs a NaN-handling blend per lane; NaN stays NaN.
        let y = -x.magnitude
        let xc = y < -87.33654 ? -87.33654 : y
        let magic: Float = 12_582_912
        let k = xc * 1.442_695_04 + magic
        let n = k - magic
        let r = (xc - n * 0.693_359_375) - n * -2.121_944_40e-4
        var p: Float = 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let er = p * r * r + r + 1
        return 1 + er * Float(bitPattern: (k.bitPattern &+ 127) &<< 23)
    }
    public static var dtypeName: String { "float32" }
}

extension Double: OptimizerScalar {
    @inlinable @inline(__always) public static func squareRoot(of x: Double) -> Double { gradus_sqrt(x) }
    @inlinable @inline(__always) public static func exponential(_ x: Double) -> Double { exp(x) }
    @inlinable @inline(__always) public static func inverseLogisticOfMagnitude(_ x: Double) -> Double { 1 + exp(-x.magnitude) }
    public static var dtypeName: String { "float64" }
}

/// Scalar helpers in double precision for per-step coefficients (bias corrections, schedules).
@usableFromInline enum ScalarMath {
    @inlinable static func pow(_ x: Double, _ n: Int) -> Double { Glibc.pow(x, Double(n)) }
    @inlinable static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    @inlinable static func sqrt(_ x: Double) -> Double { gradus_sqrt(x) }
    @inlinable static func cos(_ x: Double) -> Double { Glibc.cos(x) }
    @inlinable static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
    @inlinable static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable static func ceil(_ x: Double) -> Double { Glibc.ceil(x) }
    @inlinable static func floor(_ x: Double) -> Double { Glibc.floor(x) }
}
