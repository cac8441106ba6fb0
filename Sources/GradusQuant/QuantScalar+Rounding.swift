import GradusRuntime
import GradusTensor

extension TensorScalar {
    /// `1.5·2^p` (p = significand bits): `(v + m) − m` rounds `v` half-to-even in the default FP rounding
    /// mode for `|v| < 2^(p−1)`. Unlike `rounded(.toNearestOrEven)` it vectorises on baseline x86-64
    /// (no SSE4.1 `roundps`), so kernels clamp to the (integer) code range first and then use it.
    @inlinable @inline(__always)
    static var _roundingMagic: Self { Self(sign: .plus, exponent: Self.Exponent(Self.significandBitCount), significand: 1.5) }
}

/// Round half to even for any magnitude (scalar helper; kernels use the clamped magic-number form).
@inlinable @inline(__always)
func roundHalfEven<T: TensorScalar>(_ v: T) -> T { v.rounded(.toNearestOrEven) }

/// An integer code from a value the kernel already clamped to the code range: NaN (from a NaN or ±∞ input,
/// which clamping cannot remove) maps to 0 instead of trapping in `Int32.init`. Its dequantized value stays NaN.
@inlinable @inline(__always)
func quantCode<T: TensorScalar>(_ q: T) -> Int32 { q == q ? Int32(q) : 0 }

/// `sign(x)` with `sign(0) = 0` (torch semantics; NaN maps to 0).
@inlinable @inline(__always)
func signum<T: TensorScalar>(_ x: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : 0) }

/// Row-major channel layout of a scale group: `outer` runs of `inner` elements, stride `channels·inner`.
public struct QuantLayout: Sendable, Equatable {
    public var outer: Int
    public var channels: Int
    public var inner: Int
    public init(outer: Int, channels: Int, inner: Int) { self.outer = outer; self.channels = channels; self.inner = inner }
    /// Total element count.
    public var count: Int { outer * channels * inner }
    /// Consecutive groups of `size` over `count` elements (caller checked divisibility).
    public static func groups(count: Int, size: Int) -> QuantLayout { QuantLayout(outer: 1, channels: count / size, inner: size) }
    /// Offset of run `o` of channel `c`.
    @inlinable @inline(__always) public func runStart(_ o: Int, _ c: Int) -> Int { (o &* channels &+ c) &* inner }
}

extension QuantConfig {
    /// `validate(shape:)` as a `QuantLayout`.
    public func layout(shape: [Int]) throws(GradusError) -> QuantLayout {
        let d = try validate(shape: shape)
        return QuantLayout(outer: d.outer, channels: d.channels, inner: d.inner)
    }
}
