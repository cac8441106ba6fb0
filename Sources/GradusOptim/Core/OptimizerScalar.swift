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
    /// A short name (`"float32"`, `"float64"`) for messages and checkpoints.
    static var dtypeName: String { get }
}

extension Float: OptimizerScalar {
    @inlinable @inline(__always) public static func squareRoot(of x: Float) -> Float { gradus_sqrtf(x) }
    @inlinable @inline(__always) public static func exponential(_ x: Float) -> Float { expf(x) }
    public static var dtypeName: String { "float32" }
}

extension Double: OptimizerScalar {
    @inlinable @inline(__always) public static func squareRoot(of x: Double) -> Double { gradus_sqrt(x) }
    @inlinable @inline(__always) public static func exponential(_ x: Double) -> Double { exp(x) }
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
