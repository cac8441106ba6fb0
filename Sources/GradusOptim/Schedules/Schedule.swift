import GradusRuntime

/// A learning-rate schedule `lr(t)`, `t = 0, 1, …` the index of the update (spec §6; diffusers and
/// torch.optim.lr_scheduler shapes). `LearningRate` evaluates it at `t = step − 1`.
public enum Schedule: Sendable, Equatable {
    /// `α`.
    case constant(Double)
    /// `α·γ^⌊t/stepSize⌋` (torch `StepLR`).
    case step(peak: Double, stepSize: Int, gamma: Double)
    /// `α(1 − t/T)`, 0 after `T`.
    case linear(peak: Double, total: Int)
    /// `α·t/W` during warm-up, then `α·max(0, (T − t)/max(1, T − W))`.
    case warmupLinear(peak: Double, warmup: Int, total: Int)
    /// `α_min + (α − α_min)(1 + cos(π t/T))/2` (torch `CosineAnnealingLR`, closed form), `α_min` after `T`
    /// (the closed form would rise again; optax's cosine decay stays at its end value too).
    case cosine(peak: Double, total: Int, minimum: Double)
    /// `α·t/W` during warm-up, then `α·max(0, (1 + cos(π p))/2)`, `p = (t − W)/max(1, T − W)`, and 0 after `T`
    /// (`p` is capped at 1: the cosine must not rise again past the end of training).
    case warmupCosine(peak: Double, warmup: Int, total: Int)
    /// `α·η_t` for a precomputed normalised shape `η` (e.g. `Schedule.refined`), the last value after its end.
    case piecewise(peak: Double, multipliers: [Double])

    /// The learning rate at update index `t`.
    public func value(at t: Int) -> Double {
        let t = Swift.max(0, t)
        switch self {
        case .constant(let a): return a
        case .step(let a, let size, let gamma):
            return a * ScalarMath.pow(gamma, size > 0 ? t / size : 0)
        case .linear(let a, let total):
            guard total > 0 else { return 0 }
            return a * Swift.max(0, 1 - Double(t) / Double(total))
        case .warmupLinear(let a, let w, let total):
            if t < w { return a * Double(t) / Double(w) }
            return a * Swift.max(0, Double(total - t) / Double(Swift.max(1, total - w)))
        case .cosine(let a, let total, let minimum):
            guard total > 0 else { return a }
            let tt = Swift.min(t, total)
            return minimum + (a - minimum) * (1 + ScalarMath.cos(Double.pi * Double(tt) / Double(total))) / 2
        case .warmupCosine(let a, let w, let total):
            if t < w { return a * Double(t) / Double(w) }
            let p = Swift.min(1, Double(t - w) / Double(Swift.max(1, total - w)))
            return a * Swift.max(0, (1 + ScalarMath.cos(Double.pi * p)) / 2)
        case .piecewise(let a, let m):
            guard let last = m.last else { return a }
            return a * (t < m.count ? m[t] : last)
        }
    }

    /// The peak (or constant) learning rate.
    public var peak: Double {
        switch self {
        case .constant(let a): return a
        case .step(let a, _, _), .linear(let a, _), .warmupLinear(let a, _, _), .cosine(let a, _, _),
             .warmupCosine(let a, _, _), .piecewise(let a, _): return a
        }
    }

    /// The same shape with peak `a` (the minimum of `.cosine` is kept).
    public func withPeak(_ a: Double) -> Schedule {
        switch self {
        case .constant: return .constant(a)
        case .step(_, let s, let g): return .step(peak: a, stepSize: s, gamma: g)
        case .linear(_, let t): return .linear(peak: a, total: t)
        case .warmupLinear(_, let w, let t): return .warmupLinear(peak: a, warmup: w, total: t)
        case .cosine(_, let t, let m): return .cosine(peak: a, total: t, minimum: m)
        case .warmupCosine(_, let w, let t): return .warmupCosine(peak: a, warmup: w, total: t)
        case .piecewise(_, let m): return .piecewise(peak: a, multipliers: m)
        }
    }

    /// Checks the parameters (positive lengths, warm-up within the total, finite values).
    public func validated() throws(GradusError) -> Schedule {
        func check(_ ok: Bool, _ m: String) throws(GradusError) { if !ok { throw .invalidArgument("schedule: " + m) } }
        try check(peak.isFinite, "peak learning rate must be finite")
        switch self {
        case .constant: break
        case .step(_, let s, let g): try check(s > 0 && g.isFinite, "step size must be positive")
        case .linear(_, let t): try check(t > 0, "total steps must be positive")
        case .warmupLinear(_, let w, let t), .warmupCosine(_, let w, let t):
            try check(t > 0 && w >= 0 && w <= t, "need 0 ≤ warmup ≤ total and total > 0")
        case .cosine(_, let t, let m): try check(t > 0 && m.isFinite, "total steps must be positive")
        case .piecewise(_, let m): try check(!m.isEmpty && m.allSatisfy(\.isFinite), "multipliers must be finite and non-empty")
        }
        return self
    }
}
