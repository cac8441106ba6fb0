import GradusRuntime

/// AdAdaGrad's adaptive batch-size tests (official `tests.py`, spec §4.3) on per-example gradients.
public struct BatchSizeTests: Sendable {
    /// G² = Σ_τ ‖ḡ^τ‖².
    public var batchGradientNormSquared: Double
    /// Σ_τ Σ_j Var_i(g_ij^τ) (divisor b − 1).
    public var sumCoordinateVariances: Double
    /// V_ip = Σ_τ Var_i(⟨g_i^τ, ḡ^τ⟩).
    public var sumInnerProductVariances: Double
    /// V_o = Σ_τ Σ_j Var_i(o_ij^τ).
    public var sumOrthogonalVariances: Double
    /// b.
    public var batchSize: Int

    /// Statistics of `perExample[τ][i]` (tensor τ, example i, flattened values); needs b ≥ 2.
    public init(perExample: [[[Double]]]) throws(GradusError) {
        guard let b = perExample.first?.count, b >= 2 else { throw .invalidArgument("batch-size tests need at least 2 examples") }
        guard perExample.allSatisfy({ $0.count == b }) else { throw .shapeMismatch("every tensor needs \(b) per-example gradients") }
        batchSize = b
        var g2 = 0.0, cv = 0.0, vip = 0.0, vo = 0.0
        for tensor in perExample {
            let n = tensor[0].count
            guard tensor.allSatisfy({ $0.count == n }) else { throw .shapeMismatch("per-example gradients differ in size") }
            var mean = Array(repeating: 0.0, count: n)
            for g in tensor { for j in 0..<n { mean[j] += g[j] / Double(b) } }
            let mm = mean.reduce(0) { $0 + $1 * $1 }
            g2 += mm
            for j in 0..<n {
                var s = 0.0
                for g in tensor { s += (g[j] - mean[j]) * (g[j] - mean[j]) }
                cv += s / Double(b - 1)
            }
            let a = tensor.map { g in zip(g, mean).reduce(0) { $0 + $1.0 * $1.1 } }
            let am = a.reduce(0, +) / Double(b)
            vip += a.reduce(0) { $0 + ($1 - am) * ($1 - am) } / Double(b - 1)
            let o = zip(tensor, a).map { g, ai in (0..<n).map { g[$0] - (mm > 0 ? ai / mm : 0) * mean[$0] } }
            for j in 0..<n {
                let om = o.reduce(0) { $0 + $1[j] } / Double(b)
                vo += o.reduce(0) { $0 + ($1[j] - om) * ($1[j] - om) } / Double(b - 1)
            }
        }
        batchGradientNormSquared = g2; sumCoordinateVariances = cv; sumInnerProductVariances = vip; sumOrthogonalVariances = vo
    }

    /// Norm test ratio `Σ Var/(η² G²)`.
    public func normRatio(eta: Double = 0.1) -> Double { sumCoordinateVariances / (eta * eta * batchGradientNormSquared) }
    /// Inner-product test ratio `V_ip/(θ² G⁴)`.
    public func innerProductRatio(theta: Double = 0.1) -> Double {
        sumInnerProductVariances / (theta * theta * batchGradientNormSquared * batchGradientNormSquared)
    }
    /// Orthogonality ratio `V_o/(ν² G²)`.
    public func orthogonalityRatio(nu: Double = 0.1) -> Double { sumOrthogonalVariances / (nu * nu * batchGradientNormSquared) }

    /// `ceil(max(b, ratio))`: the batch never shrinks.
    public func nextBatchSize(ratio: Double) -> Int { Int(ScalarMath.ceil(Swift.max(Double(batchSize), ratio))) }
}
