import _GradusShims
import GradusRuntime

/// Ancestral DDPM step with `variance_type = fixed_small` (Ho et al. 2020, eq. 6–7; diffusers
/// `DDPMScheduler.step`). The step is a pure function: the variance noise `z` is an input.
///
/// For `t`, `t' = prevT` (normally `t − T div N`, `ᾱ' = 1` when `t' < 0`) and model output `m`:
/// `β̃ = 1 − ᾱ_t/ᾱ'`, `x̂₀` from `m` (optionally clamped), `μ = √ᾱ'·β̃/(1−ᾱ_t)·x̂₀ + √(1−β̃)·(1−ᾱ')/(1−ᾱ_t)·x_t`,
/// `σ² = max((1−ᾱ')/(1−ᾱ_t)·β̃, 1e-20)`, `x_{t'} = μ + σ·z` when `t > 0`, else `μ`.
public struct DDPMSampler: Sendable {
    /// The training schedule.
    public var schedule: NoiseSchedule
    /// The model's parameterisation.
    public var kind: Parameterization
    /// Clamp `x̂₀` to `[−range, range]` when non-nil (diffusers defaults to 1; Gradus defaults to no clipping).
    public var clipSample: Double?

    /// - Parameters: schedule; kind default `.epsilon`; clipSample default nil (no clipping).
    public init(schedule: NoiseSchedule, kind: Parameterization = .epsilon, clipSample: Double? = nil) {
        self.schedule = schedule; self.kind = kind; self.clipSample = clipSample
    }

    /// One step from `t` to `prevT` on the schedule. `noise` may be nil only when `t == 0`.
    /// - Returns: `(prev, x0, variance)`: the new sample, `x̂₀`, and `σ²`.
    /// - Throws: `GradusError` for mismatched sizes or timesteps outside the schedule.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public func step<T: BinaryFloatingPoint>(
        modelOutput: [T], t: Int, prevT: Int, sample: [T], noise: [T]?
    ) throws(GradusError) -> (prev: [T], x0: [T], variance: Double) {
        guard t >= 0 else { throw .invalidArgument("DDPMSampler: negative timestep \(t)") }
        guard prevT < t else { throw .invalidArgument("DDPMSampler: prevT \(prevT) must be below t \(t)") }
        return try DDPMSampler.step(modelOutput: modelOutput, kind: kind, t: t,
                                    alphaCumprod: try schedule.alphaCumprod(at: t),
                                    alphaCumprodPrev: try schedule.alphaCumprod(at: prevT, final: 1),
                                    sample: sample, noise: noise, clipSample: clipSample)
    }

    /// The step with explicit `ᾱ_t` and `ᾱ'` (what the golden cases give). `t` only decides whether noise is added.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func step<T: BinaryFloatingPoint>(
        modelOutput: [T], kind: Parameterization, t: Int, alphaCumprod abarT: Double, alphaCumprodPrev abarPrev: Double,
        sample: [T], noise: [T]?, clipSample: Double? = nil
    ) throws(GradusError) -> (prev: [T], x0: [T], variance: Double) {
        guard abarT >= 0, abarT < 1, abarPrev > 0, abarPrev <= 1 else {
            throw .invalidArgument("DDPMSampler: alpha-bar values (\(abarT), \(abarPrev)) out of range")
        }
        // In Double, rounded once at the end: x̂₀ = (x_t − s·m)/a cancels terms of |x_t|/a at small ᾱ, and μ cancels
        // c0·x̂₀ against ct·x_t; float32 arithmetic would keep neither to the golden tolerance.
        let x64 = sample.map { Double($0) }
        var x0 = try Diffusion.predictX0(from: modelOutput.map { Double($0) }, kind: kind, xt: x64, alphaCumprod: [abarT])
        if let range = clipSample {
            guard range > 0 else { throw .invalidArgument("DDPMSampler: clip range must be positive") }
            x0.withUnsafeMutableBufferPointer { p in
                if let base = p.baseAddress { Kernels.clamp(base, limit: range, count: p.count) }
            }
        }
        let betaT = 1 - abarT / abarPrev
        let c0 = gradus_sqrt(abarPrev) * betaT / (1 - abarT)
        let ct = gradus_sqrt(1 - betaT) * (1 - abarPrev) / (1 - abarT)
        let variance = max((1 - abarPrev) / (1 - abarT) * betaT, 1e-20)
        let addsNoise = t > 0
        if addsNoise {
            guard let noise else { throw .invalidArgument("DDPMSampler: noise is required for t > 0") }
            guard noise.count == sample.count else {
                throw .shapeMismatch("DDPMSampler: noise has \(noise.count) elements, sample \(sample.count)")
            }
        }
        if sample.isEmpty { return ([], [], variance) }
        var prev = [Double](repeating: 0, count: sample.count)
        let sigma = gradus_sqrt(variance)
        x0.withUnsafeBufferPointer { px in
            x64.withUnsafeBufferPointer { ps in
                prev.withUnsafeMutableBufferPointer { po in
                    if addsNoise, let noise {
                        noise.map { Double($0) }.withUnsafeBufferPointer { pz in
                            Kernels.axpbypcz(c0, px.baseAddress!, ct, ps.baseAddress!, sigma, pz.baseAddress!,
                                             into: po.baseAddress!, count: ps.count)
                        }
                    } else {
                        Kernels.axpby(c0, px.baseAddress!, ct, ps.baseAddress!, into: po.baseAddress!, count: ps.count)
                    }
                }
            }
        }
        return (prev.map { T($0) }, x0.map { T($0) }, variance)
    }
}
