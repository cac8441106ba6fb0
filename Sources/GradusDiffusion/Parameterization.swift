import _GradusShims
import GradusRuntime

/// What the denoiser predicts (diffusers `prediction_type`).
public enum Parameterization: String, Sendable, CaseIterable {
    /// The noise `ε` (DDPM's "simple" objective).
    case epsilon
    /// The velocity `v = a·ε − s·x₀` (Salimans & Ho, progressive distillation).
    case vPrediction = "v_prediction"
    /// The clean sample `x₀` (diffusers "sample").
    case sample
}

/// Forward process, training targets and conversions between parameterisations.
///
/// Tensors are flat row-major buffers of shape `(B, ...)`; `B` is the number of per-sample `ᾱ` values given,
/// and `a = √ᾱ_t`, `s = √(1 − ᾱ_t)` broadcast over each sample's elements. Values are computed as
/// `T(c₁)·x + T(c₂)·y` with the coefficients in Double. Reference: diffusers `DDPMScheduler.add_noise`,
/// `get_velocity`, `step` (x̂₀ / ε̂ conversions).
///
/// Conversions divide by `a` (ε → x̂₀) or `s` (x₀ → ε̂); at `ᾱ = 0` or `1` they give IEEE infinities, as the
/// reference does (zero-terminal-SNR schedules are meant for v-prediction).
public enum Diffusion {
    /// `x_t = a·x₀ + s·ε` per sample.
    /// - Throws: `GradusError.shapeMismatch` when the buffers differ in size or are not divisible by the batch.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func addNoise<T: BinaryFloatingPoint>(x0: [T], noise: [T], alphaCumprod: [Double]) throws(GradusError) -> [T] {
        try combine(x0, noise, alphaCumprod) { a, s in (a, s) }
    }

    /// `x_t` at integer timesteps `t` (one per sample) of `schedule`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func addNoise<T: BinaryFloatingPoint>(x0: [T], noise: [T], t: [Int], schedule: NoiseSchedule) throws(GradusError) -> [T] {
        try addNoise(x0: x0, noise: noise, alphaCumprod: alphaCumprods(t, schedule))
    }

    /// The v-prediction target `v = a·ε − s·x₀` per sample.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func velocity<T: BinaryFloatingPoint>(x0: [T], noise: [T], alphaCumprod: [Double]) throws(GradusError) -> [T] {
        try combine(noise, x0, alphaCumprod) { a, s in (a, -s) }
    }

    /// The training target of `kind`: `ε`, `v` or `x₀`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func target<T: BinaryFloatingPoint>(
        _ kind: Parameterization, x0: [T], noise: [T], alphaCumprod: [Double]
    ) throws(GradusError) -> [T] {
        switch kind {
        case .epsilon: try checkBatch(noise.count, x0.count, alphaCumprod.count); return noise
        case .sample: try checkBatch(noise.count, x0.count, alphaCumprod.count); return x0
        case .vPrediction: return try velocity(x0: x0, noise: noise, alphaCumprod: alphaCumprod)
        }
    }

    /// `x̂₀` from a model output `m` at `(x_t, t)`:
    /// ε: `(x_t − s·m)/a`; v: `a·x_t − s·m`; x₀: `m`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func predictX0<T: BinaryFloatingPoint>(
        from m: [T], kind: Parameterization, xt: [T], alphaCumprod: [Double]
    ) throws(GradusError) -> [T] {
        switch kind {
        case .epsilon: return try combine(xt, m, alphaCumprod) { a, s in (1 / a, -s / a) }
        case .vPrediction: return try combine(xt, m, alphaCumprod) { a, s in (a, -s) }
        case .sample: try checkBatch(m.count, xt.count, alphaCumprod.count); return m
        }
    }

    /// `ε̂` from a model output `m` at `(x_t, t)`:
    /// ε: `m`; v: `a·m + s·x_t`; x₀: `(x_t − a·m)/s`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func predictEpsilon<T: BinaryFloatingPoint>(
        from m: [T], kind: Parameterization, xt: [T], alphaCumprod: [Double]
    ) throws(GradusError) -> [T] {
        switch kind {
        case .epsilon: try checkBatch(m.count, xt.count, alphaCumprod.count); return m
        case .vPrediction: return try combine(xt, m, alphaCumprod) { a, s in (s, a) }
        case .sample: return try combine(xt, m, alphaCumprod) { a, s in (1 / s, -a / s) }
        }
    }

    /// Converts an `x̂₀` back to the model's parameterisation at the same `(x_t, t)` (used to run guidance in
    /// x₀ space for an ε- or v-model): ε: `(x_t − a·x̂₀)/s`; v: `(a·x_t − x̂₀)/s`; x₀: `x̂₀`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func modelOutput<T: BinaryFloatingPoint>(
        fromX0 x0: [T], kind: Parameterization, xt: [T], alphaCumprod: [Double]
    ) throws(GradusError) -> [T] {
        switch kind {
        case .epsilon: return try combine(xt, x0, alphaCumprod) { a, s in (1 / s, -a / s) }
        case .vPrediction: return try combine(xt, x0, alphaCumprod) { a, s in (a / s, -1 / s) }
        case .sample: try checkBatch(x0.count, xt.count, alphaCumprod.count); return x0
        }
    }

    /// Mean squared error over every element (the default, unweighted diffusion loss), accumulated in Double.
    /// - Throws: `GradusError.shapeMismatch` when sizes differ, `.invalidArgument` when empty.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func meanSquaredError<T: BinaryFloatingPoint>(_ prediction: [T], _ target: [T]) throws(GradusError) -> Double {
        guard prediction.count == target.count else {
            throw .shapeMismatch("meanSquaredError: \(prediction.count) vs \(target.count) elements")
        }
        guard !prediction.isEmpty else { throw .invalidArgument("meanSquaredError: empty input") }
        var acc = 0.0
        prediction.withUnsafeBufferPointer { p in
            target.withUnsafeBufferPointer { q in
                for i in 0..<p.count { let d = Double(p[i]) - Double(q[i]); acc += d * d }
            }
        }
        return acc / Double(prediction.count)
    }

    /// The diffusion training loss: noises `x₀` to `x_t`, calls `model(x_t, t)` and returns the MSE against the
    /// target of `kind`.
    /// - Parameter model: the denoiser, `(x_t, t) -> prediction` with the shape of `x_t`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func trainingLoss<T: BinaryFloatingPoint>(
        model: ([T], [Int]) throws(GradusError) -> [T], x0: [T], noise: [T], t: [Int], schedule: NoiseSchedule,
        kind: Parameterization
    ) throws(GradusError) -> Double {
        let abar = try alphaCumprods(t, schedule)
        let xt = try addNoise(x0: x0, noise: noise, alphaCumprod: abar)
        let prediction = try model(xt, t)
        return try meanSquaredError(prediction, try target(kind, x0: x0, noise: noise, alphaCumprod: abar))
    }

    /// `ᾱ_t` for each timestep.
    public static func alphaCumprods(_ t: [Int], _ schedule: NoiseSchedule) throws(GradusError) -> [Double] {
        var out = [Double](repeating: 0, count: t.count)
        for (i, ti) in t.enumerated() {
            guard ti >= 0 else { throw .invalidArgument("timestep \(ti) is negative") }
            out[i] = try schedule.alphaCumprod(at: ti)
        }
        return out
    }

    /// Validates `(B, ...)` buffers: equal sizes, divisible by `B`. Returns the per-sample size.
    @discardableResult
    static func checkBatch(_ n1: Int, _ n2: Int, _ batch: Int) throws(GradusError) -> Int {
        guard n1 == n2 else { throw .shapeMismatch("buffers have \(n1) and \(n2) elements") }
        guard batch >= 1, n1 % batch == 0 else {
            throw .shapeMismatch("\(n1) elements do not split into \(batch) samples")
        }
        return n1 / batch
    }

    /// `out[b, j] = c₁(b)·x[b, j] + c₂(b)·y[b, j]` with `(c₁, c₂) = coefficients(a_b, s_b)`.
    // x, y: (B, per)
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func combine<T: BinaryFloatingPoint>(
        _ x: [T], _ y: [T], _ alphaCumprod: [Double], _ coefficients: (Double, Double) -> (Double, Double)
    ) throws(GradusError) -> [T] {
        let per = try checkBatch(x.count, y.count, alphaCumprod.count)
        for v in alphaCumprod where !(v >= 0 && v <= 1) {
            throw .invalidArgument("alpha-bar \(v) outside [0, 1]")
        }
        if x.isEmpty { return [] }
        var out = [T](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in
                out.withUnsafeMutableBufferPointer { po in
                    for b in 0..<alphaCumprod.count {
                        let (c1, c2) = coefficients(gradus_sqrt(alphaCumprod[b]), gradus_sqrt(1 - alphaCumprod[b]))
                        Kernels.axpby(c1, px.baseAddress! + b * per, c2, py.baseAddress! + b * per,
                                      into: po.baseAddress! + b * per, count: per)
                    }
                }
            }
        }
        return out
    }
}
