import _GradusShims
import GradusRuntime
import GradusTensor

/// The fused APG step for contiguous groups (`inner == 1`: the default per-sample norms and any trailing `normDims`),
/// used when no intermediates are recorded. Two passes over memory instead of eight:
///
/// 1. per group: `d = c − u` (then `m ← d + β·m`, `d ← m`), stored once; `‖d‖²`, `⟨d, c⟩`, `‖c‖²` accumulated in Double;
/// 2. threshold factor `f = min(1, r/‖d‖)`, coefficient `k = f·⟨d, c⟩ / max(‖c‖, 1e-12)²`, then
///    `pred = base + s·(f·d − (1 − η)·k·c)` — the same `Δ = d⊥ + η·d∥` as clip-then-project (rounding differs only
///    in that `f·d` is not rounded to the scalar type before the dot product).
///
/// Reference loops: `Projection.clipGroupNorms` then `Projection.blend` (the recording path of
/// `AdaptiveProjectedGuidance.update`); `APGFusedTests` checks the two agree.
enum APGKernel {
    // cond, uncond, diff, out, momentum: (groups, extent); out may alias cond or uncond (read before written, same index)
    static func fusedUpdate<T: BinaryFloatingPoint>(
        cond: UnsafePointer<T>, uncond: UnsafePointer<T>, momentum: UnsafeMutablePointer<T>?, beta: T,
        diff: UnsafeMutablePointer<T>, out: UnsafeMutablePointer<T>, baseIsCond: Bool,
        groups: Int, extent: Int, threshold: Double, eta: Double, scale: T
    ) {
        for g in 0..<groups {
            let off = g &* extent
            let c = cond + off, u = uncond + off, d = diff + off, o = out + off
            // pass 1: difference (+ momentum) and the three group statistics, two partial sums each
            var dd0 = 0.0, dd1 = 0.0, dc0 = 0.0, dc1 = 0.0, cc0 = 0.0, cc1 = 0.0
            var e = 0
            if let momentum {
                let m = momentum + off
                while e &+ 2 <= extent {
                    let v0 = (c[e] - u[e]) + beta * m[e], v1 = (c[e &+ 1] - u[e &+ 1]) + beta * m[e &+ 1]
                    m[e] = v0; m[e &+ 1] = v1; d[e] = v0; d[e &+ 1] = v1
                    let x0 = Double(v0), x1 = Double(v1), y0 = Double(c[e]), y1 = Double(c[e &+ 1])
                    dd0 += x0 * x0; dd1 += x1 * x1; dc0 += x0 * y0; dc1 += x1 * y1; cc0 += y0 * y0; cc1 += y1 * y1
                    e &+= 2
                }
                if e < extent {
                    let v = (c[e] - u[e]) + beta * m[e]
                    m[e] = v; d[e] = v
                    let x = Double(v), y = Double(c[e])
                    dd0 += x * x; dc0 += x * y; cc0 += y * y
                }
            } else {
                while e &+ 2 <= extent {
                    let v0 = c[e] - u[e], v1 = c[e &+ 1] - u[e &+ 1]
                    d[e] = v0; d[e &+ 1] = v1
                    let x0 = Double(v0), x1 = Double(v1), y0 = Double(c[e]), y1 = Double(c[e &+ 1])
                    dd0 += x0 * x0; dd1 += x1 * x1; dc0 += x0 * y0; dc1 += x1 * y1; cc0 += y0 * y0; cc1 += y1 * y1
                    e &+= 2
                }
                if e < extent {
                    let v = c[e] - u[e]
                    d[e] = v
                    let x = Double(v), y = Double(c[e])
                    dd0 += x * x; dc0 += x * y; cc0 += y * y
                }
            }
            // threshold and projection coefficient, in Double
            var f = 1.0
            if threshold > 0 {
                let n = gradus_sqrt(dd0 + dd1)
                if n > threshold { f = threshold / n }
            }
            let k = Projection.coefficient(dot: f * (dc0 + dc1), uNormSquared: cc0 + cc1, floor: .clamp(1e-12))
            // pass 2: pred = base + s·(f·d − (1 − η)·k·c)
            let a = T(f), b = T((eta - 1) * k)
            let base = baseIsCond ? c : u
            for i in 0..<extent { o[i] = base[i] + scale * (a * d[i] + b * c[i]) }
        }
    }
}
