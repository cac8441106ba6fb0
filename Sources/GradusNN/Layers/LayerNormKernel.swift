import GradusRuntime
import GradusTensor

/// Layer normalisation of a contiguous input seen as `rows` rows of `width` values (the normalised trailing
/// dimensions flattened), each row normalised with its own biased statistics.
///
/// As in `BatchNormKernel`, every statistic and every sum is accumulated in Double and each output element is
/// rounded to the storage type once. It matters in float32 where the composite ops cancelled: inputs far from zero
/// relative to their spread (the mean subtraction), and ∂x of short rows, `∂x = (ĝ − mean ĝ − x̂·mean(ĝ·x̂))/σ`, whose
/// terms of size |ĝ|/σ cancel to nearly zero (two values normalise to ±1 whatever they are).
///
/// Rows are split over the thread pool for the forward and ∂x; ∂γ and ∂β are split over columns, each summed by one
/// thread in row order, so results do not depend on the thread count. Forward: three passes over a row (Σx,
/// Σ(x − μ)², y), all in cache for rows of common widths; backward: two for ∂x and one for ∂γ, ∂β.
enum LayerNormKernel {
    /// Per row: the mean and 1/√(variance + ε).
    struct Statistics: Sendable {
        var mean: [Double]
        var inverseStd: [Double]
    }

    static func grain(_ width: Int) -> Int { Swift.max(1, elementwiseGrain / Swift.max(1, width)) }

    /// g[i]·γ[i] (γ = 1 when absent) in Double.
    @inline(__always)
    static func scaled<T: TensorScalar>(_ g: UnsafePointer<T>, _ gamma: UnsafePointer<T>?, _ i: Int) -> Double {
        if let gamma { return Double(g[i]) * Double(gamma[i]) }
        return Double(g[i])
    }

    /// Statistics of every row, and y = (x − μ)/√(σ² + ε)·γ + β with γ and β optional (1 and 0).
    static func forward<T: TensorScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, rows: Int, width: Int,
                                         eps: Double, gamma: UnsafePointer<T>?, beta: UnsafePointer<T>?) -> Statistics {
        var mean = [Double](repeating: 0, count: rows), inverse = [Double](repeating: 0, count: rows)
        mean.withUnsafeMutableBufferPointer { mb in
            inverse.withUnsafeMutableBufferPointer { ib in
                let m = mb.baseAddress!, r = ib.baseAddress!
                ThreadPool.shared.parallelFor(rows, grain: grain(width)) { range, _ in
                    for row in range {
                        let line = x + row * width, out = y + row * width
                        var sum = 0.0
                        for i in 0..<width { sum += Double(line[i]) }
                        let mu = sum / Double(width)
                        var squares = 0.0
                        for i in 0..<width { let d = Double(line[i]) - mu; squares += d * d }
                        let inv = 1 / (squares / Double(width) + eps).squareRoot()
                        m[row] = mu; r[row] = inv
                        switch (gamma, beta) {
                        case let (w?, b?): for i in 0..<width { out[i] = T((Double(line[i]) - mu) * inv * Double(w[i]) + Double(b[i])) }
                        case let (w?, nil): for i in 0..<width { out[i] = T((Double(line[i]) - mu) * inv * Double(w[i])) }
                        case let (nil, b?): for i in 0..<width { out[i] = T((Double(line[i]) - mu) * inv + Double(b[i])) }
                        case (nil, nil): for i in 0..<width { out[i] = T((Double(line[i]) - mu) * inv) }
                        }
                    }
                }
            }
        }
        return Statistics(mean: mean, inverseStd: inverse)
    }

    /// First-order backward: with ĝ = g·γ, ∂x = (ĝ − mean ĝ − x̂·mean(ĝ·x̂))/σ per row; ∂γ = Σ_rows g·x̂ and
    /// ∂β = Σ_rows g (into `dgamma`/`dbeta` when given).
    static func backward<T: TensorScalar>(_ x: UnsafePointer<T>, gradOutput g: UnsafePointer<T>, _ stats: Statistics,
                                          rows: Int, width: Int, gamma: UnsafePointer<T>?,
                                          gradInput dx: UnsafeMutablePointer<T>,
                                          dgamma: UnsafeMutablePointer<T>?, dbeta: UnsafeMutablePointer<T>?) {
        stats.mean.withUnsafeBufferPointer { mb in
            stats.inverseStd.withUnsafeBufferPointer { ib in
                let m = mb.baseAddress!, r = ib.baseAddress!
                ThreadPool.shared.parallelFor(rows, grain: grain(width)) { range, _ in
                    for row in range {
                        let line = x + row * width, gl = g + row * width, out = dx + row * width
                        let mu = m[row], inv = r[row]
                        var a = 0.0, b = 0.0
                        for i in 0..<width {
                            let gi = scaled(gl, gamma, i)
                            a += gi
                            b += gi * ((Double(line[i]) - mu) * inv)
                        }
                        let meanG = a / Double(width), meanGX = b / Double(width)
                        for i in 0..<width {
                            let gi = scaled(gl, gamma, i)
                            out[i] = T(inv * (gi - meanG - (Double(line[i]) - mu) * inv * meanGX))
                        }
                    }
                }
                guard dgamma != nil || dbeta != nil else { return }
                ThreadPool.shared.parallelFor(width, grain: Swift.max(1, elementwiseGrain / Swift.max(1, rows))) { range, _ in
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * range.count) { scratch in
                        let sgx = scratch.baseAddress!, sg = sgx + range.count
                        scratch.initialize(repeating: 0)
                        for row in 0..<rows {
                            let line = x + row * width, gl = g + row * width, mu = m[row], inv = r[row]
                            for (j, i) in range.enumerated() {
                                let gi = Double(gl[i])
                                sgx[j] += gi * ((Double(line[i]) - mu) * inv)
                                sg[j] += gi
                            }
                        }
                        for (j, i) in range.enumerated() {
                            dgamma?[i] = T(sgx[j])
                            dbeta?[i] = T(sg[j])
                        }
                    }
                }
            }
        }
    }
}
