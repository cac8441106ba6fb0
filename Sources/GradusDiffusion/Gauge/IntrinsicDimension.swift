import Glibc
import _GradusShims
import GradusRuntime
import GradusTensor

/// Intrinsic-dimension estimates from a score model (spec §7.3).
///
/// - Score-SVD (Stanczuk et al., "Your diffusion model secretly knows the dimension of the data manifold"):
///   near the manifold the score points along the normal space, so the scores of `K` small perturbations of a
///   point have `D − d` large singular values; the estimate cuts at the largest drop.
/// - Flow-Jacobian (Horvat & Pfister): singular values of the probability-flow map's Jacobian; those along the
///   manifold saturate as `σ → 0`, the off-manifold ones vanish.
public enum IntrinsicDimension {
    /// Result of a score-SVD estimate.
    public struct Estimate: Sendable, Equatable {
        /// Singular values of the `K × D` score matrix, descending.
        public var singularValues: [Double]
        /// `n̂`: singular values before the largest linear drop (the normal-space dimension).
        public var normalDim: Int
        /// `d̂ = D − n̂`.
        public var intrinsicDim: Int
    }

    /// `argmax_i (σ_i − σ_{i+1})` as a 1-based count (the spec rule). 0 for fewer than 2 values.
    public static func largestDropCount(_ sv: [Double]) -> Int {
        guard sv.count >= 2 else { return 0 }
        var best = 0, gap = -Double.infinity
        for i in 0..<(sv.count - 1) where sv[i] - sv[i + 1] > gap { gap = sv[i] - sv[i + 1]; best = i }
        return best + 1
    }

    /// `argmax_i log(σ_i/σ_{i+1})` as a 1-based count (informational; fooled by small tangent components).
    /// Zero singular values are floored at the smallest positive double.
    public static func largestLogGapCount(_ sv: [Double]) -> Int {
        guard sv.count >= 2 else { return 0 }
        var best = 0, gap = -Double.infinity
        for i in 0..<(sv.count - 1) {
            let g = log(max(sv[i], .leastNormalMagnitude)) - log(max(sv[i + 1], .leastNormalMagnitude))
            if g > gap { gap = g; best = i }
        }
        return best + 1
    }

    /// Score-SVD at one point: scores of `point + σ·z_k` for the rows `z_k` of `perturbations` (`(K, D)`), stacked
    /// as a `K × D` matrix, its singular values and the largest-drop estimate.
    /// - Parameters:
    ///   - score: the field, `(K, D) -> (K, D)` (a trained model at noise level σ, or a closed form).
    ///   - point: `(D)`; sigma > 0.
    /// - Returns: the estimate and the score matrix `(K, D)` (float64).
    /// - Throws: `GradusError.shapeMismatch` for inconsistent shapes; `.invalidArgument` for σ ≤ 0.
    public static func scoreSVD(score: (Tensor) throws(GradusError) -> Tensor, point: Tensor, sigma: Double,
                                perturbations z: Tensor) throws(GradusError) -> (estimate: Estimate, scores: Tensor) {
        guard sigma > 0, sigma.isFinite else { throw .invalidArgument("IntrinsicDimension.scoreSVD: sigma must be positive") }
        guard z.rank == 2, point.count == z.shape[1] else {
            throw .shapeMismatch("IntrinsicDimension.scoreSVD: perturbations \(z.shape) vs point \(point.shape)")
        }
        let k = z.shape[0], d = z.shape[1]
        let x = try point.reshaped([1, d]).to(z.dtype) + z * sigma
        let s = try GradMode.withoutGrad { () throws(GradusError) in try score(x) }
        guard s.shape == [k, d] else { throw .shapeMismatch("IntrinsicDimension.scoreSVD: score returned \(s.shape), expected [\(k), \(d)]") }
        let sv = try DenseLinearAlgebra.singularValues(s.scalars(as: Double.self), rows: k, cols: d)
        let n = largestDropCount(sv)
        return (Estimate(singularValues: sv, normalDim: n, intrinsicDim: d - n), s.to(.float64))
    }

    /// Closed-form flow-Jacobian singular values for `p₀ = N(0, C)` under VE noise: the probability-flow map from
    /// `σ_max` to `σ` is linear with singular values `√((μᵢ + σ²)/(μᵢ + σ_max²))` over the eigenvalues `μᵢ` of `C`
    /// (descending).
    public static func linearGaussianFlowSingularValues(covariance c: [Double], n: Int, sigmaMax: Double,
                                                        sigma: Double) throws(GradusError) -> [Double] {
        let mu = try DenseLinearAlgebra.symmetricEigen(c, n: n).values
        return mu.map { gradus_sqrt(($0 + sigma * sigma) / ($0 + sigmaMax * sigmaMax)) }.sorted(by: >)
    }

    /// Numerical flow-Jacobian singular values: integrates the VE probability-flow ODE `dx/dσ = −σ·s(x, σ)` from
    /// `σ_max` down to `σ_min` together with its variational equation `dY/dσ = −σ·J_s(x, σ)·Y` (`Y(σ_max) = I`),
    /// Heun steps evenly spaced in `log σ`.
    /// - Parameters:
    ///   - score: `(x (B, D), σ) -> s (B, D)`, rows independent.
    ///   - x1: starting points `(B, D)` at `σ_max`.
    ///   - steps: default 200.
    /// - Returns: per starting point, the singular values of `Y(σ_min)` (descending).
    public static func flowJacobianSingularValues(score: @escaping (Tensor, Double) throws(GradusError) -> Tensor, x1: Tensor,
                                                  sigmaMax: Double, sigmaMin: Double, steps: Int = 200) throws(GradusError) -> [[Double]] {
        guard sigmaMax > sigmaMin, sigmaMin > 0, steps >= 1 else {
            throw .invalidArgument("IntrinsicDimension.flowJacobian: need sigmaMax > sigmaMin > 0 and steps ≥ 1")
        }
        guard x1.rank == 2 else { throw .shapeMismatch("IntrinsicDimension.flowJacobian: x1 must be (B, D), got \(x1.shape)") }
        let b = x1.shape[0], d = x1.shape[1]
        var x = x1.to(.float64).detached()
        var eye = [Double](repeating: 0, count: b * d * d)
        for k in 0..<b { for i in 0..<d { eye[k * d * d + i * d + i] = 1 } }
        var y = Tensor(shape: [b, d, d], scalars: eye, dtype: .float64)
        let ratio = log(sigmaMin / sigmaMax) / Double(steps)
        // (dx, dY) per unit σ at (x, Y, σ)
        func field(_ x: Tensor, _ y: Tensor, _ sigma: Double) throws(GradusError) -> (Tensor, Tensor) {
            let j = try Gauge.batchJacobians(of: { (v: Tensor) throws(GradusError) in try score(v, sigma) }, at: x)   // (B, D, D)
            let s = try GradMode.withoutGrad { () throws(GradusError) in try score(x, sigma) }.to(.float64)
            return (s * (-sigma), try j.to(.float64).matmul(y) * (-sigma))
        }
        for i in 0..<steps {
            let s0 = sigmaMax * exp(ratio * Double(i)), s1 = sigmaMax * exp(ratio * Double(i + 1))
            let h = s1 - s0
            let (dx0, dy0) = try field(x, y, s0)
            let xe = try x + dx0 * h, ye = try y + dy0 * h
            let (dx1, dy1) = try field(xe, ye, s1)
            x = try x + (dx0 + dx1) * (0.5 * h)
            y = try y + (dy0 + dy1) * (0.5 * h)
        }
        let values = y.scalars(as: Double.self)
        var out: [[Double]] = []
        for k in 0..<b { out.append(try DenseLinearAlgebra.singularValues(Array(values[(k * d * d)..<((k + 1) * d * d)]), rows: d, cols: d)) }
        return out
    }
}
