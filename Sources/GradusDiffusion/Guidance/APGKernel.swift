import _GradusShims
import GradusRuntime
import GradusTensor

/// The fused APG step for contiguous groups (`inner == 1`: the default per-sample norms and any trailing `normDims`),
/// used when no intermediates are recorded. Two passes over memory instead of eight:
///
/// 1. per group: `d = c − u` (then `m ← d + β·m`, `d ← m`), stored once; `‖d‖²`, `⟨d, c⟩`, `‖c‖²` accumulated;
/// 2. threshold factor `f = min(1, r/‖d‖)`, coefficient `k = f·⟨d, c⟩ / max(‖c‖, 1e-12)²`, then
///    `pred = base + s·(f·d − (1 − η)·k·c)` — the same `Δ = d⊥ + η·d∥` as clip-then-project (rounding differs only
///    in that `f·d` is not rounded before the dot product).
///
/// Everything after reading `c` and `u` is Double, for either scalar type: the difference, the momentum buffer
/// (kept in Double across calls), the statistics and the combination; the prediction is rounded to `T` once.
/// In float32 arithmetic the final `base + s·Δ` cancels terms of magnitude `s·‖d‖` (hundreds for large inputs
/// and scales) and loses their digits; in Double the float32 result is within half an ulp of the float64 one.
///
/// Reference loops: `Projection.clipGroupNorms` then `Projection.blend` (the recording path of
/// `AdaptiveProjectedGuidance.update`); `APGFusedTests` checks the two agree.
enum APGKernel {
    // cond, uncond, out: (groups, extent) as T; diff, momentum: (groups, extent) as Double.
    // out may alias cond or uncond (each index is read before it is written).
    static func fusedUpdate<T: BinaryFloatingPoint>(
        cond: UnsafePointer<T>, uncond: UnsafePointer<T>, momentum: UnsafeMutablePointer<Double>?, beta: Double,
        diff: UnsafeMutablePointer<Double>, out: UnsafeMutablePointer<T>, baseIsCond: Bool,
        groups: Int, extent: Int, threshold: Double, eta: Double, scale: Double
    ) {
        for g in 0..<groups {
            let off = g &* extent
            let c = cond + off, u = uncond + off, d = diff + off, o = out + off
            // pass 1: difference (+ momentum) and the three group statistics, two partial sums each
            var dd0 = 0.0, dd1 = 0.0, dc0 = 0.0, dc1 = 0.0, cc0 = 0.0, cc1 = 0.0
            var e = 0
            let m = momentum.map { $0 + off }
            while e &+ 2 <= extent {
                let y0 = Double(c[e]), y1 = Double(c[e &+ 1])
                var x0 = y0 - Double(u[e]), x1 = y1 - Double(u[e &+ 1])
                if let m {
                    x0 += beta * m[e]; x1 += beta * m[e &+ 1]
                    m[e] = x0; m[e &+ 1] = x1
                }
                d[e] = x0; d[e &+ 1] = x1
                dd0 += x0 * x0; dd1 += x1 * x1; dc0 += x0 * y0; dc1 += x1 * y1; cc0 += y0 * y0; cc1 += y1 * y1
                e &+= 2
            }
            if e < extent {
                let y = Double(c[e])
                var x = y - Double(u[e])
                if let m { x += beta * m[e]; m[e] = x }
                d[e] = x
                dd0 += x * x; dc0 += x * y; cc0 += y * y
            }
            // threshold and projection coefficient
            var f = 1.0
            if threshold > 0 {
                let n = gradus_sqrt(dd0 + dd1)
                if n > threshold { f = threshold / n }
            }
            let k = Projection.coefficient(dot: f * (dc0 + dc1), uNormSquared: cc0 + cc1, floor: .clamp(1e-12))
            // pass 2: pred = base + s·(f·d − (1 − η)·k·c), rounded once
            let a = scale * f, b = scale * (eta - 1) * k
            let base = baseIsCond ? c : u
            for i in 0..<extent { o[i] = T(Double(base[i]) + (a * d[i] + b * Double(c[i]))) }
        }
    }
}
