import GradusRuntime

/// log Σ exp over the middle axis of a contiguous (outer, R, inner) view, fused: one pass for the maximum,
/// one for the sum of shifted exponentials, both over data still in cache. Each output is computed by one
/// thread in a fixed order, so results do not depend on the thread count.
///
/// Special values follow the composed definition m + log Σ exp(x − m) with m clamped to the finite range:
/// a NaN anywhere gives NaN, +∞ gives +∞, a line of −∞ (or an empty line) gives −∞.
extension Kernels {
    public static func logSumExp(_ x: Tensor, outer: Int, r: Int, inner: Int, into out: Tensor) {
        switch x.dtype {
        case .float32: logSumExpTyped(UnsafePointer(x.basePointer(as: Float.self)), outer, r, inner, out.basePointer(as: Float.self))
        case .float64: logSumExpTyped(UnsafePointer(x.basePointer(as: Double.self)), outer, r, inner, out.basePointer(as: Double.self))
        }
    }

    @inline(__always)
    static func finiteShift<T: TensorScalar>(_ m: T) -> T {
        Swift.min(Swift.max(m, -T.greatestFiniteMagnitude), T.greatestFiniteMagnitude)
    }

    static func logSumExpTyped<T: TensorScalar>(_ x: UnsafePointer<T>, _ outer: Int, _ r: Int, _ inner: Int,
                                                _ out: UnsafeMutablePointer<T>) {
        if inner == 1 {
            ThreadPool.shared.parallelFor(outer, grain: Swift.max(1, (elementwiseGrain / 8) / Swift.max(r, 1))) { range, _ in
                for o in range {
                    let row = x + o * r
                    var m = -T.infinity
                    for k in 0..<r where row[k] > m { m = row[k] }
                    m = finiteShift(m)
                    var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0
                    var k = 0
                    while k + 4 <= r {
                        s0 += T._exp(row[k] - m); s1 += T._exp(row[k + 1] - m)
                        s2 += T._exp(row[k + 2] - m); s3 += T._exp(row[k + 3] - m)
                        k += 4
                    }
                    while k < r { s0 += T._exp(row[k] - m); k += 1 }
                    out[o] = T._log((s0 + s1) + (s2 + s3)) + m
                }
            }
            return
        }
        // inner > 1: whole rows of `inner` at a time; the running maximum lives in `out`, the sums in a scratch row.
        ThreadPool.shared.parallelFor(outer, grain: Swift.max(1, (elementwiseGrain / 8) / Swift.max(r * inner, 1))) { range, _ in
            withUnsafeTemporaryAllocation(of: T.self, capacity: inner) { scratch in
                let s = scratch.baseAddress!
                for o in range {
                    let block = x + o * r * inner, m = out + o * inner
                    m.update(repeating: -T.infinity, count: inner)
                    for k in 0..<r {
                        let row = block + k * inner
                        for j in 0..<inner where row[j] > m[j] { m[j] = row[j] }
                    }
                    for j in 0..<inner { m[j] = finiteShift(m[j]); s[j] = 0 }
                    for k in 0..<r {
                        let row = block + k * inner
                        for j in 0..<inner { s[j] += T._exp(row[j] - m[j]) }
                    }
                    for j in 0..<inner { m[j] = T._log(s[j]) + m[j] }
                }
            }
        }
    }
}
