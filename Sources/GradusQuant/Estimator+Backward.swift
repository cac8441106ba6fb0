import GradusRuntime
import GradusTensor

/// Backward kernels of the straight-through family (spec §1, §5).
///
/// All take the latent (pre-quantization) input `x`, the incoming gradient `gradOutput` and write
/// `gradInput` (may alias `gradOutput`).
public enum EstimatorKernel {
    /// STE: `∂x = g` (identity; the reference adds the quantization error as a constant offset).
    @inlinable
    public static func ste<T: TensorScalar>(gradOutput g: UnsafePointer<T>, gradInput out: UnsafeMutablePointer<T>,
                                            count n: Int) {
        if UnsafePointer(out) == g { return }
        out.update(from: g, count: n)
    }

    /// Clipped STE: `∂x = g·[|x| ≤ clip]` (ReSTE repository `Binary` with `clip = 1`).
    @inlinable
    public static func clippedSTE<T: TensorScalar>(x: UnsafePointer<T>, gradOutput g: UnsafePointer<T>,
                                                   gradInput out: UnsafeMutablePointer<T>, count n: Int, clip: T) {
        for i in 0..<n { out[i] = abs(x[i]) <= clip ? g[i] : 0 }
    }

    /// ReSTE surrogate derivative (spec §5.1), `o ≥ 1`, threshold `t`, inner interval `δ` (0.1):
    /// `δ < |z| ≤ t`: `(1/o)|z|^((1−o)/o)`; `|z| ≤ δ`: `δ^(1/o)/δ`; `|z| > t`: 0.
    @inlinable @inline(__always)
    public static func resteDerivative<T: TensorScalar>(_ z: T, o: T, t: T, interval: T) -> T {
        let a = abs(z)
        if a > t { return 0 }
        if a <= interval { return T._pow(interval, 1 / o) / interval }
        return T._pow(a, (1 - o) / o) / o
    }

    /// ReSTE backward: `∂x = g·f'_o(x)`.
    @inlinable
    public static func reste<T: TensorScalar>(x: UnsafePointer<T>, gradOutput g: UnsafePointer<T>,
                                              gradInput out: UnsafeMutablePointer<T>, count n: Int,
                                              o: T, t: T, interval: T = 0.1) {
        for i in 0..<n { out[i] = g[i] * resteDerivative(x[i], o: o, t: t, interval: interval) }
    }

    /// Applies `estimator` (config-level dispatch).
    @inlinable
    public static func backward<T: TensorScalar>(_ estimator: QuantEstimator, x: UnsafePointer<T>,
                                                 gradOutput g: UnsafePointer<T>,
                                                 gradInput out: UnsafeMutablePointer<T>, count n: Int) {
        switch estimator {
        case .ste: ste(gradOutput: g, gradInput: out, count: n)
        case .clippedSTE(let clip): clippedSTE(x: x, gradOutput: g, gradInput: out, count: n, clip: T(clip))
        case .reste(let o, let t): reste(x: x, gradOutput: g, gradInput: out, count: n, o: T(o), t: T(t))
        }
    }
}
