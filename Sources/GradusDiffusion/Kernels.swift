/// Elementwise kernels shared by the samplers and guidance: plain loops over raw buffers (they vectorise;
/// no per-element closures). Coefficients are converted to `T` once per call.
public enum Kernels {
    /// `out = a·x + b·y`; `out` may alias `x` or `y`.
    // x, y, out: (count,)
    @inlinable
    public static func axpby<T: BinaryFloatingPoint>(
        _ a: T, _ x: UnsafePointer<T>, _ b: T, _ y: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = a * x[i] + b * y[i] }
    }

    /// `out = x + a·(y − z)`; `out` may alias any input (CFG: `u + s·(c − u)`).
    ///
    /// Computed in Double and rounded to `T` once. For float32, `y − z` is then exact and the result is within
    /// half an ulp of the float64 value even where `x` and `a·(y − z)` cancel (large scales, large inputs), where
    /// float32 arithmetic would lose digits to the terms' magnitude.
    @inlinable
    public static func addScaledDifference<T: BinaryFloatingPoint>(
        _ x: UnsafePointer<T>, _ a: Double, _ y: UnsafePointer<T>, _ z: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = T(Double(x[i]) + a * (Double(y[i]) - Double(z[i]))) }
    }

    /// `out = a·x + b·y + c·z`; `out` may alias any input.
    @inlinable
    public static func axpbypcz<T: BinaryFloatingPoint>(
        _ a: T, _ x: UnsafePointer<T>, _ b: T, _ y: UnsafePointer<T>, _ c: T, _ z: UnsafePointer<T>,
        into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = a * x[i] + b * y[i] + c * z[i] }
    }

    /// Clamps in place to `[-limit, limit]`.
    @inlinable
    public static func clamp<T: BinaryFloatingPoint>(_ x: UnsafeMutablePointer<T>, limit: T, count: Int) {
        for i in 0..<count { x[i] = min(max(x[i], -limit), limit) }
    }
}
