import Foundation

/// Low-bit spec rules (`spec/lowbit.md`) written in float64 from the spec's text, shared by the reference suites of
/// GradusQuant (kernels through the conformance runner) and GradusNN (the quantized layers).
public enum LowBitReference {
    public struct IntQuant {
        public var q: [Int], scale: [Double], zero: [Int], dequantized: [Double]
        /// Whether some element (or an asymmetric zero point) lies within `margin` steps of a rounding tie.
        public var nearTie: Bool
    }

    /// Spec §1 (integer fake quantization) on the groups `groups` (element indices per group, in group order):
    /// symmetric `scale = max(absmax, 1e-6)/q_max`, `q ∈ [−q_max, q_max]`; asymmetric `scale = max(max − min, 1e-5)/q_max`,
    /// `zero = clamp(−round(min/scale), 0, q_max)`, `q = clamp(round(x/scale) + zero, 0, q_max)`; round half to even,
    /// stochastic rounding adds `u − 0.5` first.
    public static func intQuant(_ x: [Double], groups: [[Int]], bits: Int, symmetric: Bool, noise: [Double]?,
                                margin: Double = 1e-3) -> IntQuant {
        var r = IntQuant(q: Array(repeating: 0, count: x.count), scale: [], zero: [], dequantized: Array(repeating: 0, count: x.count),
                         nearTie: false)
        func tie(_ v: Double) -> Bool { abs(abs(v - v.rounded(.down)) - 0.5) < margin }
        for g in groups {
            let values = g.map { x[$0] }
            if symmetric {
                let qmax = Double((1 << (bits - 1)) - 1)
                let scale = max(values.map(abs).max()!, 1e-6) / qmax
                r.scale.append(scale); r.zero.append(0)
                for i in g {
                    let s = x[i] / scale + (noise.map { $0[i] - 0.5 } ?? 0)
                    if tie(s) { r.nearTie = true }
                    let q = min(max(s.rounded(.toNearestOrEven), -qmax), qmax)
                    r.q[i] = Int(q); r.dequantized[i] = q * scale
                }
            } else {
                let qmax = Double((1 << bits) - 1)
                let lo = values.min()!, hi = values.max()!
                let scale = max(hi - lo, 1e-5) / qmax
                if tie(lo / scale) { r.nearTie = true }
                let zero = min(max(-(lo / scale).rounded(.toNearestOrEven), 0), qmax)
                r.scale.append(scale); r.zero.append(Int(zero))
                for i in g {
                    let s = x[i] / scale + (noise.map { $0[i] - 0.5 } ?? 0)
                    if tie(s) { r.nearTie = true }
                    let q = min(max(s.rounded(.toNearestOrEven) + zero, 0), qmax)
                    r.q[i] = Int(q); r.dequantized[i] = (q - zero) * scale
                }
            }
        }
        return r
    }

    /// Consecutive groups of `g` over `n` elements (spec §0's "per group").
    public static func consecutiveGroups(count n: Int, size g: Int) -> [[Int]] {
        stride(from: 0, to: n, by: g).map { Array($0..<min($0 + g, n)) }
    }

    /// Stable-SPAM's activation quantizer (§2.2) over consecutive groups of `g`: the `k` entries of largest |x|
    /// (descending) are kept, the rest quantized symmetrically with `scale = max(max|rest|, 1e-6)`,
    /// `q = clamp(round(x·q_max/scale [+ u − 0.5]), q_min, q_max)` (half to even; the kept entries have q = 0),
    /// dequantized `q·scale/q_max`. `levels` defaults to `(−2^(b−1), 2^(b−1) − 1)`; §2.3's "FP4" grid is
    /// `(−4, 4)` (values clamp to `[−α, α]` first, which the rounding of `|x| ≤ α` already implies).
    public static func topK(_ x: [Double], noise: [Double]?, bits: Int, g: Int, k: Int, levels: (Double, Double)? = nil)
        -> (q: [Double], scale: [Double], index: [Double], deq: [Double], nearTie: Bool) {
        let (qmin, qmax) = levels ?? (-Double(1 << (bits - 1)), Double((1 << (bits - 1)) - 1))
        var q = [Double](repeating: 0, count: x.count), deq = q, scales: [Double] = [], index: [Double] = [], near = false
        for start in stride(from: 0, to: x.count, by: g) {
            let ids = Array(start..<(start + g))
            let kept = Array(ids.sorted { abs(x[$0]) > abs(x[$1]) }.prefix(k))
            // equal magnitudes at the k-th place would make the choice depend on the sort
            if k > 0, k < g {
                let sorted = ids.map { abs(x[$0]) }.sorted(by: >)
                if sorted[k - 1] == sorted[k] { near = true }
            }
            index += kept.map { Double($0 - start) }
            let rest = ids.filter { !kept.contains($0) }
            let scale = max(rest.map { abs(x[$0]) }.max() ?? 0, 1e-6)
            scales.append(scale)
            for i in ids {
                if kept.contains(i) { deq[i] = x[i]; continue }
                let y = x[i] * qmax / scale + (noise.map { $0[i] - 0.5 } ?? 0)
                if abs(abs(y - y.rounded(.down)) - 0.5) < 1e-3 { near = true }
                q[i] = min(max(y.rounded(.toNearestOrEven), qmin), qmax)
                deq[i] = q[i] * scale / qmax
            }
        }
        return (q, scales, index, deq, near)
    }
}
