import GradusRuntime
import GradusTensor

/// Training-mode batch normalisation of a contiguous (N, C, S) input whose rows are cut into consecutive chunks
/// (one chunk: `BatchNorm`; several: `GhostBatchNorm`), each normalised with its own biased statistics.
///
/// Every statistic and every sum is accumulated in Double and each output element is rounded to the storage type
/// once, as PyTorch's CPU kernels accumulate float32 in double. It matters for ∂x: with few values per channel in a
/// chunk, `∂x = γ/σ·(g − mean g − x̂·mean(g·x̂))` cancels terms of size γ/σ down to nearly zero (two values normalise
/// to ±1 whatever they are), and the composite float32 ops resolved it only to ~1e-4.
///
/// Work is split over channels; each (chunk, channel) statistic is summed by one thread in row order, so results do
/// not depend on the thread count. Forward: three passes (Σx, Σ(x − μ)², y); backward: two (Σg and Σg·x̂, then ∂x).
enum BatchNormKernel {
    /// Per chunk k and channel c, at `k·C + c`: the mean, the biased variance and 1/√(variance + ε).
    struct Statistics: Sendable {
        var mean: [Double]
        var variance: [Double]
        var inverseStd: [Double]
    }

    /// Geometry: `chunks` row counts (summing to N), C channels, S values per (row, channel).
    struct Layout: Sendable {
        let chunks: [Int]
        let channels: Int
        let spatial: Int

        /// First row of each chunk.
        var starts: [Int] {
            var first = 0, out: [Int] = []
            for rows in chunks { out.append(first); first += rows }
            return out
        }
        var rows: Int { chunks.reduce(0, +) }
        /// Grain for the channel split: about `elementwiseGrain` elements per slice.
        var grain: Int { Swift.max(1, elementwiseGrain / Swift.max(1, rows * spatial)) }
    }

    /// Calls `body(c, line)` for every channel c in `channels` of every row in `rows`, `line` pointing at the S
    /// values of (row, c), in row order.
    @inline(__always)
    static func forLines<T>(_ base: UnsafePointer<T>, rows: Range<Int>, channels: Range<Int>, _ layout: Layout,
                            _ body: (Int, UnsafePointer<T>) -> Void) {
        let cs = layout.channels * layout.spatial
        for n in rows {
            let row = base + n * cs
            for c in channels { body(c, row + c * layout.spatial) }
        }
    }

    static func statistics<T: TensorScalar>(_ x: UnsafePointer<T>, eps: Double, _ layout: Layout) -> Statistics {
        let count = layout.chunks.count * layout.channels
        var mean = [Double](repeating: 0, count: count), variance = [Double](repeating: 0, count: count)
        let starts = layout.starts, s = layout.spatial, channels = layout.channels
        mean.withUnsafeMutableBufferPointer { mb in
            variance.withUnsafeMutableBufferPointer { vb in
                let m = mb.baseAddress!, v = vb.baseAddress!
                ThreadPool.shared.parallelFor(channels, grain: layout.grain) { range, _ in
                    for (k, start) in starts.enumerated() {
                        let rows = start..<(start + layout.chunks[k]), acc = k * channels
                        let scale = 1 / Double(layout.chunks[k] * s)
                        forLines(x, rows: rows, channels: range, layout) { c, line in
                            var a = 0.0
                            for i in 0..<s { a += Double(line[i]) }
                            m[acc + c] += a
                        }
                        for c in range { m[acc + c] *= scale }
                        forLines(x, rows: rows, channels: range, layout) { c, line in
                            let mu = m[acc + c]
                            var a = 0.0
                            for i in 0..<s { let d = Double(line[i]) - mu; a += d * d }
                            v[acc + c] += a
                        }
                        for c in range { v[acc + c] *= scale }
                    }
                }
            }
        }
        return Statistics(mean: mean, variance: variance, inverseStd: variance.map { 1 / ($0 + eps).squareRoot() })
    }

    /// y = (x − μ)/√(σ² + ε)·γ + β, per chunk's statistics; γ and β optional (1 and 0).
    static func normalize<T: TensorScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, _ stats: Statistics,
                                           gamma: UnsafePointer<T>?, beta: UnsafePointer<T>?, _ layout: Layout) {
        let starts = layout.starts, s = layout.spatial, channels = layout.channels
        stats.mean.withUnsafeBufferPointer { mb in
            stats.inverseStd.withUnsafeBufferPointer { ib in
                let m = mb.baseAddress!, r = ib.baseAddress!
                ThreadPool.shared.parallelFor(channels, grain: layout.grain) { range, _ in
                    for (k, start) in starts.enumerated() {
                        let acc = k * channels
                        forLines(x, rows: start..<(start + layout.chunks[k]), channels: range, layout) { c, line in
                            let mu = m[acc + c], inv = r[acc + c]
                            let w = gamma.map { Double($0[c]) } ?? 1, b = beta.map { Double($0[c]) } ?? 0
                            let out = y + (line - x)
                            for i in 0..<s { out[i] = T((Double(line[i]) - mu) * inv * w + b) }
                        }
                    }
                }
            }
        }
    }

    /// First-order backward: ∂x = γ/σ·(g − mean g − x̂·mean(g·x̂)) per chunk; ∂γ = Σ g·x̂ and ∂β = Σ g over every
    /// chunk (into `dgamma`/`dbeta` when given).
    static func backward<T: TensorScalar>(_ x: UnsafePointer<T>, gradOutput g: UnsafePointer<T>, _ stats: Statistics,
                                          gamma: UnsafePointer<T>?, _ layout: Layout,
                                          gradInput dx: UnsafeMutablePointer<T>,
                                          dgamma: UnsafeMutablePointer<T>?, dbeta: UnsafeMutablePointer<T>?) {
        let starts = layout.starts, s = layout.spatial, channels = layout.channels
        stats.mean.withUnsafeBufferPointer { mb in
            stats.inverseStd.withUnsafeBufferPointer { ib in
                let m = mb.baseAddress!, r = ib.baseAddress!
                ThreadPool.shared.parallelFor(channels, grain: layout.grain) { range, _ in
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: 4 * range.count) { scratch in
                        // Per channel of the slice: Σg and Σg·x̂ of the current chunk, and their totals over chunks.
                        let sg = scratch.baseAddress!, sgx = sg + range.count
                        let totalG = sgx + range.count, totalGX = totalG + range.count
                        scratch.initialize(repeating: 0)
                        for (k, start) in starts.enumerated() {
                            let rows = start..<(start + layout.chunks[k]), acc = k * channels
                            for j in 0..<range.count { sg[j] = 0; sgx[j] = 0 }
                            forLines(x, rows: rows, channels: range, layout) { c, line in
                                let gl = g + (line - x), mu = m[acc + c], inv = r[acc + c]
                                var a = 0.0, b = 0.0
                                for i in 0..<s {
                                    let gi = Double(gl[i])
                                    a += gi
                                    b += gi * ((Double(line[i]) - mu) * inv)
                                }
                                sg[c - range.lowerBound] += a
                                sgx[c - range.lowerBound] += b
                            }
                            let scale = 1 / Double(layout.chunks[k] * s)
                            forLines(x, rows: rows, channels: range, layout) { c, line in
                                let j = c - range.lowerBound
                                let gl = g + (line - x), out = dx + (line - x)
                                let mu = m[acc + c], inv = r[acc + c]
                                let w = gamma.map { Double($0[c]) } ?? 1
                                let meanG = sg[j] * scale, meanGX = sgx[j] * scale
                                for i in 0..<s {
                                    let xhat = (Double(line[i]) - mu) * inv
                                    out[i] = T(w * inv * (Double(gl[i]) - meanG - xhat * meanGX))
                                }
                            }
                            for j in 0..<range.count { totalG[j] += sg[j]; totalGX[j] += sgx[j] }
                        }
                        for (j, c) in range.enumerated() {
                            dgamma?[c] = T(totalGX[j])
                            dbeta?[c] = T(totalG[j])
                        }
                    }
                }
            }
        }
    }
}
