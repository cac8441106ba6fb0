import GradusRuntime

extension Schedule {
    /// The result of schedule refinement (Defazio et al., spec §6.1).
    public struct Refinement: Sendable, Equatable {
        /// Running median of the gradient norms.
        public var smoothedNorms: [Double]
        /// `η_t = w_t·(Σ_{q>t} w_q)/w_{n−1}`, `w = Ĝ^(−p)`, `η_{n−1} = 0`.
        public var rawSchedule: [Double]
        /// `η / max η`: multiply by the peak learning rate.
        public var schedule: [Double]
    }

    /// Refines a schedule from the gradient norms `G_1…G_n` of a previous run (official
    /// `find_closed_form_schedule` after a median filter of width `2⌊⌊τn⌋/2⌋ + 1`, left edge repeated,
    /// right edge reflected). Use ℓ2 norms with `power: 2` for SGD, ℓ1 norms with `power: 1` for Adam.
    public static func refined(gradientNorms g: [Double], power: Double = 2, tau: Double = 0.1) throws(GradusError) -> Refinement {
        let n = g.count
        guard n >= 2 else { throw .invalidArgument("schedule refinement needs at least 2 gradient norms, got \(n)") }
        guard g.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw .invalidArgument("gradient norms must be finite and positive") }
        guard power.isFinite, power > 0, tau.isFinite, tau >= 0 else { throw .invalidArgument("power must be positive and tau non-negative") }
        guard let w = refinementFilterWidth(count: n, tau: tau) else {
            throw .invalidArgument("tau·n must be below 1e15 (got tau \(tau), n \(n))")
        }
        let smoothed = medianFilter(g, width: w)
        let weights = smoothed.map { ScalarMath.pow($0, -power) }
        var raw = Array(repeating: 0.0, count: n)
        var tail = 0.0
        for t in stride(from: n - 1, through: 0, by: -1) {
            raw[t] = weights[t] * tail / weights[n - 1]
            tail += weights[t]
        }
        let mx = raw.max() ?? 1
        return Refinement(smoothedNorms: smoothed, rawSchedule: raw, schedule: raw.map { mx > 0 ? $0 / mx : 0 })
    }

    /// The median filter's width `2⌊⌊τn⌋/2⌋ + 1` (spec §6.1); nil unless τ is finite, non-negative and τ·n < 1e15
    /// (beyond that the width does not fit an `Int`).
    static func refinementFilterWidth(count n: Int, tau: Double) -> Int? {
        guard tau.isFinite, tau >= 0, tau * Double(n) < 1e15 else { return nil }
        return 2 * (Int(ScalarMath.floor(tau * Double(n))) / 2) + 1
    }

    /// `scipy.ndimage.median_filter(np.pad(x, (0, 2w), "reflect"), size=w, mode="nearest")[:n]`.
    static func medianFilter(_ x: [Double], width w: Int) -> [Double] {
        let n = x.count
        // Right extension by reflection about the last sample, without repeating it.
        var ext = x
        var idx = n - 2, dir = -1
        for _ in 0 ..< 2 * w {
            ext.append(x[Swift.max(0, Swift.min(n - 1, idx))])
            if n == 1 { continue }
            idx += dir
            if idx < 0 { idx = 1; dir = 1 } else if idx > n - 1 { idx = n - 2; dir = -1 }
        }
        let m = ext.count, h = w / 2
        var out: [Double] = []
        out.reserveCapacity(n)
        var window = [Double](repeating: 0, count: w)
        for i in 0..<n {
            for k in 0..<w { window[k] = ext[Swift.max(0, Swift.min(m - 1, i - h + k))] }
            window.sort()
            out.append(window[h])
        }
        return out
    }
}
