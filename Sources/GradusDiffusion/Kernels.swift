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
    @inlinable
    public static func addScaledDifference<T: BinaryFloatingPoint>(
        _ x: UnsafePointer<T>, _ a: T, _ y: UnsafePointer<T>, _ z: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = x[i] + a * (y[i] - z[i]) }
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
