import _GradusShims
import GradusRuntime
import GradusTensor

extension DDIMSampler {
    /// The DDIM step (spec §3.2) on `Tensor`s, recorded for reverse mode so a whole sampling chain is a
    /// differentiable function of the model (AlignProp). Same formula as the array version:
    /// `x_{t'} = √ᾱ'·x̂₀ + √(1 − ᾱ' − σ²)·ε̂ + σ·z`, `σ = η·√((1−ᾱ')/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ'))`.
    ///
    /// - Parameters:
    ///   - modelOutput, sample: `(B, ...)`, same shape and dtype.
    ///   - kind: the model's parameterisation.
    ///   - alphaCumprod, alphaCumprodPrev: `ᾱ_t ∈ [0, 1)` and `ᾱ' ∈ (0, 1]`.
    ///   - eta: default 0; `noise` (shape of `sample`) is required when `eta > 0`. The noise is a constant.
    /// - Returns: the previous sample `x_{t'}`.
    /// - Throws: `GradusError.invalidArgument` / `.shapeMismatch` for bad coefficients or shapes.
    public static func step(modelOutput m: Tensor, kind: Parameterization, alphaCumprod abarT: Double,
                            alphaCumprodPrev abarPrev: Double, sample x: Tensor, eta: Double = 0,
                            noise: Tensor? = nil) throws(GradusError) -> Tensor {
        guard abarT >= 0, abarT < 1, abarPrev > 0, abarPrev <= 1 else {
            throw .invalidArgument("DDIMSampler: alpha-bar values (\(abarT), \(abarPrev)) out of range")
        }
        guard eta >= 0, eta.isFinite else { throw .invalidArgument("DDIMSampler: eta must be ≥ 0") }
        guard m.shape == x.shape else { throw .shapeMismatch("DDIMSampler: model output \(m.shape) vs sample \(x.shape)") }
        let a = gradus_sqrt(abarT), s = gradus_sqrt(1 - abarT)
        // x̂₀ and ε̂ as linear combinations of (x, m): x̂₀ = p·x + q·m, ε̂ = u·x + v·m.
        let (p, q, u, v): (Double, Double, Double, Double)
        switch kind {
        case .epsilon: (p, q, u, v) = (1 / a, -s / a, 0, 1)
        case .vPrediction: (p, q, u, v) = (a, -s, s, a)
        case .sample: (p, q, u, v) = (0, 1, 1 / s, -a / s)
        }
        let variance = (1 - abarPrev) / (1 - abarT) * (1 - abarT / abarPrev)
        let std = eta * gradus_sqrt(max(variance, 0))
        let direction = gradus_sqrt(max(1 - abarPrev - std * std, 0))
        let c = gradus_sqrt(abarPrev)
        // prev = c·x̂₀ + direction·ε̂ = (c·p + direction·u)·x + (c·q + direction·v)·m, written in the reference's
        // order of operations (x̂₀ and ε̂ first) so float32 rounding follows the array version.
        let x0 = try x * p + m * q
        let eps = kind == .epsilon ? m : try x * u + m * v
        var prev = try x0 * c + eps * direction
        if eta > 0 && std > 0 {
            guard let noise else { throw .invalidArgument("DDIMSampler: noise is required when eta > 0") }
            guard noise.shape == x.shape else { throw .shapeMismatch("DDIMSampler: noise \(noise.shape) vs sample \(x.shape)") }
            prev = try prev + noise.detached() * std
        }
        return prev
    }
}
