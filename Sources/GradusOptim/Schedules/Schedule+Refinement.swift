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
        // The filter pads by 2w and ranks every padded value: bound its memory (about 20 bytes per value).
        guard n + 2 * w <= maxFilteredCount else {
            throw .invalidArgument("refinement of \(n) norms with a median window of \(w) needs n + 2w ≤ 2^26 values; "
                                   + "resample the norms first (the official code filters about 10^4 points) or lower tau")
        }
        let smoothed = medianFilter(g, width: w)
        // The weights w_t = Ĝ_t^(−p) in log space, ℓ_t = −p·ln Ĝ_t: for a large power (or norms far from 1) the
        // weights themselves over- or underflow, and w·Σw/w would be ∞/∞ = NaN; their logarithms do not.
        // log η_t = ℓ_t + log Σ_{q>t} w_q − ℓ_{n−1}; the schedule is η/max η = exp(log η_t − max log η). The one
        // bound: |ℓ_t| ≤ 1e300, so that sums of two of them stay finite.
        var logW = [Double](repeating: 0, count: n)
        for t in 0..<n {
            logW[t] = -power * ScalarMath.log(smoothed[t])
            guard Swift.abs(logW[t]) <= 1e300 else {
                throw .invalidArgument("power \(power) is too large for gradient norm \(smoothed[t]): |p·ln Ĝ| must be at most 1e300")
            }
        }
        var logRaw = [Double](repeating: -.infinity, count: n)
        var logTail = -Double.infinity
        for t in stride(from: n - 1, through: 0, by: -1) {
            if logTail > -.infinity { logRaw[t] = logW[t] + logTail }
            let (hi, lo) = logTail > logW[t] ? (logTail, logW[t]) : (logW[t], logTail)
            logTail = hi + ScalarMath.log1p(ScalarMath.exp(lo - hi))
        }
        let peak = logRaw[0..<(n - 1)].max()!  // finite: every t < n − 1 has a non-empty tail
        return Refinement(smoothedNorms: smoothed, rawSchedule: logRaw.map { ScalarMath.exp($0 - logW[n - 1]) },
                          schedule: logRaw.map { ScalarMath.exp($0 - peak) })
    }

    /// The most values (norms plus the 2w of right padding) the median filter takes.
    static let maxFilteredCount = 1 << 26

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
        // A running median over a Fenwick tree of value ranks: O((n + w) log(n + w)) instead of a sort per window.
        // The window of output i is ext[clamp(i − h … i + h)] (mode "nearest" repeats ext[0] on the left), so each
        // step removes one index and adds one; the median is the (h + 1)-th smallest of the w counted values.
        let m = ext.count, h = w / 2
        let order = (0..<Int32(m)).sorted { ext[Int($0)] < ext[Int($1)] || (ext[Int($0)] == ext[Int($1)] && $0 < $1) }
        var rank = [Int32](repeating: 0, count: m)
        for (r, j) in order.enumerated() { rank[Int(j)] = Int32(r) }
        var tree = [Int32](repeating: 0, count: m + 1)
        func add(_ j: Int, _ delta: Int32) {
            var i = Int(rank[Swift.max(0, Swift.min(m - 1, j))]) + 1
            while i <= m { tree[i] += delta; i += i & -i }
        }
        var top = 1
        while top * 2 <= m { top *= 2 }
        func kthSmallest(_ k: Int) -> Double {  // k is 1-based
            var position = 0, remaining = Int32(k), step = top
            while step > 0 {
                if position + step <= m, tree[position + step] < remaining {
                    position += step
                    remaining -= tree[position]
                }
                step /= 2
            }
            return ext[Int(order[position])]
        }
        for j in -h...h { add(j, 1) }
        var out: [Double] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            if i > 0 { add(i - h - 1, -1); add(i + h, 1) }
            out.append(kthSmallest(h + 1))
        }
        return out
    }
}
