import GradusRuntime

/// Reductions over the middle axis of a contiguous (outer, R, inner) view.
///
/// Sums are computed in fixed blocks of `reduceBlock` elements, each with the same association order
/// whatever the thread count, so results are bitwise reproducible from 1 to N threads.
public enum ReduceOp: Sendable { case sum, max, min }

public let reduceBlock = 4096

extension Kernels {
    /// out[o, i] = reduce_r x[o, r, i]. `x` and `out` contiguous. Also writes argmax/argmin into `indices` when given.
    public static func reduce(_ op: ReduceOp, _ x: Tensor, outer: Int, r: Int, inner: Int, into out: Tensor,
                              indices: UnsafeMutablePointer<Int>? = nil) {
        switch x.dtype {
        case .float32: reduceTyped(op, x.basePointer(as: Float.self), outer, r, inner, out.basePointer(as: Float.self), indices)
        case .float64: reduceTyped(op, x.basePointer(as: Double.self), outer, r, inner, out.basePointer(as: Double.self), indices)
        }
    }

    /// Deterministic sum of n contiguous elements: SIMD lanes within fixed blocks, blocks added in order.
    @inlinable
    public static func blockSum<T: TensorScalar>(_ p: UnsafePointer<T>, _ n: Int) -> T {
        var total: T = 0
        var start = 0
        while start < n {
            let len = Swift.min(reduceBlock, n - start)
            total += laneSum(p + start, len)
            start += len
        }
        return total
    }

    @inlinable @inline(__always)
    static func laneSum<T: TensorScalar>(_ p: UnsafePointer<T>, _ n: Int) -> T {
        var acc = SIMD8<T>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: SIMD8<T>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    static func reduceTyped<T: TensorScalar>(_ op: ReduceOp, _ x: UnsafeMutablePointer<T>, _ outer: Int, _ r: Int, _ inner: Int,
                                             _ out: UnsafeMutablePointer<T>, _ indices: UnsafeMutablePointer<Int>?) {
        let xp = UnsafePointer(x)
        if r == 0 {
            let v: T = op == .sum ? 0 : (op == .max ? -T.infinity : T.infinity)
            out.initialize(repeating: v, count: outer * inner)
            if let indices { indices.initialize(repeating: 0, count: outer * inner) }
            return
        }
        if inner == 1 {
            if outer == 1 && op == .sum && indices == nil && r > 2 * reduceBlock {
                // One long row: blocks in parallel, combined in order (same association as blockSum).
                let blocks = (r + reduceBlock - 1) / reduceBlock
                withUnsafeTemporaryAllocation(of: T.self, capacity: blocks) { partial in
                    let pp = partial.baseAddress!
                    ThreadPool.shared.parallelFor(blocks, grain: 16) { br, _ in
                        for b in br {
                            let s = b * reduceBlock
                            pp[b] = laneSum(xp + s, Swift.min(reduceBlock, r - s))
                        }
                    }
                    var total: T = 0
                    for b in 0..<blocks { total += pp[b] }
                    out[0] = total
                }
                return
            }
            ThreadPool.shared.parallelFor(outer, grain: Swift.max(1, elementwiseGrain / r)) { range, _ in
                for o in range {
                    let row = xp + o * r
                    switch op {
                    case .sum: out[o] = blockSum(row, r)
                    case .max, .min:
                        var best = row[0], bi = 0
                        for k in 1..<r {
                            let v = row[k]
                            if best.isNaN { break }
                            if v.isNaN || (op == .max ? v > best : v < best) { best = v; bi = k }
                        }
                        out[o] = best
                        indices?[o] = bi
                    }
                }
            }
            return
        }
        // inner > 1: accumulate whole rows of length `inner`.
        ThreadPool.shared.parallelFor(outer * inner, grain: Swift.max(1, elementwiseGrain / r)) { range, _ in
            // Process the flat (o, i) range in row segments.
            var flat = range.lowerBound
            while flat < range.upperBound {
                let o = flat / inner, i0 = flat % inner
                let len = Swift.min(inner - i0, range.upperBound - flat)
                let dst = out + o * inner + i0
                let src = xp + o * r * inner + i0
                dst.update(from: src, count: len)
                if let indices { (indices + o * inner + i0).initialize(repeating: 0, count: len) }
                for k in 1..<r {
                    let row = src + k * inner
                    switch op {
                    case .sum: for j in 0..<len { dst[j] += row[j] }
                    case .max:
                        for j in 0..<len where row[j] > dst[j] || (row[j].isNaN && !dst[j].isNaN) {
                            dst[j] = row[j]; indices?[o * inner + i0 + j] = k
                        }
                    case .min:
                        for j in 0..<len where row[j] < dst[j] || (row[j].isNaN && !dst[j].isNaN) {
                            dst[j] = row[j]; indices?[o * inner + i0 + j] = k
                        }
                    }
                }
                flat += len
            }
        }
    }
}
