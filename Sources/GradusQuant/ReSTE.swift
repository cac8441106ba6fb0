import Glibc
import GradusRuntime
import GradusTensor

/// ReSTE, the rectified straight-through estimator for binary networks (Wu et al., ICCV 2023;
/// DravenALG/ReSTE `binarized_modules.py`, spec §5). Forward `sign(z)`; backward the derivative of the
/// equivalent forward `f_o(z) = sign(z)|z|^(1/o)` with a secant on `|z| ≤ interval` and 0 beyond `t`.
public struct ReSTE: Sendable, Equatable {
    public var o: Double
    public var t: Double
    public var interval: Double

    /// - Parameters: `o ≥ 1` (1 = STE), `t` clip threshold (1.5 in the code), `interval` (0.1).
    public init(o: Double, t: Double = 1.5, interval: Double = 0.1) throws(GradusError) {
        guard o >= 1, t > 0, interval > 0 else {
            throw .invalidArgument("ReSTE: need o ≥ 1, t > 0, interval > 0 (got o = \(o), t = \(t), interval = \(interval))")
        }
        self.o = o; self.t = t; self.interval = interval
    }

    /// The code's annealing `o(e) = 1 + (o_end − 1)·(1 − cos(π/2 · e/E))`.
    public static func schedule(oEnd: Double = 3, epoch: Int, epochs: Int) throws(GradusError) -> Double {
        guard epochs > 0, epoch >= 0 else { throw .invalidArgument("ReSTE.schedule: need epochs > 0 and epoch ≥ 0") }
        return 1 + (oEnd - 1) * (1 - cos(Double.pi / 2 * Double(epoch) / Double(epochs)))
    }

    /// Forward `sign(z)` (sign(0) = 0).
    @inlinable
    public func forward<T: TensorScalar>(_ z: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count n: Int) {
        for i in 0..<n { out[i] = signum(z[i]) }
    }

    /// Equivalent forward `sign(z)|z|^(1/o)`.
    @inlinable
    public func equivalentForward<T: TensorScalar>(_ z: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count n: Int) {
        let e = T(1 / o)
        for i in 0..<n { out[i] = signum(z[i]) * T._pow(abs(z[i]), e) }
    }

    /// Surrogate derivative `f'_o(z)` per element.
    @inlinable
    public func derivative<T: TensorScalar>(_ z: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count n: Int) {
        let (oo, tt, dd) = (T(o), T(t), T(interval))
        for i in 0..<n { out[i] = EstimatorKernel.resteDerivative(z[i], o: oo, t: tt, interval: dd) }
    }

    /// Backward `∂z = g·f'_o(z)`.
    @inlinable
    public func backward<T: TensorScalar>(_ z: UnsafePointer<T>, gradOutput g: UnsafePointer<T>,
                                          gradInput out: UnsafeMutablePointer<T>, count n: Int) {
        EstimatorKernel.reste(x: z, gradOutput: g, gradInput: out, count: n, o: T(o), t: T(t), interval: T(interval))
    }

    /// Estimating error of one layer: `‖f_{o_end}(w) − sign(w)‖₂` (the code uses `o_end`, not the current `o`).
    /// Sum it over the binarized layers.
    @inlinable
    public static func estimatingError<T: TensorScalar>(weights w: UnsafePointer<T>, count n: Int, oEnd: Double) -> Double {
        var acc = 0.0
        let e = 1 / oEnd
        for i in 0..<n {
            let v = Double(w[i])
            let s: Double = v > 0 ? 1 : (v < 0 ? -1 : 0)
            let d = s * Glibc.pow(abs(v), e) - s
            acc += d * d
        }
        return Glibc.sqrt(acc)
    }

    /// Gradient stability of one layer: unbiased `var(|g|)` (sum over layers). `n < 2` gives NaN like torch.
    @inlinable
    public static func gradientStability<T: TensorScalar>(grads g: UnsafePointer<T>, count n: Int) -> Double {
        guard n > 1 else { return .nan }
        var mean = 0.0
        for i in 0..<n { mean += abs(Double(g[i])) }
        mean /= Double(n)
        var ss = 0.0
        for i in 0..<n { let d = abs(Double(g[i])) - mean; ss += d * d }
        return ss / Double(n - 1)
    }
}

/// 1-bit weight / activation math (spec §5.1).
public enum Binarize {
    /// Scaled binary weight `ŵ = sign(W)·mean|W|` (ReSTE `BinarizeConv2d`); returns the scale `mean|W|`.
    @inlinable
    @discardableResult
    public static func scaledWeight<T: TensorScalar>(_ w: UnsafePointer<T>, into out: UnsafeMutablePointer<T>,
                                                     count n: Int) -> T {
        var s = 0.0  // Double: a float32 sum over a large weight drifts by √n ulps
        for i in 0..<n { s += abs(Double(w[i])) }
        let scale = n > 0 ? T(s / Double(n)) : 0
        for i in 0..<n { out[i] = signum(w[i]) * scale }
        return scale
    }

    /// Backward of `scaledWeight` with the scale **not** detached:
    /// `∂W = g ⊙ f'(W)·mean|W| + sign(W)·Σ(g ⊙ sign(W))/N`, where `f'` is the estimator's derivative
    /// (ReSTE, or the clipped STE `[|W| ≤ clip]`, or 1 for plain STE).
    @inlinable
    public static func scaledWeightBackward<T: TensorScalar>(_ w: UnsafePointer<T>, gradOutput g: UnsafePointer<T>,
                                                             gradInput out: UnsafeMutablePointer<T>, count n: Int,
                                                             estimator: QuantEstimator) {
        guard n > 0 else { return }
        // In Double, rounded once per element: the two paths often nearly cancel, and float32 terms would leave
        // errors of their own magnitude.
        var s = 0.0, dot = 0.0
        for i in 0..<n { let wi = Double(w[i]); s += abs(wi); dot += Double(g[i]) * signum(wi) }
        let scale = s / Double(n), shared = dot / Double(n)
        switch estimator {
        case .ste:
            for i in 0..<n { out[i] = T(Double(g[i]) * scale + signum(Double(w[i])) * shared) }
        case .clippedSTE(let clip):
            for i in 0..<n {
                let wi = Double(w[i])
                out[i] = T((abs(wi) <= clip ? Double(g[i]) * scale : 0) + signum(wi) * shared)
            }
        case .reste(let o, let t):
            for i in 0..<n {
                let wi = Double(w[i])
                out[i] = T(Double(g[i]) * EstimatorKernel.resteDerivative(wi, o: o, t: t, interval: 0.1) * scale + signum(wi) * shared)
            }
        }
    }
}
