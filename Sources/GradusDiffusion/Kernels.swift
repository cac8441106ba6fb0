/// Elementwise kernels shared by the samplers and guidance: plain loops over raw buffers (they vectorise;
/// no per-element closures).
///
/// The combinations compute in Double with Double coefficients and round to `T` once per element. Diffusion's
/// combinations cancel large terms (`(x_t − s·m)/a` at small `ᾱ`, `u + s·(c − u)` at large scales); in float32
/// arithmetic they would lose the digits of the terms' magnitude, in Double a float32 result is within half an
/// ulp of the float64 one.
public enum Kernels {
    /// `out = a·x + b·y`; `out` may alias `x` or `y`.
    // x, y, out: (count,)
    @inlinable
    public static func axpby<T: BinaryFloatingPoint>(
        _ a: Double, _ x: UnsafePointer<T>, _ b: Double, _ y: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = T(a * Double(x[i]) + b * Double(y[i])) }
    }

    /// `out = x + a·(y − z)`; `out` may alias any input (CFG: `u + s·(c − u)`).
    ///
    /// For float32 inputs `y − z` is exact in Double.
    @inlinable
    public static func addScaledDifference<T: BinaryFloatingPoint>(
        _ x: UnsafePointer<T>, _ a: Double, _ y: UnsafePointer<T>, _ z: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = T(Double(x[i]) + a * (Double(y[i]) - Double(z[i]))) }
    }

    /// `out = a·x + b·y + c·z`; `out` may alias any input.
    @inlinable
    public static func axpbypcz<T: BinaryFloatingPoint>(
        _ a: Double, _ x: UnsafePointer<T>, _ b: Double, _ y: UnsafePointer<T>, _ c: Double, _ z: UnsafePointer<T>,
        into out: UnsafeMutablePointer<T>, count: Int
    ) {
        for i in 0..<count { out[i] = T(a * Double(x[i]) + b * Double(y[i]) + c * Double(z[i])) }
    }

    /// Clamps in place to `[-limit, limit]`.
    @inlinable
    public static func clamp<T: BinaryFloatingPoint>(_ x: UnsafeMutablePointer<T>, limit: T, count: Int) {
        for i in 0..<count { x[i] = min(max(x[i], -limit), limit) }
    }
}
