import _GradusShims
import GradusRuntime
import GradusTensor

/// Gauge freedom and conservativity of score fields (Horvat & Pfister, "On gauge freedom, conservativity and
/// intrinsic dimensionality estimation in diffusion models", ICLR 2024; spec §7).
///
/// A learned field `s = ∇log p + r` gives the same probability-flow dynamics iff `∇·(p·r) = 0`. These tools split
/// a field into its conservative part and the gauge part, measure how far a field is from a gradient (asymmetry of
/// its Jacobian), and build conservative fields `s = −∇ₓE` by differentiating an energy (second-order reverse mode
/// when such a field is trained).
public enum Gauge {
    /// Decomposes a linear field `v(x) = A·x` under `p = N(0, C)` as `A = S + C·Ω` (`S` symmetric, `Ω`
    /// antisymmetric; unique for SPD `C`): `∇φ = S·x` is the conservative part, `r = C·Ω·x` satisfies
    /// `∇·(p·r) = 0` and is `L²(p)`-orthogonal to it (spec §7.2).
    ///
    /// Solved in the eigenbasis of `C = V·Λ·Vᵀ`: `A − Aᵀ = C·Ω + Ω·C`, so `Ω̃ᵢⱼ = (Vᵀ(A − Aᵀ)V)ᵢⱼ / (λᵢ + λⱼ)`.
    /// - Parameters: `A`, `covariance`: `n × n` row-major.
    /// - Returns: `(S, Omega)`, row-major `n × n`.
    /// - Throws: `GradusError.shapeMismatch` for wrong sizes; `.invalidArgument` when `C` is not positive definite.
    public static func linearDecomposition(A: [Double], covariance c: [Double], n: Int) throws(GradusError) -> (S: [Double], Omega: [Double]) {
        guard A.count == n * n, c.count == n * n else { throw .shapeMismatch("Gauge.linearDecomposition: matrices must be \(n)×\(n)") }
        let (lambda, v) = try DenseLinearAlgebra.symmetricEigen(c, n: n)
        guard let smallest = lambda.last, smallest > 0 else { throw .invalidArgument("Gauge.linearDecomposition: covariance is not positive definite") }
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { m[i * n + j] = A[i * n + j] - A[j * n + i] } }
        let vt = DenseLinearAlgebra.transpose(v, n, n)
        var w = DenseLinearAlgebra.multiply(DenseLinearAlgebra.multiply(vt, m, n, n, n), v, n, n, n)
        for i in 0..<n { for j in 0..<n { w[i * n + j] /= lambda[i] + lambda[j] } }
        var omega = DenseLinearAlgebra.multiply(DenseLinearAlgebra.multiply(v, w, n, n, n), vt, n, n, n)
        for i in 0..<n {   // exact antisymmetry
            omega[i * n + i] = 0
            for j in (i + 1)..<max(n, i + 1) { let a = 0.5 * (omega[i * n + j] - omega[j * n + i]); omega[i * n + j] = a; omega[j * n + i] = -a }
        }
        let cOmega = DenseLinearAlgebra.multiply(c, omega, n, n, n)
        var s = [Double](repeating: 0, count: n * n)
        for i in 0..<(n * n) { s[i] = A[i] - cOmega[i] }
        for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { let a = 0.5 * (s[i * n + j] + s[j * n + i]); s[i * n + j] = a; s[j * n + i] = a } }
        return (s, omega)
    }

    /// The relative non-conservative part of a field's Jacobian: `‖J − Jᵀ‖_F / ‖J‖_F` (0 for a gradient field,
    /// whose Jacobian is a symmetric Hessian). 0 for a zero matrix.
    /// - Throws: `GradusError.shapeMismatch` when `J` is not `n × n`.
    public static func jacobianAsymmetry(_ j: [Double], n: Int) throws(GradusError) -> Double {
        guard j.count == n * n else { throw .shapeMismatch("Gauge.jacobianAsymmetry: \(j.count) values for \(n)×\(n)") }
        var num = 0.0, den = 0.0
        for a in 0..<n { for b in 0..<n { let d = j[a * n + b] - j[b * n + a]; num += d * d; den += j[a * n + b] * j[a * n + b] } }
        return den == 0 ? 0 : gradus_sqrt(num) / gradus_sqrt(den)
    }

    /// `jacobianAsymmetry` of a square tensor `(n, n)`, or the mean over a batch `(B, n, n)`.
    public static func jacobianAsymmetry(_ j: Tensor) throws(GradusError) -> Double {
        guard j.rank == 2 || j.rank == 3, j.shape[j.rank - 1] == j.shape[j.rank - 2] else {
            throw .shapeMismatch("Gauge.jacobianAsymmetry: expected (n, n) or (B, n, n), got \(j.shape)")
        }
        let n = j.shape[j.rank - 1], b = j.rank == 3 ? j.shape[0] : 1
        let values = j.scalars(as: Double.self)
        guard b > 0 else { return 0 }
        var total = 0.0
        for k in 0..<b { total += try jacobianAsymmetry(Array(values[(k * n * n)..<((k + 1) * n * n)]), n: n) }
        return total / Double(b)
    }

    /// Per-sample Jacobians of a batched field `f: (B, D) → (B, D')` whose rows do not interact: `(B, D', D)`,
    /// `J[b, i, j] = ∂f(x)[b, i] / ∂x[b, j]`, by `D'` vector-Jacobian products (one per output coordinate, all
    /// samples at once).
    /// - Throws: `GradusError.shapeMismatch` when `x` or the output is not rank 2 with a matching batch.
    public static func batchJacobians(of f: (Tensor) throws(GradusError) -> Tensor, at x: Tensor) throws(GradusError) -> Tensor {
        guard x.rank == 2 else { throw .shapeMismatch("Gauge.batchJacobians: x must be (B, D), got \(x.shape)") }
        let leaf = x.detached().requiringGrad()
        let y = try GradMode.withGrad { () throws(GradusError) in try f(leaf) }
        guard y.rank == 2, y.shape[0] == x.shape[0] else {
            throw .shapeMismatch("Gauge.batchJacobians: f returned \(y.shape) for input \(x.shape)")
        }
        let b = x.shape[0], dOut = y.shape[1], dIn = x.shape[1]
        guard y.requiresGrad else { return Tensor.zeros([b, dOut, dIn], dtype: x.dtype) }
        var rows: [Tensor] = []
        for i in 0..<dOut {
            var seed = [Double](repeating: 0, count: b * dOut)
            for k in 0..<b { seed[k * dOut + i] = 1 }
            let g = try Tensor.gradients(of: [y], wrt: [leaf], gradOutputs: [Tensor(shape: y.shape, scalars: seed, dtype: y.dtype)])[0]
            rows.append(g.detached())                                  // (B, D)
        }
        return try Tensor.stack(rows, axis: 1)                         // (B, D', D)
    }
}

/// A conservative score parametrisation `s(x, t) = −∇ₓE(x, t)` (spec §7.3): the field is a gradient by
/// construction, so its Jacobian is a (symmetric) Hessian. The gradient is taken with `createGraph: true`, so a
/// loss on the score (denoising score matching) can be differentiated again with respect to the energy's
/// parameters — second-order reverse mode.
public struct ConservativeScore {
    /// The energy: `(x (B, D), timesteps) -> E (B)` or `(B, 1)`; per-sample energies must not mix samples.
    public let energy: (Tensor, [Double]) throws(GradusError) -> Tensor

    public init(energy: @escaping (Tensor, [Double]) throws(GradusError) -> Tensor) { self.energy = energy }

    /// `−∇ₓ Σ_b E(x_b, t_b)`, shape of `x`, recorded (differentiable w.r.t. the energy's parameters) when
    /// gradient recording is on.
    public func callAsFunction(_ x: Tensor, timesteps: [Double]) throws(GradusError) -> Tensor {
        let recording = GradMode.isEnabled
        let leaf = x.requiresGrad ? x : x.detached().requiringGrad()
        return try GradMode.withGrad { () throws(GradusError) -> Tensor in
            let e = try energy(leaf, timesteps).sum()
            let g = try Tensor.gradients(of: [e], wrt: [leaf], createGraph: recording)[0]
            return recording ? -g : -(g.detached())
        }
    }
}

extension ConservativeScore {
    /// The residual ("denoiser") energy `E(x, t) = ½‖x − f(x, t)‖²` of Salimans & Ho, "Should EBMs model the
    /// energy or the score?" (2021), also used by Du et al., "Reduce, reuse, recycle" (2023):
    /// `−∇ₓE = −(I − J_f)ᵀ(x − f)`.
    ///
    /// Use it as `s = −∇ₓE/σ²` at noise level σ, with `f` a network of the same structure as an unconstrained
    /// denoiser: at the denoising-score-matching optimum `f` is the x₀-prediction (Tweedie: `s = (f − x)/σ²`), and
    /// near a data manifold `J_f` tends to the tangent projector, so `(I − J_f)ᵀ(x − f) → x − f`. The field stays
    /// exactly conservative (its Jacobian is the Hessian of `E`), while the network keeps the unconstrained model's
    /// inductive bias: Salimans & Ho found such energies train as well as the unconstrained score "when using a
    /// comparable model structure". A bare scalar MLP energy has no such bias: near a curved manifold it must build
    /// the valley `½·dist²` from the weak higher-order terms of its activations, and trains far slower.
    /// - Parameter f: `(x (B, D), timesteps) -> (B, D)`, rows independent (a denoiser's x₀-prediction).
    public static func makeResidual(_ f: @escaping (Tensor, [Double]) throws(GradusError) -> Tensor) -> ConservativeScore {
        ConservativeScore(energy: { (x: Tensor, t: [Double]) throws(GradusError) -> Tensor in
            let r = try x - (try f(x, t))                       // (B, D)
            return try r.square().sum(axis: 1) * 0.5            // (B)
        })
    }
}
